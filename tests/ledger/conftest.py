"""Ledger fixtures (helpers in ``tests.ledger.support``); ``db_url`` is the root one: a fresh
copy of the session's migrated template, on SQLite and on PostgreSQL."""

from collections.abc import AsyncIterator

import pytest

from tests.ledger.support import Ledger, make_ledger


@pytest.fixture
async def ledger(db_url: str) -> AsyncIterator[Ledger]:
    """Both backends (``db_url`` follows the ``database`` parameter), two customers."""
    made = await make_ledger(db_url, customers=2)
    yield made
    await made.db.dispose()
