"""Bad inputs to every route: a 4xx JSON error that names the problem, and nothing changes.

One funded customer (a grant, a debited event, an active hold) on one plan serves every case.
After each request the test reads that customer's rows in every ledger table (customer, wallet,
grants, ledger entries, usage events, counters, holds, outbox) and the plan's versions from the
database and requires them to be identical to a snapshot taken before the first case; the plan
and the customer a request names but that must not come to exist still do not exist. The last
test also compares the API's own view (balance, ledger, customer, plan, hold, usage).

Requests are written with placeholders ``<customer>``, ``<plan>``, ``<hold>``, ``<new_plan>``
(a plan code nobody created) and ``<nobody>`` (an external id nobody signed up).
"""

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import col, func, select
from temporalio.service import RPCError, RPCStatusCode

from api.main import MAX_BODY_BYTES
from creditgate.models import (
    AutoRecharge,
    Customer,
    Grant,
    Hold,
    LedgerEntry,
    OutboxMessage,
    Plan,
    Purchase,
    UsageCounter,
    UsageEvent,
    Wallet,
)
from tests.api.support import balance, create_plan, event, grant, iso, ledger, send, signup, tokens
from tests.support.plans import plan_code, rate_card_plan
from tests.support.stack import Stack
from workflows.customer import customer_workflow_id

JSON = {"Content-Type": "application/json"}
NOW = datetime.now(UTC)
WINDOW = {"from": iso(NOW - timedelta(days=1)), "to": iso(NOW + timedelta(days=1))}


@dataclass(frozen=True)
class World:
    customer: str
    plan: str
    hold: str
    # Everything a bad request could touch, as it was before the first case ran: the rows
    # (``snapshot``) and what the API shows (``api_view``).
    baseline: dict[str, Any] = field(default_factory=dict)
    api: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    suffix = uuid.uuid4().hex[:8]
    code = f"bad-inputs-{suffix}"
    customer = f"bad-inputs-{suffix}"
    await create_plan(stack, rate_card_plan(code))
    await signup(stack, customer, code)
    await grant(stack, customer, "10.00")
    await send(stack, tokens("seed", customer, 1500))
    response = await stack.http.post(
        f"/v1/customers/{customer}/holds", json={"amount": "1.00", "ttl_seconds": 86400}
    )
    assert response.status_code == 201, response.text
    world = World(customer, code, response.json()["id"])
    world.baseline.update(await snapshot(stack, world))
    world.api.update(await api_view(stack, world))
    yield world


