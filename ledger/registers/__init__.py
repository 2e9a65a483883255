"""ledger.registers."""
