"""``POST /v1/events`` and ``GET /v1/customers/{id}/balance`` answer the same whether
``api.hot_paths`` takes the request or FastAPI's routes do (they take every request where the
hot path does not run, such as an app served under a root path)."""

from decimal import Decimal
from typing import Any

from tests.ledger.support import Ledger, serve_api


def call(event_id: str, customer: str) -> dict[str, Any]:
    return {"events": [{"id": event_id, "customer": customer, "event_type": "api_call"}]}


async def test_events_and_balance_answer_alike_through_the_routes(ledger: Ledger) -> None:
    await ledger.grant("1")
    jane = ledger.customer
    async with serve_api(ledger, hot_paths=False) as routes, serve_api(ledger) as hot:
        debited = await routes.post("/v1/events", json=call("e1", jane))
        assert debited.status_code == 200, debited.text
        assert debited.json() == {
            "results": [{"id": "e1", "status": "debited", "cost": "0.01", "balance_after": "0.99"}]
        }
        # One ledger behind both: a repeat through the other is a duplicate, either way round.
        repeat = await hot.post("/v1/events", json=call("e1", jane))
        assert repeat.json()["results"][0]["status"] == "duplicate"
        assert (await hot.post("/v1/events", json=call("e2", jane))).status_code == 200
        again = await routes.post("/v1/events", json=call("e2", jane))
        assert again.json()["results"] == [
            {"id": "e2", "status": "duplicate", "cost": "0.01", "balance_after": "0.98"}
        ]

        by_route = await routes.get(f"/v1/customers/{jane}/balance")
        assert by_route.status_code == 200
        assert by_route.json()["available"] == "0.98"
        assert by_route.headers["content-type"] == "application/json"
        assert by_route.content == (await hot.get(f"/v1/customers/{jane}/balance")).content

        # Refusals too: an unknown customer, an id the API never accepts, a body not sent as
        # JSON, no API key.
        refused: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/v1/customers/nobody/balance", {}),
            ("GET", f"/v1/customers/{'x' * 201}/balance", {}),
            ("POST", "/v1/events", {"content": "{}", "headers": {"Content-Type": "text/plain"}}),
            ("POST", "/v1/events", {"json": {"events": []}}),
            ("POST", "/v1/events", {"json": call("e3", jane), "headers": {"Authorization": ""}}),
        ]
        for method, url, kwargs in refused:
            by_route, by_hot = [await http.request(method, url, **kwargs) for http in (routes, hot)]
            assert 400 <= by_route.status_code < 500, (url, by_route.text)
            assert (by_route.status_code, by_route.json()) == (by_hot.status_code, by_hot.json())
    assert (await ledger.wallet()).balance == Decimal("0.98")
