"""Fixtures of the statement tests."""

from tests.statements.support import arrears_customer

__all__ = ["arrears_customer"]
