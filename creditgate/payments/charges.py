"""What a purchase or recharge charges, and how many credits that buys.

Balances are in the plan's wallet unit (its currency, or a named credit unit sold at a price
per credit). Stripe charges whole minor units of the currency, at least its minimum charge;
amounts are rounded up only here, when charging (invariant 1).
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from creditgate.pricing.currency import minor_unit_exponent, to_minor_units
from creditgate.pricing.plan import PlanDefinition
from creditgate.values.money import normalize

# Stripe's minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
STRIPE_MINIMUM_CHARGE: dict[str, Decimal] = {
    code: Decimal(amount)
    for code, amount in {
        "USD": "0.50", "AED": "2.00", "AUD": "0.50", "BGN": "1.00", "BRL": "0.50",
        "CAD": "0.50", "CHF": "0.50", "CZK": "15.00", "DKK": "2.50", "EUR": "0.50",
        "GBP": "0.30", "HKD": "4.00", "HUF": "175.00", "INR": "0.50", "JPY": "50",
        "MXN": "10", "MYR": "2", "NOK": "3.00", "NZD": "0.50", "PLN": "2.00",
        "RON": "2.00", "SEK": "3.00", "SGD": "0.50", "THB": "10",
    }.items()
}  # fmt: skip
# Stripe's maximum charge: eight digits of minor units, in every currency.
STRIPE_MAXIMUM_MINOR_UNITS = 99_999_999
CREDIT_QUANTUM = Decimal("1e-18")


class AmountError(ValueError):
    pass


@dataclass(frozen=True)
class Charge:
    amount: Decimal  # money, in whole minor units of ``currency``
    currency: str
    credits: Decimal  # what the charge buys, in the wallet's unit

    @property
    def minor_units(self) -> int:
        return to_minor_units(self.amount, self.currency)


def minimum_charge(currency: str) -> Decimal:
    return STRIPE_MINIMUM_CHARGE.get(currency.upper(), Decimal(0))


def maximum_charge(currency: str) -> Decimal:
    """Stripe's maximum charge in ``currency`` (99,999,999 minor units)."""
    return Decimal(STRIPE_MAXIMUM_MINOR_UNITS).scaleb(-minor_unit_exponent(currency))


def charge_bounds(currency: str) -> tuple[Decimal, Decimal]:
    """The least and the most one purchase or recharge may charge in ``currency``; a
    ``ValueError`` when the currency is not one Stripe can charge (not an ISO code)."""
    one_minor_unit = Decimal(1).scaleb(-minor_unit_exponent(currency))
    return max(minimum_charge(currency), one_minor_unit), maximum_charge(currency)


def recharge_limit(plan: PlanDefinition) -> Decimal:
    """The highest ``recharge_to`` (in the wallet's unit): what the maximum charge buys."""
    return credits_for(maximum_charge(plan.currency), plan)


def round_up_to_minor(amount: Decimal, currency: str) -> Decimal:
    return Decimal(to_minor_units(amount, currency)).scaleb(-minor_unit_exponent(currency))


def credits_for(amount: Decimal, plan: PlanDefinition) -> Decimal:
    return normalize((amount / plan.credit_price).quantize(CREDIT_QUANTUM, rounding=ROUND_DOWN))


def for_credits(credits: Decimal, plan: PlanDefinition) -> Charge:
    """Buying ``credits``: charge credits × price, rounded up to the minor unit."""
    if credits <= 0:
        raise AmountError("credits must be positive")
    amount = round_up_to_minor(credits * plan.credit_price, plan.currency)
    return Charge(amount, plan.currency.upper(), normalize(credits))


def for_amount(amount: Decimal, plan: PlanDefinition) -> Charge:
    """Paying ``amount`` of money: it must be whole minor units; it buys amount ÷ price."""
    if amount <= 0:
        raise AmountError("amount must be positive")
    if round_up_to_minor(amount, plan.currency) != amount:
        raise AmountError(
            f"amount {amount} is not a whole number of {plan.currency.upper()} minor units"
        )
    return Charge(
        round_up_to_minor(amount, plan.currency), plan.currency.upper(), credits_for(amount, plan)
    )


def for_recharge(available: Decimal, recharge_to: Decimal, plan: PlanDefinition) -> Charge:
    """Bringing ``available`` back to ``recharge_to``: the shortfall's price rounded up to the
    minor unit and to at least Stripe's minimum charge; the credits are what that pays for."""
    shortfall = recharge_to - available
    if shortfall <= 0:
        raise AmountError("available is already at or above recharge_to")
    amount = round_up_to_minor(shortfall * plan.credit_price, plan.currency)
    amount = max(amount, round_up_to_minor(minimum_charge(plan.currency), plan.currency))
    return Charge(amount, plan.currency.upper(), credits_for(amount, plan))
