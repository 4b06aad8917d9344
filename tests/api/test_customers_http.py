"""Listing customers, changing one, and metadata on customers, grants and purchases."""

import asyncio
from typing import Any

from sqlmodel import select

from creditgate.models import Customer
from tests.api.support import create_plan, grant, signup
from tests.support.plans import plan_code, rate_card_plan
from tests.support.stack import Stack


async def listed(stack: Stack, **params: Any) -> tuple[list[str], list[str | None]]:
    """Every page of ``GET /v1/customers``: the external ids in order, and the cursors."""
    ids: list[str] = []
    cursors: list[str | None] = []
    after: str | None = None
    while True:
        query = {**params, **({"after": after} if after else {})}
        response = await stack.http.get("/v1/customers", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [c["external_id"] for c in body["data"]]
        cursors.append(body["next_cursor"])
        after = body["next_cursor"]
        if after is None:
            return ids, cursors


def refused(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "validation_error"


async def test_listing_filters_and_pages_while_customers_sign_up(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, rate_card_plan(code))
    first = [f"{unique_id}-{n}" for n in range(5)]
    for external_id in first:
        await signup(stack, external_id, code)
    later = [f"{unique_id}-new-{n}" for n in range(4)]

    listing = asyncio.create_task(listed(stack, search=unique_id, limit=2))
    await asyncio.gather(*(signup(stack, e, code) for e in later))
    ids, cursors = await listing
    assert len(ids) == len(set(ids))
    assert ids[:5] == first
    assert set(ids[5:]) <= set(later)
    assert len(cursors) >= 3
    everyone, _ = await listed(stack, search=unique_id, limit=100)
    assert everyone[:5] == first and sorted(everyone[5:]) == sorted(later)

    # The last id of a page continues the listing as its cursor does.
    page = await stack.http.get("/v1/customers", params={"search": unique_id, "after": first[1]})
    assert [c["external_id"] for c in page.json()["data"]][:3] == first[2:]

    assert (await listed(stack, plan=code))[0] == everyone
    assert (await listed(stack, search=unique_id.upper(), status="active"))[0] == everyone
    assert (await listed(stack, search=unique_id, status="closed"))[0] == []
    # Wildcards are matched literally.
    assert (await listed(stack, search=f"{unique_id[:-2]}%"))[0] == []
    assert (await listed(stack, search="jane@EXAMPLE.com", plan=code))[0] == everyone

    await grant(stack, first[0], "5.00")
    customers = (await stack.http.get("/v1/customers", params={"plan": code, "limit": 100})).json()
    by_id = {c["external_id"]: c for c in customers["data"]}
    entitled = [e for e in everyone if by_id[e]["balance"]["entitled"]]
    assert first[0] in entitled
    assert (await listed(stack, plan=code, entitled="true"))[0] == entitled
    assert (await listed(stack, plan=code, entitled="false"))[0] == [
        e for e in everyone if e not in entitled
    ]

    third = by_id[first[2]]["created_at"]
    assert (await listed(stack, plan=code, created_before=third))[0] == first[:2]
    assert (await listed(stack, plan=code, created_after=third))[0] == everyone[3:]

    for bad in (
        {"limit": 101},
        {"limit": 0},
        {"entitled": "maybe"},
        {"status": "sleeping"},
        {"created_after": "2026-01-01T00:00:00"},
        {"created_before": "yesterday"},
        {"after": "no-such-customer-or-cursor"},
        {"search": "a\x00b"},
        {"colour": "blue"},
    ):
        refused(await stack.http.get("/v1/customers", params=bad))


async def test_patch_changes_name_email_and_metadata(stack: Stack, unique_id: str) -> None:
    created = await signup(stack, unique_id)
    url = f"/v1/customers/{unique_id}"
    response = await stack.http.patch(
        url,
        json={"name": "Jane Q. Doe", "email": "jq@example.com", "metadata": {"a": "1", "b": "2"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["email"], body["metadata"]) == (
        "Jane Q. Doe",
        "jq@example.com",
        {"a": "1", "b": "2"},
    )
    assert (await stack.http.get(url)).json() == body
    in_stripe = await stack.stripe.client.v1.customers.retrieve_async(created["stripe_customer_id"])
    assert (in_stripe.name, in_stripe.email) == ("Jane Q. Doe", "jq@example.com")

    merged = await stack.http.patch(url, json={"metadata": {"a": "", "c": "3"}})
    assert merged.json()["metadata"] == {"b": "2", "c": "3"}
    assert merged.json()["name"] == "Jane Q. Doe"
    cleared = await stack.http.patch(url, json={"metadata": None})
    assert cleared.json()["metadata"] == {}

    for bad in ({}, {"nickname": "J"}, {"name": None}, {"email": "not-an-email"}):
        refused(await stack.http.patch(url, json=bad))
    assert (await stack.http.get(url)).json() == cleared.json()


def bad_metadata() -> list[Any]:
    return [
        {f"k{n}": "v" for n in range(51)},
        {"k" * 41: "v"},
        {"k": "v" * 501},
        {"k": 1},
        {"k": None},
        {"k": "a\x00b"},
        {"a\x00b": "v"},
        ["k", "v"],
    ]


async def test_metadata_out_of_bounds_is_refused_and_changes_nothing(
    stack: Stack, unique_id: str
) -> None:
    await signup(stack, unique_id)
    url = f"/v1/customers/{unique_id}"
    start = await stack.http.patch(url, json={"metadata": {f"k{n}": "v" for n in range(50)}})
    assert start.status_code == 200, start.text
    made = await grant(stack, unique_id, "1.00", metadata={"order": "A-1"})
    for bad in bad_metadata():
        refused(await stack.http.patch(url, json={"metadata": bad}))
        refused(await stack.http.patch(f"/v1/grants/{made['id']}", json={"metadata": bad}))
        refused(
            await stack.http.post(
                f"/v1/customers/{unique_id}/grants", json={"amount": "1", "metadata": bad}
            )
        )
    # 50 keys stored: one more is refused, replacing or removing one is not.
    refused(await stack.http.patch(url, json={"metadata": {"extra": "v"}}))
    assert (await stack.http.get(url)).json()["metadata"] == start.json()["metadata"]
    unchanged = await stack.http.patch(f"/v1/grants/{made['id']}", json={"metadata": {}})
    assert unchanged.json()["metadata"] == {"order": "A-1"}
    swap = await stack.http.patch(url, json={"metadata": {"k0": "", "extra": "v"}})
    assert swap.status_code == 200 and len(swap.json()["metadata"]) == 50


async def test_grant_and_purchase_metadata(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    made = await grant(stack, unique_id, "2.00", metadata={"campaign": "spring"})
    assert made["metadata"] == {"campaign": "spring"}
    patched = await stack.http.patch(
        f"/v1/grants/{made['id']}", json={"metadata": {"ticket": "T-9"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**made, "metadata": {"campaign": "spring", "ticket": "T-9"}}

    bought = await stack.http.post(f"/v1/customers/{unique_id}/purchases", json={"amount": "20"})
    assert bought.status_code == 201, bought.text
    assert bought.json()["metadata"] == {}
    purchase = f"/v1/purchases/{bought.json()['id']}"
    changed = await stack.http.patch(purchase, json={"metadata": {"po": "PO-7"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["metadata"] == {"po": "PO-7"}
    assert (await stack.http.get(purchase)).json()["metadata"] == {"po": "PO-7"}
    [listed_purchase] = (await stack.http.get(f"/v1/customers/{unique_id}/purchases")).json()
    assert listed_purchase["metadata"] == {"po": "PO-7"}
    refused(await stack.http.patch(purchase, json={}))


async def test_unknown_customer_grant_or_purchase_is_404(stack: Stack, unique_id: str) -> None:
    for url in (
        f"/v1/customers/{unique_id}",
        "/v1/grants/2147483000",
        "/v1/purchases/pur_nosuchpurchase",
    ):
        response = await stack.http.patch(url, json={"metadata": {"a": "b"}})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "not_found"


async def test_a_name_stripe_refuses_changes_nothing(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    # The Stripe customer is gone (deleted in the Stripe dashboard): Stripe answers 404.
    async with stack.db.transaction() as session:
        row = (await session.exec(select(Customer).where(Customer.external_id == unique_id))).one()
        row.stripe_customer_id = "cus_deletedinstripe"
        session.add(row)
    url = f"/v1/customers/{unique_id}"
    before = (await stack.http.get(url)).json()
    response = await stack.http.patch(url, json={"name": "Renamed", "metadata": {"a": "b"}})
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "stripe_error"
    assert (await stack.http.get(url)).json() == before
