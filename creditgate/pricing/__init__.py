"""Plans and rating: pure functions over Decimal, no I/O."""
