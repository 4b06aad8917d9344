"""The invariant checker finds corruption, and names the invariant each finding breaks."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import col, select

from creditgate.checks.ledger import Violation, check
from creditgate.ledger import service
from creditgate.models import Grant, Hold, LedgerEntry, UsageEvent, Wallet
from tests.ledger.support import Ledger, utcnow
from tests.support.localstripe import LocalStripe

D = Decimal
CREDITGATE = Path(sys.executable).parent / "creditgate"


async def busy_ledger(ledger: Ledger) -> str:
    """Grants, debits (one into debt on the second customer), an expiry and holds; returns the
    id of an active hold of the first customer."""
    first, second = ledger.customers
    expiring = await ledger.grant("1", expires_at=utcnow() + timedelta(hours=1))
    await ledger.grant("2")
    assert await ledger.calls("a", "b", "c") == ["debited"] * 3
    assert await ledger.tokens("t", 250) == "debited"
    await ledger.backdate_grant(expiring.id, utcnow() - timedelta(seconds=1))
    await service.expire(ledger.db, first)
    hold = await service.hold(ledger.db, first, amount=D("0.5"), ttl_seconds=600)
    assert await ledger.calls("h", hold_id=hold.id) == ["debited"]
    done = await service.hold(ledger.db, first, amount=D("0.1"), ttl_seconds=600)
    await service.release_hold(ledger.db, done.id)
    await ledger.grant("0.05", external_id=second)
    assert await ledger.tokens("big", 80, external_id=second) == "debited"  # into debt
    assert await check(ledger.db) == []
    return hold.id


async def entry(ledger: Ledger, event_id: str) -> LedgerEntry:
    async with ledger.db.session() as session:
        return (
            await session.exec(select(LedgerEntry).where(LedgerEntry.event_id == event_id))
        ).one()


def invariants(found: list[Violation]) -> set[int]:
    return {v.invariant for v in found}


async def test_a_clean_ledger_has_no_violations(ledger: Ledger) -> None:
    assert await check(ledger.db) == []  # empty wallets
    await busy_ledger(ledger)
    assert await check(ledger.db) == []


async def test_changed_wallet_balance_breaks_invariant_2(ledger: Ledger) -> None:
    await busy_ledger(ledger)
    customer = await ledger.customer_row()
    async with ledger.db.transaction() as session:
        wallet = (await session.exec(select(Wallet).where(Wallet.customer_id == customer.id))).one()
        wallet.balance += D("0.01")
        session.add(wallet)
    found = await check(ledger.db)
    assert found and invariants(found) == {2}
    assert all(v.customer == ledger.customer for v in found)
    assert any(
        "wallet balance" in v.message and "sum of ledger entries" in v.message for v in found
    )
    assert str(found[0]).startswith(f"invariant 2 [{ledger.customer}]: ")


async def test_deleted_debit_breaks_invariants_2_and_3(ledger: Ledger) -> None:
    await busy_ledger(ledger)
    victim = await entry(ledger, "b")
    async with ledger.db.transaction() as session:
        await session.delete(await session.get(LedgerEntry, victim.id))
    found = await check(ledger.db)
    assert invariants(found) == {2, 3}
    assert any(v.invariant == 3 and "'b' debited 0 times" in v.message for v in found)
    assert any(v.invariant == 2 and "sum of ledger entries" in v.message for v in found)


async def test_duplicated_debit_breaks_invariants_2_and_3(ledger: Ledger) -> None:
    await busy_ledger(ledger)
    original = await entry(ledger, "a")
    async with ledger.db.transaction() as session:
        copy = LedgerEntry.model_validate(original.model_dump(exclude={"id"}))
        session.add(copy)
    found = await check(ledger.db)
    assert invariants(found) == {2, 3}
    assert any(v.invariant == 3 and "'a' debited 2 times" in v.message for v in found)
    assert any(v.invariant == 2 and "balance_after" in v.message for v in found)


async def test_changed_hold_breaks_invariant_5(ledger: Ledger) -> None:
    hold_id = await busy_ledger(ledger)
    async with ledger.db.transaction() as session:
        hold = await session.get(Hold, hold_id)
        assert hold is not None
        hold.remaining -= D("0.1")
        session.add(hold)
    found = await check(ledger.db)
    assert invariants(found) == {5}
    assert any("held" in v.message and "sum of active holds" in v.message for v in found)

    # A hold holding more than it reserved, held kept in step: still caught.
    async with ledger.db.transaction() as session:
        hold = await session.get(Hold, hold_id)
        assert hold is not None
        wallet = (
            await session.exec(select(Wallet).where(Wallet.customer_id == hold.customer_id))
        ).one()
        # Undo the first change in held too, then overfill the hold.
        wallet.held += hold.amount + D(1) - (hold.remaining + D("0.1"))
        hold.remaining = hold.amount + D(1)
        session.add_all([hold, wallet])
    found = await check(ledger.db)
    assert [v.invariant for v in found] == [5]
    assert f"hold {hold_id} remaining" in found[0].message


async def test_released_hold_still_holding_breaks_invariant_5(ledger: Ledger) -> None:
    await busy_ledger(ledger)
    async with ledger.db.transaction() as session:
        hold = (await session.exec(select(Hold).where(Hold.status == "released"))).one()
        hold.remaining = D("0.05")
        session.add(hold)
    found = await check(ledger.db)
    assert [v.invariant for v in found] == [5]
    assert "released hold" in found[0].message


async def test_orphan_and_mispriced_debits_break_invariant_3(ledger: Ledger) -> None:
    await busy_ledger(ledger)
    async with ledger.db.transaction() as session:
        event = (await session.exec(select(UsageEvent).where(UsageEvent.event_id == "c"))).one()
        await session.delete(event)
        mispriced = (await session.exec(select(UsageEvent).where(UsageEvent.event_id == "t"))).one()
        mispriced.cost = D("0.3")
        session.add(mispriced)
    found = await check(ledger.db)
    assert invariants(found) == {3}
    messages = sorted(v.message for v in found)
    assert any("debit for 'c' has no recorded usage event" in m for m in messages)
    assert any("event 't' cost 0.3, debited -0.25" in m for m in messages)


async def test_events_and_entries_of_no_customer_break_invariants_2_and_3(
    ledger: Ledger,
) -> None:
    # The two append-only tables have no FOREIGN KEY (migration 0008): the checker stands in.
    await busy_ledger(ledger)
    async with ledger.db.transaction() as session:
        for model in (UsageEvent, LedgerEntry):
            row = (await session.exec(select(model).where(model.event_id == "a"))).one()
            row.customer_id = 999_999
            session.add(row)
    found = await check(ledger.db)
    assert {(v.invariant, v.customer, v.message) for v in found if v.customer == "#999999"} == {
        (2, "#999999", "1 ledger_entries rows of no customer"),
        (3, "#999999", "1 usage_events rows of no customer"),
    }


async def test_grants_out_of_step_with_the_balance_break_invariant_2(ledger: Ledger) -> None:
    await busy_ledger(ledger)
    async with ledger.db.transaction() as session:
        rows = await session.exec(
            select(LedgerEntry)
            .join(Grant, col(Grant.id) == col(LedgerEntry.grant_id))
            .where(col(LedgerEntry.kind) == "grant", Grant.status == "active")
            .limit(1)
        )
        grant_entry = rows.one()
        grant = await session.get(Grant, grant_entry.grant_id)
        assert grant is not None
        grant.remaining = grant.amount + 1
        session.add(grant)
    found = await check(ledger.db)
    assert invariants(found) == {2}
    assert any("active grants hold" in v.message for v in found)


# -- the command ---------------------------------------------------------------------------------


def run_check(url: str, cwd: Path, stripe_base: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    env["CREDITGATE_DATABASE_URL"] = url
    env["CREDITGATE_STRIPE_API_BASE"] = stripe_base
    return subprocess.run(
        [str(CREDITGATE), "check"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


async def test_the_check_command_exit_status(
    ledger: Ledger, tmp_path: Path, localstripe: LocalStripe
) -> None:
    hold_id = await busy_ledger(ledger)
    clean = await asyncio.to_thread(run_check, ledger.db.url, tmp_path, localstripe.base_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "invariants 2, 3, 4, 5, 6, 9 and 10 hold" in clean.stdout

    tamper: list[Callable[[], Awaitable[None]]] = [
        lambda: ledger.execute("DELETE FROM ledger_entries WHERE event_id = 'b'"),
        lambda: ledger.execute("UPDATE holds SET remaining = '0.01' WHERE id = :h", h=hold_id),
    ]
    for change in tamper:
        await change()
    broken = await asyncio.to_thread(run_check, ledger.db.url, tmp_path, localstripe.base_url)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"invariant 3 [{ledger.customer}]: event 'b' debited 0 times" in broken.stdout
    assert f"invariant 2 [{ledger.customer}]: wallet balance" in broken.stdout
    assert f"invariant 5 [{ledger.customer}]: wallet held" in broken.stdout
    assert "violation(s)" in broken.stderr
