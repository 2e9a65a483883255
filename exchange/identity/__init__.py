"""Identity: who is signing in, and what they may do.

* ``accounts`` — login accounts, Argon2id hashes, one-time initial passwords
* ``authorisation`` — every authorisation decision of the portal
* ``lockout`` — login throttling per account and per source address
* ``totp`` — the TOTP second factor
* ``api_tokens`` — bearer tokens for the API
* ``invitations`` — one-time invitation codes on printed letters (C-22)
* ``audit_log`` — every access written to the audit log (C-11)
* ``acting`` — the person a staff command acts as (``--by``): a real account, by login or person code
* ``action_labels`` — Japanese names of every audited action (C-11)
"""
