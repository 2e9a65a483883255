"""exchange.keys."""
