"""RechargeWorkflow (``recharge-{external_id}``): one auto-recharge, with retries.

The customer workflow starts it when available falls to the threshold; its id makes it at
most one in flight per customer. Each attempt prices the shortfall now (nothing to do if
available is back above the threshold), charges the saved card off-session with its own
idempotency key, and grants on success. A decline, or a 3-D Secure ``requires_action``
(nobody is there to authenticate an off-session charge), waits out the next delay of the
schedule and tries again; after the last, the customer workflow disables auto-recharge.
"""

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import events
from workflows.activity_calls import call
from workflows.purchase import PAID, declined_reason

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from creditgate.events.catalogue import AutoRechargeFailed, EventType
    from messages.purchase import CreateIntentInput, FailPurchaseInput, PurchaseRef, PurchaseView
    from messages.recharge import (
        PrepareRechargeInput,
        RechargeInput,
        RechargeOutcome,
        RechargeResult,
        RechargeState,
        RechargeTicket,
    )

AUTHENTICATION_REQUIRED = (
    "the card needs 3-D Secure authentication, which an off-session charge cannot do "
    "(authentication_required)"
)


def recharge_workflow_id(external_id: str) -> str:
    return f"recharge-{external_id}"


@workflow.defn
class RechargeWorkflow:
    @workflow.init
    def __init__(self, input: RechargeInput) -> None:
        self.state = RechargeState()
        self._retry_now = False

    @workflow.run
    async def run(self, input: RechargeInput) -> RechargeOutcome:
        attempts = len(input.retry_delays) + 1
        outcome: RechargeOutcome | None = None
        for attempt in range(1, attempts + 1):
            self.state.attempt = attempt
            ticket = await call(
                PaymentActivities.prepare_recharge,
                PrepareRechargeInput(
                    purchase_id=f"{input.recharge_id}-{attempt}",
                    external_id=input.external_id,
                    threshold=input.threshold,
                    recharge_to=input.recharge_to,
                    payment_method=input.payment_method,
                    workflow_id=workflow.info().workflow_id,
                ),
            )
            if ticket is None:
                outcome = self._outcome(input, "not_needed", attempt)
                break
            view = await self._charge(input, ticket, attempt)
            if view.status == "granted":
                outcome = self._outcome(input, "succeeded", attempt, purchase=view)
                break
            self.state.last_reason = view.reason
            delay = input.retry_delays[attempt - 1] if attempt < attempts else None
            await events.record(
                input.external_id,
                EventType.auto_recharge_failed,
                f"auto_recharge.failed:{input.recharge_id}-{attempt}",
                AutoRechargeFailed(
                    recharge_id=input.recharge_id,
                    attempt=attempt,
                    attempts=attempts,
                    reason=view.reason,
                    next_attempt_at=None
                    if delay is None
                    else workflow.now() + timedelta(seconds=delay),
                ),
            )
            if delay is not None:
                await self._wait_to_retry(delay, attempt, attempts)
        if outcome is None:
            outcome = self._outcome(input, "failed", attempts, reason=self.state.last_reason)
        self.state.outcome = outcome
        await self._tell_customer(outcome)
        return outcome

    async def _charge(
        self, input: RechargeInput, ticket: RechargeTicket, attempt: int
    ) -> PurchaseView:
        key = self.state.idempotency_keys.setdefault(attempt, f"cg-recharge-{workflow.uuid4()}")
        ref = PurchaseRef(purchase_id=ticket.purchase_id)
        try:
            intent = await call(
                PaymentActivities.create_payment_intent,
                CreateIntentInput(
                    purchase_id=ticket.purchase_id,
                    kind="recharge",
                    external_id=input.external_id,
                    stripe_customer_id=input.stripe_customer_id,
                    amount=ticket.amount,
                    currency=ticket.currency,
                    payment_method=ticket.payment_method or input.payment_method,
                    attach_payment_method=False,
                    off_session=True,
                    idempotency_key=key,
                    workflow_id=workflow.info().workflow_id,
                ),
            )
        except ActivityError as err:
            reason = declined_reason(err)
            if reason is None:
                raise
        else:
            if intent.status != PAID:
                intent = await call(PaymentActivities.cancel_payment_intent, intent.id)
            if intent.status == PAID:
                await call(PaymentActivities.grant_purchase, ref)
                return await call(PaymentActivities.read_purchase, ref)
            reason = (
                AUTHENTICATION_REQUIRED
                if intent.status in ("requires_action", "canceled") and not intent.failure
                else intent.failure or f"payment {intent.status}"
            )
        return await call(
            PaymentActivities.fail_purchase,
            FailPurchaseInput(purchase_id=ticket.purchase_id, reason=reason),
        )

    def _outcome(
        self,
        input: RechargeInput,
        status: RechargeResult,
        attempts: int,
        *,
        reason: str | None = None,
        purchase: PurchaseView | None = None,
    ) -> RechargeOutcome:
        return RechargeOutcome(
            message_id=f"recharge:{input.recharge_id}",
            recharge_id=input.recharge_id,
            status=status,
            attempts=attempts,
            reason=reason,
            purchase=purchase,
        )

    async def _tell_customer(self, outcome: RechargeOutcome) -> None:
        parent = workflow.info().parent
        if parent is not None:
            handle = workflow.get_external_workflow_handle(parent.workflow_id)
            await handle.signal("recharge_finished", outcome)

    async def _wait_to_retry(self, seconds: float, attempt: int, attempts: int) -> None:
        """Wait out the schedule's delay, or less: a newly saved card retries at once."""
        self._retry_now = False
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._retry_now,
                timeout=timedelta(seconds=seconds),
                timeout_summary=f"retry auto-recharge (attempt {attempt + 1} of {attempts})",
            )

    @workflow.signal
    def retry_now(self) -> None:
        """The customer saved another card: try it without waiting."""
        self._retry_now = True

    @workflow.query(name="state")
    def get_state(self) -> RechargeState:
        return self.state