@dataclass(frozen=True)
class Bad:
    """One bad request and what must come back."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # None: any 4xx
    type: str | None = None
    says: tuple[str, ...] = ()  # fragments the error message must contain (any case)


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in names.items():
            value = value.replace(f"<{name}>", replacement)
        return value
    if isinstance(value, bytes):
        return fill(value.decode(), names).encode()
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


CASES: dict[str, Bad] = {}


def case(name: str, bad: Bad) -> None:
    assert name not in CASES, name
    CASES[name] = bad


MALFORMED = b'{"amount": "1.00", '

# -- plans: create and new version -------------------------------------------------------------


def plan(code: str, change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    body = rate_card_plan(code)
    if change is not None:
        change(body)
    return body


def set_price(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["prices"][index] = {**body["prices"][index], **fields}
        for key in [k for k, v in fields.items() if v is ...]:
            del body["prices"][index][key]

    return change


def set_meter(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["meters"][index] = {**body["meters"][index], **fields}

    return change


def add_meter(meter: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["meters"].append(meter)


def add_price(price: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["prices"].append(price)


def set_top(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body.update(fields)
        for key in [k for k, v in fields.items() if v is ...]:
            del body[key]

    return change


IMAGE_TIERS = {"meter": "images", "model": "tiered_graduated", "unit_amount": ...}

# name: (change to a valid plan, expected status, fragments of the message)
BAD_PLANS: dict[str, tuple[Callable[[dict[str, Any]], None], int, tuple[str, ...]]] = {
    "duplicate meter codes": (
        add_meter({"code": "tokens", "event_type": "other", "aggregation": "count"}),
        400,
        ("meters[2].code", "duplicate meter code 'tokens'"),
    ),
    "two meters for one event type": (
        add_meter({"code": "more", "event_type": "tokens", "aggregation": "count"}),
        400,
        ("meters[2].event_type", "already measured"),
    ),
    "sum meter without value_property": (
        add_meter({"code": "secs", "event_type": "seconds", "aggregation": "sum"}),
        400,
        ("meters[2].value_property", "required"),
    ),
    "duplicate group_by property": (
        add_meter({"code": "x", "event_type": "x", "aggregation": "count", "group_by": ["a", "a"]}),
        400,
        ("group_by", "duplicate property 'a'"),
    ),
    "unknown aggregation": (
        add_meter({"code": "x", "event_type": "x", "aggregation": "avg"}),
        422,
        ("aggregation",),
    ),
    "filter key not in group_by": (
        set_price(0, filter={"region": "eu"}),
        400,
        ("prices[0].filter", "'region' is not in meter 'tokens' group_by"),
    ),
    "price on an unknown meter": (
        add_price({"meter": "video", "model": "per_unit", "unit_amount": "1"}),
        400,
        ("prices[4].meter", "no meter 'video'"),
    ),
    "package without size": (
        set_price(2, package_size=...),
        400,
        ("prices[2].package_size", "required"),
    ),
    "package size zero": (
        set_price(2, package_size="0"),
        400,
        ("prices[2].package_size", "must be > 0"),
    ),
    "per_unit without unit_amount": (
        set_price(3, unit_amount=...),
        400,
        ("prices[3].unit_amount", "required"),
    ),
    "per_unit with a package size": (
        set_price(3, package_size="10"),
        400,
        ("prices[3].package_size", "only the package model"),
    ),
    "per_unit with tiers": (
        set_price(3, tiers=[{"up_to": None, "unit_amount": "1"}]),
        400,
        ("prices[3].tiers", "only tiered models"),
    ),
    "tiers not ascending": (
        set_price(
            3,
            **IMAGE_TIERS,
            tiers=[
                {"up_to": "100", "unit_amount": "0.05"},
                {"up_to": "50", "unit_amount": "0.04"},
                {"up_to": None, "unit_amount": "0.03"},
            ],
        ),
        400,
        ("prices[3].tiers[1].up_to", "greater than the previous"),
    ),
    "last tier not open": (
        set_price(3, **IMAGE_TIERS, tiers=[{"up_to": "100", "unit_amount": "0.05"}]),
        400,
        ("prices[3].tiers[0].up_to", "last tier must be open"),
    ),
    "open tier before the last": (
        set_price(
            3,
            **IMAGE_TIERS,
            tiers=[{"up_to": None, "unit_amount": "0.05"}, {"up_to": None, "unit_amount": "0"}],
        ),
        400,
        ("prices[3].tiers[0].up_to", "only the last tier may be open"),
    ),
    "tiered model without tiers": (
        set_price(3, **IMAGE_TIERS),
        400,
        ("prices[3].tiers", "at least one tier"),
    ),
    "tiered model with a unit_amount": (
        set_price(
            3,
            model="tiered_volume",
            unit_amount="1",
            tiers=[{"up_to": None, "unit_amount": "1"}],
        ),
        400,
        ("prices[3].unit_amount", "not allowed"),
    ),
    "ambiguous prices": (
        add_price({"meter": "images", "model": "per_unit", "unit_amount": "1"}),
        400,
        ("prices[4].filter", "ambiguous"),
    ),
    "negative unit_amount": (
        set_price(3, unit_amount="-0.05"),
        422,
        ("prices[3].unit_amount", "negative"),
    ),
    "NaN unit_amount": (set_price(3, unit_amount="NaN"), 422, ("unit_amount",)),
    "integer unit_amount": (
        set_price(3, unit_amount=1),
        422,
        ("prices[3].unit_amount", "decimal strings"),
    ),
    "flat_amount of 40 digits": (
        set_price(
            3,
            **IMAGE_TIERS,
            tiers=[{"up_to": None, "unit_amount": "0", "flat_amount": "9" * 40}],
        ),
        422,
        ("prices[3].tiers[0].flat_amount", "too large"),
    ),
    "tier up_to of 1e400": (
        set_price(
            3,
            **IMAGE_TIERS,
            tiers=[{"up_to": "1e400", "unit_amount": "0"}, {"up_to": None, "unit_amount": "0"}],
        ),
        422,
        ("prices[3].tiers[0].up_to",),
    ),
    "spend_limit of 30 digits": (
        set_top(billing="arrears", spend_limit="1" + "0" * 29),
        422,
        ("spend_limit", "too large"),
    ),
    "spend_limit with an exponent": (
        set_top(billing="arrears", spend_limit="1e30"),
        422,
        ("spend_limit", "not a decimal"),
    ),
    "credit price of 30 digits": (
        set_top(credit_unit={"name": "credits", "price": "1" + "0" * 29}),
        422,
        ("credit_unit.price", "too large"),
    ),
    "credit price with 30 decimals": (
        set_top(credit_unit={"name": "credits", "price": "0." + "0" * 29 + "1"}),
        422,
        ("credit_unit.price", "decimal places"),
    ),
    "credit price zero": (
        set_top(credit_unit={"name": "credits", "price": "0"}),
        400,
        ("credit_unit.price", "> 0"),
    ),
    "period of ten million months": (
        set_top(period={"every": 10_000_000, "unit": "month"}),
        422,
        ("period", "at most 120 months"),
    ),
    "period of a million days": (
        set_top(period={"every": 1_000_000, "unit": "day"}),
        422,
        ("period", "at most 3660 days"),
    ),
    "credit lifetime of ten million days": (
        set_top(credit_lifetime={"every": 10_000_000, "unit": "day"}),
        422,
        ("credit_lifetime",),
    ),
    "grace of 40 digits": (set_top(grace_seconds=10**40), 422, ("grace_seconds",)),
    "NUL in the name": (set_top(name="Rate\x00card"), 422, ("name",)),
    "lone surrogate in the name": (set_top(name="Rate\ud800card"), 422, ("name",)),
    "lone surrogate in a filter value": (
        set_price(0, filter={"model": "gpt-4o\udfff", "token_type": "input"}),
        422,
        ("filter",),
    ),
    "NUL in a filter value": (
        set_price(0, filter={"model": "gpt-4o\x00", "token_type": "input"}),
        422,
        ("filter",),
    ),
    "NUL in a meter's event type": (
        set_meter(1, event_type="image\x00generated"),
        422,
        ("event_type",),
    ),
    "currency with a space": (set_top(currency="US D"), 422, ("currency",)),
    "Infinity unit_amount": (set_price(3, unit_amount="Infinity"), 422, ("unit_amount",)),
    "abc unit_amount": (set_price(3, unit_amount="abc"), 422, ("unit_amount",)),
    "float unit_amount": (set_price(3, unit_amount=0.05), 422, ("unit_amount", "decimal string")),
    "float package_size": (set_price(2, package_size=1000.0), 422, ("package_size",)),
    "boolean unit_amount": (set_price(3, unit_amount=True), 422, ("unit_amount",)),
    "float tier up_to": (
        set_price(
            3,
            **IMAGE_TIERS,
            tiers=[{"up_to": 100.0, "unit_amount": "0.05"}, {"up_to": None, "unit_amount": "0"}],
        ),
        422,
        ("up_to", "decimal string"),
    ),
    "unit_amount with 19 decimal places": (
        set_price(3, unit_amount="0." + "0" * 18 + "1"),
        422,
        ("prices[3].unit_amount", "decimal places"),
    ),
    "huge package size": (
        set_price(2, package_size="1e20"),
        422,
        ("prices[2].package_size", "not a decimal"),
    ),
    "package size of 21 digits": (
        set_price(2, package_size="1" + "0" * 20),
        422,
        ("prices[2].package_size", "too large"),
    ),
    "unknown price model": (set_price(3, model="flat"), 422, ("model",)),
    "unknown field in a price": (set_price(3, discount="0.5"), 422, ("discount",)),
    "unknown top-level field": (set_top(owner="me"), 422, ("owner",)),
    "missing name": (set_top(name=...), 422, ("name",)),
    "empty name": (set_top(name=""), 422, ("name",)),
    "currency too short": (set_top(currency="US"), 422, ("currency",)),
    "meters not a list": (set_top(meters={"code": "tokens"}), 422, ("meters",)),
    "unknown billing": (set_top(billing="postpaid"), 422, ("billing",)),
    "unknown period unit": (set_top(period={"every": 1, "unit": "week"}), 422, ("period",)),
    "zero period": (set_top(period={"every": 0, "unit": "day"}), 422, ("period",)),
    "negative grace": (set_top(grace_seconds=-1), 422, ("grace_seconds",)),
    "string grace": (set_top(grace_seconds="an hour"), 422, ("grace_seconds",)),
}

# Amounts are plain decimal strings: no exponent, underscores, spaces or "-0".
for text, problem in [
    ("5e-2", "not a decimal"),
    ("0e-1000000", "not a decimal"),
    ("1_000", "not a decimal"),
    (" 0.05", "not a decimal"),
    ("-0", "negative"),
]:
    BAD_PLANS[f"unit_amount {text!r}"] = (
        set_price(3, unit_amount=text),
        422,
        ("prices[3].unit_amount", problem),
    )

for name, (change, status, says) in BAD_PLANS.items():
    case(
        f"create plan: {name}",
        Bad("POST", "/v1/plans", plan("<new_plan>", change), status=status, says=says),
    )
    case(
        f"new version: {name}",
        Bad("POST", "/v1/plans/<plan>/versions", plan("<plan>", change), status=status, says=says),
    )

for route in ("/v1/plans", "/v1/plans/<plan>/versions"):
    what = "create plan" if route == "/v1/plans" else "new version"
    code = "<new_plan>" if route == "/v1/plans" else "<plan>"
    case(
        f"{what}: malformed JSON",
        Bad("POST", route, content=b'{"code": "' + code.encode() + b'", ', headers=JSON, status=400,
            type="invalid_json"),
    )  # fmt: skip
    case(f"{what}: empty object", Bad("POST", route, {}, status=422, says=("code", "name")))
    case(f"{what}: a list", Bad("POST", route, [plan(code)], status=422))
    case(f"{what}: bad code", Bad("POST", route, plan("Bad Code"), status=422, says=("code",)))
    case(f"{what}: code as a number", Bad("POST", route, {**plan(code), "code": 1}, status=422))

case(
    "new version: body code differs from the URL",
    Bad("POST", "/v1/plans/<plan>/versions", plan("<new_plan>"), status=400, says=("<new_plan>",)),
)
case(
    "new version: unknown plan",
    Bad("POST", "/v1/plans/<new_plan>/versions", plan("<new_plan>"), status=404, type="not_found"),
)
case(
    "new version: bad code in the URL",
    Bad("POST", "/v1/plans/Bad%20Code/versions", plan("<plan>"), status=422),
)

# -- plans: read -------------------------------------------------------------------------------

case("get plan: unknown", Bad("GET", "/v1/plans/<new_plan>", status=404, type="not_found"))
case(
    "get plan: unknown version",
    Bad("GET", "/v1/plans/<plan>", params={"version": 99}, status=404, says=("version 99",)),
)
case("get plan: version 0", Bad("GET", "/v1/plans/<plan>", params={"version": 0}, status=422))
case("get plan: version -1", Bad("GET", "/v1/plans/<plan>", params={"version": -1}, status=422))
case(
    "get plan: version abc",
    Bad("GET", "/v1/plans/<plan>", params={"version": "abc"}, status=422, says=("version",)),
)
case("get plan: bad code", Bad("GET", "/v1/plans/Bad%20Code", status=422))
for name, version in [("2**63", 2**63), ("30 digits", "9" * 30)]:
    case(
        f"get plan: version {name}",
        Bad("GET", "/v1/plans/<plan>", params={"version": version}, status=422, says=("version",)),
    )

# -- customers ---------------------------------------------------------------------------------

SIGNUP = {"external_id": "<nobody>", "name": "Jane", "email": "jane@example.com"}
case(
    "signup: malformed JSON",
    Bad("POST", "/v1/customers", content=b'{"external_id": "<nobody>", ', headers=JSON,
        status=400, type="invalid_json"),
)  # fmt: skip
case(
    "signup: unknown plan",
    Bad("POST", "/v1/customers", {**SIGNUP, "plan": "<new_plan>"}, status=400, type="unknown_plan"),
)
case(
    "signup: plan as a number",
    Bad("POST", "/v1/customers", {**SIGNUP, "plan": 7}, status=422, says=("plan",)),
)
case(
    "signup: extra field",
    Bad("POST", "/v1/customers", {**SIGNUP, "balance": "100"}, status=422, says=("balance",)),
)
case(
    "signup: NUL in the name",
    Bad("POST", "/v1/customers", {**SIGNUP, "name": "Ja\x00ne"}, status=422, says=("name",)),
)
case(
    "signup: lone surrogate in the name",
    Bad("POST", "/v1/customers", {**SIGNUP, "name": "Ja\ud800ne"}, status=422, says=("name",)),
)
case(
    "signup: NUL in the external id",
    Bad("POST", "/v1/customers", {**SIGNUP, "external_id": "a\x00"}, status=422,
        says=("external_id",)),
)  # fmt: skip
case(
    "signup: missing name",
    Bad("POST", "/v1/customers", {"external_id": "<nobody>", "email": "j@example.com"}, status=422,
        says=("name",)),
)  # fmt: skip
case("get customer: unknown", Bad("GET", "/v1/customers/<nobody>", status=404, type="not_found"))
case("get customer: bad id", Bad("GET", "/v1/customers/..<nobody>", status=422))

# -- events ------------------------------------------------------------------------------------

GOOD_EVENT = tokens("good", "<customer>", 1000)


def batch(*events: Any, **extra: Any) -> dict[str, Any]:
    return {"events": list(events), **extra}


def with_event(**fields: Any) -> dict[str, Any]:
    body = {**GOOD_EVENT, **fields}
    return batch(GOOD_EVENT | {"id": "good-too"}, {k: v for k, v in body.items() if v is not ...})


BAD_EVENTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "empty object": ({}, ("events",)),
    "no events": (batch(), ("events",)),
    "events not a list": ({"events": GOOD_EVENT}, ("events",)),
    "a list body": ([GOOD_EVENT], ()),
    "extra top-level field": (batch(GOOD_EVENT, dry_run=True), ("dry_run",)),
    "event missing id": (with_event(id=...), ("id",)),
    "event with empty id": (with_event(id=""), ("id",)),
    "event with numeric id": (with_event(id=12), ("id",)),
    "event missing customer": (with_event(customer=...), ("customer",)),
    "event with a bad customer id": (with_event(customer="a b"), ("customer",)),
    "event missing event_type": (with_event(event_type=...), ("event_type",)),
    "event with an extra field": (with_event(cost="0"), ("cost",)),
    "properties not an object": (with_event(properties=[1, 2]), ("properties",)),
    "51 properties": (with_event(properties={f"p{i}": i for i in range(51)}), ("properties",)),
    "naive timestamp": (with_event(timestamp="2026-01-01T10:00:00"), ("timestamp",)),
    "timestamp not a date": (with_event(timestamp="yesterday"), ("timestamp",)),
    "hold_id not a string": (with_event(hold_id=5), ("hold_id",)),
    "event not an object": (batch(GOOD_EVENT, "tokens"), ("events",)),
}
for name, (body, says) in BAD_EVENTS.items():
    case(f"events: {name}", Bad("POST", "/v1/events", body, status=422, says=says))
case(
    "events: 1,001 events",
    Bad("POST", "/v1/events", batch(*[GOOD_EVENT | {"id": f"e{i}"} for i in range(1001)]),
        status=422, says=("events",)),
)  # fmt: skip
case(
    "events: malformed JSON",
    Bad("POST", "/v1/events", content=b'{"events": [{"id": "x", ', headers=JSON, status=400,
        type="invalid_json"),
)  # fmt: skip
case(
    "events: not JSON",
    Bad("POST", "/v1/events", content=json.dumps(batch(GOOD_EVENT)).encode(),
        headers={"Content-Type": "text/plain"}, status=415),
)  # fmt: skip

case(
    "events: declared larger than the limit",
    Bad("POST", "/v1/events", content=b" " * (MAX_BODY_BYTES + 1), headers=JSON, status=413,
        type="payload_too_large"),
)  # fmt: skip

# -- balance, ledger, usage --------------------------------------------------------------------

case("balance: unknown customer", Bad("GET", "/v1/customers/<nobody>/balance", status=404))
case("balance: bad id", Bad("GET", "/v1/customers/a%20b/balance", status=422))
LEDGER = "/v1/customers/<customer>/ledger"
LEDGER_PARAMS: list[tuple[dict[str, Any], str]] = [
    ({"limit": 0}, "limit"),
    ({"limit": -1}, "limit"),
    ({"limit": 501}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "1.5"}, "limit"),
    ({"starting_after": 0}, "starting_after"),
    ({"starting_after": "abc"}, "starting_after"),
    ({"starting_after": 2**63}, "starting_after"),
]
for query, fragment in LEDGER_PARAMS:
    case(f"ledger: {query}", Bad("GET", LEDGER, params=query, status=422, says=(fragment,)))
case("ledger: unknown customer", Bad("GET", "/v1/customers/<nobody>/ledger", status=404))
USAGE = "/v1/customers/<customer>/usage"
USAGE_PARAMS: list[tuple[dict[str, Any], str]] = [
    ({"from": iso(NOW), "to": iso(NOW - timedelta(hours=1))}, "after"),
    ({"from": iso(NOW), "to": iso(NOW)}, "after"),
    ({"from": "last week"}, "from"),
    ({"to": "2026-13-45"}, "to"),
    ({"from": iso(NOW + timedelta(days=3650))}, "after"),
    # Valid ISO 8601, but no UTC instant: year 0 and year 10000.
    ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
    ({"from": iso(NOW), "to": "9999-12-31T23:59:59-12:00"}, "to"),
]
for query, fragment in USAGE_PARAMS:
    name = ", ".join(f"{k}={v}" for k, v in query.items())
    case(f"usage: {name}", Bad("GET", USAGE, params=query, status=422, says=(fragment,)))
case("usage: unknown customer", Bad("GET", "/v1/customers/<nobody>/usage", status=404))

# -- amounts (holds and grants) ----------------------------------------------------------------

BAD_AMOUNTS: dict[str, tuple[Any, str]] = {
    "JSON float": (10.5, "decimal strings"),
    "JSON float without a fraction": (10.0, "decimal strings"),
    "JSON integer": (10, "decimal strings"),
    "negative": ("-1.00", "negative"),
    "negative integer": (-1, "decimal strings"),
    "negative zero": ("-0", "negative"),
    "zero": ("0", "greater than zero"),
    "zero with decimals": ("0.000", "greater than zero"),
    "NaN": ("NaN", "not a decimal"),
    "sNaN": ("sNaN", "not a decimal"),
    "Infinity": ("Infinity", "not a decimal"),
    "-Infinity": ("-Infinity", "not a decimal"),
    "abc": ("abc", "not a decimal"),
    "empty string": ("", "not a decimal"),
    "comma decimal": ("1,50", "not a decimal"),
    "underscores": ("1_000", "not a decimal"),
    "spaces": (" 1.00 ", "not a decimal"),
    "plus sign": ("+1.00", "not a decimal"),
    "leading zeros": ("01.00", "leading zeros"),
    "no digit before the point": (".5", "not a decimal"),
    "no digit after the point": ("1.", "not a decimal"),
    "exponent": ("1e2", "not a decimal"),
    "huge exponent": ("1e999999999999", "not a decimal"),
    "1e400": ("1e400", "not a decimal"),
    "too many decimal places": ("1." + "0" * 18 + "1", "decimal places"),
    "too large": ("1" + "0" * 15, "too large"),
    "40 digits": ("9" * 40, "too large"),
    "boolean": (True, "decimal strings"),
    "object": ({"value": "1.00"}, "decimal strings"),
    "list": (["1.00"], "decimal strings"),
}
HOLDS = "/v1/customers/<customer>/holds"
GRANTS = "/v1/customers/<customer>/grants"
for name, (amount, fragment) in BAD_AMOUNTS.items():
    for route, path in (("hold", HOLDS), ("grant", GRANTS)):
        case(
            f"{route} amount: {name}",
            Bad("POST", path, {"amount": amount}, status=422, says=(fragment,)),
        )

# -- holds -------------------------------------------------------------------------------------

for name, body, status, says in [
    ("neither amount nor event_type", {}, 422, ("amount", "event_type")),
    ("both amount and event_type", {"amount": "1", "event_type": "tokens"}, 422, ("not both",)),
    ("null amount", {"amount": None}, 422, ("amount",)),
    ("ttl zero", {"amount": "1", "ttl_seconds": 0}, 422, ("ttl_seconds",)),
    ("ttl over a week", {"amount": "1", "ttl_seconds": 7 * 86400 + 1}, 422, ("ttl_seconds",)),
    ("ttl abc", {"amount": "1", "ttl_seconds": "abc"}, 422, ("ttl_seconds",)),
    ("ttl fractional", {"amount": "1", "ttl_seconds": 1.5}, 422, ("ttl_seconds",)),
    ("extra field", {"amount": "1", "customer": "x"}, 422, ("customer",)),
    ("description too long", {"amount": "1", "description": "x" * 501}, 422, ("description",)),
    ("NUL in the description", {"amount": "1", "description": "a\x00b"}, 422, ("description",)),
    (
        "lone surrogate in the description",
        {"amount": "1", "description": "a\udc80b"},
        422,
        ("description",),
    ),
    ("unknown event type", {"event_type": "video"}, 400, ("video",)),
    ("estimate without the value", {"event_type": "tokens", "properties": {}}, 400, ("count",)),
    (
        "estimate with a negative value",
        {"event_type": "tokens", "properties": {"count": -1, "model": "gpt-4o"}},
        400,
        ("negative",),
    ),
    (
        "estimate with no price",
        {"event_type": "tokens", "properties": {"count": 1, "model": "llama"}},
        400,
        ("price",),
    ),
    ("properties not an object", {"event_type": "tokens", "properties": "x"}, 422, ("properties",)),
    ("more than available", {"amount": "8.99626"}, 402, ("available", "8.99626")),
]:
    case(f"hold: {name}", Bad("POST", HOLDS, body, status=status, says=says))
case(
    "hold: malformed JSON",
    Bad("POST", HOLDS, content=MALFORMED, headers=JSON, status=400, type="invalid_json"),
)
case(
    "hold: unknown customer",
    Bad("POST", "/v1/customers/<nobody>/holds", {"amount": "1"}, status=404, type="not_found"),
)
case("hold: release unknown", Bad("POST", "/v1/holds/hold_nope/release", status=404))
# Ids in the path have the shape of the ids the API makes: anything else never reaches a query
# (PostgreSQL answers an error for NUL in text).
BAD_PATH_IDS = {
    "NUL": "hold_%00x",
    "unicode": "hold_%C3%A9",
    "invalid UTF-8": "hold_%FF",
    "a space": "hold%20x",
    "65 characters": "h" * 65,
    "300 characters": "h" * 300,
}
for name, bad_id in BAD_PATH_IDS.items():
    for what, path in [
        ("get", f"/v1/holds/{bad_id}"),
        ("release", f"/v1/holds/{bad_id}/release"),
        ("get purchase", f"/v1/purchases/{bad_id.replace('hold', 'pur')}"),
        ("get migration", f"/v1/plans/<plan>/migrations/{bad_id.replace('hold', 'mig')}"),
    ]:
        method = "POST" if what == "release" else "GET"
        case(f"{what}: id with {name}", Bad(method, path, status=422, type="validation_error"))
case("get: hold id of 41 characters", Bad("GET", "/v1/holds/" + "h" * 41, status=422))
for name, bad_id in [("NUL", "a%00b"), ("unicode", "%C3%A9"), ("300 characters", "a" * 300)]:
    case(f"get customer: id with {name}", Bad("GET", f"/v1/customers/{bad_id}", status=422))
    case(f"get plan: code with {name}", Bad("GET", f"/v1/plans/{bad_id}", status=422))
    case(
        f"statement: id with {name}",
        Bad("GET", f"/v1/customers/{bad_id}/statements/1", status=422),
    )
case(
    "statement: number of 40 digits",
    Bad("GET", "/v1/customers/<customer>/statements/" + "9" * 40, status=422),
)
case("hold: get unknown", Bad("GET", "/v1/holds/hold_nope", status=404, type="not_found"))
case("hold: release a customer", Bad("POST", "/v1/holds/<customer>/release", status=404))

# -- grants ------------------------------------------------------------------------------------

for name, body, status, says in [
    ("missing amount", {"reason": "x"}, 422, ("amount",)),
    ("extra field", {"amount": "1", "remaining": "1"}, 422, ("remaining",)),
    ("priority abc", {"amount": "1", "priority": "high"}, 422, ("priority",)),
    ("priority negative", {"amount": "1", "priority": -1}, 422, ("priority",)),
    ("priority too large", {"amount": "1", "priority": 1001}, 422, ("priority",)),
    ("priority fractional", {"amount": "1", "priority": 1.5}, 422, ("priority",)),
    ("source purchase", {"amount": "1", "source": "purchase"}, 422, ("source",)),
    ("naive expires_at", {"amount": "1", "expires_at": "2099-01-01T00:00:00"}, 422, ("expires",)),
    ("expires_at not a date", {"amount": "1", "expires_at": "soon"}, 422, ("expires_at",)),
    (
        "expires_at past year 9999 in UTC",
        {"amount": "1", "expires_at": "9999-12-31T23:59:59-12:00"},
        422,
        ("expires_at", "out of range"),
    ),
    (
        "expires_at in the past",
        {"amount": "1", "expires_at": iso(NOW - timedelta(days=1))},
        400,
        ("expires_at",),
    ),
    ("reason too long", {"amount": "1", "reason": "x" * 501}, 422, ("reason",)),
    ("reason a number", {"amount": "1", "reason": 5}, 422, ("reason",)),
    ("NUL in the reason", {"amount": "1", "reason": "a\x00b"}, 422, ("reason",)),
    ("lone surrogate in the reason", {"amount": "1", "reason": "\ud800"}, 422, ("reason",)),
    (
        "expires_at in year 1",
        {"amount": "1", "expires_at": "0001-01-01T00:00:00Z"},
        400,
        ("expires_at",),
    ),
]:
    case(f"grant: {name}", Bad("POST", GRANTS, body, status=status, says=says))
case(
    "grant: malformed JSON",
    Bad("POST", GRANTS, content=MALFORMED, headers=JSON, status=400, type="invalid_json"),
)
case(
    "grant: unknown customer",
    Bad("POST", "/v1/customers/<nobody>/grants", {"amount": "1"}, status=404, type="not_found"),
)
for name, key in [("too long", "k" * 197), ("empty", "")]:
    case(
        f"grant: idempotency key {name}",
        Bad("POST", GRANTS, {"amount": "1"}, headers={"Idempotency-Key": key}, status=422,
            says=("idempotency",)),
    )  # fmt: skip
case(
    "grant: 5,000-digit amount",
    Bad("POST", GRANTS, content=b'{"amount": ' + b"9" * 5000 + b"}", headers=JSON),
)

# -- purchases, the saved card, auto-recharge ------------------------------------------------

PURCHASES = "/v1/customers/<customer>/purchases"
CARD = "/v1/customers/<customer>/payment-method"
AUTO = "/v1/customers/<customer>/auto-recharge"
for name, bad in {
    "purchase: neither amount nor credits": Bad("POST", PURCHASES, {}, says=("exactly one",)),
    "purchase: both amount and credits": Bad(
        "POST", PURCHASES, {"amount": "5", "credits": "5"}, says=("exactly one",)
    ),
    "purchase: float amount": Bad("POST", PURCHASES, {"amount": 5.5}, says=("decimal",)),
    "purchase: negative amount": Bad("POST", PURCHASES, {"amount": "-5"}),
    "purchase: zero credits": Bad("POST", PURCHASES, {"credits": "0"}),
    "purchase: NaN": Bad("POST", PURCHASES, {"amount": "NaN"}),
    "purchase: fractions of a cent": Bad(
        "POST", PURCHASES, {"amount": "5.001"}, status=422, says=("minor units",)
    ),
    "purchase: below the minimum": Bad(
        "POST", PURCHASES, {"amount": "0.10"}, status=422, says=("outside the allowed range",)
    ),
    "purchase: above the maximum": Bad(
        "POST", PURCHASES, {"amount": "1000000"}, status=422, says=("outside the allowed range",)
    ),
    "purchase: a payment method that is not one": Bad(
        "POST", PURCHASES, {"amount": "5", "payment_method": "4242424242424242"}
    ),
    "purchase: expiry in the past": Bad(
        "POST", PURCHASES, {"amount": "5", "expires_at": "2020-01-01T00:00:00Z"}, status=422
    ),
    "purchase: unknown field": Bad("POST", PURCHASES, {"amount": "5", "coupon": "x"}),
    "purchase: malformed JSON": Bad("POST", PURCHASES, content=MALFORMED, headers=JSON),
    "purchase: unknown customer": Bad(
        "POST", "/v1/customers/<nobody>/purchases", {"amount": "5"}, status=404
    ),
    "purchase: unknown id": Bad("GET", "/v1/purchases/pur_nope", status=404, type="not_found"),
    "card: missing": Bad("PUT", CARD, {}),
    "card: not a payment method id": Bad("PUT", CARD, {"payment_method": "visa"}),
    "card: unknown customer": Bad(
        "PUT", "/v1/customers/<nobody>/payment-method", {"payment_method": "pm_x"}, status=404
    ),
    "auto-recharge: recharge_to not above threshold": Bad(
        "PUT", AUTO, {"enabled": True, "threshold": "5", "recharge_to": "5"}
    ),
    "auto-recharge: negative threshold": Bad(
        "PUT", AUTO, {"enabled": True, "threshold": "-1", "recharge_to": "5"}
    ),
    "auto-recharge: no saved card": Bad(
        "PUT", AUTO, {"enabled": True, "threshold": "1", "recharge_to": "5"}, status=422,
        says=("saved card",),
    ),
    "auto-recharge: above the limit": Bad(
        "PUT", AUTO, {"enabled": False, "threshold": "1", "recharge_to": "99999999"}, status=422
    ),
    "auto-recharge: missing enabled": Bad("PUT", AUTO, {"threshold": "1", "recharge_to": "5"}),
    "auto-recharge: threshold with a huge exponent": Bad(
        "PUT", AUTO, {"enabled": False, "threshold": "1e999999999999", "recharge_to": "5"},
        status=422, says=("threshold",),
    ),
    "auto-recharge: recharge_to NaN": Bad(
        "PUT", AUTO, {"enabled": False, "threshold": "1", "recharge_to": "NaN"}, status=422,
        says=("recharge_to",),
    ),
    "auto-recharge: threshold -0": Bad(
        "PUT", AUTO, {"enabled": False, "threshold": "-0", "recharge_to": "5"}, status=422,
        says=("threshold",),
    ),
    "auto-recharge: never set": Bad("GET", AUTO, status=404),
}.items():  # fmt: skip
    case(name, bad)


for amount_field in ("amount", "credits"):
    for value in ("1e999999999999", "1_000", "-0", " 5"):
        case(
            f"purchase: {amount_field} {value!r}",
            Bad("POST", PURCHASES, {amount_field: value}, status=422, says=(amount_field,)),
        )


# -- the test ----------------------------------------------------------------------------------


async def snapshot(stack: Stack, world: World, *, plans: tuple[str, ...] = ()) -> dict[str, Any]:
    """The world customer's rows in every ledger table, and the plan versions of ``plans``."""
    async with stack.db.session() as session:
        customer, wallet = (
            await session.exec(
                select(Customer, Wallet)
                .join(Wallet, col(Wallet.customer_id) == col(Customer.id))
                .where(Customer.external_id == world.customer)
            )
        ).one()
        state: dict[str, Any] = {
            # Not the event counter: the customer workflow records the world's own events
            # (its grant's restore) whenever it gets to them.
            "customer": customer.model_dump(warnings=False, exclude={"last_event_sequence"}),
            "wallet": wallet.model_dump(),
        }
        for model in (Grant, LedgerEntry, UsageEvent, UsageCounter, Hold, Purchase, AutoRecharge):
            rows = await session.exec(select(model).where(model.customer_id == customer.id))
            state[model.__tablename__] = sorted(
                (r.model_dump() for r in rows.all()), key=lambda r: str(sorted(r.items()))
            )
        state["outbox"] = (
            await session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.customer_id == customer.id)
            )
        ).one()
        codes = (world.plan, *plans)
        state["plans"] = [
            p.model_dump()
            for p in (
                await session.exec(
                    select(Plan).where(col(Plan.code).in_(codes)).order_by(col(Plan.id))
                )
            ).all()
        ]
    return state


