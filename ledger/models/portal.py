"""Portal security records: invitations, second factors, login throttling, API tokens and the audit log."""
