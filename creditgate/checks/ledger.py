"""``creditgate check``: verify the ledger invariants (docs/invariants.md) over the whole database.

2. every wallet's balance equals the sum of its ledger entries (and each entry's
   balance_after continues the previous one); active grants hold exactly the balance; no
   entry belongs to no customer;
3. every accepted usage event is debited exactly once, for its cost, and belongs to a
   customer;
5. held equals the sum of active holds; no hold holds more than it reserved;
9. every ledger notice reaches its workflow: no outbox row is dead-lettered.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.infra.db import Database
from creditgate.ledger import outbox
from creditgate.models import Customer, Grant, Hold, LedgerEntry, UsageEvent, Wallet

ZERO = Decimal(0)


@dataclass(frozen=True)
class Violation:
    invariant: int
    customer: str
    message: str

    def __str__(self) -> str:
        return f"invariant {self.invariant} [{self.customer}]: {self.message}"


async def check(db: Database) -> list[Violation]:
    found: list[Violation] = []
    async with db.session() as session:
        accounts = (
            await session.exec(
                select(Customer, Wallet).join(Wallet, col(Wallet.customer_id) == col(Customer.id))
            )
        ).all()
        for customer, wallet in accounts:
            assert customer.id is not None
            who = customer.external_id

            def bad(invariant: int, message: str, who: str = who) -> None:
                found.append(Violation(invariant, who, message))

            entries = (
                await session.exec(
                    select(LedgerEntry)
                    .where(LedgerEntry.customer_id == customer.id)
                    .order_by(col(LedgerEntry.id))
                )
            ).all()
            running = ZERO
            for entry in entries:
                running += entry.amount
                if entry.balance_after != running:
                    bad(2, f"entry {entry.id} balance_after {entry.balance_after} != {running}")
                    break
            total = sum((e.amount for e in entries), ZERO)
            if total != wallet.balance:
                bad(2, f"wallet balance {wallet.balance} != sum of ledger entries {total}")
            grants = (
                await session.exec(select(Grant).where(Grant.customer_id == customer.id))
            ).all()
            in_grants = sum((g.remaining for g in grants if g.status == "active"), ZERO)
            expected = max(wallet.balance, ZERO)
            if in_grants != expected:
                bad(
                    2, f"active grants hold {in_grants} but the balance (net of debt) is {expected}"
                )
            for grant in grants:
                if not ZERO <= grant.remaining <= grant.amount:
                    bad(
                        2, f"grant {grant.id} remaining {grant.remaining} outside 0..{grant.amount}"
                    )

            debits: dict[str, list[LedgerEntry]] = defaultdict(list)
            for entry in entries:
                if entry.kind == "debit":
                    if entry.event_id is None:
                        bad(3, f"debit entry {entry.id} names no usage event")
                    else:
                        debits[entry.event_id].append(entry)
            events = (
                await session.exec(select(UsageEvent).where(UsageEvent.customer_id == customer.id))
            ).all()
            event_ids = set()
            for event in events:
                event_ids.add(event.event_id)
                booked = debits.get(event.event_id, [])
                if len(booked) != 1:
                    bad(3, f"event {event.event_id!r} debited {len(booked)} times")
                elif booked[0].amount != -event.cost:
                    bad(
                        3,
                        f"event {event.event_id!r} cost {event.cost}, debited {booked[0].amount}",
                    )
            for orphan in sorted(set(debits) - event_ids):
                bad(3, f"debit for {orphan!r} has no recorded usage event")

            holds = (await session.exec(select(Hold).where(Hold.customer_id == customer.id))).all()
            held = sum((h.remaining for h in holds if h.status == "active"), ZERO)
            if held != wallet.held:
                bad(5, f"wallet held {wallet.held} != sum of active holds {held}")
            for hold in holds:
                if not ZERO <= hold.remaining <= hold.amount:
                    bad(5, f"hold {hold.id} remaining {hold.remaining} outside 0..{hold.amount}")
                if hold.status != "active" and hold.remaining != 0:
                    bad(5, f"{hold.status} hold {hold.id} still holds {hold.remaining}")
        found += await _orphans(session)
    found += await _dead_letters(db)
    return found


async def _dead_letters(db: Database) -> list[Violation]:
    return [
        Violation(
            9,
            row.workflow_id,
            f"outbox row {row.id} ({row.kind}) dead-lettered after {row.attempts} attempts "
            f"({row.last_error}); later notices of this workflow wait behind it: "
            f"`creditgate outbox retry --id {row.id}` once the workflow exists",
        )
        for row in await outbox.dead_letters(db)
    ]


async def _orphans(session: AsyncSession) -> list[Violation]:
    """Entries and events of no customer: the ledger's two append-only tables have no FOREIGN
    KEY (migration 0008), so what a constraint would refuse is checked here."""
    found: list[Violation] = []
    for invariant, model in ((2, LedgerEntry), (3, UsageEvent)):
        rows = await session.exec(
            select(model.customer_id, func.count())
            .where(col(model.customer_id).not_in(select(Customer.id)))
            .group_by(col(model.customer_id))
        )
        for customer_id, count in rows:
            table = model.__tablename__
            found.append(
                Violation(invariant, f"#{customer_id}", f"{count} {table} rows of no customer")
            )
    return found
