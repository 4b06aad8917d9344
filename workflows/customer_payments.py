"""CustomerWorkflow's money-in handlers: purchases, the saved card, auto-recharge, refunds.

A mixin so ``workflows/customer.py`` stays readable; it uses the customer workflow's state
and helpers, declared below for the type checker.
"""

import asyncio
import contextlib
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows import search_attributes as sa
from workflows.activity_calls import call
from workflows.purchase import PurchaseWorkflow, declined_reason, purchase_workflow_id
from workflows.recharge import RechargeWorkflow, recharge_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.payments import CARD_DECLINED, PaymentActivities
    from messages.customer import MAX_PURCHASES, AttachInput, CustomerState, PaymentMethodRequest
    from messages.purchase import (
        PurchaseAnswer,
        PurchaseInput,
        PurchaseProgress,
        PurchaseRequest,
        PurchaseView,
        RefundInput,
        RefundNotice,
    )
    from messages.recharge import (
        AutoRechargeRequest,
        AutoRechargeState,
        RechargeInput,
        RechargeOutcome,
        SaveAutoRechargeInput,
    )

CHILD_RUN_TIMEOUT = timedelta(days=30)


class CustomerPayments:
    state: CustomerState
    _lock: asyncio.Lock

    def _record(self, kind: str, message: str) -> None:
        raise NotImplementedError

    def _remember(self, message_id: str) -> bool:
        raise NotImplementedError

    # -- purchases ---------------------------------------------------------------------------

    @workflow.update
    async def purchase(self, request: PurchaseRequest) -> PurchaseAnswer:
        """Start a purchase; answers once the PaymentIntent exists (or the card declined).
        A repeated request id answers with the purchase it made."""
        async with self._lock:
            purchase_id, created = await self._start_purchase(request)
        await workflow.wait_condition(lambda: purchase_id in self.state.purchases)
        return PurchaseAnswer(purchase=self.state.purchases[purchase_id], created=created)

    async def _start_purchase(self, request: PurchaseRequest) -> tuple[str, bool]:
        purchase_id = self.state.purchase_requests.get(request.request_id)
        created = purchase_id is None
        if purchase_id is None:
            purchase_id = f"pur_{workflow.uuid4().hex[:24]}"
            self.state.purchase_requests[request.request_id] = purchase_id
            _trim(self.state.purchase_requests)
            payment_method = request.payment_method or self.state.payment_method
            assert self.state.stripe_customer_id is not None
            await workflow.start_child_workflow(
                PurchaseWorkflow.run,
                PurchaseInput(
                    purchase_id=purchase_id,
                    external_id=self.state.profile.external_id,
                    stripe_customer_id=self.state.stripe_customer_id,
                    amount=request.amount,
                    currency=request.currency,
                    credits=request.credits,
                    payment_method=payment_method,
                    attach_payment_method=payment_method != self.state.payment_method,
                    expires_at=request.expires_at,
                    idempotency_key=f"cg-purchase-{workflow.uuid4()}",
                    policy=request.policy,
                ),
                id=purchase_workflow_id(purchase_id),
                # Purchases outlive this run when it continues as new.
                parent_close_policy=ParentClosePolicy.ABANDON,
                run_timeout=CHILD_RUN_TIMEOUT,
            )
            self._record(
                "purchase",
                f"purchase {purchase_id}: {request.amount:f} {request.currency} "
                f"for {request.credits:f} credits",
            )
        return purchase_id, created

    @purchase.validator
    def _validate_purchase(self, request: PurchaseRequest) -> None:
        self._require_open()
        if request.request_id in self.state.purchase_requests:
            return
        policy = request.policy
        if request.credits <= 0:
            raise ValueError("credits must be positive")
        if not policy.purchase_min <= request.amount <= policy.purchase_max:
            raise ValueError(
                f"amount {request.amount:f} {request.currency} is outside the allowed range "
                f"{policy.purchase_min:f}–{policy.purchase_max:f}"
            )

    @workflow.signal
    def purchase_progress(self, progress: PurchaseProgress) -> None:
        if not self._remember(progress.message_id):
            return
        view = progress.purchase
        self.state.purchases[view.id] = view
        _trim(self.state.purchases)
        if view.status == "granted":
            self._record("purchase_granted", f"purchase {view.id}: {view.credits:f} granted")
        elif view.status == "failed":
            self._record("purchase_failed", f"purchase {view.id} failed: {view.reason}")

    # -- the saved card ----------------------------------------------------------------------

    @workflow.update
    async def set_payment_method(self, request: PaymentMethodRequest) -> str:
        async with self._lock:
            await self._attach(request.payment_method)
        return request.payment_method

    @set_payment_method.validator
    def _validate_payment_method(self, request: PaymentMethodRequest) -> None:
        self._require_open()

    async def _attach(self, payment_method: str) -> None:
        """Callers hold ``_lock``."""
        if payment_method == self.state.payment_method:
            return
        assert self.state.stripe_customer_id is not None
        try:
            await call(
                PaymentActivities.attach_payment_method,
                AttachInput(
                    external_id=self.state.profile.external_id,
                    stripe_customer_id=self.state.stripe_customer_id,
                    payment_method=payment_method,
                ),
            )
        except ActivityError as err:
            reason = declined_reason(err)
            if reason is None:
                raise
            raise ApplicationError(reason, type=CARD_DECLINED) from None
        self.state.payment_method = payment_method
        self._record("payment_method", f"saved card {payment_method}")
        if self.state.auto_recharge.in_flight is not None:
            # A recharge waiting to retry after a decline tries the new card now.
            recharge = workflow.get_external_workflow_handle(
                recharge_workflow_id(self.state.profile.external_id)
            )
            # It may have finished meanwhile; then there is nothing to wake.
            with contextlib.suppress(Exception):
                await recharge.signal(RechargeWorkflow.retry_now)

    # -- auto-recharge -----------------------------------------------------------------------

    @workflow.update
    async def configure_auto_recharge(self, request: AutoRechargeRequest) -> AutoRechargeState:
        """Save the settings (attaching a new card first); enabling it while available is
        already at or below the threshold recharges at once."""
        async with self._lock:
            return await self._configure_auto_recharge(request)

    async def _configure_auto_recharge(self, request: AutoRechargeRequest) -> AutoRechargeState:
        if request.payment_method is not None:
            await self._attach(request.payment_method)
        wanted = AutoRechargeState(
            enabled=request.enabled,
            threshold=request.threshold,
            recharge_to=request.recharge_to,
            payment_method=request.payment_method or self.state.payment_method,
            status="enabled" if request.enabled else "disabled",
            retry_delays=request.policy.retry_delays,
        )
        available = await self._save_auto_recharge(wanted)
        # The recharge in flight is whatever it is now, after the await.
        wanted.in_flight = self.state.auto_recharge.in_flight
        wanted.wanted = wanted.enabled and available <= wanted.threshold
        self.state.auto_recharge = wanted
        self._record(
            "auto_recharge",
            f"auto-recharge {'enabled' if wanted.enabled else 'disabled'}: threshold "
            f"{wanted.threshold:f}, recharge to {wanted.recharge_to:f}",
        )
        return wanted

    @configure_auto_recharge.validator
    def _validate_auto_recharge(self, request: AutoRechargeRequest) -> None:
        self._require_open()
        if not request.recharge_to > request.threshold >= 0:
            raise ValueError("auto-recharge needs recharge_to > threshold >= 0")
        if request.recharge_to > request.policy.recharge_max:
            raise ValueError(
                f"recharge_to {request.recharge_to:f} is above the limit "
                f"{request.policy.recharge_max:f}"
            )
        if request.enabled and not (request.payment_method or self.state.payment_method):
            raise ValueError(
                "auto-recharge needs a saved card: pass payment_method, or PUT it to "
                ".../payment-method first"
            )

    async def _save_auto_recharge(self, settings: AutoRechargeState) -> Decimal:
        available = await call(
            PaymentActivities.save_auto_recharge,
            SaveAutoRechargeInput(
                external_id=self.state.profile.external_id,
                enabled=settings.enabled,
                threshold=settings.threshold,
                recharge_to=settings.recharge_to,
                payment_method=settings.payment_method,
                status=settings.status,
                disabled_reason=settings.disabled_reason,
            ),
        )
        workflow.upsert_search_attributes([sa.AUTO_RECHARGE.value_set(settings.status)])
        return available

    def _on_threshold_crossed(self) -> None:
        if self.state.auto_recharge.enabled:
            self.state.auto_recharge.wanted = True

    def _recharge_due(self) -> bool:
        ar = self.state.auto_recharge
        return ar.enabled and ar.wanted and ar.in_flight is None

    async def _start_recharge(self) -> None:
        """Called from the main loop only, holding ``_lock``: at most one recharge in flight,
        by workflow id."""
        if not self._recharge_due():
            return  # a handler that held the lock changed the settings
        ar = self.state.auto_recharge
        ar.wanted = False
        assert self.state.stripe_customer_id is not None and ar.payment_method is not None
        recharge_id = f"rch_{workflow.uuid4().hex[:24]}"
        workflow_id = recharge_workflow_id(self.state.profile.external_id)
        try:
            await workflow.start_child_workflow(
                RechargeWorkflow.run,
                RechargeInput(
                    recharge_id=recharge_id,
                    external_id=self.state.profile.external_id,
                    stripe_customer_id=self.state.stripe_customer_id,
                    payment_method=ar.payment_method,
                    threshold=ar.threshold,
                    recharge_to=ar.recharge_to,
                    retry_delays=ar.retry_delays,
                ),
                id=workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                run_timeout=CHILD_RUN_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            # One is running already (its finish signal clears ``in_flight``).
            ar.in_flight = "running"
            return
        ar.in_flight = recharge_id
        self._record("recharge_started", f"auto-recharge {recharge_id} started")

    @workflow.signal
    async def recharge_finished(self, outcome: RechargeOutcome) -> None:
        async with self._lock:
            await self._on_recharge_finished(outcome)

    async def _on_recharge_finished(self, outcome: RechargeOutcome) -> None:
        if not self._remember(outcome.message_id):
            return
        ar = self.state.auto_recharge
        ar.in_flight = None  # at most one runs at a time, so this was it
        if outcome.status == "succeeded" and outcome.purchase is not None:
            p = outcome.purchase
            self._record(
                "recharged",
                f"auto-recharge {outcome.recharge_id}: charged {p.amount:f} {p.currency}, "
                f"granted {p.credits:f} (attempt {outcome.attempts})",
            )
        elif outcome.status == "not_needed":
            self._record("recharge_skipped", "auto-recharge not needed: above the threshold")
        else:
            reason = outcome.reason or "payment failed"
            self._record(
                "auto_recharge_disabled",
                f"auto-recharge disabled after {outcome.attempts} failed attempts: {reason}",
            )
            if ar.enabled:
                ar.enabled = False
                ar.wanted = False
                ar.status = "failed"
                ar.disabled_reason = reason
                await self._save_auto_recharge(ar)

    # -- refunds -----------------------------------------------------------------------------

    @workflow.signal
    async def payment_refunded(self, notice: RefundNotice) -> None:
        async with self._lock:
            await self._on_refund(notice)

    async def _on_refund(self, notice: RefundNotice) -> None:
        if not self._remember(f"refund:{notice.event_id}"):
            return
        result = await call(
            PaymentActivities.refund_purchase,
            RefundInput(
                payment_intent=notice.payment_intent, amount_refunded=notice.amount_refunded
            ),
        )
        if result is not None and result.credits > 0:
            self._record(
                "refund",
                f"refund of {result.purchase_id} ({result.refunded_amount:f} refunded in total): "
                f"{result.credits:f} credits clawed back, {result.charged:f} of them already spent",
            )

    # -- helpers -----------------------------------------------------------------------------

    def _require_open(self) -> None:
        if not self.state.registered or self.state.stripe_customer_id is None:
            raise ValueError("the customer is still signing up; try again shortly")
        if self.state.status == "closed":
            raise ValueError("the customer is closed")


def _trim(mapping: dict[str, str] | dict[str, PurchaseView]) -> None:
    for key in list(mapping)[:-MAX_PURCHASES]:
        del mapping[key]
