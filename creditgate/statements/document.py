"""What a statement shows a person, shared by its HTML page and its PDF so both say the same:
the labelled lines of the balance, the usage lines, the payment's status in words."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from creditgate.models import Statement

PAYMENT_STATUS = {
    "none": "Nothing to pay",
    "pending": "Payment pending",
    "paid": "Paid",
    "failed": "Payment failed",
    "below_minimum": "Below the minimum charge: carried to the next statement",
}


@dataclass(frozen=True)
class UsageRow:
    meter: str
    dimensions: str  # "model: gpt-4o, token_type: input"; empty when the meter has none
    quantity: Decimal
    amount: Decimal


def in_credits(statement: Statement) -> bool:
    """Whether balances and usage are in a named credit unit rather than the currency."""
    return statement.unit != statement.currency


def balance_lines(statement: Statement) -> list[tuple[str, Decimal]]:
    """Opening to closing balance, each movement signed as it changed the balance."""
    s = statement
    return [
        ("Opening balance", s.opening_balance),
        ("Credits granted", s.grants),
        ("Usage debited", -s.usage_debited),
        ("Credits expired", -s.expired),
        ("Adjustments", s.adjustments),
        ("True-up at close", -s.true_up),
        ("Closing balance", s.closing_balance),
    ]


def usage_rows(statement: Statement) -> list[UsageRow]:
    return [_usage_row(line) for line in statement.usage]


def _usage_row(line: dict[str, Any]) -> UsageRow:
    dimensions = ", ".join(f"{k}: {v}" for k, v in sorted(line.get("dimensions", {}).items()))
    return UsageRow(
        meter=str(line["meter"]),
        dimensions=dimensions,
        quantity=Decimal(str(line["quantity"])),
        amount=Decimal(str(line["amount"])),
    )


def payment_status(statement: Statement) -> str:
    return PAYMENT_STATUS.get(statement.payment_status, statement.payment_status)


def template_context(statement: Statement, external_id: str) -> dict[str, Any]:
    """What ``statement.html`` renders (the locale comes with the rendering)."""
    return {
        "s": statement,
        "customer": external_id,
        "credits": in_credits(statement),
        "balance": balance_lines(statement),
        "usage": usage_rows(statement),
        "payment": payment_status(statement),
    }