async def api_view(stack: Stack, world: World) -> dict[str, Any]:
    async def get(path: str, **params: Any) -> Any:
        response = await stack.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    return {
        "balance": await balance(stack, world.customer),
        "ledger": await ledger(stack, world.customer),
        "customer": await get(f"/v1/customers/{world.customer}"),
        "plan": await get(f"/v1/plans/{world.plan}"),
        "hold": await get(f"/v1/holds/{world.hold}"),
        "usage": await get(f"/v1/customers/{world.customer}/usage", **WINDOW),
    }


async def customers_named(stack: Stack, external_id: str) -> int:
    async with stack.db.session() as session:
        query = select(func.count()).select_from(Customer)
        count: int = (await session.exec(query.where(Customer.external_id == external_id))).one()
    return count


def assert_error(response: httpx.Response, bad: Bad, names: dict[str, str]) -> None:
    text = response.text[:1000]
    assert 400 <= response.status_code < 500, (response.status_code, text)
    if bad.status is not None:
        assert response.status_code == bad.status, (response.status_code, text)
    assert response.headers["content-type"].startswith("application/json"), text
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, text
    error = body["error"]
    assert isinstance(error.get("type"), str) and error["type"], text
    assert isinstance(error.get("message"), str) and error["message"], text
    if bad.type is not None:
        assert error["type"] == bad.type, text
    for fragment in bad.says:
        assert fill(fragment, names).lower() in error["message"].lower(), (fragment, text)


