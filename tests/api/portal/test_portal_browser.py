"""The portal in a real headless Chromium against the real stack: reading the balance, paying
with Stripe.js (the localstripe stand-in) until the webhook grants, a decline, saving a card
with a SetupIntent, auto-recharge, statements, refused links, and axe-core on every page.

Browser steps run in a thread (``step``): Selenium blocks, and the API serving the pages runs
on this event loop. Screenshots of each page go to ``.creditgate/artifacts/portal/``."""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from tests.api.portal.support import link_made_ago, portal_link
from tests.api.support import balance, create_plan, grant, signup
from tests.support.browser import Browser
from tests.support.plans import plan_code
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import workflow

# One database is enough here: the pages read through the ledger's functions, which the rest
# of the suite runs on both.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
T = TypeVar("T")
VISA = "4242424242424242"
DECLINED = "4000000000000002"
STATUS_DONE = {"success", "error"}


async def step(action: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(action, *args)


def enter_card(browser: Browser, number: str) -> None:
    browser.type("#card-number", number)
    browser.type("#card-exp-month", "12")
    browser.type("#card-exp-year", "34")
    browser.type("#card-cvc", "123")


def check_page(browser: Browser, name: str) -> None:
    """A screenshot, and no serious or critical accessibility violation."""
    browser.screenshot(name)
    assert browser.blocking_violations() == [], name


async def sign_in(stack: Stack, browser: Browser, external_id: str) -> None:
    await step(browser.driver.delete_all_cookies)
    await step(browser.open, await portal_link(stack, external_id))
    assert "Overview" in await step(browser.text, "h1")


async def available(stack: Stack, external_id: str) -> str:
    return str((await balance(stack, external_id))["available"])


async def test_buying_credits_pays_by_card_and_shows_a_decline(
    stack: Stack, browser: Browser, unique_id: str
) -> None:
    await signup(stack, unique_id)
    await grant(stack, unique_id, "5.00", reason="Welcome credit")
    await sign_in(stack, browser, unique_id)
    assert await step(browser.text, "#available") == "$5.00"
    assert "Active." in await step(browser.text, "#account-status")
    await step(check_page, browser, "overview")
    assert await step(browser.on_a_phone, "overview-phone")

    await step(browser.click, 'a[href="/portal/buy"]')
    await step(enter_card, browser, VISA)  # 20.00 is the amount chosen by default
    await step(check_page, browser, "buy")
    assert await step(browser.on_a_phone, "buy-phone")
    await step(browser.click, "#buy-form button[type=submit]")
    assert await step(browser.wait_for, "#status", "data-kind", STATUS_DONE) == "success"
    assert "20 USD added" in await step(browser.text, "#status")
    await step(browser.screenshot, "buy-granted")
    assert await available(stack, unique_id) == "25"

    await step(browser.open, f"{stack.base_url}/portal/buy")
    await step(enter_card, browser, DECLINED)
    await step(browser.click, "#buy-form button[type=submit]")
    assert await step(browser.wait_for, "#status", "data-kind", STATUS_DONE) == "error"
    assert "Your card was declined." in await step(browser.text, "#status")
    await step(browser.screenshot, "buy-declined")
    purchases = (await stack.http.get(f"/v1/customers/{unique_id}/purchases")).json()
    assert sorted(p["status"] for p in purchases) == ["granted", "pending"]
    assert await available(stack, unique_id) == "25"  # nothing granted for the decline

    await step(browser.open, f"{stack.base_url}/portal/")
    assert await step(browser.text, "#available") == "$25.00"
    await step(browser.open, f"{stack.base_url}/portal/activity")
    activity = await step(browser.body)
    assert "Credits added" in activity and "$20.00" in activity
    await step(check_page, browser, "activity")


async def test_saving_a_card_then_turning_on_auto_recharge(
    stack: Stack, browser: Browser, unique_id: str
) -> None:
    await signup(stack, unique_id)
    await sign_in(stack, browser, unique_id)
    await step(browser.click, 'a[href="/portal/card"]')
    assert "No card saved." in await step(browser.text, "#card-state")
    await step(check_page, browser, "card")
    await step(enter_card, browser, VISA)
    await step(browser.click, "#card-form button[type=submit]")
    assert await step(browser.wait_for, "#status", "data-kind", STATUS_DONE) == "success"
    await step(browser.open, f"{stack.base_url}/portal/card")  # the saved card, read back
    assert "A card is saved" in await step(browser.text, "#card-state")

    await step(browser.click, "#enabled")
    await step(browser.type, "#threshold", "5")
    await step(browser.type, "#recharge_to", "25")
    await step(browser.click, "#recharge-form button[type=submit]")
    assert await step(browser.shows, "body", "Auto-recharge settings saved.")
    await step(browser.screenshot, "card-saved")
    settings = (await stack.http.get(f"/v1/customers/{unique_id}/auto-recharge")).json()
    assert (settings["enabled"], settings["threshold"], settings["recharge_to"]) == (
        True,
        "5",
        "25",
    )
    # The balance (0) is below the threshold: the saved card tops it up to 25 at once.
    await eventually(lambda: available(stack, unique_id), lambda a: a == "25", timeout=60)
    await step(browser.open, f"{stack.base_url}/portal/")
    assert "On: when your available balance falls to $5.00" in await step(
        browser.text, "#recharge-status"
    )

    await step(browser.open, f"{stack.base_url}/portal/card")
    await step(browser.type, "#recharge_to", "1")
    await step(browser.click, "#recharge-form button[type=submit]")
    assert await step(browser.shows, "#recharge-error", "greater than threshold")


async def test_usage_and_statements_pages(stack: Stack, browser: Browser, unique_id: str) -> None:
    code = plan_code(unique_id)
    await create_plan(
        stack,
        {
            "code": code,
            "name": "Short periods",
            "currency": "USD",
            "period": {"every": 10, "unit": "second"},
            "grace_seconds": 1,
            "meters": [
                {"code": "tokens", "event_type": "tokens", "aggregation": "sum",
                 "value_property": "count"}
            ],
            "prices": [{"meter": "tokens", "model": "per_unit", "unit_amount": "0.001"}],
        },
    )  # fmt: skip
    await signup(stack, unique_id, plan=code)
    await grant(stack, unique_id, "10.00")
    sent = await stack.http.post(
        "/v1/events",
        json={"events": [{"id": "e1", "customer": unique_id, "event_type": "tokens",
                          "properties": {"count": 1500}}]},
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    statements = await eventually(
        lambda: stack.http.get(f"/v1/customers/{unique_id}/statements"),
        lambda r: bool(r.json()["data"]),
        timeout=90,
        what="the first statement",
    )
    number = statements.json()["data"][-1]["number"]
    # Its periods would keep closing for the rest of the session.
    await workflow(stack, unique_id).terminate("test over")

    await sign_in(stack, browser, unique_id)
    await step(browser.click, 'a[href="/portal/usage"]')
    usage = await step(browser.body)
    assert "tokens" in usage and "$1.50" in usage
    assert await step(browser.exists, "svg rect")
    await step(check_page, browser, "usage")
    assert await step(browser.on_a_phone, "usage-phone")

    await step(browser.click, 'a[href="/portal/statements"]')
    await step(check_page, browser, "statements")
    await step(browser.click, f'a[href="/portal/statements/{number}"]')
    assert f"Statement {number}" in await step(browser.text, "h1")
    await step(check_page, browser, "statement")
    pdf_url = await step(browser.attribute, "#pdf-link", "href")
    assert pdf_url is not None
    cookies = await step(browser.cookies_for)
    async with httpx.AsyncClient(cookies=cookies) as client:
        pdf = await client.get(pdf_url)
        other = await client.get(pdf_url.replace(f"/statements/{number}/", "/statements/999/"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].endswith(f'-{number}.pdf"')
    assert other.status_code == 404 and not other.content.startswith(b"%PDF")


async def test_expired_tampered_and_other_customers_links_are_refused(
    stack: Stack, browser: Browser, unique_id: str
) -> None:
    alice, bob = f"{unique_id}-a", f"{unique_id}-b"
    await signup(stack, alice)
    await signup(stack, bob)
    await grant(stack, bob, "99.00")
    await step(browser.driver.delete_all_cookies)
    await step(browser.open, link_made_ago(stack, alice, 11 * 60))
    assert await step(browser.text, "h1") == "This link has expired"
    await step(check_page, browser, "link-expired")
    link = await portal_link(stack, alice)
    await step(browser.open, link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert await step(browser.text, "h1") == "This link is not valid"
    await step(browser.open, f"{stack.base_url}/portal/")
    assert await step(browser.text, "h1") == "Your billing session has ended"

    await step(browser.open, link)
    bobs = await stack.http.post(f"/v1/customers/{bob}/purchases", json={"amount": "20.00"})
    assert bobs.status_code == 201, bobs.text
    await step(browser.open, f"{stack.base_url}/portal/purchases/{bobs.json()['id']}")
    assert "not_found" in await step(browser.body)
    await step(browser.open, f"{stack.base_url}/portal/?customer={bob}")
    assert await step(browser.text, "#available") == "$0.00"
