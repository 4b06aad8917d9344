"""The webhook endpoints API over HTTP: secrets shown once, pagination, changes, and bad
input refused with a JSON 4xx that changes nothing."""

import base64
from typing import Any

import pytest
from pydantic import HttpUrl

from api.errors import ApiError
from api.routes.webhook_endpoints import _checked_url
from creditgate.events.catalogue import EventType
from creditgate.infra.settings import Settings
from tests.support.stack import Stack
from tests.webhooks.support import create_endpoint

BASE = "/v1/webhook-endpoints"


async def test_an_endpoint_shows_its_secret_once_and_never_again(stack: Stack) -> None:
    created = await create_endpoint(stack.http, "https://example.com/hooks", ["grant.created"])
    try:
        secret = created["secret"]
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
        assert created["event_types"] == ["grant.created"]
        assert created["enabled"] is True and created["failing"] is False

        one = await stack.http.get(f"{BASE}/{created['id']}")
        assert one.status_code == 200
        listed = await _all(stack)
        assert created["id"] in {e["id"] for e in listed}
        for body in (one.text, str(listed)):
            assert secret not in body and "secret" not in body
        assert one.json() == {k: v for k, v in created.items() if "secret" not in k}
    finally:
        await stack.http.delete(f"{BASE}/{created['id']}")


async def test_endpoints_page_with_a_cursor(stack: Stack) -> None:
    made = [await create_endpoint(stack.http, f"https://example.com/{n}") for n in range(3)]
    try:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["starting_after"] = cursor
            page = (await stack.http.get(BASE, params=params)).json()
            seen += [e["id"] for e in page["data"]]
            if not page["has_more"]:
                break
            cursor = page["next_starting_after"]
        assert [e["id"] for e in made] == [i for i in seen if i in {e["id"] for e in made}]
        assert len(seen) == len(set(seen))
    finally:
        for endpoint in made:
            await stack.http.delete(f"{BASE}/{endpoint['id']}")


async def test_an_endpoint_changes_and_is_deleted(stack: Stack) -> None:
    created = await create_endpoint(stack.http, "https://example.com/a")
    path = f"{BASE}/{created['id']}"
    changed = await stack.http.patch(
        path,
        json={
            "url": "https://example.org/b",
            "event_types": ["purchase.succeeded", "customer.cut_off"],
            "description": "billing",
            "enabled": False,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["url"] == "https://example.org/b"
    assert body["event_types"] == ["customer.cut_off", "purchase.succeeded"]
    assert body["description"] == "billing"
    assert body["enabled"] is False and body["disabled_reason"] == "operator"
    assert (await stack.http.get(path)).json() == body

    assert (await stack.http.delete(path)).status_code == 204
    assert (await stack.http.get(path)).status_code == 404
    assert (await stack.http.delete(path)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "event_types": ["*"]},
        {"url": "not a url", "event_types": ["*"]},
        {"url": "https://example.com/x", "event_types": ["grant.made_up"]},
        {"url": "https://example.com/x", "event_types": []},
        {"url": "https://example.com/x"},
        {"url": "https://example.com/x", "event_types": ["*"], "secret": "whsec_mine"},
        {"url": "https://example.com/" + "x" * 2100, "event_types": ["*"]},
    ],
)
async def test_bad_endpoints_are_refused_and_nothing_is_created(
    stack: Stack, body: dict[str, Any]
) -> None:
    before = await _all(stack)
    response = await stack.http.post(BASE, json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()["error"]) >= {"type", "message"}
    assert await _all(stack) == before


async def test_an_unknown_event_type_is_named_in_the_error(stack: Stack) -> None:
    response = await stack.http.post(
        BASE, json={"url": "https://example.com/x", "event_types": ["grant.created", "nope"]}
    )
    assert response.status_code == 422
    assert "'nope'" in response.json()["error"]["message"]


async def test_bad_changes_are_refused_and_change_nothing(stack: Stack) -> None:
    created = await create_endpoint(stack.http, "https://example.com/keep")
    path = f"{BASE}/{created['id']}"
    try:
        before = (await stack.http.get(path)).json()
        for body in (
            {"url": "gopher://example.com"},
            {"event_types": ["made.up"]},
            {"enabled": "yes"},
            {"secret": "whsec_x"},
        ):
            response = await stack.http.patch(path, json=body)
            assert response.status_code == 422, (body, response.text)
        rotate = await stack.http.post(f"{path}/rotate-secret", json={"overlap_seconds": -1})
        assert rotate.status_code == 422
        assert (await stack.http.get(path)).json() == before
    finally:
        await stack.http.delete(path)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"description": "x"}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", {}),
        ("GET", "/deliveries", None),
        ("POST", "/deliveries/whd_missing/retry", None),
    ],
)
async def test_unknown_endpoints_are_404(
    stack: Stack, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    response = await stack.http.request(method, f"{BASE}/we_missing{suffix}", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


async def test_the_endpoints_are_in_the_openapi_document(stack: Stack) -> None:
    paths = (await stack.http.get("/openapi.json")).json()["paths"]
    assert set(paths[BASE]) == {"get", "post"}
    assert set(paths[BASE + "/{endpoint_id}"]) == {"get", "patch", "delete"}
    assert "post" in paths[BASE + "/{endpoint_id}/rotate-secret"]
    assert "get" in paths[BASE + "/{endpoint_id}/deliveries"]
    assert "post" in paths[BASE + "/{endpoint_id}/deliveries/{delivery_id}/retry"]
    assert "post" in paths["/v1/customers/{external_id}/events/replay"]


def _production(**overrides: Any) -> Settings:
    return Settings(
        env="production",
        api_key="k" * 40,
        stripe_api_key="sk_live_x",
        stripe_webhook_secret="whsec_real",
        portal_secret="p" * 40,
        stripe_publishable_key="pk_live_x",
        database_url="postgresql://db.internal/creditgate",
        **overrides,
    )


async def test_production_takes_only_https_unless_http_is_allowed() -> None:
    # Public addresses: production also refuses private networks.
    with pytest.raises(ApiError) as refused:
        await _checked_url(HttpUrl("http://93.184.216.34/x"), _production())
    assert refused.value.status == 422
    assert await _checked_url(HttpUrl("https://93.184.216.34/x"), _production())
    allowed = _production(webhook_allow_http=True)
    assert (
        await _checked_url(HttpUrl("http://93.184.216.34/x"), allowed) == "http://93.184.216.34/x"
    )
    assert await _checked_url(HttpUrl("http://localhost:9/x"), Settings()) == "http://localhost:9/x"


def test_the_default_retry_schedule_spans_at_least_three_days() -> None:
    assert sum(Settings().webhook_retry_delays) >= 3 * 86400


async def _all(stack: Stack) -> list[dict[str, Any]]:
    response = await stack.http.get(BASE, params={"limit": 500})
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_every_event_type_is_in_the_openapi_webhooks(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    webhooks = document["webhooks"]

    assert document["openapi"].startswith("3.1")
    assert set(webhooks) == {t.value for t in EventType}
    for event_type, operation in webhooks.items():
        ref = operation["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert body["properties"]["type"]["const"] == event_type
        assert {"id", "created_at", "external_id", "sequence", "data"} <= set(body["required"])
