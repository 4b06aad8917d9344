"""Burn-down, debt, entitlement, idempotency, rejection, expiry and holds on both backends.

Every test drives the ledger through ``creditgate.ledger.service`` (one transaction per call),
reads the database afterwards with fresh sessions, and ends with the invariant checker.
"""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import col, func, select

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.ledger.customers import register_customer
from creditgate.ledger.errors import InsufficientFunds, LedgerError, NotFound
from creditgate.ledger.usage import EventIn
from creditgate.models import CustomerStatus, LedgerEntry, UsageEvent
from creditgate.plans.catalog import create_plan
from creditgate.pricing.plan import Meter, PlanDefinition, Price, Tier
from tests.ledger.support import Ledger, utcnow

D = Decimal


async def usage_rows(ledger: Ledger) -> int:
    async with ledger.db.session() as session:
        return (await session.exec(select(func.count()).select_from(UsageEvent))).one()


# -- burn-down order ---------------------------------------------------------------------------


async def test_grants_burn_by_priority_then_expiry_then_age(ledger: Ledger) -> None:
    now = utcnow()
    # Created in this order; the burn order is the comment's letter order.
    low_priority = await ledger.grant("1", priority=20)  # F: priority 20 burns last
    never_old = await ledger.grant("1")  # D: never expires, oldest of those
    late = await ledger.grant("1", expires_at=now + timedelta(days=2))  # C
    never_new = await ledger.grant("1")  # E: never expires, newest
    early = await ledger.grant("1", expires_at=now + timedelta(days=1))  # B
    first = await ledger.grant("1", priority=5, expires_at=now + timedelta(days=30))  # A
    order = [first, early, late, never_old, never_new, low_priority]
    ids = [g.id for g in order]

    # 1.5 spans two grants; the debit entry records both allocations in burn order.
    assert await ledger.tokens("e1", 1500) == "debited"
    remaining = {g.id: g.remaining for g in await ledger.grants()}
    assert [remaining[i] for i in ids] == [D(0), D("0.5"), D(1), D(1), D(1), D(1)]
    debit = (await ledger.entries())[-1]
    assert debit.kind == "debit" and debit.amount == D("-1.5")
    assert debit.allocations == [
        {"grant_id": first.id, "amount": "1"},
        {"grant_id": early.id, "amount": "0.5"},
    ]

    # Then one whole grant per step, in order.
    for step, count in enumerate([500, 1000, 1000, 1000], start=1):
        assert await ledger.tokens(f"step{step}", count) == "debited"
        remaining = {g.id: g.remaining for g in await ledger.grants()}
        expected = [D(0)] * (step + 1) + [D(1)] * (len(ids) - step - 1)
        assert [remaining[i] for i in ids] == expected, step
    statuses = {g.id: g.status for g in await ledger.grants()}
    assert [statuses[i] for i in ids] == ["depleted"] * 5 + ["active"]
    assert (await ledger.wallet()).balance == D(1)
    assert await check(ledger.db) == []


