"""Inbound files: what contractors send back.

* ``uploads`` — portal uploads (print logs, entered data, deletion certificates), virus-scanned before they are kept
* ``inbox`` — the ward's inbox: who sent what and when, taking a file, releasing or discarding a quarantined one
* ``return_folders`` — accepted uploads delivered into the ward's return folder as AES-256 ZIPs
* ``return_passwords`` — a return ZIP's receipt and its password under the split-password rule
* ``rules`` — what a contract lets its contractor upload: kinds, suffixes, size limit
* ``arrival`` — what the hub makes of one sealed, virus-free upload: status, reason, records, findings
* ``checks`` — checks of a tabular upload: items it may carry, forbidden categories (C-07)
* ``reference`` — the ward's reference data for checking returned records (S1's extract)
"""
