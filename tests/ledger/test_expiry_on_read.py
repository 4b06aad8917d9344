"""What has expired counts as gone at once: in every read and every ledger transaction, not only
once the sweeper or the workflow's expiry timer has run (neither runs here)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.ledger.errors import InsufficientFunds
from creditgate.ledger.usage import EventIn
from tests.ledger.support import Ledger, serve_api, utcnow

D = Decimal


async def test_an_event_naming_an_expired_hold_settles_nothing(ledger: Ledger) -> None:
    await ledger.grant("1")
    hold = await service.hold(ledger.db, ledger.customer, amount=D("0.5"), ttl_seconds=600)
    await ledger.backdate_hold(hold.id, utcnow() - timedelta(seconds=1))

    # The transaction expires the hold (its 0.5 comes back), then the event names it.
    assert await ledger.tokens("late", 200, hold_id=hold.id) == "debited"

    stored = await ledger.get_hold(hold.id)
    assert (stored.status, stored.remaining) == ("expired", D(0))
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held, wallet.available) == (D("0.8"), D(0), D("0.8"))
    debit = (await ledger.entries())[-1]
    assert debit.kind == "debit" and debit.hold_id is None
    assert await check(ledger.db) == []


async def test_balance_and_customer_reads_leave_out_what_has_expired(ledger: Ledger) -> None:
    soon = utcnow() + timedelta(days=1)
    expiring = await ledger.grant("1", expires_at=soon)
    lasting = await ledger.grant("2")
    hold = await service.hold(ledger.db, ledger.customer, amount=D("0.5"), ttl_seconds=600)
    await ledger.backdate_grant(expiring.id, utcnow() - timedelta(seconds=1))
    await ledger.backdate_hold(hold.id, utcnow() - timedelta(seconds=1))
    # Another customer who has only an expired grant is no longer entitled.
    other = ledger.customers[1]
    only = await ledger.grant("1", external_id=other, expires_at=soon)
    await ledger.backdate_grant(only.id, utcnow() - timedelta(seconds=1))

    async with serve_api(ledger) as http:
        read = (await http.get(f"/v1/customers/{ledger.customer}/balance")).json()
        customer = (await http.get(f"/v1/customers/{ledger.customer}")).json()
        other_read = (await http.get(f"/v1/customers/{other}/balance")).json()
        other_customer = (await http.get(f"/v1/customers/{other}")).json()

    assert (read["available"], read["held"], read["debt"]) == ("2", "0", "0")
    assert [g["id"] for g in read["grants"]] == [lasting.id]
    summary = customer["balance"]
    assert (summary["available"], summary["held"], summary["entitled"]) == ("2", "0", True)
    assert (other_read["available"], other_read["entitled"], other_read["grants"]) == (
        "0",
        False,
        [],
    )
    assert other_customer["balance"]["entitled"] is False
    # Reads change nothing: the expiry is booked by the next ledger transaction.
    assert (await ledger.wallet()).balance == D(3)
    await service.expire(ledger.db, ledger.customer)
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held) == (D(2), D(0))
    assert await check(ledger.db) == []


async def test_hold_admission_and_debits_leave_out_what_has_expired(ledger: Ledger) -> None:
    expiring = await ledger.grant("1", expires_at=utcnow() + timedelta(days=1))
    await ledger.grant("0.5")
    await ledger.backdate_grant(expiring.id, utcnow() - timedelta(seconds=1))
    with pytest.raises(InsufficientFunds):
        await service.hold(ledger.db, ledger.customer, amount=D("0.6"), ttl_seconds=600)
    results = await service.ingest(
        ledger.db, [EventIn(id="t", customer=ledger.customer, event_type="api_call")]
    )
    assert results[0].balance_after == D("0.49")
    assert await check(ledger.db) == []