async def test_expiry_in_other_time_zones_orders_by_instant(ledger: Ledger) -> None:
    # 10:00 at UTC+5 is 05:00 UTC: it expires before 08:00 UTC, although "10" > "08".
    base = (utcnow() + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    later = await ledger.grant("1", expires_at=base.replace(hour=8))
    sooner = await ledger.grant(
        "1", expires_at=base.replace(hour=10, tzinfo=timezone(timedelta(hours=5)))
    )
    assert await ledger.tokens("e1", 600) == "debited"
    assert (await ledger.get_grant(sooner.id)).remaining == D("0.4")
    assert (await ledger.get_grant(later.id)).remaining == D(1)
    assert await check(ledger.db) == []


# -- debt and entitlement ----------------------------------------------------------------------


async def test_overdraw_leaves_debt_and_the_next_grant_pays_it_first(ledger: Ledger) -> None:
    first = await ledger.grant("1.00")
    assert await ledger.tokens("big", 1500) == "debited"
    wallet = await ledger.wallet()
    assert wallet.balance == D("-0.5")
    assert wallet.debt == D("0.5")
    assert wallet.available == D("-0.5")
    assert not wallet.entitled
    debit = (await ledger.entries())[-1]
    assert debit.balance_after == D("-0.5")
    # Only the part a grant covered is allocated; the rest became debt.
    assert debit.allocations == [{"grant_id": first.id, "amount": "1"}]

    # A grant smaller than the debt pays what it can and keeps nothing.
    small = await ledger.grant("0.2")
    assert small.remaining == D(0)
    assert (await ledger.get_grant(small.id)).status == "depleted"
    wallet = await ledger.wallet()
    assert wallet.balance == D("-0.3") and wallet.debt == D("0.3") and not wallet.entitled
    assert (await ledger.customer_row()).status == CustomerStatus.cut_off

    # The next grant pays the rest of the debt first: remaining = amount − debt.
    second = await ledger.grant("2.00")
    stored = await ledger.get_grant(second.id)
    assert stored.amount == D(2) and stored.remaining == D("1.7") and stored.status == "active"
    wallet = await ledger.wallet()
    assert wallet.balance == D("1.7") and wallet.debt == D(0) and wallet.entitled
    assert (await ledger.customer_row()).status == CustomerStatus.active

    # Later usage burns the new grant's remainder, not the debt again.
    assert await ledger.tokens("after", 700) == "debited"
    assert (await ledger.get_grant(second.id)).remaining == D(1)
    assert (await ledger.wallet()).balance == D(1)
    assert await check(ledger.db) == []


async def test_cut_off_at_zero_and_restored_by_a_grant(ledger: Ledger) -> None:
    wallet = await ledger.wallet()
    assert not wallet.entitled  # nothing granted yet
    await ledger.grant("0.02")
    customer, wallet = await ledger.account()
    assert wallet.entitled and customer.status == CustomerStatus.active

    assert await ledger.calls("c1") == ["debited"]
    customer, wallet = await ledger.account()
    assert wallet.balance == D("0.01") and wallet.entitled
    assert customer.status == CustomerStatus.active

    # The debit that reaches zero cuts off in its own transaction: read right after.
    assert await ledger.calls("c2") == ["debited"]
    customer, wallet = await ledger.account()
    assert wallet.balance == D(0)
    assert not wallet.entitled
    assert customer.status == CustomerStatus.cut_off
    assert (await ledger.outbox()).count("zero") == 1

    # Usage that already happened is still recorded (into debt); no second crossing.
    assert await ledger.calls("c3") == ["debited"]
    customer, wallet = await ledger.account()
    assert wallet.balance == D("-0.01") and customer.status == CustomerStatus.cut_off
    assert (await ledger.outbox()).count("zero") == 1

    await ledger.grant("1")
    customer, wallet = await ledger.account()
    assert wallet.entitled and wallet.balance == D("0.99")
    assert customer.status == CustomerStatus.active
    assert (await ledger.outbox())[-1] == "restored"

    # The other customer was never touched.
    other, other_wallet = await ledger.account(ledger.customers[1])
    assert other.status == CustomerStatus.active and other_wallet.balance == 0
    assert await check(ledger.db) == []


# -- idempotency -------------------------------------------------------------------------------


async def test_duplicate_ids_within_and_across_batches_move_no_money(ledger: Ledger) -> None:
    await ledger.grant("1")
    results = await service.ingest(
        ledger.db,
        [
            EventIn(id="a", customer=ledger.customer, event_type="api_call"),
            EventIn(id="b", customer=ledger.customer, event_type="api_call"),
            EventIn(id="a", customer=ledger.customer, event_type="api_call"),
        ],
    )
    assert [r.status for r in results] == ["debited", "debited", "duplicate"]
    assert results[2].cost == results[0].cost == D("0.01")
    assert results[2].balance_after == D("0.98")

    # Across batches; a duplicate answers with the original cost even with other properties.
    results = await service.ingest(
        ledger.db,
        [
            EventIn(id="b", customer=ledger.customer, event_type="api_call"),
            EventIn(id="c", customer=ledger.customer, event_type="api_call"),
            EventIn(
                id="a", customer=ledger.customer, event_type="tokens", properties={"count": 900}
            ),
        ],
    )
    assert [r.status for r in results] == ["duplicate", "debited", "duplicate"]
    assert results[2].cost == D("0.01")
    assert (await ledger.wallet()).balance == D("0.97")

    # Ids are per customer: the other customer may use "a" too.
    await ledger.grant("1", external_id=ledger.customers[1])
    assert await ledger.calls("a", external_id=ledger.customers[1]) == ["debited"]

    debits = [e for e in await ledger.entries() if e.kind == "debit"]
    assert sorted(e.event_id or "" for e in debits) == ["a", "b", "c"]
    assert await usage_rows(ledger) == 4
    assert await check(ledger.db) == []


# -- rejected events ---------------------------------------------------------------------------


async def test_rejected_events_move_nothing(ledger: Ledger) -> None:
    await ledger.grant("5")
    before = await ledger.entries()
    now = utcnow()
    who = ledger.customer

    def tokens(event_id: str, **properties: object) -> EventIn:
        return EventIn(id=event_id, customer=who, event_type="tokens", properties=properties)

    bad = [
        EventIn(id="nobody", customer="no_such_customer", event_type="api_call"),
        EventIn(id="type", customer=who, event_type="no_such_type"),
        tokens("negative", count=-1, model="m1"),
        tokens("negative_str", count="-0.5", model="m1"),
        tokens("nan", count=float("nan"), model="m1"),
        tokens("nan_str", count="NaN", model="m1"),
        tokens("nan_dec", count=D("NaN"), model="m1"),
        tokens("inf", count=float("inf"), model="m1"),
        tokens("missing", model="m1"),
        tokens("null", count=None, model="m1"),
        tokens("text", count="lots", model="m1"),
        tokens("bool", count=True, model="m1"),
        tokens("huge", count=10**16, model="m1"),
        tokens("huge_str", count="1e30", model="m1"),
        tokens("too_precise", count="0." + "0" * 18 + "1", model="m1"),
        EventIn(
            id="future", customer=who, event_type="api_call", timestamp=now + timedelta(minutes=6)
        ),
        EventIn(id="old", customer=who, event_type="api_call", timestamp=now - timedelta(days=36)),
        EventIn(id="hold", customer=who, event_type="api_call", hold_id="hold_missing"),
    ]
    results = await service.ingest(ledger.db, bad)
    assert [r.id for r in results] == [e.id for e in bad]
    assert [(r.id, r.status) for r in results] == [(e.id, "rejected") for e in bad]
    assert all(r.reason for r in results)
    assert all(r.cost is None and r.balance_after is None for r in results)
    assert "unknown customer" in (results[0].reason or "")

    assert await ledger.entries() == before
    assert (await ledger.wallet()).balance == D(5)
    assert await usage_rows(ledger) == 0

    # Within the windows, and mixed with rejected ones in one batch, events are debited.
    edge = utcnow()
    soon, long_ago = edge + timedelta(minutes=4), edge - timedelta(days=34)
    mixed = [
        EventIn(id="ok_future", customer=who, event_type="api_call", timestamp=soon),
        tokens("nan", count="NaN", model="m1"),
        EventIn(id="ok_old", customer=who, event_type="api_call", timestamp=long_ago),
        tokens("ok_zero", count=0, model="m1"),
        tokens("ok_str", count="2.5", model="m1"),
    ]  # fmt: skip
    results = await service.ingest(ledger.db, mixed)
    assert [r.status for r in results] == ["debited", "rejected", "debited", "debited", "debited"]
    assert [r.cost for r in results] == [D("0.01"), None, D("0.01"), D(0), D("0.0025")]
    assert (await ledger.wallet()).balance == D("4.9775")

    # A rejected id was not consumed: sent again, valid, it is debited.
    assert await ledger.tokens("negative", 1) == "debited"
    assert await check(ledger.db) == []


async def test_backdating_window_is_the_callers(ledger: Ledger) -> None:
    await ledger.grant("1")
    event = EventIn(
        id="e", customer=ledger.customer, event_type="api_call", timestamp=utcnow() - timedelta(2)
    )
    (result,) = await service.ingest(ledger.db, [event], backdating=timedelta(days=1))
    assert result.status == "rejected" and "1-day" in (result.reason or "")
    (result,) = await service.ingest(ledger.db, [event], backdating=timedelta(days=3))
    assert result.status == "debited"
    assert await check(ledger.db) == []


# -- grant expiry ------------------------------------------------------------------------------


async def test_expiry_books_the_remaining_amount(ledger: Ledger) -> None:
    now = utcnow()
    expiring = await ledger.grant("1", expires_at=now + timedelta(hours=1))
    keeper = await ledger.grant("1")
    assert await ledger.tokens("e1", 300) == "debited"  # burns the expiring grant first
    assert (await ledger.get_grant(expiring.id)).remaining == D("0.7")

    # Nothing is due yet.
    assert await service.expire(ledger.db, ledger.customer) == []
    await ledger.backdate_grant(expiring.id, utcnow() - timedelta(seconds=1))
    expired = await service.expire(ledger.db, ledger.customer)
    assert [g.id for g in expired] == [expiring.id]

    stored = await ledger.get_grant(expiring.id)
    assert stored.status == "expired"
    assert stored.remaining == D(0)
    assert stored.expired_amount == D("0.7")
    entry = (await ledger.entries())[-1]
    assert entry.kind == "expiry"
    assert entry.amount == D("-0.7")
    assert entry.grant_id == expiring.id
    assert entry.balance_after == D(1)
    wallet = await ledger.wallet()
    assert wallet.balance == D(1) and wallet.entitled
    assert (await ledger.get_grant(keeper.id)).remaining == D(1)

    # Expiring again books nothing more.
    assert await service.expire(ledger.db, ledger.customer) == []
    assert len(await ledger.entries()) == 4
    assert await check(ledger.db) == []


async def test_expiry_happens_before_the_next_debit_and_can_cut_off(ledger: Ledger) -> None:
    grant = await ledger.grant("0.05", expires_at=utcnow() + timedelta(hours=1))
    await ledger.backdate_grant(grant.id, utcnow() - timedelta(minutes=1))
    # The ingest transaction expires the grant first, so the call goes into debt.
    results = await service.ingest(
        ledger.db, [EventIn(id="late", customer=ledger.customer, event_type="api_call")]
    )
    assert results[0].status == "debited" and results[0].balance_after == D("-0.01")
    kinds = [(e.kind, e.amount) for e in await ledger.entries()]
    assert kinds == [("grant", D("0.05")), ("expiry", D("-0.05")), ("debit", D("-0.01"))]
    customer, wallet = await ledger.account()
    assert not wallet.entitled and customer.status == CustomerStatus.cut_off
    assert await check(ledger.db) == []


async def test_a_fully_used_grant_expires_without_an_entry(ledger: Ledger) -> None:
    grant = await ledger.grant("0.01", expires_at=utcnow() + timedelta(hours=1))
    assert await ledger.calls("c1") == ["debited"]
    await ledger.backdate_grant(grant.id, utcnow() - timedelta(seconds=1))
    assert await service.expire(ledger.db, ledger.customer) == []  # depleted, not active
    assert [e.kind for e in await ledger.entries()] == ["grant", "debit"]
    assert await check(ledger.db) == []


async def test_grant_validation(ledger: Ledger) -> None:
    for bad in (
        {"amount": "0"},
        {"amount": "-1"},
        {"amount": "1", "source": "gift"},
        {"amount": "1", "expires_at": utcnow() - timedelta(seconds=1)},
    ):
        with pytest.raises(LedgerError):
            await ledger.grant(**bad)
    with pytest.raises(NotFound):
        await ledger.grant("1", external_id="no_such_customer")
    # A reference makes a grant idempotent.
    one = await ledger.grant("3", reference="purchase_1")
    two = await ledger.grant("3", reference="purchase_1")
    assert one.id == two.id
    assert (await ledger.wallet()).balance == D(3)
    assert await check(ledger.db) == []


# -- holds -------------------------------------------------------------------------------------


async def test_holds_reserve_settle_and_release(ledger: Ledger) -> None:
    await ledger.grant("1.00")
    first = await service.hold(ledger.db, ledger.customer, amount=D("0.40"), ttl_seconds=600)
    assert first.status == "active" and first.remaining == D("0.4")
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held, wallet.available) == (D(1), D("0.4"), D("0.6"))

    with pytest.raises(InsufficientFunds) as refused:
        await service.hold(ledger.db, ledger.customer, amount=D("0.61"), ttl_seconds=600)
    assert refused.value.status == 402
    with pytest.raises(LedgerError):
        await service.hold(ledger.db, ledger.customer, amount=D(0), ttl_seconds=600)
    second = await service.hold(ledger.db, ledger.customer, amount=D("0.60"), ttl_seconds=600)
    wallet = await ledger.wallet()
    assert (wallet.held, wallet.available) == (D(1), D(0))
    assert wallet.entitled  # holds do not cut a customer off
    with pytest.raises(InsufficientFunds):
        await service.hold(ledger.db, ledger.customer, amount=D("0.01"), ttl_seconds=600)

    # Usage naming the hold settles against it: balance and held drop together.
    assert await ledger.tokens("t1", 300, hold_id=first.id) == "debited"
    assert (await ledger.get_hold(first.id)).remaining == D("0.1")
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held, wallet.available) == (D("0.7"), D("0.7"), D(0))
    debit = (await ledger.entries())[-1]
    assert debit.hold_id == first.id and debit.amount == D("-0.3")

    # More than the hold's remaining: the hold covers what it has, the rest is plain usage.
    assert await ledger.tokens("t2", 250, hold_id=first.id) == "debited"
    assert (await ledger.get_hold(first.id)).remaining == D(0)
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held, wallet.available) == (D("0.45"), D("0.6"), D("-0.15"))

    # A hold of one customer cannot be used by another.
    await ledger.grant("1", external_id=ledger.customers[1])
    other = await ledger.tokens("t3", 100, external_id=ledger.customers[1], hold_id=second.id)
    assert other == "rejected"

    # Release gives back the rest; releasing twice changes nothing.
    released = await service.release_hold(ledger.db, second.id)
    assert released.status == "released" and released.remaining == D(0)
    assert (await service.release_hold(ledger.db, second.id)).status == "released"
    released_first = await service.release_hold(ledger.db, first.id)
    assert released_first.status == "released"
    wallet = await ledger.wallet()
    assert (wallet.balance, wallet.held, wallet.available) == (D("0.45"), D(0), D("0.45"))
    with pytest.raises(NotFound):
        await service.release_hold(ledger.db, "hold_missing")

    # Usage naming a closed hold is still debited (it happened), without settling.
    assert await ledger.calls("c1", hold_id=second.id) == ["debited"]
    assert (await ledger.wallet()).held == D(0)
    assert await check(ledger.db) == []


