"""``creditgate demo``: one customer's whole lifecycle, narrated, against a running stack.

Run it against what ``make run`` started. Every step checks what it claims (and stops with
a non-zero exit if it does not hold) and says where to look. It talks to the API over HTTP
like any client, and to localstripe only to make test cards (what Stripe.js does in a
browser).
"""

import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from creditgate.infra.settings import Settings

T = TypeVar("T")
VISA = "4242424242424242"
DECLINED_AT_ATTACH = "4000000000000002"
# Attaches to the customer; every charge is declined (the PaymentIntent really fails).
DECLINES_CHARGES = "4000000000000341"
STEPS = 10
PERIOD_SECONDS = 75
TOKEN_PRICE = Decimal("0.001")
# The one meter of ``token_plan``: the sum of the usage events' ``count``.
TOKENS_METER = {
    "code": "tokens",
    "event_type": "tokens",
    "aggregation": "sum",
    "value_property": "count",
}


def token_plan(code: str, name: str, **settings: Any) -> dict[str, Any]:
    """A plan body with ``TOKENS_METER`` at ``TOKEN_PRICE`` USD per token; ``settings`` adds
    e.g. ``period`` and ``grace_seconds``."""
    return {
        "code": code,
        "name": name,
        "currency": "USD",
        **settings,
        "meters": [TOKENS_METER],
        "prices": [{"meter": "tokens", "model": "per_unit", "unit_amount": str(TOKEN_PRICE)}],
    }


