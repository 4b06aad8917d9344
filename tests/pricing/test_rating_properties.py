"""Properties of real-time rating against the period close (invariant 7, docs/invariants.md).

The true-up is by definition ``period_amount(Σq) − Σ realtime_cost``; these properties pin
down how large it can be for each price model.
"""

from decimal import Decimal
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditgate.pricing.plan import PlanDefinition, Price
from creditgate.pricing.rating import period_amount, realtime_cost, select_price, validate_plan
from tests.pricing import strategies as s
from tests.support.plans import TOKENS

ZERO = Decimal(0)
SETTINGS = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])


def debits(price: Price, quantities: list[Decimal]) -> list[Decimal]:
    result, before = [], ZERO
    for q in quantities:
        result.append(realtime_cost(price, q, before))
        before += q
    return result


def true_up(price: Price, quantities: list[Decimal]) -> Decimal:
    return period_amount(price, sum(quantities, ZERO)) - sum(debits(price, quantities), ZERO)


@SETTINGS
@given(s.any_prices, s.usage)
def test_debits_are_never_negative_and_quantized(price: Price, quantities: list[Decimal]) -> None:
    for cost in debits(price, quantities):
        assert cost >= 0
        assert cost.as_tuple().exponent == -18
    assert period_amount(price, sum(quantities, ZERO)).as_tuple().exponent == -18


@SETTINGS
@given(s.per_unit_prices(), s.usage)
def test_per_unit_debits_add_up_exactly(price: Price, quantities: list[Decimal]) -> None:
    assert price.unit_amount is not None
    assert debits(price, quantities) == [q * price.unit_amount for q in quantities]
    assert true_up(price, quantities) == 0


@SETTINGS
@given(s.tiered_prices("tiered_graduated", flat=False), s.usage)
def test_graduated_without_flat_amounts_adds_up_exactly(
    price: Price, quantities: list[Decimal]
) -> None:
    assert true_up(price, quantities) == 0


@SETTINGS
@given(s.tiered_prices("tiered_graduated", flat=True), s.usage)
def test_graduated_true_up_is_the_first_flat_amount(
    price: Price, quantities: list[Decimal]
) -> None:
    assert price.tiers is not None
    assert true_up(price, quantities) == price.tiers[0].flat_amount


@SETTINGS
@given(s.package_prices("up"), s.usage)
def test_package_rounding_up_true_up_is_at_most_one_package(
    price: Price, quantities: list[Decimal]
) -> None:
    assert price.unit_amount is not None
    assert 0 <= true_up(price, quantities) <= price.unit_amount


@SETTINGS
@given(s.package_prices("down"), s.usage)
def test_package_rounding_down_true_up_is_at_most_one_package_back(
    price: Price, quantities: list[Decimal]
) -> None:
    assert price.unit_amount is not None
    assert -price.unit_amount <= true_up(price, quantities) <= 0


ROUNDINGS: list[Literal["up", "down"]] = ["up", "down"]
WHOLE = st.lists(st.integers(0, 5_000).map(Decimal), min_size=1, max_size=30)
COARSE = s.decimals(10, 2).filter(bool)  # ≥ 0.01 per package of ≤ 5,000 units


@SETTINGS
@given(
    st.sampled_from(ROUNDINGS).flatmap(
        lambda r: s.package_prices(r, st.integers(1, 5_000).map(Decimal), COARSE)
    ),
    WHOLE,
)
def test_package_true_up_is_less_than_one_package(price: Price, quantities: list[Decimal]) -> None:
    # With whole units and a per-unit rate far above the 18th place, strictly less.
    assert price.unit_amount is not None
    assert abs(true_up(price, quantities)) < price.unit_amount


def positive_variation(price: Price, quantity: Decimal) -> Decimal:
    """Σ of every increase of the volume total V on [0, quantity]: within each tier V rises
    with the unit amount; crossing a tier boundary b it jumps by V(b⁺) − V(b)."""
    assert price.tiers is not None
    total, lower = ZERO, ZERO
    for k, tier in enumerate(price.tiers):
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        total += tier.unit_amount * max(upper - lower, ZERO)
        if tier.up_to is None or quantity <= tier.up_to:
            break
        b, nxt = tier.up_to, price.tiers[k + 1]
        jump = b * nxt.unit_amount + nxt.flat_amount - (b * tier.unit_amount + tier.flat_amount)
        total += max(jump, ZERO)
        lower = b
    return total