async def test_hold_for_an_estimated_event(ledger: Ledger) -> None:
    await ledger.grant("1")
    placed = await service.hold(
        ledger.db,
        ledger.customer,
        estimate=("tokens", {"count": 400, "model": "m1"}),
        ttl_seconds=60,
    )
    assert placed.amount == D("0.4")
    with pytest.raises(LedgerError):
        await service.hold(ledger.db, ledger.customer, estimate=("nope", {}), ttl_seconds=60)
    assert (await ledger.wallet()).held == D("0.4")
    assert await check(ledger.db) == []


async def test_expired_holds_are_released_by_the_sweep(ledger: Ledger) -> None:
    await ledger.grant("1")
    await ledger.grant("1", external_id=ledger.customers[1])
    stale = await service.hold(ledger.db, ledger.customer, amount=D("0.5"), ttl_seconds=600)
    fresh = await service.hold(ledger.db, ledger.customer, amount=D("0.25"), ttl_seconds=600)
    other = await service.hold(ledger.db, ledger.customers[1], amount=D("1"), ttl_seconds=600)
    assert await service.sweep_expired_holds(ledger.db) == 0

    await ledger.backdate_hold(stale.id, utcnow() - timedelta(seconds=1))
    await ledger.backdate_hold(other.id, utcnow() - timedelta(seconds=1))
    assert await service.sweep_expired_holds(ledger.db) == 2
    for hold_id in (stale.id, other.id):
        hold = await ledger.get_hold(hold_id)
        assert hold.status == "expired" and hold.remaining == 0 and hold.closed_at is not None
    assert (await ledger.get_hold(fresh.id)).status == "active"
    wallet = await ledger.wallet()
    assert (wallet.held, wallet.available) == (D("0.25"), D("0.75"))
    assert (await ledger.wallet(ledger.customers[1])).available == D(1)
    assert await service.sweep_expired_holds(ledger.db) == 0

    # Any later ledger transaction of the customer also lets an expired hold go.
    await ledger.backdate_hold(fresh.id, utcnow() - timedelta(seconds=1))
    placed = await service.hold(ledger.db, ledger.customer, amount=D(1), ttl_seconds=600)
    assert (await ledger.get_hold(fresh.id)).status == "expired"
    assert placed.amount == D(1)
    # No holds or grants changed the ledger entries themselves.
    async with ledger.db.session() as session:
        kinds = (await session.exec(select(col(LedgerEntry.kind)).distinct())).all()
    assert list(kinds) == ["grant"]
    assert await check(ledger.db) == []


