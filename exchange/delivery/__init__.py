"""Delivery: getting a sealed package to its recipient.

* ``package_state`` — the one answer to what a package may be used for now (erased, frozen, revoked …), on every path
* ``endpoint_access`` — who may reach a contract's folder at each endpoint follows the designations (C-05, C-10)
* ``portal_downloads`` — counted, resumable portal downloads and receipt acknowledgements (C-16, C-03)
* ``package_blobs`` — sealed packages in the blob store: kept once packed, checked before served, copied for connectors
* ``store_adoption`` — packages packed before issue 15, moved from the old store folder into the blob store
"""
