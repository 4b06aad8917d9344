"""Period bounds and the tests' clock skips on fixed calendar dates: 31-day months, February,
a leap year and the end of a month, so no test depends on the day it runs."""

from datetime import UTC, datetime, timedelta

import pytest

from creditgate.pricing.plan import Period
from creditgate.statements.periods import expiry_after, period_bounds, period_index, period_start
from messages.period import BillingState
from tests.support.time_skipping import CLOSE_MARGIN, until_period_closes

MONTHLY = Period(every=1, unit="month")


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("anchor", "ends"),
    [
        (at(2026, 12, 4, 9), [at(2027, 1, 4, 9), at(2027, 2, 4, 9), at(2027, 3, 4, 9)]),
        (at(2027, 1, 31), [at(2027, 2, 28), at(2027, 3, 31), at(2027, 4, 30)]),
        (at(2028, 1, 31), [at(2028, 2, 29), at(2028, 3, 31), at(2028, 4, 30)]),
        (at(2028, 2, 29), [at(2028, 3, 29), at(2028, 4, 29), at(2029, 2, 28)]),
        (at(2026, 12, 31, 23), [at(2027, 1, 31, 23), at(2027, 2, 28, 23), at(2027, 3, 31, 23)]),
    ],
    ids=["31-day-december", "january-31", "leap-year", "leap-day", "end-of-year"],
)
def test_monthly_periods_end_on_the_calendar_day_clamped_to_short_months(
    anchor: datetime, ends: list[datetime]
) -> None:
    if ends[2].year == 2029:  # the leap-day anchor: the twelfth period ends on 28 February
        assert period_start(anchor, MONTHLY, 12) == ends[2]
        ends = ends[:2]
    for n, end in enumerate(ends, start=1):
        assert period_start(anchor, MONTHLY, n) == end
        assert period_index(anchor, MONTHLY, end - timedelta(microseconds=1)) == n - 1
        assert period_bounds(anchor, MONTHLY, end)[0] == n
    assert expiry_after(anchor, MONTHLY) == ends[0]


@pytest.mark.parametrize(
    "anchor",
    [at(2026, 12, 4, 11), at(2027, 1, 31), at(2028, 2, 1), at(2028, 2, 29), at(2027, 4, 30)],
)
@pytest.mark.parametrize("grace_seconds", [0, 3600, 86400])
def test_the_close_skip_lands_after_the_grace_and_before_the_next_period(
    anchor: datetime, grace_seconds: int
) -> None:
    billing = BillingState(
        anchor=anchor,
        every=1,
        unit="month",
        grace_seconds=grace_seconds,
        billing="prepaid",
        next_index=0,
    )
    now = anchor + timedelta(minutes=3)  # signup and usage took a while on the test clock
    landed = now + until_period_closes(billing, now)
    end = period_start(anchor, MONTHLY, 1)
    assert landed == end + timedelta(seconds=grace_seconds) + CLOSE_MARGIN
    assert landed < period_start(anchor, MONTHLY, 2)