async def test_hold_expiry_time_is_stored_in_utc(ledger: Ledger) -> None:
    await ledger.grant("1")
    placed = await service.hold(ledger.db, ledger.customer, amount=D("0.1"), ttl_seconds=30)
    stored = await ledger.get_hold(placed.id)
    assert stored.expires_at.tzinfo is not None
    assert stored.expires_at.utcoffset() == timedelta(0)
    assert stored.expires_at - stored.created_at == timedelta(seconds=30)
    assert stored.expires_at > datetime.now(UTC)
    assert await check(ledger.db) == []


async def test_a_fully_settled_hold_is_swept_once(ledger: Ledger) -> None:
    """A hold whose reservation was all settled by usage still expires at its TTL, and the
    sweep does not keep finding it (it would crowd out other customers' expired holds)."""
    await ledger.grant("1")
    used = await service.hold(ledger.db, ledger.customer, amount=D("0.25"), ttl_seconds=600)
    assert await ledger.tokens("all", 250, hold_id=used.id) == "debited"
    assert (await ledger.get_hold(used.id)).remaining == 0
    assert (await ledger.wallet()).held == 0

    await ledger.backdate_hold(used.id, utcnow() - timedelta(seconds=1))
    assert await service.sweep_expired_holds(ledger.db) == 1
    assert (await ledger.get_hold(used.id)).status == "expired"
    assert await service.sweep_expired_holds(ledger.db) == 0
    assert await check(ledger.db) == []