@pytest.mark.parametrize("bad", CASES.values(), ids=list(CASES))
async def test_bad_input_is_a_4xx_and_changes_nothing(
    stack: Stack, world: World, unique_id: str, bad: Bad
) -> None:
    names = {
        "customer": world.customer,
        "plan": world.plan,
        "hold": world.hold,
        "new_plan": f"new-{uuid.uuid4().hex}",
        "nobody": f"{unique_id}-nobody",
    }
    kwargs: dict[str, Any] = {"headers": fill(bad.headers, names)}
    if bad.content is not None:
        kwargs["content"] = fill(bad.content, names)
    elif bad.json is not None:
        # Escaped (ensure_ascii), so that lone surrogates reach the server as JSON sends them.
        kwargs["content"] = json.dumps(fill(bad.json, names)).encode()
        kwargs["headers"] = {"Content-Type": "application/json", **kwargs["headers"]}
    if bad.params is not None:
        kwargs["params"] = bad.params
    response = await stack.http.request(bad.method, fill(bad.path, names), **kwargs)
    assert_error(response, bad, names)

    # Nothing changed (every case before this one left the baseline as it was, too), and
    # neither the new plan nor the new customer exists.
    assert await snapshot(stack, world, plans=(names["new_plan"],)) == world.baseline
    assert await customers_named(stack, names["nobody"]) == 0
    if bad.path == "/v1/customers":
        with pytest.raises(RPCError) as raised:
            await stack.client.get_workflow_handle(customer_workflow_id(names["nobody"])).describe()
        assert raised.value.status == RPCStatusCode.NOT_FOUND


