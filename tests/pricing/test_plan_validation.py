"""validate_plan: every semantic error names its field."""

from typing import Any

import pytest

from creditgate.pricing.plan import PlanDefinition
from creditgate.pricing.rating import PlanError, validate_plan
from tests.support.plans import DESIGN_PLAN, LLM_PLAN

TOKENS: dict[str, Any] = {
    "code": "tokens",
    "event_type": "tokens",
    "value_property": "count",
    "group_by": ["model", "token_type"],
}
PER_UNIT: dict[str, Any] = {"meter": "tokens", "model": "per_unit", "unit_amount": "1"}
OPEN = {"up_to": None, "unit_amount": "0.03"}


def plan(meters: list[dict[str, Any]] | None = None, *prices: dict[str, Any]) -> PlanDefinition:
    return PlanDefinition.model_validate(
        {"code": "p", "name": "p", "meters": meters or [TOKENS], "prices": list(prices)}
    )


def tiered(model: str, *tiers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"meter": "tokens", "model": model, "tiers": list(tiers), **extra}


def test_valid_plans() -> None:
    validate_plan(PlanDefinition.model_validate(DESIGN_PLAN))
    validate_plan(LLM_PLAN)
    validate_plan(plan())
    validate_plan(plan([{"code": "n", "event_type": "e", "aggregation": "count"}]))
    validate_plan(
        plan(
            None,
            PER_UNIT,
            {**PER_UNIT, "filter": {"model": "a"}},
            {**PER_UNIT, "filter": {"token_type": "input"}},
            {**PER_UNIT, "filter": {"model": "a", "token_type": "input"}},
            {"meter": "tokens", "model": "package", "unit_amount": "0", "package_size": "0.5",
             "filter": {"model": "b"}},
            tiered("tiered_volume", {"up_to": "1.5", "unit_amount": "1", "flat_amount": "2"},
                   OPEN, filter={"model": "c"}),
        )
    )  # fmt: skip


