"""Delivery: getting a sealed package to its recipient.

* ``package_state`` — the one answer to what a package may be used for now (erased, frozen, revoked …), on every path
* ``endpoint_access`` — who may reach a contract's folder at each endpoint follows the designations (C-05, C-10)
* ``portal_downloads`` — counted, resumable portal downloads and receipt acknowledgements (C-16, C-03)
"""
