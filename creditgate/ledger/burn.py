"""Burn-down order and allocation: pure, so a reference model can test it directly."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

_FAR_FUTURE = datetime.max.replace(year=9999)


@dataclass
class Lot:
    id: int
    remaining: Decimal
    priority: int
    expires_at: datetime | None
    created_at: datetime


def burn_key(lot: Lot) -> tuple[int, datetime, datetime, int]:
    """Smallest priority first, then earliest expiry (never-expiring last), then oldest."""
    expires = lot.expires_at.replace(tzinfo=None) if lot.expires_at else _FAR_FUTURE
    return (lot.priority, expires, lot.created_at.replace(tzinfo=None), lot.id)


def burn_down(lots: list[Lot], amount: Decimal) -> tuple[list[tuple[int, Decimal]], Decimal]:
    """Take ``amount`` from ``lots`` (already in burn order), mutating their ``remaining``.

    Returns the allocations ``[(lot_id, taken)]`` and the part no lot covered (new debt).
    """
    allocations: list[tuple[int, Decimal]] = []
    left = amount
    for lot in lots:
        if left <= 0:
            break
        if lot.remaining <= 0:
            continue
        taken = min(lot.remaining, left)
        lot.remaining -= taken
        left -= taken
        allocations.append((lot.id, taken))
    return allocations, max(left, Decimal(0))
