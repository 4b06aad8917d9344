"""Outbound events: the per-customer event stream the product is told about."""
