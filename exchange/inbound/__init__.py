"""exchange.inbound.uploads."""
