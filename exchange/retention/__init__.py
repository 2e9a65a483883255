"""exchange.retention.sweep."""