async def test_an_events_body_streamed_past_the_limit_is_a_413(stack: Stack, world: World) -> None:
    """Without a Content-Length the body is read up to the limit, then refused."""
    chunk = json.dumps(GOOD_EVENT | {"customer": world.customer}).encode() + b","

    async def body() -> AsyncIterator[bytes]:
        yield b'{"events": ['
        for _ in range(MAX_BODY_BYTES // len(chunk) + 1):
            yield chunk
        yield b"]}"

    response = await stack.http.post("/v1/events", content=body(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"]["type"] == "payload_too_large"
    assert await snapshot(stack, world) == world.baseline


async def test_a_bad_event_refuses_the_whole_batch(stack: Stack, world: World) -> None:
    """Validation is all or nothing: the good events of a refused batch are not debited."""
    good = event("batch-good", world.customer, "image_generated")
    response = await stack.http.post(
        "/v1/events", json={"events": [good, {**good, "id": "batch-bad", "timestamp": "soon"}]}
    )
    assert response.status_code == 422
    assert "events.1.timestamp" in response.json()["error"]["message"]
    assert await snapshot(stack, world) == world.baseline
    assert await api_view(stack, world) == world.api


@pytest.mark.parametrize(
    ("currency", "too_little", "least", "most", "too_much"),
    [
        ("USD", "0.49", "0.50", "999999.99", "1000000.00"),
        ("GBP", "0.29", "0.30", "999999.99", "1000000.00"),
        ("JPY", "49", "50", "99999999", "100000000"),
    ],
)
async def test_purchase_and_recharge_bounds_are_stripes_in_each_currency(
    stack: Stack,
    unique_id: str,
    currency: str,
    too_little: str,
    least: str,
    most: str,
    too_much: str,
) -> None:
    """Stripe's minimum charge of the plan's currency up to 99,999,999 of its minor units."""
    code = plan_code(unique_id)
    await create_plan(stack, {**rate_card_plan(code), "currency": currency})
    await signup(stack, unique_id, code)
    purchases = f"/v1/customers/{unique_id}/purchases"
    for amount in (too_little, too_much):
        response = await stack.http.post(purchases, json={"amount": amount})
        assert response.status_code == 422, (amount, response.text)
        assert "outside the allowed range" in response.json()["error"]["message"]
    for amount in (least, most):
        response = await stack.http.post(purchases, json={"amount": amount})
        assert response.status_code == 201, (amount, response.text)
        made = response.json()
        assert (Decimal(made["amount"]), made["currency"]) == (Decimal(amount), currency)
    listed = (await stack.http.get(purchases)).json()
    assert sorted(Decimal(p["amount"]) for p in listed) == [Decimal(least), Decimal(most)]

    auto = f"/v1/customers/{unique_id}/auto-recharge"
    settings = {"enabled": False, "threshold": least}
    response = await stack.http.put(auto, json={**settings, "recharge_to": too_much})
    assert response.status_code == 422, response.text
    assert "above the limit" in response.json()["error"]["message"]
    response = await stack.http.put(auto, json={**settings, "recharge_to": most})
    assert response.status_code == 200, response.text
    assert Decimal(response.json()["recharge_to"]) == Decimal(most)


async def test_a_purchase_of_more_credits_than_the_ledger_holds_is_refused(
    stack: Stack, unique_id: str
) -> None:
    """At 10^-18 USD a credit, 1,000 USD buys 10^21 credits: beyond NUMERIC(38,18)'s 20
    whole digits on PostgreSQL, so the API refuses it before anything is charged."""
    code = plan_code(unique_id)
    credits = {"name": "credits", "price": "0." + "0" * 17 + "1"}
    await create_plan(stack, {**rate_card_plan(code), "credit_unit": credits})
    await signup(stack, unique_id, code)
    purchases = f"/v1/customers/{unique_id}/purchases"
    response = await stack.http.post(purchases, json={"amount": "1000.00"})
    assert response.status_code == 422, response.text
    assert "too many" in response.json()["error"]["message"]
    assert (await stack.http.get(purchases)).json() == []
