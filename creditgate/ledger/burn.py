"""Burn-down order and allocation: pure, so a reference model can test it directly."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

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


class Fundable(Protocol):
    remaining: Decimal


F = TypeVar("F", bound=Fundable)


def burn_down(lots: Sequence[F], amount: Decimal) -> tuple[list[tuple[F, Decimal]], Decimal]:
    """Take ``amount`` from ``lots`` (already in burn order), lowering their ``remaining``.

    Returns what was taken from which lot, ``[(lot, taken)]``, and the part no lot covered
    (new debt).
    """
    allocations: list[tuple[F, Decimal]] = []
    left = amount
    for lot in lots:
        if left <= 0:
            break
        if lot.remaining <= 0:
            continue
        taken = min(lot.remaining, left)
        lot.remaining -= taken
        left -= taken
        allocations.append((lot, taken))
    return allocations, max(left, Decimal(0))
