"""What a customer changes in the portal is in the audit log under ``portal:<external_id>``,
with the request id and the request's fields (the CSRF token masked); a refused change and
the Stripe.js stand-in are not entries."""

import re
from typing import Any

import httpx

from tests.api.portal.support import open_portal
from tests.api.support import signup
from tests.payments.support import VISA
from tests.support.stack import Stack

CARD = {"number": VISA, "exp_month": "12", "exp_year": "2034", "cvc": "123"}


async def csrf_token(browser: httpx.AsyncClient) -> str:
    overview = await browser.get("/portal/")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', overview.text)
    assert found is not None, overview.text
    return found.group(1)


async def portal_log(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get("/v1/audit-log", params={"actor": f"portal:{external_id}"})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["entries"]))


async def test_portal_changes_are_audited_as_the_customer(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    async with open_portal(stack, unique_id) as browser:
        csrf = await csrf_token(browser)
        posting = {"X-CSRF-Token": csrf, "Accept": "application/json"}
        bought = await browser.post(
            "/portal/purchases",
            json={"amount": "20.00"},
            headers={**posting, "X-Request-Id": "req-portal-buy-1"},
        )
        intent = await browser.post("/portal/card/setup-intents", headers=posting)
        confirmed = await browser.post(
            "/portal/stripe-standin/confirm-setup",
            json={"client_secret": intent.json()["client_secret"], "card": CARD},
        )
        setup = confirmed.json()["setupIntent"]["id"]
        saved = await browser.post("/portal/card", json={"setup_intent": setup}, headers=posting)
        settings = {"enabled": "on", "threshold": "5", "recharge_to": "25"}
        form = {**settings, "csrf_token": csrf}
        recharge = await browser.post("/portal/auto-recharge", data=form)
        too_low = await browser.post("/portal/auto-recharge", data={**form, "recharge_to": "1"})
        forged = await browser.post(
            "/portal/purchases", json={"amount": "20.00"}, headers={"X-CSRF-Token": "wrong"}
        )

    assert bought.status_code == 201, bought.text
    assert intent.status_code == 201 and confirmed.status_code == 200, confirmed.text
    assert saved.status_code == 200, saved.text
    assert recharge.status_code == 303, recharge.text
    assert too_low.status_code == 422 and forged.status_code == 403
    log = await portal_log(stack, unique_id)
    assert [(e["action"], e["target"], e["status"]) for e in log] == [
        ("POST /portal/purchases", "/portal/purchases", 201),
        ("POST /portal/card/setup-intents", "/portal/card/setup-intents", 201),
        ("POST /portal/card", "/portal/card", 200),
        ("POST /portal/auto-recharge", "/portal/auto-recharge", 303),
    ]
    assert log[0]["request_id"] == "req-portal-buy-1"
    assert log[3]["request_id"] == recharge.headers["x-request-id"]
    assert [e["details"] for e in log] == [
        {"amount": "20.00"},
        {},
        {"setup_intent": setup},
        {**settings, "csrf_token": "***"},
    ]
    # Neither the session's CSRF token nor a client secret is kept anywhere in the log.
    everything = (await stack.http.get("/v1/audit-log", params={"limit": 200})).text
    assert csrf not in everything
    assert intent.json()["client_secret"] not in everything
