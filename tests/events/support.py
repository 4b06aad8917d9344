"""Reading a customer's events over HTTP (``GET .../events``), following the pages."""

from collections.abc import Iterable
from typing import Any

from creditgate.infra.db import Database
from creditgate.ledger import customers
from tests.support.stack import Stack
from tests.support.waiting import eventually


async def all_events(stack: Stack, external_id: str, limit: int = 3) -> list[dict[str, Any]]:
    """Every event, read ``limit`` at a time (small, so paging is exercised too)."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await stack.http.get(
            f"/v1/customers/{external_id}/events", params={"after": after, "limit": limit}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["events"]
        assert page["next_after"] == (found[-1]["sequence"] if found else 0)
        if not page["has_more"]:
            return found
        after = page["next_after"]


def of_type(events: list[dict[str, Any]], type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type]


async def events_until(
    stack: Stack, external_id: str, wanted: Iterable[str], timeout: float = 60
) -> list[dict[str, Any]]:
    """The customer's events once each of ``wanted`` (types, repeated for how many) is in,
    checked gap-free and in order."""
    needed = list(wanted)

    def complete(events: list[dict[str, Any]]) -> bool:
        types = [e["type"] for e in events]
        return all(types.count(t) >= needed.count(t) for t in set(needed))

    events = await eventually(
        lambda: all_events(stack, external_id),
        until=complete,
        timeout=timeout,
        what=f"events {needed} of {external_id}",
    )
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["external_id"] == external_id for e in events)
    return events


async def sign_up(db: Database, external_id: str) -> None:
    await customers.register_customer(
        db,
        external_id=external_id,
        name="Jane Doe",
        email="jane@example.com",
        plan="default",
        stripe_customer_id=f"cus_{external_id}",
        workflow_id=f"customer-{external_id}",
    )
