"""Test doubles of every activity CustomerWorkflow and its payment children call, for workflow
unit tests on Temporal's time-skipping test server (the workflows themselves are the real ones).

Each double answers like a working ledger and Stripe by default (a card charge succeeds,
available is zero) and logs its inputs. A test scripts what the next calls of an activity do
(``doubles.script("create_payment_intent", declined(...), ...)``: a value to return, an
exception to raise) or holds them at a gate until it opens it.
"""

import asyncio
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.payments import CARD_DECLINED
from messages.customer import (
    AttachInput,
    CreateStripeCustomerInput,
    ExpireGrantsInput,
    ExpireGrantsResult,
    RegisterCustomerInput,
    RegisteredCustomer,
)
from messages.events import RecordedEvent, RecordEventInput
from messages.period import BillingSchedule
from messages.purchase import (
    CreateIntentInput,
    FailPurchaseInput,
    GrantedPurchase,
    IntentView,
    OpenPurchaseInput,
    PurchaseRef,
    PurchaseView,
    RefundInput,
    RefundResult,
)
from messages.recharge import PrepareRechargeInput, RechargeTicket, SaveAutoRechargeInput

DECLINE = "Your card was declined. (card_declined)"
RECHARGE_AMOUNT = Decimal("20.00")


def declined(reason: str = DECLINE) -> ApplicationError:
    """What the real payment activities raise for a declined card."""
    return ApplicationError(reason, type=CARD_DECLINED, non_retryable=True)


