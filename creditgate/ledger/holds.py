"""Holds: reserve available funds for work in flight; settle by events, release the rest."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account, close_hold
from creditgate.ledger.errors import IdempotencyMismatch, InsufficientFunds, LedgerError
from creditgate.ledger.tables import HoldRow
from creditgate.values.money import to_str

DEFAULT_TTL_SECONDS = 600
MAX_TTL_SECONDS = 7 * 86400


def new_hold_id() -> str:
    return "hold_" + secrets.token_hex(12)


def new_hold_key() -> str:
    """The key of a hold request that came without one (clients' keys start with ``api:``)."""
    return "ledger:" + secrets.token_hex(16)


@dataclass(frozen=True)
class HoldRequest:
    """What a hold request asks for; ``key`` makes placing it idempotent per customer."""

    ttl_seconds: int
    amount: Decimal | None = None
    estimate: tuple[str, dict[str, object]] | None = None
    description: str | None = None
    key: str | None = None

    def digest(self) -> str:
        """The request without its key, to tell a repeat from another request."""
        asked = {
            "amount": None if self.amount is None else to_str(self.amount),
            "estimate": self.estimate,
            "ttl_seconds": self.ttl_seconds,
            "description": self.description,
        }
        text = json.dumps(asked, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


async def placed_before(account: Account, request: HoldRequest) -> HoldRow | None:
    """The hold an earlier request with the same key placed (None: none did); a key reused
    for a different request is refused, as Stripe does."""
    if request.key is None:
        return None
    row = (
        await account.conn.execute(
            select(t.holds).where(
                t.holds.c.customer_id == account.customer_id,
                t.holds.c.idempotency_key == request.key,
            )
        )
    ).first()
    if row is None:
        return None
    hold = account.writes.holds.get(row._mapping["id"]) or HoldRow.of(row)
    if hold.request_hash != request.digest():
        raise IdempotencyMismatch(
            "this idempotency key was used for a different hold request; "
            "use a new key for a new request"
        )
    return hold


async def place_hold(account: Account, amount: Decimal, request: HoldRequest) -> HoldRow:
    """Reserve ``amount``; refused (402) unless available covers it. The caller holds the
    wallet lock, so concurrent holds can never together exceed available."""
    ttl_seconds = request.ttl_seconds
    if amount <= 0:
        raise LedgerError("a hold amount must be positive")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise LedgerError(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
    available = account.available
    if amount > available:
        raise InsufficientFunds(
            f"available {to_str(available)} does not cover a hold of {to_str(amount)}"
            if available > 0
            else f"no available balance to hold {to_str(amount)}"
        )
    hold = HoldRow(
        id=new_hold_id(),
        customer_id=account.customer_id,
        amount=amount,
        remaining=amount,
        status="active",
        expires_at=account.now + timedelta(seconds=ttl_seconds),
        created_at=account.now,
        closed_at=None,
        description=request.description,
        idempotency_key=request.key,
        request_hash=request.digest() if request.key is not None else None,
    )
    await account.conn.execute(t.holds.insert(), vars(hold))
    account.held += amount
    return hold


def settle_against_hold(account: Account, hold: HoldRow, cost: Decimal) -> Decimal:
    """Consume up to ``cost`` of the hold's remaining reservation; returns the part settled."""
    settled = min(cost, hold.remaining)
    if settled > 0:
        hold.remaining -= settled
        account.held -= settled
        account.hold_changed(hold)
    return settled


def release(account: Account, hold: HoldRow) -> HoldRow:
    if hold.status == "active":
        close_hold(account, hold, "released")
    return hold
