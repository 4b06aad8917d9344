"""Listing customers a page at a time, in signup order (``customers.id``), with filters."""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.ledger.customers import CustomerWithWallet
from creditgate.models import Customer, Wallet

_CURSOR_PREFIX = "customers:"


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class CustomerFilter:
    status: str | None = None
    plan: str | None = None
    entitled: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str | None = None


def cursor_of(customer_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{customer_id}".encode()).decode().rstrip("=")


def _decoded(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    number = text.removeprefix(_CURSOR_PREFIX)
    if text == number or not number.isdecimal() or len(number) > 18:
        return None
    return int(number)


async def position_of(session: AsyncSession, after: str) -> int:
    """The id to continue after: ``after`` is a cursor this module made, or the external id
    of the last customer of the previous page."""
    decoded = _decoded(after)
    if decoded is not None:
        return decoded
    found = (await session.exec(select(Customer.id).where(Customer.external_id == after))).first()
    if found is None:
        raise BadCursor(f"after {after!r} is neither a cursor nor a customer's external_id")
    return found


def like_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern matching ``text`` anywhere, its wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def page(
    session: AsyncSession, filters: CustomerFilter, *, after: int | None, limit: int
) -> tuple[list[CustomerWithWallet], int | None]:
    """Up to ``limit`` customers after ``after``, and the id to continue after (None: last)."""
    query = select(Customer, Wallet).join(Wallet, col(Wallet.customer_id) == col(Customer.id))
    if after is not None:
        query = query.where(col(Customer.id) > after)
    if filters.status is not None:
        query = query.where(col(Customer.status) == filters.status)
    if filters.plan is not None:
        query = query.where(col(Customer.plan_code) == filters.plan)
    if filters.entitled is not None:
        query = query.where(col(Wallet.entitled) == filters.entitled)
    if filters.created_after is not None:
        query = query.where(col(Customer.created_at) > filters.created_after)
    if filters.created_before is not None:
        query = query.where(col(Customer.created_at) < filters.created_before)
    if filters.search is not None:
        pattern = like_pattern(filters.search)
        query = query.where(
            col(Customer.external_id).ilike(pattern, escape="\\")
            | col(Customer.name).ilike(pattern, escape="\\")
            | col(Customer.email).ilike(pattern, escape="\\")
        )
    rows = (await session.exec(query.order_by(col(Customer.id)).limit(limit + 1))).all()
    found = [CustomerWithWallet(customer=c, wallet=w) for c, w in rows[:limit]]
    more = len(rows) > limit
    return found, (found[-1].customer.id if more and found else None)
