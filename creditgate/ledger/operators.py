"""Operator controls: corrections booked as ledger entries (never an edit of history), voided
grants, and pausing a customer whatever the balance. Each is one ledger transaction, shared by
the API routes and the customer workflow's operator updates."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import ZERO, Account, entitled_at, expire_due
from creditgate.ledger.errors import Conflict, IdempotencyMismatch, LedgerError, NotFound
from creditgate.ledger.grants import GrantSpec, add_grant
from creditgate.ledger.pausing import paused_reason
from creditgate.ledger.tables import GrantRow
from creditgate.ledger.usage import burn_grants


class CreditLimitExceeded(LedgerError):
    status = 409
    type = "credit_limit_exceeded"


@dataclass(frozen=True)
class Adjusted:
    amount: Decimal
    balance: Decimal
    grant: GrantRow | None  # the credit's grant (None for a debit)
    created: bool = True


@dataclass(frozen=True)
class Voided:
    grant: GrantRow
    forfeited: Decimal
    balance: Decimal


@dataclass(frozen=True)
class StatusChange:
    status: str
    balance: Decimal
    entitled: bool
    reason: str | None


async def adjust(
    db: Database, external_id: str, amount: Decimal, reason: str, reference: str | None = None
) -> Adjusted:
    """A positive ``amount`` is a grant with source ``adjustment`` (it pays debt first); a
    negative one burns grants down like usage and is refused (changing nothing) if the balance
    would fall below what the credit limit allows. ``reference`` makes either once-only: a
    repeat books nothing and answers as the first did (``created`` False)."""
    if amount == 0:
        raise LedgerError("an adjustment amount may not be zero")

    async def work(account: Account) -> Adjusted:
        if reference is not None and (first := await _booked(account, reference)) is not None:
            return _repeat(first, amount, reason)  # a repeat answers even once closing
        refuse_if_closed(account)
        await expire_due(account)
        if amount > 0:
            spec = GrantSpec(
                amount, "adjustment", reason=reason, reference=reference, entry_kind="adjustment"
            )
            outcome = await add_grant(account, spec)
            if not outcome.created:  # a key booked before entries kept it
                grant = outcome.grant
                _same_request(grant.amount, grant.reason, amount, reason)
                return Adjusted(grant.amount, account.balance, grant, created=False)
            # The credit's entry keeps the key too, so a repeat answers from the entry.
            assert account.last_entry is not None
            account.last_entry["reference"] = reference
            return Adjusted(amount, account.balance, outcome.grant)
        after = account.balance + amount
        limit = account.credit_limit
        if limit is not None and after < -limit:
            raise CreditLimitExceeded(
                f"a debit of {-amount:f} would take the balance to {after:f}, below the "
                f"credit limit's floor of {-limit:f}"
            )
        allocations = await burn_grants(account, -amount)
        account.book(
            "adjustment",
            amount,
            allocations=allocations,
            description=reason[:500],
            reference=reference,
        )
        return Adjusted(amount, account.balance, None)

    return await service.in_account(db, work, external_id=external_id)


async def _booked(account: Account, reference: str) -> tuple[Any, GrantRow | None] | None:
    """The entry booked with ``reference`` and its grant (a credit's), if any."""
    e = t.ledger_entries.c
    entry = (
        await account.conn.execute(
            select(e.amount, e.balance_after, e.grant_id, e.description).where(
                e.customer_id == account.customer_id, e.reference == reference
            )
        )
    ).first()
    if entry is None:
        return None
    if entry.grant_id is None:
        return entry, None
    grant = (
        await account.conn.execute(select(t.grants).where(t.grants.c.id == entry.grant_id))
    ).one()
    return entry, GrantRow.of(grant)


def _repeat(first: tuple[Any, GrantRow | None], amount: Decimal, reason: str) -> Adjusted:
    entry, grant = first
    booked_reason = grant.reason if grant is not None else entry.description
    _same_request(entry.amount, booked_reason, amount, reason)
    return Adjusted(entry.amount, entry.balance_after, grant, created=False)


def _same_request(booked: Decimal, booked_reason: str | None, amount: Decimal, reason: str) -> None:
    if booked != amount or booked_reason != reason[:500]:
        raise IdempotencyMismatch(
            "this key was used for a different adjustment (amount or reason); "
            "use a new key for a new adjustment"
        )


async def void_grant(db: Database, grant_id: int, reason: str) -> Voided:
    """Forfeit what remains of an active grant (a ``void`` entry); what was used stays used."""
    async with db.read_engine.connect() as conn:
        owner = (
            await conn.execute(select(t.grants.c.customer_id).where(t.grants.c.id == grant_id))
        ).scalar_one_or_none()
    if owner is None:
        raise NotFound(f"no grant {grant_id}")

    async def work(account: Account) -> Voided:
        refuse_if_closed(account)
        await expire_due(account)
        grant = next((g for g in await account.active_grants() if g.id == grant_id), None)
        if grant is None:
            row = (
                await account.conn.execute(select(t.grants).where(t.grants.c.id == grant_id))
            ).one()
            stored = account.writes.grants.get(grant_id) or GrantRow.of(row)
            raise Conflict(f"grant {grant_id} is {stored.status}: nothing is left to void")
        forfeited = grant.remaining
        grant.remaining = ZERO
        grant.status = "voided"
        account.grant_changed(grant)
        description = f"grant voided: {reason}"[:500]
        account.book("void", -forfeited, grant_id=grant_id, description=description)
        return Voided(grant, forfeited, account.balance)

    return await service.in_account(db, work, customer_id=owner)


async def pause(db: Database, external_id: str, reason: str) -> StatusChange:
    """Cut the customer off whatever the balance until ``resume``."""

    async def work(account: Account) -> StatusChange:
        refuse_if_closed(account)
        if account.status == "paused":
            raise Conflict(f"the customer is already paused: {await paused_reason(account)}")
        account.status = "paused"
        await _set_reason(account, reason)
        account.notify("paused", {"reason": reason})
        return StatusChange("paused", account.balance, account.entitled, reason)

    return await service.in_account(db, work, external_id=external_id)


async def resume(db: Database, external_id: str) -> StatusChange:
    """Lift a pause: the status the balance implies comes back (active or cut_off)."""

    async def work(account: Account) -> StatusChange:
        await expire_due(account)
        if account.status != "paused":
            raise Conflict(f"the customer is not paused (status {account.status})")
        entitled = entitled_at(account.balance, account.credit_limit)
        account.status = "active" if entitled else "cut_off"
        await _set_reason(account, None)
        account.notify("resumed", {"status": account.status})
        return StatusChange(account.status, account.balance, entitled, None)

    return await service.in_account(db, work, external_id=external_id)


def refuse_if_closed(account: Account) -> None:
    if account.status in ("closing", "closed"):
        raise Conflict(f"the customer's account is {account.status}")


async def _set_reason(account: Account, reason: str | None) -> None:
    await account.conn.execute(
        update(t.customers)
        .where(t.customers.c.id == account.customer_id)
        .values(paused_reason=reason)
    )
