"""ledger.documents."""
