"""Purchase Idempotency-Keys live in the database, bound to the request body: a repeat
answers with the first purchase however many purchases came since, and the same key with
another body is refused without a second purchase."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from creditgate.models import PurchaseIdempotencyKey
from creditgate.payments import idempotency, store
from messages.customer import MAX_PURCHASES
from tests.api.support import signup
from tests.ledger.support import migrated_ledger
from tests.support.stack import Stack
from workflows.purchase import purchase_workflow_id


async def buy(stack: Stack, external_id: str, key: str, amount: str) -> tuple[int, dict[str, Any]]:
    response = await stack.http.post(
        f"/v1/customers/{external_id}/purchases",
        json={"amount": amount},  # no card: the purchase waits for the browser, pending
        headers={"Idempotency-Key": key},
    )
    return response.status_code, response.json()


@pytest.fixture
async def made(stack: Stack) -> AsyncIterator[list[str]]:
    """Purchase ids a test made; their workflows (polling a pending payment) stop after."""
    ids: list[str] = []
    yield ids
    for purchase_id in ids:
        await stack.client.get_workflow_handle(purchase_workflow_id(purchase_id)).terminate()


async def test_a_key_is_bound_to_its_body_and_outlives_the_workflows_memory(
    stack: Stack, unique_id: str, made: list[str]
) -> None:
    await signup(stack, unique_id)
    status, first = await buy(stack, unique_id, "first", "5.00")
    assert status == 201, first
    made.append(first["id"])

    status, refused = await buy(stack, unique_id, "first", "6.00")
    assert status == 422, refused
    assert refused["error"]["type"] == "idempotency_error"
    # A request refused before it made a purchase does not use its key up.
    status, invalid = await buy(stack, unique_id, "second", "0.01")
    assert (status, invalid["error"]["type"]) == (422, "validation_error")
    status, second = await buy(stack, unique_id, "second", "2.00")
    assert status == 201, second
    made.append(second["id"])

    for n in range(MAX_PURCHASES):
        status, other = await buy(stack, unique_id, f"other-{n}", "1.00")
        assert status == 201, other
        made.append(other["id"])
    status, again = await buy(stack, unique_id, "first", "5.00")
    assert (status, again["id"]) == (200, first["id"])

    customer_id = await store.customer_id_of(stack.db, unique_id)
    listed = await store.list_purchases(stack.db, customer_id, limit=1000)
    assert sorted(p.id for p in listed) == sorted(made)  # nothing else was made


async def test_keys_are_kept_thirty_days(db_url: str) -> None:
    async with migrated_ledger(db_url) as ledger:
        db = ledger.db
        customer_id = (await ledger.customer_row(ledger.customers[0])).id
        assert customer_id is not None
        now = datetime(2026, 3, 31, 12, tzinfo=UTC)
        for key, age in (("young", timedelta(days=29, hours=23)), ("old", timedelta(days=31))):
            async with db.transaction() as session:
                session.add(
                    PurchaseIdempotencyKey(
                        customer_id=customer_id, key=key, request_hash="h", created_at=now - age
                    )
                )
        assert await idempotency.purge(db, now) == 1
        kept = await idempotency.claim(db, customer_id, "young", "other")
        assert kept.request_hash == "h"  # still bound: a different body would be refused
        fresh = await idempotency.claim(db, customer_id, "old", "other")
        assert fresh.request_hash == "other"  # purged: the key is new again
