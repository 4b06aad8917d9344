"""Ledger fixtures (helpers in ``tests.ledger.support``)."""

from collections.abc import AsyncIterator

import pytest

from tests.ledger.support import Ledger, make_ledger


@pytest.fixture
async def ledger(db_url: str) -> AsyncIterator[Ledger]:
    """Both backends (``db_url`` is parametrized sqlite/postgres), two customers."""
    made = await make_ledger(db_url, customers=2)
    yield made
    await made.db.dispose()
