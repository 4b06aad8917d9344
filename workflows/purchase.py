"""PurchaseWorkflow (``purchase-{id}``): credits are granted only after Stripe says paid.

Started by ``CustomerWorkflow``'s ``purchase`` update. It opens the purchase, creates the
PaymentIntent (confirmed at once with a card, else its ``client_secret`` goes back to the
customer's browser), tells the customer workflow, then waits: for the webhook the API signals,
and, because webhooks get lost, on a backing-off poll. A webhook is only a trigger: the
PaymentIntent's status, read from Stripe, decides. Succeeded → one grant keyed by the purchase.
Failed, canceled or unpaid at the timeout → the PaymentIntent is canceled and the purchase
fails with Stripe's reason. One still ``processing`` cannot be canceled: if it succeeds
later, ``LatePaymentWorkflow`` grants it (from its webhook or the worker's reconciliation).
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.activity_calls import call

with workflow.unsafe.imports_passed_through():
    from activities.payments import CARD_DECLINED, PaymentActivities
    from messages.purchase import (
        CreateIntentInput,
        FailPurchaseInput,
        IntentView,
        OpenPurchaseInput,
        PaymentEvent,
        PurchaseInput,
        PurchaseProgress,
        PurchaseRef,
        PurchaseView,
    )

PAID = "succeeded"
# A PaymentIntent in one of these will not be paid without the customer doing something.
UNPAID_FINAL = frozenset({"canceled"})


def purchase_workflow_id(purchase_id: str) -> str:
    return f"purchase-{purchase_id}"


def declined_reason(err: ActivityError) -> str | None:
    """The decline message if the activity failed because the card was declined."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == CARD_DECLINED:
        return cause.message
    return None


@workflow.defn
class PurchaseWorkflow:
    @workflow.init
    def __init__(self, input: PurchaseInput) -> None:
        self.view = PurchaseView(
            id=input.purchase_id,
            status="pending",
            amount=input.amount,
            currency=input.currency,
            credits=input.credits,
        )
        self._webhooks: list[PaymentEvent] = []
        self._seen_events: set[str] = set()

    @workflow.run
    async def run(self, input: PurchaseInput) -> PurchaseView:
        await call(
            PaymentActivities.open_purchase,
            OpenPurchaseInput(
                purchase_id=input.purchase_id,
                kind="purchase",
                external_id=input.external_id,
                amount=input.amount,
                currency=input.currency,
                credits=input.credits,
                payment_method=input.payment_method,
                expires_at=input.expires_at,
                workflow_id=workflow.info().workflow_id,
            ),
        )
        try:
            intent = await call(
                PaymentActivities.create_payment_intent,
                CreateIntentInput(
                    purchase_id=input.purchase_id,
                    kind="purchase",
                    external_id=input.external_id,
                    stripe_customer_id=input.stripe_customer_id,
                    amount=input.amount,
                    currency=input.currency,
                    payment_method=input.payment_method,
                    attach_payment_method=input.attach_payment_method,
                    off_session=False,
                    idempotency_key=input.idempotency_key,
                    workflow_id=workflow.info().workflow_id,
                ),
            )
        except ActivityError as err:
            reason = declined_reason(err)
            if reason is None:
                raise
            return await self._fail(input, reason)
        self.view.payment_intent = intent.id
        self.view.client_secret = intent.client_secret
        await self._tell_customer()

        intent = await self._wait_until_settled(input, intent.id)
        if intent.status != PAID:
            # Cancel, so it cannot be paid later with nothing granted; it may have just been.
            intent = await call(PaymentActivities.cancel_payment_intent, intent.id)
        if intent.status == PAID:
            await call(PaymentActivities.grant_purchase, PurchaseRef(purchase_id=input.purchase_id))
            self.view.status = "granted"
            self.view.reason = None
            await self._tell_customer()
            return self.view
        return await self._fail(input, intent.failure or f"payment {intent.status}")

    async def _wait_until_settled(self, input: PurchaseInput, payment_intent: str) -> IntentView:
        """Until Stripe says paid or failed (or the timeout): check on each webhook, and
        poll on a doubling interval in case webhooks never come."""
        policy = input.policy
        deadline = workflow.now() + timedelta(seconds=policy.timeout_seconds)
        delay = timedelta(seconds=policy.poll_seconds)
        intent = IntentView(id=payment_intent, status="unknown")
        while True:
            left = deadline - workflow.now()
            if left <= timedelta(0):
                return intent
            heard = await self._webhook_or_timeout(min(delay, left))
            if not heard:
                delay = min(delay * 2, timedelta(seconds=policy.poll_max_seconds))
            self._webhooks.clear()
            intent = await call(PaymentActivities.get_payment_intent, payment_intent)
            if intent.status == PAID or intent.status in UNPAID_FINAL or intent.failure:
                return intent

    async def _webhook_or_timeout(self, timeout: timedelta) -> bool:
        try:
            await workflow.wait_condition(
                lambda: bool(self._webhooks), timeout=timeout, timeout_summary="payment poll"
            )
        except TimeoutError:
            return False
        return True

    async def _fail(self, input: PurchaseInput, reason: str) -> PurchaseView:
        await call(
            PaymentActivities.fail_purchase,
            FailPurchaseInput(purchase_id=input.purchase_id, reason=reason),
        )
        self.view.status = "failed"
        self.view.reason = reason
        await self._tell_customer()
        return self.view

    async def _tell_customer(self) -> None:
        parent = workflow.info().parent
        if parent is None:
            return
        handle = workflow.get_external_workflow_handle(parent.workflow_id)
        await handle.signal(
            "purchase_progress",
            PurchaseProgress(message_id=f"{self.view.id}:{self.view.status}", purchase=self.view),
        )

    @workflow.signal
    def payment_event(self, event: PaymentEvent) -> None:
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        self._webhooks.append(event)

    @workflow.query(name="state")
    def get_state(self) -> PurchaseView:
        return self.view