async def test_the_sweep_reaches_every_customer(ledger: Ledger) -> None:
    """With a limit of one customer per sweep, repeated sweeps still release every hold."""
    holds = []
    for who in ledger.customers:
        await ledger.grant("1", external_id=who)
        hold = await service.hold(ledger.db, who, amount=D("0.5"), ttl_seconds=600)
        assert await ledger.tokens(f"{who}-u", 500, external_id=who, hold_id=hold.id) == "debited"
        await ledger.backdate_hold(hold.id, utcnow() - timedelta(seconds=1))
        holds.append(hold.id)
    swept = [await service.sweep_expired_holds(ledger.db, limit=1) for _ in range(3)]
    assert swept == [1, 1, 0]
    assert [(await ledger.get_hold(h)).status for h in holds] == ["expired", "expired"]
    assert await check(ledger.db) == []


async def test_one_threshold_message_per_crossing(ledger: Ledger) -> None:
    await ledger.grant("0.10")
    await ledger.set_recharge_threshold(D("0.05"))
    assert await ledger.calls("a", "b", "c", "d") == ["debited"] * 4  # 0.10 → 0.06
    assert await ledger.outbox() == ["restored"]
    assert await ledger.calls("e", "f") == ["debited"] * 2  # crosses: 0.06 → 0.04
    assert await ledger.calls("g") == ["debited"]  # stays below
    assert await ledger.outbox() == ["restored", "threshold"]
    # A hold lowers available too; after a top-up, crossing again is a new crossing.
    await ledger.grant("1")
    await service.hold(ledger.db, ledger.customer, amount=D("0.99"), ttl_seconds=600)
    assert await ledger.outbox() == ["restored", "threshold", "threshold"]
    assert await check(ledger.db) == []


