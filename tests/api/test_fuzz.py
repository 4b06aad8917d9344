"""Fuzzing the HTTP API on SQLite and PostgreSQL: no request gets a 5xx, every answer matches
the OpenAPI document.

Two parts, each run against a real server (``stack``, on each database) with the API key:

- schemathesis generates requests for every operation of ``/openapi.json`` (valid and invalid
  ones, a bounded, derandomized run) and checks each response: not a 5xx, a documented status
  code, content type and body schema;
- a table of hostile values (non-finite and huge numbers, over-precise and negative amounts,
  NUL, lone surrogates and unicode in ids, 300-character ids, far timestamps) is put in every
  path parameter and every body field of a valid request of every operation.

Both collect every failure and report them together (request and response), rather than stop
at the first.
"""

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from tests.api.support import create_plan, grant, signup, tokens
from tests.support.plans import rate_card_plan
from tests.support.stack import API_KEY, Stack

AUTH = {"Authorization": f"Bearer {API_KEY}"}
# schemathesis lists the operations of a document with their parameter types unknown.
FuzzCase = Case[APIOperation[Any, Any, Any, Any]]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per database: the whole generated run stops taking new examples after this many seconds.
FUZZ_SECONDS = 35.0
EXAMPLES_PER_OPERATION = 20


@dataclass(frozen=True)
class Known:
    """Real objects on the stack, so that requests also reach past the 404s."""

    customer: str
    plan: str
    hold: str

    def path_parameters(self) -> dict[str, str]:
        return {"external_id": self.customer, "code": self.plan, "hold_id": self.hold}


async def known_objects(stack: Stack) -> Known:
    suffix = uuid.uuid4().hex[:8]
    code, customer = f"fuzz-{suffix}", f"fuzz-{suffix}"
    await create_plan(stack, rate_card_plan(code))
    await signup(stack, customer, code)
    await grant(stack, customer, "100.00")
    response = await stack.http.post(f"/v1/customers/{customer}/holds", json={"amount": "1.00"})
    assert response.status_code == 201, response.text
    return Known(customer, code, response.json()["id"])


# -- schemathesis ------------------------------------------------------------------------------


def describe(case: FuzzCase, response: Any, failure: BaseException) -> str:
    body = case.body if not isinstance(case.body, bytes) else case.body[:300]
    return (
        f"{case.method} {case.formatted_path} query={case.query} body={str(body)[:300]}\n"
        f"  -> {response.status_code} {response.text[:300]}\n  {str(failure)[:500]}"
    )


def run_schemathesis(
    spec: dict[str, Any], base_url: str, known: Known
) -> tuple[list[str], Counter[int]]:
    """Every operation, positive and negative examples: the failures found and the count of
    each status code answered to positive ones (-1 counts the negative ones)."""
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + FUZZ_SECONDS
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation schemathesis cannot read: {result.err()}"
        operations.append(result.ok())
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed = {k: v for k, v in known.path_parameters().items() if k in names}
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            *([operation.as_strategy(path_parameters=fixed)] if fixed else []),
        )

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: FuzzCase) -> None:
            if time.monotonic() > deadline:
                return
            case.headers.update(AUTH)  # over any Authorization schemathesis made up
            response = case.call(base_url=base_url, timeout=60)
            # Negative examples may leave the Authorization header out on purpose.
            positive = case.meta is None or case.meta.generation.mode.is_positive
            statuses[response.status_code if positive else -1] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as failure:
                failures.append(describe(case, response, failure))

        check()
    return failures, statuses


async def test_schemathesis_finds_no_5xx_and_no_answer_off_the_schema(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    known = await known_objects(stack)
    failures, statuses = await asyncio.to_thread(run_schemathesis, spec, stack.base_url, known)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
    # Valid examples are authenticated, and many get past validation to real answers.
    assert statuses[401] == 0, statuses
    assert sum(n for status, n in statuses.items() if status < 300) >= 100, statuses


# -- hostile values ----------------------------------------------------------------------------


class Raw(str):
    """A JSON token written as is (numbers JSON can spell but Python cannot hold exactly)."""


HOSTILE_VALUES: dict[str, Any] = {
    "NaN string": "NaN",
    "NaN number": float("nan"),
    "Infinity number": float("inf"),
    "1e400 string": "1e400",
    "1e400 number": Raw("1e400"),
    "huge exponent": "1e999999999999",
    "40-digit integer": 10**40,
    "40-digit string": "1" + "0" * 39,
    "negative amount": "-1.50",
    "negative zero": "-0",
    "over-precise amount": "0." + "0" * 30 + "1",
    "underscores": "1_000",
    "NUL": "id\x00x",
    "lone surrogate": "id\ud800x",
    "unicode": "ïd-😀",
    "300 characters": "a" * 300,
    "far past": "0001-01-01T00:00:00Z",
    "far future": "9999-12-31T23:59:59-12:00",
    "empty": "",
    "null": None,
    "object": {"a": 1},
}
HOSTILE_PATHS: dict[str, str] = {
    "NUL": "id%00x",
    "unicode": quote("ïd-😀"),
    "invalid UTF-8": "id%FFx",
    "300 characters": "a" * 300,
    "40 digits": "1" + "0" * 39,
    "negative": "-1",
    "NaN": "NaN",
    "dots": "..",
}


def dumps(body: Any) -> bytes:
    """JSON with NaN and Infinity as bare tokens and ``Raw`` values unquoted."""
    raws: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            key = f"__raw_{len(raws)}__"
            raws[key] = str(value)
            return key
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body))
    for key, token in raws.items():
        text = text.replace(f'"{key}"', token)
    return text.encode()


