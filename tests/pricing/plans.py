"""Plans and prices the pricing tests share (amounts as the API receives them: strings)."""

from decimal import Decimal
from typing import Any

from creditgate.pricing.plan import Meter, PlanDefinition, Price, Tier

# The API contract's example plan, verbatim.
DESIGN_PLAN: dict[str, Any] = {
    "code": "llm",
    "name": "LLM usage",
    "currency": "USD",
    "meters": [
        {
            "code": "tokens",
            "event_type": "tokens",
            "aggregation": "sum",
            "value_property": "count",
            "group_by": ["model", "token_type"],
        },
        {"code": "images", "event_type": "image_generated", "aggregation": "count"},
    ],
    "prices": [
        {
            "meter": "tokens",
            "model": "per_unit",
            "unit_amount": "0.0000025",
            "filter": {"model": "gpt-4o", "token_type": "input"},
        },
        {
            "meter": "tokens",
            "model": "package",
            "package_size": "1000",
            "unit_amount": "0.04",
            "filter": {"model": "small"},
        },
        {
            "meter": "images",
            "model": "tiered_graduated",
            "tiers": [
                {"up_to": "100", "unit_amount": "0.05"},
                {"up_to": None, "unit_amount": "0.03"},
            ],
        },
    ],
}

TOKENS = Meter(
    code="tokens",
    event_type="tokens",
    aggregation="sum",
    value_property="count",
    group_by=["model", "token_type"],
)
IMAGES = Meter(code="images", event_type="image_generated", aggregation="count")


def d(text: str) -> Decimal:
    return Decimal(text)


def per_unit(amount: str, meter: str = "tokens", **filter_: str) -> Price:
    return Price(meter=meter, model="per_unit", unit_amount=d(amount), filter=filter_)


def package(amount: str, size: str, meter: str = "tokens", **filter_: str) -> Price:
    return Price(
        meter=meter, model="package", unit_amount=d(amount), package_size=d(size), filter=filter_
    )


def tiers(*spec: tuple[str | None, str] | tuple[str | None, str, str]) -> list[Tier]:
    """``("100", "0.05")`` or ``("100", "0.05", "2")`` (up_to, unit_amount[, flat_amount])."""
    return [
        Tier(
            up_to=None if s[0] is None else d(s[0]),
            unit_amount=d(s[1]),
            flat_amount=d(s[2]) if len(s) == 3 else Decimal(0),
        )
        for s in spec
    ]


# The example plan's image price: the first 100 images at 0.05, then 0.03.
GRADUATED_IMAGES = Price(
    meter="images", model="tiered_graduated", tiers=tiers(("100", "0.05"), (None, "0.03"))
)

# An LLM rate card: gpt-4o input and output per token, the small model per 1,000 tokens.
LLM_PLAN = PlanDefinition(
    code="llm-card",
    name="LLM rate card",
    meters=[TOKENS, IMAGES],
    prices=[
        per_unit("0.0000025", model="gpt-4o", token_type="input"),
        per_unit("0.00001", model="gpt-4o", token_type="output"),
        package("0.04", "1000", model="small"),
        GRADUATED_IMAGES,
    ],
)
