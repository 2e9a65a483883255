"""exchange.packing.packer."""
