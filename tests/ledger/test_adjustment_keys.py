"""An adjustment with a key (an operator update's reference, an API Idempotency-Key) is
booked once: a repeat, such as an activity retried after its reply was lost or a client's
retried request, answers as the first did and books nothing."""

from decimal import Decimal

import pytest

from creditgate.checks.ledger import check
from creditgate.ledger import operators
from creditgate.ledger.errors import IdempotencyMismatch
from tests.ledger.support import Ledger, serve_api


async def test_a_debit_repeated_with_its_reference_is_booked_once(ledger: Ledger) -> None:
    await ledger.grant("10")
    first = await operators.adjust(ledger.db, ledger.customer, Decimal("-4"), "refund", "op:1")
    assert await ledger.calls("e1") == ["debited"]  # the balance moves on in between
    again = await operators.adjust(ledger.db, ledger.customer, Decimal("-4"), "refund", "op:1")

    assert (first.amount, first.balance, first.created) == (Decimal(-4), Decimal(6), True)
    assert (again.amount, again.balance, again.created) == (Decimal(-4), Decimal(6), False)
    assert [(e.kind, e.amount) for e in await ledger.entries()] == [
        ("grant", Decimal(10)),
        ("adjustment", Decimal(-4)),
        ("debit", Decimal("-0.01")),
    ]
    assert (await ledger.wallet()).balance == Decimal("5.99")
    assert await check(ledger.db) == []


async def test_another_debit_with_another_reference_is_booked(ledger: Ledger) -> None:
    await ledger.grant("10")
    await operators.adjust(ledger.db, ledger.customer, Decimal("-4"), "refund", "op:1")
    other = await operators.adjust(ledger.db, ledger.customer, Decimal("-4"), "refund", "op:2")
    unkeyed = await operators.adjust(ledger.db, ledger.customer, Decimal("-1"), "refund")
    assert (other.balance, other.created, unkeyed.balance) == (Decimal(2), True, Decimal(1))
    assert [e.reference for e in await ledger.entries()] == [None, "op:1", "op:2", None]


@pytest.mark.parametrize(("amount", "reason"), [("-5", "refund"), ("4", "refund"), ("-4", "x")])
async def test_a_reference_reused_for_another_adjustment_is_refused(
    ledger: Ledger, amount: str, reason: str
) -> None:
    await ledger.grant("10")
    await operators.adjust(ledger.db, ledger.customer, Decimal("-4"), "refund", "op:1")
    before = await ledger.entries()
    with pytest.raises(IdempotencyMismatch):
        await operators.adjust(ledger.db, ledger.customer, Decimal(amount), reason, "op:1")
    assert await ledger.entries() == before


@pytest.mark.parametrize("amount", ["-2.5", "2.5"], ids=["debit", "credit"])
async def test_a_retried_request_with_an_idempotency_key_books_once(
    ledger: Ledger, amount: str
) -> None:
    who = ledger.customer
    await ledger.grant("10")
    body = {"amount": amount, "reason": "support ticket 42"}
    key = {"Idempotency-Key": "ticket-42"}
    async with serve_api(ledger) as http:
        first = await http.post(f"/v1/customers/{who}/adjustments", json=body, headers=key)
        await ledger.calls("e1")
        retried = await http.post(f"/v1/customers/{who}/adjustments", json=body, headers=key)
        changed = await http.post(
            f"/v1/customers/{who}/adjustments", json={**body, "amount": "-1"}, headers=key
        )
        unkeyed = await http.post(f"/v1/customers/{who}/adjustments", json=body)

    assert first.status_code == 201, first.text
    assert retried.status_code == 200, retried.text
    assert retried.json() == first.json()
    assert changed.status_code == 400 and changed.json()["error"]["type"] == "idempotency_error"
    assert unkeyed.status_code == 201
    adjustments = [e for e in await ledger.entries() if e.kind == "adjustment"]
    assert [e.reference for e in adjustments] == ["api:ticket-42", None]
    expected = Decimal(10) + 2 * Decimal(amount) - Decimal("0.01")
    assert (await ledger.wallet()).balance == expected
    assert await check(ledger.db) == []
