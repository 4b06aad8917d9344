"""The activity page's lines: each day's usage debits added up, everything else one by one."""

from datetime import UTC, datetime
from decimal import Decimal

from api.portal.pages import summarise
from creditgate.models import LedgerEntry


def entry(id: int, kind: str, amount: str, after: str, day: int, hour: int) -> LedgerEntry:
    return LedgerEntry(
        id=id,
        customer_id=1,
        kind=kind,
        amount=Decimal(amount),
        balance_after=Decimal(after),
        description="welcome" if kind == "grant" else None,
        created_at=datetime(2026, 3, day, hour, tzinfo=UTC),
    )


def test_usage_is_added_up_per_day_between_the_other_entries() -> None:
    newest_first = [
        entry(6, "debit", "-0.5", "7.5", 3, 12),
        entry(5, "debit", "-1", "8", 3, 9),
        entry(4, "grant", "5", "9", 2, 18),
        entry(3, "debit", "-0.25", "4", 2, 10),
        entry(2, "debit", "-0.75", "4.25", 2, 8),
        entry(1, "grant", "5", "5", 1, 8),
    ]
    lines = summarise(newest_first)
    assert [(line.label, line.amount, line.balance_after, line.events) for line in lines] == [
        ("Usage", Decimal("-1.5"), Decimal("7.5"), 2),
        ("Credits added", Decimal("5"), Decimal("9"), 0),
        ("Usage", Decimal("-1.00"), Decimal("4"), 2),
        ("Credits added", Decimal("5"), Decimal("5"), 0),
    ]
    assert lines[1].detail == "welcome"
