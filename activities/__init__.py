"""Temporal activities: the only way workflows touch Stripe and the database."""
