"""exchange.oversight."""
