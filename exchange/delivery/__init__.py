"""exchange.delivery."""
