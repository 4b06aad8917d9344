"""Holds: reserve available funds for work in flight; settle by events, release the rest."""

import secrets
from datetime import timedelta
from decimal import Decimal

from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account, close_hold
from creditgate.ledger.errors import InsufficientFunds, LedgerError
from creditgate.ledger.tables import HoldRow
from creditgate.money import to_str

DEFAULT_TTL_SECONDS = 600
MAX_TTL_SECONDS = 7 * 86400


def new_hold_id() -> str:
    return "hold_" + secrets.token_hex(12)


async def place_hold(
    account: Account, amount: Decimal, ttl_seconds: int, description: str | None = None
) -> HoldRow:
    """Reserve ``amount``; refused (402) unless available covers it. The caller holds the
    wallet lock, so concurrent holds can never together exceed available."""
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
        description=description,
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
