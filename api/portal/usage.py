"""Usage: cost per day and per meter over the current and previous periods, as an SVG bar
chart drawn here and the table behind it (from the ledger's usage summary)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from api.portal.links import portal
from api.portal.views import AccountDep, page
from creditgate.ledger import reads
from creditgate.ledger.customers import get_customer
from creditgate.statements.periods import period_bounds, period_start

MAX_DAYS = 62  # two monthly periods
CHART_WIDTH, CHART_HEIGHT, BAR_GAP, MAX_BAR = 640, 200, 2, 40


@dataclass
class Day:
    start: datetime
    costs: dict[str, Decimal] = field(default_factory=dict)  # per meter

    @property
    def total(self) -> Decimal:
        return sum(self.costs.values(), Decimal(0))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    total: Decimal


def bars(days: list[Day]) -> list[Bar]:
    """Bars scaled to the chart: the day with the highest cost fills its height."""
    top = max((d.total for d in days), default=Decimal(0)) or Decimal(1)
    width = min(CHART_WIDTH / max(len(days), 1), MAX_BAR + BAR_GAP)
    return [
        Bar(
            x=i * width + BAR_GAP / 2,
            y=CHART_HEIGHT - float(d.total / top) * CHART_HEIGHT,
            width=max(width - BAR_GAP, 1),
            height=float(d.total / top) * CHART_HEIGHT,
            label=d.start.strftime("%Y-%m-%d"),
            total=d.total,
        )
        for i, d in enumerate(days)
    ]


@portal.get("/usage", response_class=HTMLResponse, name="usage")
async def usage(request: Request, account: AccountDep, session: SessionDep) -> HTMLResponse:
    stored = await get_customer(session, account.external_id)
    assert stored is not None
    now = datetime.now(UTC)
    anchor, period = account.customer.period_anchor, account.plan.period
    n, current_start, current_end = period_bounds(anchor, period, now)
    previous_start = period_start(anchor, period, n - 1) if n > 0 else current_start
    periods = []
    for name, start, end in (
        ("Previous period", previous_start, current_start),
        ("Current period", current_start, min(current_end, now + timedelta(minutes=5))),
    ):
        if end > start:
            groups = await reads.usage_summary(session, stored, account.plan, start, end, [])
            periods.append((name, start, end, groups))
    first_day = max(previous_start, now - timedelta(days=MAX_DAYS - 1))
    days = []
    day = first_day.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= now:
        groups = await reads.usage_summary(
            session, stored, account.plan, day, day + timedelta(days=1), []
        )
        days.append(Day(day, {g.meter: g.cost for g in groups}))
        day += timedelta(days=1)
    meters = sorted({m for d in days for m in d.costs})
    return page(
        request,
        "usage.html",
        account,
        periods=list(reversed(periods)),
        days=days,
        meters=meters,
        bars=bars(days),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
    )