@dataclass
class Gate:
    """Holds the calls of one activity until the test opens it."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def pass_through(self) -> None:
        self.entered.set()
        await self.opened.wait()


@dataclass
class Doubles:
    calls: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    scripted: dict[str, deque[Any]] = field(default_factory=lambda: defaultdict(deque))
    gates: dict[str, Gate] = field(default_factory=dict)
    # What the fake ledger holds: purchase rows and the available balance.
    purchases: dict[str, PurchaseView] = field(default_factory=dict)
    available: Decimal = Decimal(0)
    # The last sequence of the fake event stream.
    sequence: int = 0

    def script(self, name: str, *outcomes: Any) -> None:
        """The next calls of ``name`` return (or raise) these, in order; then the default."""
        self.scripted[name].extend(outcomes)

    def gate(self, name: str) -> Gate:
        self.gates[name] = Gate()
        return self.gates[name]

    def count(self, name: str) -> int:
        return len(self.calls[name])

    async def _answer(self, name: str, input: Any, default: Callable[[], Any]) -> Any:
        self.calls[name].append(input)
        gate = self.gates.get(name)
        if gate is not None:
            await gate.pass_through()
        if self.scripted[name]:
            outcome = self.scripted[name].popleft()
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return default()

    def _set_status(self, purchase_id: str, **changes: Any) -> PurchaseView:
        view = self.purchases[purchase_id].model_copy(update=changes)
        self.purchases[purchase_id] = view
        return view

    # -- customers and the ledger ---------------------------------------------------------------

    @activity.defn(name="create_stripe_customer")
    async def create_stripe_customer(self, input: CreateStripeCustomerInput) -> str:
        return str(await self._answer("create_stripe_customer", input, lambda: "cus_double"))

    @activity.defn(name="register_customer")
    async def register_customer(self, input: RegisterCustomerInput) -> RegisteredCustomer:
        result: RegisteredCustomer = await self._answer(
            "register_customer",
            input,
            lambda: RegisteredCustomer(customer_id=1, status="active", entitled=False),
        )
        return result

    @activity.defn(name="billing_schedule")
    async def billing_schedule(self, external_id: str) -> BillingSchedule:
        # A monthly period opened now: its end is far beyond what any unit test skips.
        started = activity.info().started_time
        result: BillingSchedule = await self._answer(
            "billing_schedule",
            external_id,
            lambda: BillingSchedule(
                anchor=started - timedelta(seconds=1),
                every=1,
                unit="month",
                grace_seconds=3600,
                billing="prepaid",
                current_index=0,
            ),
        )
        return result

    @activity.defn(name="expire_grants")
    async def expire_grants(self, input: ExpireGrantsInput) -> ExpireGrantsResult:
        result: ExpireGrantsResult = await self._answer("expire_grants", input, ExpireGrantsResult)
        return result

    # -- purchases ------------------------------------------------------------------------------

    @activity.defn(name="open_purchase")
    async def open_purchase(self, input: OpenPurchaseInput) -> PurchaseView:
        def opened() -> PurchaseView:
            view = PurchaseView(
                id=input.purchase_id,
                status="pending",
                amount=input.amount,
                currency=input.currency,
                credits=input.credits,
            )
            return self.purchases.setdefault(input.purchase_id, view)

        result: PurchaseView = await self._answer("open_purchase", input, opened)
        return result

    @activity.defn(name="create_payment_intent")
    async def create_payment_intent(self, input: CreateIntentInput) -> IntentView:
        # With a card the PaymentIntent is confirmed at once; without one it waits for it.
        status = "succeeded" if input.payment_method else "requires_payment_method"
        intent = f"pi_{input.idempotency_key[-12:]}"
        result: IntentView = await self._answer(
            "create_payment_intent",
            input,
            lambda: IntentView(id=intent, status=status, client_secret=f"{intent}_secret"),
        )
        self._set_status(input.purchase_id, payment_intent=result.id)
        return result

    @activity.defn(name="get_payment_intent")
    async def get_payment_intent(self, payment_intent: str) -> IntentView:
        result: IntentView = await self._answer(
            "get_payment_intent",
            payment_intent,
            lambda: IntentView(id=payment_intent, status="succeeded"),
        )
        return result

    @activity.defn(name="cancel_payment_intent")
    async def cancel_payment_intent(self, payment_intent: str) -> IntentView:
        result: IntentView = await self._answer(
            "cancel_payment_intent",
            payment_intent,
            lambda: IntentView(id=payment_intent, status="canceled"),
        )
        return result

    @activity.defn(name="grant_purchase")
    async def grant_purchase(self, input: PurchaseRef) -> GrantedPurchase:
        def grant() -> GrantedPurchase:
            view = self._set_status(input.purchase_id, status="granted")
            return GrantedPurchase(grant_id=len(self.purchases), credits=view.credits, created=True)

        result: GrantedPurchase = await self._answer("grant_purchase", input, grant)
        return result

    @activity.defn(name="fail_purchase")
    async def fail_purchase(self, input: FailPurchaseInput) -> PurchaseView:
        result: PurchaseView = await self._answer(
            "fail_purchase",
            input,
            lambda: self._set_status(input.purchase_id, status="failed", reason=input.reason),
        )
        return result

    @activity.defn(name="read_purchase")
    async def read_purchase(self, input: PurchaseRef) -> PurchaseView:
        result: PurchaseView = await self._answer(
            "read_purchase", input, lambda: self.purchases[input.purchase_id]
        )
        return result

    @activity.defn(name="find_purchase")
    async def find_purchase(self, input: PurchaseRef) -> PurchaseView | None:
        result: PurchaseView | None = await self._answer(
            "find_purchase", input, lambda: self.purchases.get(input.purchase_id)
        )
        return result

    @activity.defn(name="refund_purchase")
    async def refund_purchase(self, input: RefundInput) -> RefundResult | None:
        result: RefundResult | None = await self._answer("refund_purchase", input, lambda: None)
        return result

    # -- the saved card and auto-recharge -------------------------------------------------------

    @activity.defn(name="prepare_recharge")
    async def prepare_recharge(self, input: PrepareRechargeInput) -> RechargeTicket | None:
        def ticket() -> RechargeTicket | None:
            if self.available > input.threshold:
                return None
            self.purchases[input.purchase_id] = PurchaseView(
                id=input.purchase_id,
                kind="recharge",
                status="pending",
                amount=RECHARGE_AMOUNT,
                currency="usd",
                credits=RECHARGE_AMOUNT,
            )
            return RechargeTicket(
                purchase_id=input.purchase_id,
                amount=RECHARGE_AMOUNT,
                currency="usd",
                credits=RECHARGE_AMOUNT,
                available=self.available,
                payment_method=input.payment_method,
            )

        result: RechargeTicket | None = await self._answer("prepare_recharge", input, ticket)
        return result

    @activity.defn(name="attach_payment_method")
    async def attach_payment_method(self, input: AttachInput) -> None:
        await self._answer("attach_payment_method", input, lambda: None)

    @activity.defn(name="save_auto_recharge")
    async def save_auto_recharge(self, input: SaveAutoRechargeInput) -> Decimal:
        available = self.available  # read when the settings are stored, as the ledger does
        result: Decimal = await self._answer("save_auto_recharge", input, lambda: available)
        return result

    @activity.defn(name="record_event")
    async def record_event(self, input: RecordEventInput) -> RecordedEvent:
        self.sequence += 1
        recorded = RecordedEvent(event_id=f"evt_double_{self.sequence}", sequence=self.sequence)
        result: RecordedEvent = await self._answer("record_event", input, lambda: recorded)
        return result

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.record_event,
            self.create_stripe_customer,
            self.register_customer,
            self.billing_schedule,
            self.expire_grants,
            self.open_purchase,
            self.create_payment_intent,
            self.get_payment_intent,
            self.cancel_payment_intent,
            self.grant_purchase,
            self.fail_purchase,
            self.find_purchase,
            self.read_purchase,
            self.refund_purchase,
            self.prepare_recharge,
            self.attach_payment_method,
            self.save_auto_recharge,
        ]
