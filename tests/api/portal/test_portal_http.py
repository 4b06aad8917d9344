"""Portal links and sessions over HTTP: who can open what, and for how long."""

from datetime import UTC, datetime, timedelta

import httpx
from itsdangerous import URLSafeTimedSerializer

from api.portal.sessions import COOKIE, SESSION_SALT
from tests.api.portal.support import browser_client, link_made_ago, open_portal, portal_link
from tests.api.support import grant, signup
from tests.payments.support import DECLINES_CHARGES, VISA, card, purchase
from tests.support.stack import Stack
from tests.support.waiting import eventually


async def test_a_link_needs_the_api_key_and_lasts_ten_minutes(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        refused = await anonymous.post(f"/v1/customers/{unique_id}/portal-sessions", json={})
    assert refused.status_code == 401
    made = await stack.http.post(
        f"/v1/customers/{unique_id}/portal-sessions",
        json={"return_url": "https://app.example.com/settings"},
    )
    assert made.status_code == 201, made.text
    expires = datetime.fromisoformat(made.json()["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    unknown = await stack.http.post("/v1/customers/nobody-at-all/portal-sessions", json={})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
    bad = await stack.http.post(
        f"/v1/customers/{unique_id}/portal-sessions", json={"return_url": "javascript:alert(1)"}
    )
    assert bad.status_code == 422


async def test_opening_a_link_sets_a_scoped_session_cookie_and_shows_the_balance(
    stack: Stack, unique_id: str
) -> None:
    await signup(stack, unique_id)
    await grant(stack, unique_id, "12.50")
    async with browser_client(stack) as browser:
        opened = await browser.get(await portal_link(stack, unique_id))
        assert opened.status_code == 303 and opened.headers["location"] == "/portal/"
        cookie = opened.headers["set-cookie"].lower()
        assert f"{COOKIE}=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert "path=/portal" in cookie and "max-age=3600" in cookie
        assert "secure" not in cookie  # plain http here; https links get Secure
        overview = await browser.get("/portal/")
    assert overview.status_code == 200
    assert "$12.50" in overview.text and "Active." in overview.text
    # Billing pages are not kept in caches nor shown inside another site's frame.
    assert overview.headers["cache-control"] == "no-store"
    assert overview.headers["x-frame-options"] == "DENY"


async def test_an_expired_or_altered_link_is_refused_with_a_page_saying_so(
    stack: Stack, unique_id: str
) -> None:
    await signup(stack, unique_id)
    async with browser_client(stack) as browser:
        expired = await browser.get(link_made_ago(stack, unique_id, 11 * 60))
        assert expired.status_code == 410
        assert "This link has expired" in expired.text and COOKIE not in expired.headers.get(
            "set-cookie", ""
        )
        still_good = await browser.get(link_made_ago(stack, unique_id, 9 * 60))
        assert still_good.status_code == 303
    link = await portal_link(stack, unique_id)
    async with browser_client(stack) as browser:
        altered = await browser.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
        assert altered.status_code == 400 and "This link is not valid" in altered.text
        no_session = await browser.get("/portal/")
        assert no_session.status_code == 401 and "session has ended" in no_session.text


async def test_a_session_sees_and_changes_only_its_own_customer(
    stack: Stack, unique_id: str
) -> None:
    alice, bob = f"{unique_id}-a", f"{unique_id}-b"
    await signup(stack, alice)
    await signup(stack, bob)
    await grant(stack, bob, "99.00")
    status, bobs = await purchase(
        stack, bob, amount="20.00", payment_method=await card(stack, VISA)
    )
    assert status == 201, bobs
    async with open_portal(stack, alice) as browser:
        # Bob's purchase does not exist for Alice's session.
        peek = await browser.get(f"/portal/purchases/{bobs['id']}")
        assert peek.status_code == 404
        # Nothing in a URL or a body names the customer: every page is Alice's.
        overview = await browser.get("/portal/", params={"customer": bob})
        assert "$99.00" not in overview.text and "$0.00" in overview.text
        # A session cookie naming Bob, signed with anything but the server's secret.
        forged = URLSafeTimedSerializer("guessed-secret", salt=SESSION_SALT).dumps(
            {"customer": bob, "csrf": "x", "return_url": None}
        )
        browser.cookies.clear()
        browser.cookies.set(COOKIE, forged, path="/portal")
        assert (await browser.get("/portal/")).status_code == 401


async def test_a_post_without_the_csrf_token_changes_nothing(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    async with open_portal(stack, unique_id) as browser:
        refused = await browser.post(
            "/portal/purchases", json={"amount": "20.00"}, headers={"Accept": "application/json"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["type"] == "portal_refused"
        form = await browser.post(
            "/portal/auto-recharge",
            data={"enabled": "on", "threshold": "5", "recharge_to": "25", "csrf_token": "wrong"},
        )
        assert form.status_code == 403
    listed = await stack.http.get(f"/v1/customers/{unique_id}/purchases")
    assert listed.json() == []
    assert (await stack.http.get(f"/v1/customers/{unique_id}/auto-recharge")).status_code == 404


async def test_the_overview_says_when_auto_recharge_turned_itself_off(
    stack: Stack, unique_id: str
) -> None:
    await signup(stack, unique_id)
    saved = await stack.http.put(
        f"/v1/customers/{unique_id}/payment-method",
        json={"payment_method": await card(stack, DECLINES_CHARGES)},
    )
    assert saved.status_code == 200, saved.text
    enabled = await stack.http.put(
        f"/v1/customers/{unique_id}/auto-recharge",
        json={"enabled": True, "threshold": "5.00", "recharge_to": "25.00"},
    )
    assert enabled.status_code == 200, enabled.text
    await eventually(
        lambda: stack.http.get(f"/v1/customers/{unique_id}/auto-recharge"),
        lambda r: r.json()["status"] == "failed",
        timeout=60,
        what="auto-recharge to give up after its declined attempts",
    )
    async with open_portal(stack, unique_id) as browser:
        overview = await browser.get("/portal/")
    assert "Auto-recharge turned itself off" in overview.text
    assert "Your card was declined." in overview.text
    assert 'href="/portal/card">Fix my card</a>' in overview.text
    assert "Paused." in overview.text  # no credits: cut off


async def test_a_closed_account_still_opens_and_says_it_is_closed(
    stack: Stack, unique_id: str
) -> None:
    await signup(stack, unique_id)
    await grant(stack, unique_id, "4")
    closing = await stack.http.post(f"/v1/customers/{unique_id}/close", json={"reason": "bye"})
    assert closing.status_code == 202, closing.text
    await eventually(
        lambda: stack.http.get(f"/v1/customers/{unique_id}"),
        until=lambda r: r.json()["status"] == "closed",
        what="the account closed",
    )
    async with open_portal(stack, unique_id) as browser:
        overview = await browser.get("/portal/")
    assert overview.status_code == 200
    assert "Closed." in overview.text and "Your account is closed." in overview.text
    assert "Buy credits</a>" not in overview.text
    assert "$0.00" in overview.text  # the promotional credit was forfeited
