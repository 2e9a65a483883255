"""exchange.identity."""
