"""Overview and activity pages."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.deps import DbDep, SessionDep
from api.portal.links import portal
from api.portal.views import AccountDep, page
from creditgate.ledger import reads
from creditgate.models import LedgerEntry
from creditgate.payments import store
from creditgate.statements.periods import period_bounds

ACTIVITY_PAGE = 200
LABELS = {
    "grant": "Credits added",
    "expiry": "Credits expired",
    "clawback": "Refund (credits taken back)",
    "void": "Credits forfeited",
    "adjustment": "Adjustment",
    "true_up": "End-of-period adjustment",
}


STATUS_LABELS = {"closing": "Closing.", "closed": "Closed."}


@portal.get("/", response_class=HTMLResponse, name="overview")
async def overview(request: Request, account: AccountDep, db: DbDep) -> HTMLResponse:
    found = await reads.balance(db, account.external_id)
    assert found is not None
    wallet, grants = found
    _, _, period_end = period_bounds(
        account.customer.period_anchor, account.plan.period, datetime.now(UTC)
    )
    recharge = await store.get_auto_recharge(db, account.external_id)
    status = str(account.customer.status)
    return page(
        request,
        "overview.html",
        account,
        wallet=wallet,
        grants=grants,
        cut_off_reason=_cut_off_reason(wallet, status),
        status_label=STATUS_LABELS.get(status, "Paused."),
        can_buy=status not in ("closing", "closed"),
        next_statement=period_end,
        recharge=recharge,
        has_card=account.customer.payment_method is not None,
    )


def _cut_off_reason(wallet: reads.WalletView, status: str) -> str | None:
    if status == "closing":
        return "Your account is being closed: unspent credits you bought go back to your card."
    if status == "closed":
        return "Your account is closed. Unspent credits you bought went back to your card."
    if status == "paused":
        return "Your account is paused. Contact us to resume it."
    if wallet.entitled:
        return None
    if wallet.debt > 0:
        return "Usage went past your credits: the amount owed is paid from your next credits."
    if wallet.available <= 0:
        return "Your credits ran out. Buy credits to continue."
    return "Your account is paused because a statement was not paid."


@dataclass
class ActivityLine:
    when: date | datetime
    label: str
    amount: Decimal
    balance_after: Decimal
    detail: str | None = None
    events: int = 0  # usage events added up in this line


def summarise(entries: list[LedgerEntry]) -> list[ActivityLine]:
    """Entries newest first, with each day's usage debits added up into one line (its balance
    is the one after the day's last debit)."""
    lines: list[ActivityLine] = []
    for entry in entries:
        if entry.kind == "debit":
            day = entry.created_at.date()
            last = lines[-1] if lines else None
            if last and last.events and last.when == day:
                last.amount += entry.amount
                last.events += 1
            else:
                line = ActivityLine(day, "Usage", entry.amount, entry.balance_after, events=1)
                lines.append(line)
            continue
        label = LABELS.get(entry.kind, entry.kind.replace("_", " ").capitalize())
        when, after = entry.created_at, entry.balance_after
        lines.append(ActivityLine(when, label, entry.amount, after, entry.description))
    return lines


@portal.get("/activity", response_class=HTMLResponse, name="activity")
async def activity(
    request: Request,
    account: AccountDep,
    session: SessionDep,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    assert account.customer.id is not None
    entries, has_more = await reads.ledger_page(session, account.customer.id, ACTIVITY_PAGE, before)
    return page(
        request,
        "activity.html",
        account,
        lines=summarise(entries),
        next_before=entries[-1].id if has_more and entries else None,
        first_page=before is None,
    )