def valid_bodies(known: Known, suffix: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for each operation that takes one."""
    plan = {
        **rate_card_plan(f"fuzz-new-{suffix}"),
        "billing": "arrears",
        "spend_limit": "100",
        "credit_unit": {"name": "credits", "price": "0.01"},
        "period": {"every": 1, "unit": "month"},
        "grace_seconds": 3600,
        "credit_lifetime": {"every": 12, "unit": "month"},
    }
    return {
        ("POST", "/v1/customers"): {
            "external_id": f"fuzz-new-{suffix}",
            "name": "Jane",
            "email": "jane@example.com",
            "plan": known.plan,
        },
        ("POST", "/v1/events"): {"events": [tokens(f"fuzz-{suffix}", known.customer, 10)]},
        ("POST", "/v1/customers/{external_id}/grants"): {
            "amount": "1.00",
            "priority": 5,
            "expires_at": "2999-01-01T00:00:00Z",
            "reason": "fuzz",
            "source": "promotional",
        },
        ("POST", "/v1/customers/{external_id}/holds"): {
            "amount": "0.10",
            "ttl_seconds": 60,
            "description": "fuzz",
        },
        ("POST", "/v1/customers/{external_id}/purchases"): {"amount": "5.00"},
        ("PUT", "/v1/customers/{external_id}/payment-method"): {"payment_method": "pm_x"},
        ("PUT", "/v1/customers/{external_id}/auto-recharge"): {
            "enabled": False,
            "threshold": "1.00",
            "recharge_to": "5.00",
        },
        ("POST", "/v1/plans"): plan,
        ("POST", "/v1/plans/{code}/versions"): {**plan, "code": known.plan},
        ("POST", "/v1/plans/{code}/migrate"): {"from_version": 1, "to_version": 1},
        ("POST", "/v1/plans/{code}/simulate"): {
            "version": 1,
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z",
        },
    }


# Fields inside the bodies' lists and objects that take the hostile values too.
NESTED: dict[tuple[str, str], list[tuple[str | int, ...]]] = {
    ("POST", "/v1/events"): [
        ("events", 0, name)
        for name in ("id", "customer", "event_type", "timestamp", "properties", "hold_id")
    ]
    + [("events", 0, "properties", "count"), ("events", 0, "properties", "model")],
    ("POST", "/v1/plans"): [
        ("prices", 0, "unit_amount"),
        ("prices", 2, "package_size"),
        ("prices", 0, "filter", "model"),
        ("meters", 0, "event_type"),
        ("period", "every"),
        ("credit_unit", "price"),
        ("credit_lifetime", "every"),
    ],
}


def with_value(body: Any, at: tuple[str | int, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for step in at[:-1]:
        target = target[step]
    target[at[-1]] = value
    return copy


def field_paths(body: dict[str, Any], key: tuple[str, str]) -> Iterator[tuple[str | int, ...]]:
    for name in body:
        yield (name,)
    yield from NESTED.get(key, [])
    if key == ("POST", "/v1/plans/{code}/versions"):
        yield from NESTED[("POST", "/v1/plans")]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    content: bytes | None

    def __str__(self) -> str:
        body = self.content.decode(errors="replace")[:300] if self.content else ""
        return f"{self.method} {self.path[:200]} {body}"


def hostile_requests(spec: dict[str, Any], known: Known) -> Iterator[Request]:
    suffix = uuid.uuid4().hex[:8]
    bodies = valid_bodies(known, suffix)
    names = known.path_parameters() | {
        "purchase_id": "pur_nope",
        "migration_id": "mig_nope",
        "number": "1",
    }
    for template, methods in spec["paths"].items():
        for method in (m.upper() for m in methods):
            body = bodies.get((method, template))
            content = dumps(body) if body is not None else None

            def path(template: str = template, **changes: str) -> str:
                filled = template
                for name, value in (names | changes).items():
                    filled = filled.replace("{" + name + "}", value)
                return filled

            yield Request(method, path(), content)
            params = [p["name"] for p in methods[method.lower()].get("parameters", [])]
            for name in (p for p in params if "{" + p + "}" in template):
                for value in HOSTILE_PATHS.values():
                    yield Request(method, path(**{name: value}), content)
            if body is None:
                continue
            for at in field_paths(body, (method, template)):
                for value in HOSTILE_VALUES.values():
                    yield Request(method, path(), dumps(with_value(body, at, value)))


def off_contract(response: httpx.Response) -> str | None:
    """What is wrong with the answer to a hostile request (None: nothing)."""
    if response.status_code >= 500:
        return "a 5xx"
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return "a 4xx without the JSON error shape"
        if not (isinstance(error.get("type"), str) and isinstance(error.get("message"), str)):
            return "a 4xx without the JSON error shape"
    return None


async def send_all(
    stack: Stack, requests: list[Request], judge: Callable[..., str | None]
) -> list[str]:
    failures: list[str] = []
    headers = {**AUTH, "Content-Type": "application/json"}
    for request in requests:
        response = await stack.http.request(
            request.method, request.path, content=request.content, headers=headers
        )
        problem = judge(response)
        if problem:
            failures.append(
                f"{problem}: {request}\n  -> {response.status_code} {response.text[:300]}"
            )
    return failures


async def test_hostile_values_in_every_field_are_never_a_5xx(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    known = await known_objects(stack)
    requests = list(hostile_requests(spec, known))
    assert len(requests) > 1000
    failures = await send_all(stack, requests, off_contract)
    assert not failures, f"{len(failures)} of {len(requests)} requests:\n" + "\n".join(failures)
