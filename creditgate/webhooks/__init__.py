"""Outbound webhooks: endpoints, signing and the delivery log (docs/decisions.md)."""
