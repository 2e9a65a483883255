"""Retention (C-04): data that must go, and proof that it went.

* ``sweep`` — retention deadlines, and the sweep that erases every copy the hub controls
* ``hub_certificate_files`` — the files of the hub's signed deletion certificates in the blob store, and their approval
* ``contractor_certificates`` — contractors' deletion certificates: requests, submissions, reminders
* ``returns`` — printed notices and DVDs that must come back
* ``certificate_review`` — the ward accepts or returns a contractor's deletion certificate (C-04)
"""
