"""Inbound files: what contractors send back.

* ``uploads`` — portal uploads (print logs, entered data, deletion certificates), virus-scanned before they are kept
"""
