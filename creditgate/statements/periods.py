"""Billing periods: fixed-length windows anchored at the customer's period anchor."""

import calendar
from datetime import datetime, timedelta

from creditgate.pricing.plan import Period


def _add_months(anchor: datetime, months: int) -> datetime:
    month_index = anchor.month - 1 + months
    year = anchor.year + month_index // 12
    month = month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_start(anchor: datetime, period: Period, n: int) -> datetime:
    """Start of period number ``n`` (0 is the one that begins at the anchor)."""
    if period.unit == "month":
        return _add_months(anchor, n * period.every)
    step = (
        timedelta(seconds=period.every) if period.unit == "second" else timedelta(days=period.every)
    )
    return anchor + n * step


def period_index(anchor: datetime, period: Period, at: datetime) -> int:
    """Number of the period containing ``at`` (negative before the anchor)."""
    if period.unit != "month":
        step = (
            timedelta(seconds=period.every)
            if period.unit == "second"
            else timedelta(days=period.every)
        )
        return (at - anchor) // step
    months = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    n = months // period.every
    while period_start(anchor, period, n) > at:
        n -= 1
    while period_start(anchor, period, n + 1) <= at:
        n += 1
    return n


def period_bounds(anchor: datetime, period: Period, at: datetime) -> tuple[int, datetime, datetime]:
    n = period_index(anchor, period, at)
    return n, period_start(anchor, period, n), period_start(anchor, period, n + 1)


def expiry_after(start: datetime, lifetime: Period) -> datetime:
    """When credits granted at ``start`` with this lifetime expire."""
    return period_start(start, lifetime, 1)
