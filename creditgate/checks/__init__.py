"""Invariant checkers behind ``creditgate check``: the ledger and the payments."""
