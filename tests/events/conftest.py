"""Fixtures the event tests share with the flows they drive."""

from tests.statements.support import arrears_customer

__all__ = ["arrears_customer"]
