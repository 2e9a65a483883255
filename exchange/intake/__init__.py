"""exchange.intake.stability."""