@SETTINGS
@given(s.tiered_prices("tiered_volume", flat=True), s.usage)
def test_volume_bounds(price: Price, quantities: list[Decimal]) -> None:
    """period − first flat ≤ Σ debits ≤ positive variation of V: the true-up charges at most
    the first tier's flat amount, and credits at most what real time over-debited by not
    passing on drops into cheaper tiers."""
    assert price.tiers is not None
    total = sum(quantities, ZERO)
    realtime = sum(debits(price, quantities), ZERO)
    assert period_amount(price, total) - price.tiers[0].flat_amount <= realtime
    assert realtime <= positive_variation(price, total)
    assert true_up(price, quantities) <= price.tiers[0].flat_amount


@SETTINGS
@given(s.tiered_prices("tiered_volume", flat=True, rising=True), s.usage)
def test_volume_without_drops_true_up_is_the_first_flat_amount(
    price: Price, quantities: list[Decimal]
) -> None:
    """When no tier boundary lowers the volume total, real time is the exact increase."""
    assert price.tiers is not None
    total = sum(quantities, ZERO)
    assert (
        positive_variation(price, total) == period_amount(price, total) - price.tiers[0].flat_amount
    )
    assert true_up(price, quantities) == price.tiers[0].flat_amount


@SETTINGS
@given(s.any_prices, s.quantities, s.quantities, s.quantities)
def test_splitting_an_event(price: Price, before: Decimal, q1: Decimal, q2: Decimal) -> None:
    """Debits do not depend on how usage is split into events (volume: splitting never
    debits less, since drops are not passed on in real time)."""
    whole = realtime_cost(price, q1 + q2, before)
    split = realtime_cost(price, q1, before) + realtime_cost(price, q2, before + q1)
    if price.model == "tiered_volume":
        assert whole <= split
    else:
        assert whole == split


@SETTINGS
@given(
    st.one_of(
        s.per_unit_prices(),
        s.package_prices("up"),
        s.package_prices("down"),
        s.tiered_prices("tiered_graduated", flat=True),
    ),
    s.quantities,
    s.quantities,
)
def test_period_amount_is_monotone(price: Price, q1: Decimal, q2: Decimal) -> None:
    assert period_amount(price, min(q1, q2)) <= period_amount(price, max(q1, q2))


@SETTINGS
@given(s.package_prices("up"), s.usage)
def test_package_realtime_is_pro_rata(price: Price, quantities: list[Decimal]) -> None:
    assert price.unit_amount is not None and price.package_size is not None
    realtime = sum(debits(price, quantities), ZERO)
    exact = sum(quantities, ZERO) * price.unit_amount / price.package_size
    assert abs(realtime - exact) <= Decimal("0.5e-18")


KEYS = st.sampled_from(["model", "token_type"])
VALUES = st.sampled_from(["a", "b"])
FILTERS = st.dictionaries(KEYS, VALUES)


@SETTINGS
@given(st.lists(FILTERS, max_size=6, unique_by=lambda f: frozenset(f.items())), FILTERS)
def test_select_price_picks_the_most_specific_match(
    filters: list[dict[str, str]], dimensions: dict[str, str]
) -> None:
    prices = [Price(meter="tokens", model="per_unit", unit_amount=ZERO, filter=f) for f in filters]
    plan = PlanDefinition(code="p", name="p", meters=[TOKENS], prices=prices)
    validate_plan(plan)
    matching = [i for i, f in enumerate(filters) if f.items() <= dimensions.items()]
    choice = select_price(plan, TOKENS, dimensions)
    if not matching:
        assert choice is None
        return
    best = max(len(filters[i]) for i in matching)
    assert choice is not None
    assert choice.index == min(i for i in matching if len(filters[i]) == best)
    assert choice.price is plan.prices[choice.index]
