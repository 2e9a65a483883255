"""Delivery: getting a sealed package to its recipient.

* ``endpoint_access`` — who may reach a contract's folder at each endpoint follows the designations (C-05, C-10)
* ``portal_downloads`` — counted, resumable portal downloads and receipt acknowledgements (C-16, C-03)
"""
