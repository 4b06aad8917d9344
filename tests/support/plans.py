"""The plans the suites share: definitions for the pricing and ledger code, bodies for the API
(amounts as strings, as the API receives them).

Plan codes are global in a shared database, and ``creditgate.plans.catalog`` caches definitions
per (code, version) for the whole process: a plan is stored under a code no other test uses
(``plan_code(unique_id)``), or under a fixed code of its own (:data:`LEDGER_PLAN`). A plan only
one test module uses stays beside its tests.
"""

import copy
import re
from decimal import Decimal
from typing import Any

from creditgate.pricing.plan import Meter, PlanDefinition, Price, Tier

# -- the API contract's example, and plan bodies as the API receives them ----------------------

TOKENS_METER: dict[str, Any] = {
    "code": "tokens",
    "event_type": "tokens",
    "aggregation": "sum",
    "value_property": "count",
    "group_by": ["model", "token_type"],
}
IMAGES_METER: dict[str, Any] = {
    "code": "images",
    "event_type": "image_generated",
    "aggregation": "count",
}
GPT4O_INPUT: dict[str, Any] = {
    "meter": "tokens",
    "model": "per_unit",
    "unit_amount": "0.0000025",
    "filter": {"model": "gpt-4o", "token_type": "input"},
}
SMALL_PER_1000: dict[str, Any] = {
    "meter": "tokens",
    "model": "package",
    "package_size": "1000",
    "unit_amount": "0.04",
    "filter": {"model": "small"},
}

# The API contract's example plan.
DESIGN_PLAN: dict[str, Any] = {
    "code": "llm",
    "name": "LLM usage",
    "currency": "USD",
    "meters": [TOKENS_METER, IMAGES_METER],
    "prices": [
        GPT4O_INPUT,
        SMALL_PER_1000,
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


def plan_code(unique_id: str, suffix: str = "") -> str:
    """A plan code (``[a-z0-9_-]``, ≤ 100 characters) no other test uses."""
    code = re.sub(r"[^a-z0-9_-]", "", f"{unique_id}{suffix}".lower())
    return code[-100:]


def design_plan(code: str) -> dict[str, Any]:
    """:data:`DESIGN_PLAN` under ``code``."""
    return {**copy.deepcopy(DESIGN_PLAN), "code": code}


def rate_card_plan(code: str) -> dict[str, Any]:
    """The seed prices: gpt-4o input/output per token, "small" per 1,000 tokens, images each."""
    gpt4o_output = {
        **GPT4O_INPUT,
        "unit_amount": "0.00001",
        "filter": {"model": "gpt-4o", "token_type": "output"},
    }
    return copy.deepcopy(
        {
            "code": code,
            "name": "Rate card",
            "currency": "USD",
            "meters": [TOKENS_METER, IMAGES_METER],
            "prices": [
                GPT4O_INPUT,
                gpt4o_output,
                SMALL_PER_1000,
                {"meter": "images", "model": "per_unit", "unit_amount": "0.05"},
            ],
        }
    )


def cad_plan(code: str) -> dict[str, Any]:
    """0.04 CAD per 100 tokens of any model."""
    return {
        "code": code,
        "name": "Canadian tokens",
        "currency": "CAD",
        "meters": [TOKENS_METER],
        "prices": [
            {"meter": "tokens", "model": "package", "package_size": "100", "unit_amount": "0.04"}
        ],
    }


def calls_plan(code: str, unit_amount: str = "1", **extra: Any) -> dict[str, Any]:
    """Each ``api_call`` event costs ``unit_amount``; ``extra`` adds fields (billing, period)."""
    return {
        "code": code,
        "name": "API calls",
        "currency": "USD",
        "meters": [{"code": "calls", "event_type": "api_call", "aggregation": "count"}],
        "prices": [{"meter": "calls", "model": "per_unit", "unit_amount": unit_amount}],
        **extra,
    }


# -- definitions for the pricing code ----------------------------------------------------------

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


def metered_plan(code: str, **extra: Any) -> PlanDefinition:
    """Volume-tiered images, tokens by the 1,000-package, and seats on a ``max`` meter."""
    return PlanDefinition.model_validate(
        {
            "code": code,
            "name": "Metered",
            "currency": "USD",
            "meters": [
                {"code": "images", "event_type": "image_generated", "aggregation": "count"},
                {"code": "tokens", "event_type": "tokens", "aggregation": "sum",
                 "value_property": "count"},
                {"code": "seats", "event_type": "seats", "aggregation": "max",
                 "value_property": "count"},
            ],
            "prices": [
                {"meter": "images", "model": "tiered_volume", "tiers": [
                    {"up_to": "3", "unit_amount": "0.50"},
                    {"up_to": None, "unit_amount": "0.30"}]},
                {"meter": "tokens", "model": "package", "package_size": "1000",
                 "unit_amount": "0.04"},
                {"meter": "seats", "model": "per_unit", "unit_amount": "2.00"},
            ],
            **extra,
        }
    )  # fmt: skip


# -- the ledger suites' plan -------------------------------------------------------------------

# A plan code of its own: ``creditgate.plans.catalog`` caches definitions per (code, version)
# for the whole process, so no other suite may define a different plan under the same code.
LEDGER_PLAN_CODE = "ledger_test"
CALL_PRICE = Decimal("0.01")  # per `api_call` event
TOKEN_PRICE = Decimal("0.001")  # per token (`tokens` events, sum of `count`)

LEDGER_PLAN = PlanDefinition(
    code=LEDGER_PLAN_CODE,
    name="Ledger tests",
    currency="USD",
    meters=[
        Meter(code="calls", event_type="api_call", aggregation="count"),
        Meter(
            code="tokens",
            event_type="tokens",
            aggregation="sum",
            value_property="count",
            group_by=["model"],
        ),
    ],
    prices=[
        Price(meter="calls", model="per_unit", unit_amount=CALL_PRICE),
        Price(meter="tokens", model="per_unit", unit_amount=TOKEN_PRICE),
    ],
)
