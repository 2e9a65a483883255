"""exchange.duties."""