def card_form(number: str) -> dict[str, str]:
    """The form that makes a test card (``POST /v1/payment_methods``), as Stripe.js would."""
    return {
        "type": "card",
        "card[number]": number,
        "card[exp_month]": "12",
        "card[exp_year]": "2034",
        "card[cvc]": "123",
    }


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api = f"http://{settings.api_host}:{settings.api_port}"
        self.ui = f"http://localhost:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
        self.http = httpx.Client(
            base_url=self.api,
            headers={"Authorization": f"Bearer {settings.api_key}"},
            timeout=60,
        )
        self.stripe = httpx.Client(
            base_url=settings.stripe_api_base, auth=(settings.stripe_api_key, ""), timeout=30
        )
        suffix = uuid.uuid4().hex[:6]
        self.plan = f"demo-{suffix}"
        self.customer = f"demo-{suffix}"
        self.step = 0

    # -- narration -------------------------------------------------------------------------

    def title(self, text: str) -> None:
        self.step += 1
        print(f"\n[{self.step}/{STEPS}] {text}", flush=True)

    def say(self, text: str) -> None:
        print(f"      {text}", flush=True)

    def look(self, what: str, where: str) -> None:
        print(f"      → {what}: {where}", flush=True)

    def wait(
        self, what: str, probe: Callable[[], T], until: Callable[[T], bool], timeout: float
    ) -> T:
        deadline = time.monotonic() + timeout
        live = sys.stdout.isatty()  # redraw a spinner on a terminal; one line in a log
        if not live:
            print(f"      waiting for {what} …", flush=True)
        dots = 0
        while True:
            value = probe()
            if until(value):
                if live:
                    print("\r" + " " * 70 + "\r", end="", flush=True)
                return value
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")
            if live:
                dots = dots % 3 + 1
                print(f"\r      waiting for {what}{'.' * dots}   ", end="", flush=True)
            time.sleep(0.5)

    # -- HTTP --------------------------------------------------------------------------------

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code != expect:
            raise DemoFailed(
                f"{method} {path}: expected {expect}, got {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response.json()

    def card(self, number: str) -> str:
        response = self.stripe.post("/v1/payment_methods", data=card_form(number))
        if response.status_code != 200:
            raise DemoFailed(f"localstripe refused a test card: {response.text[:200]}")
        pm: str = response.json()["id"]
        return pm

    def buy(self, card_number: str, expect: int) -> Any:
        """Buy 5.00 USD of credits with a new test card."""
        return self.call(
            "POST",
            f"/v1/customers/{self.customer}/purchases",
            expect,
            json={"amount": "5.00", "payment_method": self.card(card_number)},
        )

    def tokens(self, event_id: str, count: int) -> dict[str, Any]:
        return {
            "id": event_id,
            "customer": self.customer,
            "event_type": "tokens",
            "properties": {"count": count},
        }

    def balance(self) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/v1/customers/{self.customer}/balance", 200)
        return found

    def purchases(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call(
            "GET", f"/v1/customers/{self.customer}/purchases", 200
        )
        return found

    # -- the story ---------------------------------------------------------------------------

    def run(self) -> None:
        print(f"Creditgate demo against {self.api} (Temporal UI {self.ui.split('/namespaces')[0]})")
        self.plan_with_token_pricing()
        self.sign_up()
        self.declined_purchase()
        self.paid_purchase()
        self.burn_down()
        self.auto_recharge()
        self.grant_expiry()
        self.period_close()
        self.plan_version()
        self.title("Done")
        self.events_told()
        self.portal_link()
        self.say("Every step held. Check the invariants over everything: creditgate check")

    def events_told(self) -> None:
        page = self.call("GET", f"/v1/customers/{self.customer}/events?limit=500", 200)
        told = page["events"]
        self.say(
            f"{len(told)} events told to the product (signed webhooks, or GET .../events), "
            "in order: " + ", ".join(f"#{e['sequence']} {e['type']}" for e in told)
        )
        self.look("the events", f"{self.api}/v1/customers/{self.customer}/events")
        self.say("watch them arrive as they happen: creditgate listen")

    def portal_link(self) -> None:
        link = self.call("POST", f"/v1/customers/{self.customer}/portal-sessions", 201, json={})
        self.say("the customer's own view: balance, usage, statements, buying credits, the card")
        until = link["expires_at"][11:19]
        self.look(f"customer portal (the link works until {until} UTC)", link["url"])

    def plan_with_token_pricing(self) -> None:
        self.title("A plan: tokens at 0.001 USD each, billed in 75-second periods")
        body = token_plan(
            self.plan,
            "Demo tokens",
            period={"every": PERIOD_SECONDS, "unit": "second"},
            grace_seconds=2,
        )
        plan = self.call("POST", "/v1/plans", 201, json=body)
        self.say(f"plan {plan['code']} version {plan['version']}")
        self.look("plan", f"{self.api}/v1/plans/{self.plan}")

    def sign_up(self) -> None:
        self.title(f"Sign-up: customer {self.customer}")
        body = {
            "external_id": self.customer,
            "name": "Demo",
            "email": "demo@example.com",
            "plan": self.plan,
        }
        customer = self.call("POST", "/v1/customers", 201, json=body)
        self.signed_up_at = datetime.now(UTC)
        self.say(f"Stripe customer {customer['stripe_customer_id']}, status {customer['status']}")
        self.look("its workflow", f"{self.ui}/customer-{self.customer}")

    def declined_purchase(self) -> None:
        self.title("A purchase with a card that declines (4000 0000 0000 0002)")
        error = self.buy(DECLINED_AT_ATTACH, 402)["error"]
        if error["type"] != "card_declined" or self.balance()["available"] != "0":
            raise DemoFailed(f"expected a decline and no credits, got {error}")
        self.say(f"402 {error['type']}: {error['message']}; balance still 0")

    def paid_purchase(self) -> None:
        self.title("A paid purchase: credits only once Stripe's webhook says succeeded")
        bought = self.buy(VISA, 201)
        self.say(
            f"purchase {bought['id']} is {bought['status']} "
            f"(PaymentIntent {bought['payment_intent']})"
        )
        self.look("its workflow", f"{self.ui}/purchase-{bought['id']}")
        self.wait(
            "the payment_intent.succeeded webhook",
            lambda: self.call("GET", f"/v1/purchases/{bought['id']}", 200),
            lambda p: p["status"] == "granted",
            60,
        )
        self.say(f"granted: available {self.balance()['available']} USD")

    def burn_down(self) -> None:
        self.title("Usage burns the balance down live; at zero the customer is cut off")
        n = 0
        while True:
            n += 1
            [result] = self.call(
                "POST", "/v1/events", 200,
                json={"events": [self.tokens(f"burn-{n}", 600)]},
            )["results"]  # fmt: skip
            left = Decimal(result["balance_after"])
            bar = "█" * max(0, int(left * 4))
            live = sys.stdout.isatty()
            print(
                f"{chr(13) if live else ''}      event {n:2d}: cost {result['cost']}, "
                f"balance {left:>5}  {bar:<20}",
                end="" if live else "\n",
                flush=True,
            )
            if left <= 0:
                break
            time.sleep(0.2)
        if sys.stdout.isatty():
            print()
        customer = self.call("GET", f"/v1/customers/{self.customer}", 200)
        if customer["status"] != "cut_off" or customer["balance"]["entitled"]:
            raise DemoFailed(f"expected cut_off at zero, got {customer['status']}")
        self.say(
            f"cut off in the same transaction (debt {customer['balance']['debt']}): "
            f"status {customer['status']}"
        )
        self.look("CreditgateStatus in the UI", f"{self.ui}?query=CreditgateStatus%3D%22cut_off%22")

    def auto_recharge(self) -> None:
        self.title("Auto-recharge to 6.00 below 1.00: a declining card, then a good one")
        bad = self.card(DECLINES_CHARGES)
        self.call(
            "PUT",
            f"/v1/customers/{self.customer}/payment-method",
            200,
            json={"payment_method": bad},
        )
        self.call(
            "PUT", f"/v1/customers/{self.customer}/auto-recharge", 200,
            json={"enabled": True, "threshold": "1.00", "recharge_to": "6.00"},
        )  # fmt: skip
        self.look("the recharge", f"{self.ui}/recharge-{self.customer}")
        failed = self.wait(
            "the first attempt",
            lambda: [p for p in self.purchases() if p["kind"] == "recharge"],
            lambda found: any(p["status"] == "failed" for p in found),
            60,
        )
        self.say(f"attempt 1 declined: {failed[0]['reason']}")
        good = self.card(VISA)
        self.call(
            "PUT",
            f"/v1/customers/{self.customer}/payment-method",
            200,
            json={"payment_method": good},
        )
        self.say("saved a good card: the recharge retries with it at once")
        self.wait(
            "the recharge",
            lambda: [p for p in self.purchases() if p["kind"] == "recharge"],
            lambda found: any(p["status"] == "granted" for p in found),
            60,
        )
        balance = self.wait("the balance", self.balance, lambda b: Decimal(b["available"]) >= 1, 30)
        self.say(f"recharged: available {balance['available']}, entitled {balance['entitled']}")

    def grant_expiry(self) -> None:
        self.title("A promotional grant that expires in 5 seconds")
        expires = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
        grant = self.call(
            "POST", f"/v1/customers/{self.customer}/grants", 201,
            json={"amount": "0.25", "priority": 1, "expires_at": expires, "reason": "demo promo"},
        )  # fmt: skip
        self.wait(
            "the workflow's expiry timer",
            lambda: self.call("GET", f"/v1/customers/{self.customer}/ledger", 200)["data"],
            lambda entries: any(
                e["kind"] == "expiry" and e["grant_id"] == grant["id"] for e in entries
            ),
            60,
        )
        self.say(f"grant {grant['id']} expired: what remained of it left the balance")

    def period_close(self) -> None:
        self.title("The period closes into a statement")
        statements = self.wait(
            "the period to end and close",
            lambda: self.call("GET", f"/v1/customers/{self.customer}/statements", 200)["data"],
            bool,
            PERIOD_SECONDS + 90,
        )
        s = statements[-1]
        self.say(
            f"statement {s['number']}: opening {s['opening_balance']}, grants {s['grants']}, "
            f"usage {s['usage_debited']}, expired {s['expired']}, true-up {s['true_up']}, "
            f"closing {s['closing_balance']}, due {s['amount_due']} {s['currency']}"
        )
        self.look(
            "printable", f"{self.api}/v1/customers/{self.customer}/statements/{s['number']}/html"
        )
        self.look("its workflow", f"{self.ui}/period-{self.customer}-0")

    def plan_version(self) -> None:
        self.title("A cheaper plan version: simulated on real usage, then migrated")
        body = self.call("GET", f"/v1/plans/{self.plan}", 200)
        cheaper = {
            k: body[k] for k in ("code", "name", "currency", "meters", "period", "grace_seconds")
        }
        cheaper["prices"] = [{"meter": "tokens", "model": "per_unit", "unit_amount": "0.0008"}]
        version = self.call("POST", f"/v1/plans/{self.plan}/versions", 201, json=cheaper)["version"]
        window = {
            "version": version,
            "from": self.signed_up_at.isoformat(),
            "to": datetime.now(UTC).isoformat(),
        }
        totals = self.call("POST", f"/v1/plans/{self.plan}/simulate", 200, json=window)["totals"]
        self.say(
            f"on the same usage: {totals['current']} now, {totals['simulated']} on "
            f"v{version} ({totals['difference']})"
        )
        migration = self.call(
            "POST", f"/v1/plans/{self.plan}/migrate", 202,
            json={"from_version": 1, "to_version": version, "effective": "now"},
        )  # fmt: skip
        self.look("the migration", f"{self.ui}/{migration['workflow_id']}")
        done = self.wait(
            "the migration",
            lambda: self.call("GET", f"/v1/plans/{self.plan}/migrations/{migration['id']}", 200),
            lambda m: m["status"] != "running",
            60,
        )
        if done["status"] != "completed" or done["moved"] != 1:
            raise DemoFailed(f"migration ended {done['status']}, moved {done['moved']}")
        self.say(f"moved {done['moved']} customer to version {version}")


def run_demo(settings: Settings) -> int:
    demo = Demo(settings)
    try:
        demo.run()
    except (DemoFailed, httpx.HTTPError) as err:
        print(f"\ncreditgate demo: step {demo.step} failed: {err}", file=sys.stderr)
        return 1
    return 0