CASES: list[tuple[PlanDefinition, str]] = [
    (
        plan([TOKENS, {**TOKENS, "event_type": "other"}]),
        "meters[1].code: duplicate meter code 'tokens'",
    ),
    (
        plan([TOKENS, {**TOKENS, "code": "other"}]),
        "meters[1].event_type: event type 'tokens' is already measured by meter 'tokens'",
    ),
    (
        plan([{"code": "m", "event_type": "e", "aggregation": "max"}]),
        "meters[0].value_property: required for aggregation 'max'",
    ),
    (
        plan([{"code": "m", "event_type": "e"}]),
        "meters[0].value_property: required for aggregation 'sum'",
    ),
    (
        plan([{**TOKENS, "group_by": ["model", "model"]}]),
        "meters[0].group_by: duplicate property 'model'",
    ),
    (plan(None, {**PER_UNIT, "meter": "nope"}), "prices[0].meter: no meter 'nope' in this plan"),
    (
        plan(
            None,
            PER_UNIT,
            {**PER_UNIT, "filter": {"model": "a"}},
            {**PER_UNIT, "filter": {"region": "eu"}},
        ),
        "prices[2].filter: key 'region' is not in meter 'tokens' group_by",
    ),
    (
        plan(None, {**PER_UNIT, "filter": {"model": "a"}}, {**PER_UNIT, "filter": {"model": "a"}}),
        "prices[1].filter: prices[0] already prices meter 'tokens' with the same filter "
        "(ambiguous)",
    ),
    (plan(None, PER_UNIT, PER_UNIT), "prices[1].filter: prices[0] already prices meter"),
    (
        plan(None, {"meter": "tokens", "model": "per_unit"}),
        "prices[0].unit_amount: required for model 'per_unit'",
    ),
    (plan(None, {**PER_UNIT, "unit_amount": "-1"}), "prices[0].unit_amount: must be >= 0"),
    (
        plan(None, {**PER_UNIT, "unit_amount": "0.0000000000000000001"}),
        "prices[0].unit_amount: must have at most 18 decimal places",
    ),
    (
        plan(None, {**PER_UNIT, "unit_amount": "1000000000000001"}),
        "prices[0].unit_amount: must be at most 1000000000000000",
    ),
    (
        plan(None, {**PER_UNIT, "package_size": "10"}),
        "prices[0].package_size: only the package model takes a package size",
    ),
    (plan(None, {**PER_UNIT, "tiers": [OPEN]}), "prices[0].tiers: only tiered models take tiers"),
    (
        plan(None, {"meter": "tokens", "model": "package", "package_size": "10"}),
        "prices[0].unit_amount: required for model 'package'",
    ),
    (
        plan(None, {"meter": "tokens", "model": "package", "unit_amount": "1"}),
        "prices[0].package_size: required for model 'package'",
    ),
    (
        plan(None, {"meter": "tokens", "model": "package", "unit_amount": "1", "package_size": 0}),
        "prices[0].package_size: must be > 0",
    ),
    (
        plan(
            None, {"meter": "tokens", "model": "package", "unit_amount": "1", "package_size": "-5"}
        ),
        "prices[0].package_size: must be > 0",
    ),
    (
        plan(None, {"meter": "tokens", "model": "tiered_graduated"}),
        "prices[0].tiers: model 'tiered_graduated' needs at least one tier",
    ),
    (plan(None, tiered("tiered_volume")), "prices[0].tiers: model 'tiered_volume' needs at least"),
    (
        plan(None, tiered("tiered_volume", OPEN, unit_amount="1")),
        "prices[0].unit_amount: not allowed for model 'tiered_volume' (set it per tier)",
    ),
    (
        plan(None, tiered("tiered_graduated", OPEN, package_size="1")),
        "prices[0].package_size: not allowed for model 'tiered_graduated'",
    ),
    (
        plan(None, tiered("tiered_graduated", {"up_to": "10"}, {"up_to": "10"}, OPEN)),
        "prices[0].tiers[1].up_to: must be greater than the previous tier's up_to",
    ),
    (
        plan(None, tiered("tiered_graduated", {"up_to": "10"}, {"up_to": "5"}, OPEN)),
        "prices[0].tiers[1].up_to: must be greater than the previous tier's up_to",
    ),
    (
        plan(None, tiered("tiered_graduated", OPEN, OPEN)),
        "prices[0].tiers[0].up_to: only the last tier may be open (null)",
    ),
    (
        plan(None, tiered("tiered_volume", {"up_to": "10"})),
        "prices[0].tiers[0].up_to: the last tier must be open (null)",
    ),
    (plan(None, tiered("tiered_volume", {"up_to": "0"}, OPEN)), "prices[0].tiers[0].up_to: must"),
    (
        plan(None, tiered("tiered_volume", {"up_to": "5", "unit_amount": "-1"}, OPEN)),
        "prices[0].tiers[0].unit_amount: must be >= 0",
    ),
    (
        plan(None, tiered("tiered_volume", {"up_to": None, "flat_amount": "-0.01"})),
        "prices[0].tiers[0].flat_amount: must be >= 0",
    ),
]


@pytest.mark.parametrize(("definition", "message"), CASES)
def test_plan_errors(definition: PlanDefinition, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        validate_plan(definition)
    assert isinstance(caught.value, ValueError)
    assert len(caught.value.errors) == 1, caught.value.errors
    assert caught.value.errors[0].startswith(message)
    assert str(caught.value) == caught.value.errors[0]


def test_every_problem_is_reported() -> None:
    bad = plan(
        [TOKENS, TOKENS],
        {**PER_UNIT, "meter": "nope"},
        {"meter": "tokens", "model": "package"},
    )
    with pytest.raises(PlanError) as caught:
        validate_plan(bad)
    assert caught.value.errors == (
        "meters[1].code: duplicate meter code 'tokens'",
        "meters[1].event_type: event type 'tokens' is already measured by meter 'tokens'",
        "prices[0].meter: no meter 'nope' in this plan",
        "prices[1].unit_amount: required for model 'package'",
        "prices[1].package_size: required for model 'package'",
    )
    assert str(caught.value) == "; ".join(caught.value.errors)
