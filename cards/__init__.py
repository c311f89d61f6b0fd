"""Card-account store behind the self-service flows (demo SQL store, replaceable by a bank's)."""
