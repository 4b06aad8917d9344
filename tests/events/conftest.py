"""Fixtures the event tests share with the flows they drive."""

from tests.statements.test_dunning import arrears_customer

__all__ = ["arrears_customer"]
