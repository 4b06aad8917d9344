"""Bodies of the statement routes."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from creditgate.models import Statement
from creditgate.values.money import MoneyStr


class StatementPayment(BaseModel):
    payment_intent: str | None
    status: str


class StatementPublic(BaseModel):
    """``opening_balance + grants − usage_debited − expired + adjustments − true_up =
    closing_balance``; ``realtime_debits + true_up = Σ usage[].amount``."""

    number: int | None
    period_start: datetime
    period_end: datetime
    status: str  # closed | upcoming
    plan: str
    plan_version: int
    billing: str
    unit: str
    currency: str
    opening_balance: MoneyStr
    grants: MoneyStr
    usage_debited: MoneyStr
    expired: MoneyStr
    adjustments: MoneyStr
    usage: list[dict[str, Any]]
    late_events: int
    realtime_debits: MoneyStr
    true_up: MoneyStr
    closing_balance: MoneyStr
    amount_due: MoneyStr
    payment: StatementPayment
    closed_at: datetime | None

    @classmethod
    def of(cls, s: Statement, status: str = "closed") -> "StatementPublic":
        return cls(
            number=s.number if status == "closed" else None,
            period_start=s.period_start,
            period_end=s.period_end,
            status=status,
            plan=s.plan_code,
            plan_version=s.plan_version,
            billing=s.billing,
            unit=s.unit,
            currency=s.currency,
            opening_balance=s.opening_balance,
            grants=s.grants,
            usage_debited=s.usage_debited,
            expired=s.expired,
            adjustments=s.adjustments,
            usage=s.usage,
            late_events=s.late_events,
            realtime_debits=s.realtime_debits,
            true_up=s.true_up,
            closing_balance=s.closing_balance,
            amount_due=s.amount_due,
            payment=StatementPayment(payment_intent=s.payment_intent, status=s.payment_status),
            closed_at=s.frozen_at if status == "closed" else None,
        )


class StatementList(BaseModel):
    data: list[StatementPublic]