async def test_a_top_up_that_leaves_available_at_the_threshold_asks_again(ledger: Ledger) -> None:
    """Usage that kept coming while a recharge was paid can leave the grant short; without a
    new message no later debit would cross the threshold from above, and the customer would
    stay below it with auto-recharge on."""
    await ledger.grant("0.10")
    await ledger.set_recharge_threshold(D("0.50"))
    assert await ledger.calls("a", "b") == ["debited"] * 2
    assert await ledger.outbox() == ["restored"]  # already below when the threshold was set
    await ledger.grant("0.20")  # 0.08 → 0.28: still below 0.50
    assert await ledger.outbox() == ["restored", "threshold"]
    await service.hold(ledger.db, ledger.customer, amount=D("0.01"), ttl_seconds=600)
    assert await ledger.outbox() == ["restored", "threshold"]  # a hold is not a top-up
    await ledger.grant("1")  # above the threshold: nothing to ask
    assert await ledger.outbox() == ["restored", "threshold"]
    assert await check(ledger.db) == []


async def test_hold_estimate_prices_from_the_running_total(ledger: Ledger) -> None:
    """A graduated price: once the cheap first tier is used up, an estimate uses the next."""
    plan = PlanDefinition(
        code="estimate_tiers",
        name="Estimate tiers",
        meters=[Meter(code="images", event_type="image", aggregation="count")],
        prices=[
            Price(
                meter="images",
                model="tiered_graduated",
                tiers=[Tier(up_to=D(2), unit_amount=D("0.05")), Tier(up_to=None, unit_amount=D(1))],
            )
        ],
    )
    await create_plan(ledger.db, plan)
    await register_customer(
        ledger.db,
        external_id="tiered-1",
        name="Tiered",
        email="tiered@example.com",
        plan="estimate_tiers",
        stripe_customer_id="cus_test_tiered",
        workflow_id="customer-tiered-1",
    )
    await ledger.grant("10", "tiered-1")

    async def estimate() -> Decimal:
        placed = await service.hold(ledger.db, "tiered-1", estimate=("image", {}), ttl_seconds=60)
        await service.release_hold(ledger.db, placed.id)
        return placed.amount

    assert await estimate() == D("0.05")
    events = [EventIn(id=f"img-{i}", customer="tiered-1", event_type="image") for i in range(2)]
    assert [r.cost for r in await service.ingest(ledger.db, events)] == [D("0.05"), D("0.05")]
    assert await estimate() == D(1)
    assert await check(ledger.db) == []
