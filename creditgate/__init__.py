"""Creditgate: real-time prepaid-credit billing on Temporal, Stripe and a SQL ledger."""

__version__ = "0.1.0"
