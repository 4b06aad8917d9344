"""Rating with literal expected amounts: price selection, real-time debits, period amounts."""

from decimal import Decimal

import pytest

from creditgate.pricing.plan import PlanDefinition, Price
from creditgate.pricing.rating import (
    measure,
    meter_for,
    period_amount,
    quantize_cost,
    realtime_cost,
    select_price,
    validate_plan,
)
from tests.support.plans import (
    DESIGN_PLAN,
    GRADUATED_IMAGES,
    IMAGES,
    LLM_PLAN,
    TOKENS,
    d,
    package,
    per_unit,
    tiers,
)

ZERO = Decimal(0)


def debits(price: Price, *quantities: str) -> list[Decimal]:
    """The real-time debits of a sequence of events within one period."""
    result, before = [], ZERO
    for q in quantities:
        result.append(realtime_cost(price, d(q), before))
        before += d(q)
    return result


def test_design_plan_parses_and_validates() -> None:
    plan = PlanDefinition.model_validate(DESIGN_PLAN)
    validate_plan(plan)
    assert meter_for(plan, "image_generated") == plan.meters[1]
    assert meter_for(plan, "tokens") == plan.meters[0]
    assert meter_for(plan, "video") is None


def test_package_tokens_usd() -> None:
    price = package("0.04", "1000")
    assert realtime_cost(price, d("1500"), ZERO) == d("0.06")
    assert period_amount(price, d("1500")) == d("0.08")  # 2 packages


def test_package_tokens_cad() -> None:
    price = package("0.04", "100")
    assert realtime_cost(price, d("250"), ZERO) == d("0.1")
    assert period_amount(price, d("250")) == d("0.12")  # 3 packages


def test_package_rounding_down() -> None:
    price = package("0.04", "1000").model_copy(update={"rounding": "down"})
    assert realtime_cost(price, d("1500"), ZERO) == d("0.06")
    assert period_amount(price, d("1500")) == d("0.04")
    assert period_amount(price, d("999")) == ZERO
    assert period_amount(price, d("2000")) == d("0.08")


def test_package_pro_rata_never_drifts() -> None:
    price = package("1", "3")  # 1/3 per unit does not terminate
    parts = debits(price, "1", "1", "1")
    assert parts == [
        d("0.333333333333333333"),
        d("0.333333333333333334"),
        d("0.333333333333333333"),
    ]
    assert sum(parts) == d("1") == period_amount(price, d("3"))


def test_per_unit_images() -> None:
    price = per_unit("0.05", meter="images")
    quantities = [measure(IMAGES, {}).quantity for _ in range(3)]
    assert quantities == [d("1")] * 3
    assert debits(price, "1", "1", "1") == [d("0.05")] * 3
    assert period_amount(price, d("3")) == d("0.15")


def test_llm_rate_card() -> None:
    validate_plan(LLM_PLAN)

    def rate(properties: dict[str, object]) -> Decimal | None:
        m = measure(TOKENS, properties)
        choice = select_price(LLM_PLAN, TOKENS, m.dimensions)
        return None if choice is None else realtime_cost(choice.price, m.quantity, ZERO)

    assert rate({"count": 1500, "model": "gpt-4o", "token_type": "input"}) == d("0.00375")
    assert rate({"count": 200, "model": "gpt-4o", "token_type": "output"}) == d("0.002")
    assert rate({"count": "1500", "model": "small", "token_type": "input"}) == d("0.06")
    assert rate({"count": 1500, "model": "mystery", "token_type": "input"}) is None
    assert rate({"count": 1500, "model": "gpt-4o"}) is None  # token_type missing


def test_select_price_most_specific_then_first_declared() -> None:
    plan = PlanDefinition(
        code="p",
        name="p",
        meters=[TOKENS, IMAGES],
        prices=[
            per_unit("1"),  # 0: catch-all
            per_unit("2", model="a"),  # 1
            per_unit("3", token_type="input"),  # 2: as specific as 1, declared later
            per_unit("4", model="a", token_type="output"),  # 3
            per_unit("5", meter="images"),  # 4: another meter
        ],
    )
    validate_plan(plan)

    def index(**dims: str) -> int | None:
        choice = select_price(plan, TOKENS, dims)
        return None if choice is None else choice.index

    assert index() == 0
    assert index(model="b") == 0
    assert index(model="a") == 1
    assert index(token_type="input") == 2
    assert index(model="a", token_type="input") == 1
    assert index(model="a", token_type="output") == 3
    choice = select_price(plan, IMAGES, {})
    assert choice is not None
    assert choice.index == 4
    assert choice.price == plan.prices[4]


