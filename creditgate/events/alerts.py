"""Spend alerts: thresholds on ``available`` that fire ``balance.low`` once per downward crossing.

A threshold is an ``amount``, or a ``percent`` of the customer's last grant (a purchase,
auto-recharge, promotional grant or adjustment). Percentages resolve to amounts when such a
grant is made (and when the alerts are saved, from the last one); until the customer has one,
a percentage threshold is inactive. The resolved amounts are stored on the wallet
(``wallets.alert_amounts``), which the ledger's hot transaction locks anyway, so checking them
costs no query: a transaction that takes ``available`` from above an amount to at or below it
writes one ``balance_low`` outbox row naming every amount it crossed (``ledger.accounts``).
Rising above an amount again re-arms it.
"""

from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema, model_validator

from creditgate.values.money import AMOUNT_PATTERN, normalize, parse_amount, to_str

MAX_ALERTS = 10
HUNDRED = Decimal(100)
# Grants whose amount a percentage threshold refers to (not debt payments or true-ups).
BASE_SOURCES = frozenset({"purchase", "recharge", "promotional", "adjustment"})


def _amount(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else parse_amount(value)


AlertAmount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["5.00"]}),
]


class AlertThreshold(BaseModel):
    """One threshold: exactly one of ``amount`` (> 0) or ``percent`` (in (0, 100])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: AlertAmount | None = None
    percent: AlertAmount | None = None

    @model_validator(mode="after")
    def _one(self) -> "AlertThreshold":
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a threshold has exactly one of amount or percent")
        if self.amount is not None and self.amount <= 0:
            raise ValueError("amount must be greater than zero")
        if self.percent is not None and not 0 < self.percent <= HUNDRED:
            raise ValueError("percent must be greater than 0 and at most 100")
        return self

    def stored(self) -> dict[str, str]:
        if self.amount is not None:
            return {"amount": to_str(self.amount)}
        assert self.percent is not None
        return {"percent": to_str(self.percent)}


def resolve(rules: list[dict[str, str]] | None, base: Decimal | None) -> str | None:
    """The stored form of the amounts ``rules`` resolve to against the last grant ``base``
    (None: no grant yet, percentages inactive); None when there are none."""
    amounts: set[Decimal] = set()
    for rule in rules or []:
        if "amount" in rule:
            amounts.add(normalize(Decimal(rule["amount"])))
        elif base is not None and base > 0:
            amounts.add(normalize(base * Decimal(rule["percent"]) / HUNDRED))
    return ",".join(to_str(a) for a in sorted(amounts, reverse=True)) or None


def has_percent(rules: list[dict[str, str]] | None) -> bool:
    return any("percent" in rule for rule in rules or [])


@lru_cache(maxsize=4096)
def amounts(stored: str | None) -> tuple[Decimal, ...]:
    """The resolved amounts of ``wallets.alert_amounts`` (parsed once per distinct value)."""
    return tuple(Decimal(a) for a in stored.split(",")) if stored else ()
