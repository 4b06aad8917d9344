from collections.abc import AsyncIterator

import pytest

from tests.ledger.support import Ledger, make_ledger


@pytest.fixture
async def ledger(db_url: str) -> AsyncIterator[Ledger]:
    """Both backends, two customers with credit."""
    made = await make_ledger(db_url, customers=2)
    for customer in made.customers:
        await made.grant("10", customer)
    yield made
    await made.db.dispose()