def test_select_price_none_without_prices() -> None:
    plan = PlanDefinition(code="p", name="p", meters=[TOKENS])
    assert select_price(plan, TOKENS, {"model": "a"}) is None


def test_graduated_images() -> None:
    assert debits(GRADUATED_IMAGES, "90", "60") == [d("4.5"), d("2.0")]
    assert period_amount(GRADUATED_IMAGES, d("150")) == d("6.5")
    assert period_amount(GRADUATED_IMAGES, d("100")) == d("5")
    assert period_amount(GRADUATED_IMAGES, ZERO) == ZERO


def test_graduated_flat_amounts() -> None:
    price = Price(
        meter="images",
        model="tiered_graduated",
        tiers=tiers(("100", "0.05", "2"), (None, "0.03", "1")),
    )
    # Stripe: the first tier's flat amount even at zero, then every tier reached.
    assert period_amount(price, ZERO) == d("2")
    assert period_amount(price, d("100")) == d("7")
    assert period_amount(price, d("101")) == d("8.03")
    assert period_amount(price, d("150")) == d("9.5")
    # Real time: the second tier's flat amount when usage first enters it; the first tier's
    # flat amount is left to the true-up.
    assert debits(price, "100", "1", "49") == [d("5"), d("1.03"), d("1.47")]
    assert period_amount(price, d("150")) - sum(debits(price, "100", "1", "49")) == d("2")


def test_volume_with_flat_amounts() -> None:
    price = Price(
        meter="images",
        model="tiered_volume",
        tiers=tiers(("100", "0.05", "1"), (None, "0.03", "2")),
    )
    # Stripe: every unit at the tier the total falls in, plus that tier's flat amount.
    assert period_amount(price, ZERO) == d("1")
    assert period_amount(price, d("50")) == d("3.5")
    assert period_amount(price, d("100")) == d("6")
    assert period_amount(price, d("101")) == d("5.03")
    assert period_amount(price, d("150")) == d("6.5")
    assert debits(price, "50", "50", "50") == [d("2.5"), d("2.5"), d("0.5")]
    assert debits(price, "90", "60") == [d("4.5"), d("1")]
    assert period_amount(price, d("150")) - d("5.5") == d("1")  # true-up: first flat amount


def test_volume_decrease_is_left_to_true_up() -> None:
    price = Price(
        meter="images", model="tiered_volume", tiers=tiers(("100", "0.05"), (None, "0.03"))
    )
    assert debits(price, "100", "1", "9") == [d("5"), d("0"), d("0.27")]
    assert period_amount(price, d("110")) == d("3.3")
    assert period_amount(price, d("110")) - d("5.27") == d("-1.97")  # credited at close


def test_costs_are_quantized_to_18_places() -> None:
    price = per_unit("0.0000025")
    cost = realtime_cost(price, d("1500"), ZERO)
    assert cost.as_tuple().exponent == -18
    assert period_amount(price, d("1500")).as_tuple().exponent == -18
    assert realtime_cost(price, ZERO, d("7")).as_tuple().exponent == -18


def test_quantize_cost_half_up() -> None:
    assert quantize_cost(d("0.0000000000000000025")) == d("0.000000000000000003")
    assert quantize_cost(d("0.0000000000000000035")) == d("0.000000000000000004")
    assert quantize_cost(d("0.00000000000000000249999")) == d("0.000000000000000002")
    assert quantize_cost(d("1.5")) == d("1.5")
    assert str(quantize_cost(d("0.06"))) == "0.060000000000000000"


@pytest.mark.parametrize(
    ("quantity", "before"), [(d("-1"), ZERO), (ZERO, d("-1")), (d("NaN"), ZERO)]
)
def test_realtime_cost_refuses_bad_quantities(quantity: Decimal, before: Decimal) -> None:
    with pytest.raises(ValueError):
        realtime_cost(per_unit("1"), quantity, before)
