"""exchange.passwords.generate."""
