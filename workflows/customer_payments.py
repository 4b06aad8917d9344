"""CustomerWorkflow's money in, as plain functions on its state: purchases, the saved card,
auto-recharge, refunds. ``workflows/customer.py`` declares the handlers that call them; the
async ones run holding its lock."""

import contextlib
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    WorkflowAlreadyStartedError,
)

from workflows import events
from workflows import search_attributes as sa
from workflows.activity_calls import call
from workflows.customer_children import start_child
from workflows.customer_log import record, remember
from workflows.purchase import PurchaseWorkflow, declined_reason, purchase_workflow_id
from workflows.recharge import RechargeWorkflow, recharge_workflow_id
from workflows.refusals import StateConflict, WorkflowBusy

with workflow.unsafe.imports_passed_through():
    from activities.payments import CARD_DECLINED, PaymentActivities
    from creditgate.events.catalogue import (
        AutoRechargeDisabled,
        AutoRechargeSucceeded,
        EventType,
        PurchaseFailed,
        PurchaseRefunded,
        PurchaseSucceeded,
    )
    from messages.customer import MAX_PURCHASES, AttachInput, CustomerState
    from messages.purchase import (
        PurchaseInput,
        PurchaseProgress,
        PurchaseRef,
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
# Runs from before it dropped a crossing that arrived while auto-recharge settings were saved.
KEEP_CROSSING_PATCH = "keep-crossing-during-settings-save-v1"
# Runs from before a repeated request for a purchase no longer kept in state read it back.
OLD_PURCHASE_PATCH = "repeat-of-a-trimmed-purchase-v1"

# -- purchases -------------------------------------------------------------------------------


async def start_purchase(state: CustomerState, request: PurchaseRequest) -> tuple[str, bool]:
    purchase_id = state.purchase_requests.get(request.request_id)
    created = purchase_id is None
    if purchase_id is None:
        purchase_id = f"pur_{workflow.uuid4().hex[:24]}"
        state.purchase_requests[request.request_id] = purchase_id
        _trim(state.purchase_requests)
        payment_method = request.payment_method or state.payment_method
        assert state.stripe_customer_id is not None
        await start_child(
            state,
            PurchaseWorkflow.run,
            PurchaseInput(
                purchase_id=purchase_id,
                external_id=state.profile.external_id,
                stripe_customer_id=state.stripe_customer_id,
                amount=request.amount,
                currency=request.currency,
                credits=request.credits,
                payment_method=payment_method,
                attach_payment_method=payment_method != state.payment_method,
                expires_at=request.expires_at,
                idempotency_key=f"cg-purchase-{workflow.uuid4()}",
                policy=request.policy,
            ),
            workflow_id=purchase_workflow_id(purchase_id),
            run_timeout=CHILD_RUN_TIMEOUT,
            kind="purchase",
            note=f"purchase {purchase_id}: {request.amount:f} {request.currency} "
            f"for {request.credits:f} credits",
        )
    return purchase_id, created


async def finished_purchase(purchase_id: str) -> PurchaseView | None:
    """A purchase read from the ledger if it has finished (granted or failed); None while it
    is pending, not stored yet (its workflow has just started) or for runs from before this
    lookup."""
    if not workflow.patched(OLD_PURCHASE_PATCH):
        return None
    stored = await call(PaymentActivities.find_purchase, PurchaseRef(purchase_id=purchase_id))
    return None if stored is None or stored.status == "pending" else stored


def validate_purchase(state: CustomerState, request: PurchaseRequest) -> None:
    require_open(state)
    if request.request_id in state.purchase_requests:
        return
    policy = request.policy
    if request.credits <= 0:
        raise ValueError("credits must be positive")
    if not policy.purchase_min <= request.amount <= policy.purchase_max:
        raise ValueError(
            f"amount {request.amount:f} {request.currency} is outside the allowed range "
            f"{policy.purchase_min:f}–{policy.purchase_max:f}"
        )


def on_purchase_progress(state: CustomerState, progress: PurchaseProgress) -> None:
    if not remember(state, progress.message_id):
        return
    view = progress.purchase
    state.purchases[view.id] = view
    _trim(state.purchases)
    facts = {
        "purchase_id": view.id,
        "amount": view.amount,
        "currency": view.currency,
        "credits": view.credits,
        "payment_intent": view.payment_intent,
    }
    if view.status == "granted":
        record(state, "purchase_granted", f"purchase {view.id}: {view.credits:f} granted")
        events.emit(
            state,
            EventType.purchase_succeeded,
            f"purchase.succeeded:{view.id}",
            PurchaseSucceeded.model_validate(facts),
        )
    elif view.status == "failed":
        record(state, "purchase_failed", f"purchase {view.id} failed: {view.reason}")
        events.emit(
            state,
            EventType.purchase_failed,
            f"purchase.failed:{view.id}",
            PurchaseFailed.model_validate({**facts, "reason": view.reason}),
        )


# -- the saved card --------------------------------------------------------------------------


async def attach(state: CustomerState, payment_method: str) -> None:
    """Callers hold the customer workflow's lock."""
    if payment_method == state.payment_method:
        return
    assert state.stripe_customer_id is not None
    try:
        await call(
            PaymentActivities.attach_payment_method,
            AttachInput(
                external_id=state.profile.external_id,
                stripe_customer_id=state.stripe_customer_id,
                payment_method=payment_method,
            ),
        )
    except ActivityError as err:
        reason = declined_reason(err)
        if reason is None:
            raise
        raise ApplicationError(reason, type=CARD_DECLINED) from None
    state.payment_method = payment_method
    record(state, "payment_method", f"saved card {payment_method}")
    if state.auto_recharge.in_flight is not None:
        # A recharge waiting to retry after a decline tries the new card now.
        recharge = workflow.get_external_workflow_handle(
            recharge_workflow_id(state.profile.external_id)
        )
        # It may have finished meanwhile; then there is nothing to wake.
        with contextlib.suppress(Exception):
            await recharge.signal(RechargeWorkflow.retry_now)


# -- auto-recharge ---------------------------------------------------------------------------


async def configure_auto_recharge(
    state: CustomerState, request: AutoRechargeRequest
) -> AutoRechargeState:
    if request.payment_method is not None:
        await attach(state, request.payment_method)
    wanted = AutoRechargeState(
        enabled=request.enabled,
        threshold=request.threshold,
        recharge_to=request.recharge_to,
        payment_method=request.payment_method or state.payment_method,
        status="enabled" if request.enabled else "disabled",
        retry_delays=request.policy.retry_delays,
    )
    crossings = state.threshold_crossings
    available = await _save_auto_recharge(state, wanted)
    # The recharge in flight is whatever it is now, after the await; a crossing the ledger
    # signalled meanwhile counts too: ``available`` was read before it.
    wanted.in_flight = state.auto_recharge.in_flight
    crossed = state.threshold_crossings != crossings and workflow.patched(KEEP_CROSSING_PATCH)
    wanted.wanted = wanted.enabled and (available <= wanted.threshold or crossed)
    state.auto_recharge = wanted
    record(
        state,
        "auto_recharge",
        f"auto-recharge {'enabled' if wanted.enabled else 'disabled'}: threshold "
        f"{wanted.threshold:f}, recharge to {wanted.recharge_to:f}",
    )
    return wanted


def validate_auto_recharge(state: CustomerState, request: AutoRechargeRequest) -> None:
    require_open(state)
    if not request.recharge_to > request.threshold >= 0:
        raise ValueError("auto-recharge needs recharge_to > threshold >= 0")
    if request.recharge_to > request.policy.recharge_max:
        raise ValueError(
            f"recharge_to {request.recharge_to:f} is above the limit "
            f"{request.policy.recharge_max:f}"
        )
    if request.enabled and not (request.payment_method or state.payment_method):
        raise ValueError(
            "auto-recharge needs a saved card: pass payment_method, or PUT it to "
            ".../payment-method first"
        )


async def _save_auto_recharge(state: CustomerState, settings: AutoRechargeState) -> Decimal:
    available = await call(
        PaymentActivities.save_auto_recharge,
        SaveAutoRechargeInput(
            external_id=state.profile.external_id,
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


def on_threshold_crossed(state: CustomerState) -> None:
    state.threshold_crossings += 1
    if state.auto_recharge.enabled:
        state.auto_recharge.wanted = True


def recharge_due(state: CustomerState) -> bool:
    ar = state.auto_recharge
    return ar.enabled and ar.wanted and ar.in_flight is None


async def start_recharge(state: CustomerState) -> None:
    """Called from the main loop only, holding the lock: at most one recharge in flight, by
    workflow id."""
    if not recharge_due(state):
        return  # a handler that held the lock changed the settings
    ar = state.auto_recharge
    ar.wanted = False
    assert state.stripe_customer_id is not None and ar.payment_method is not None
    recharge_id = f"rch_{workflow.uuid4().hex[:24]}"
    try:
        await start_child(
            state,
            RechargeWorkflow.run,
            RechargeInput(
                recharge_id=recharge_id,
                external_id=state.profile.external_id,
                stripe_customer_id=state.stripe_customer_id,
                payment_method=ar.payment_method,
                threshold=ar.threshold,
                recharge_to=ar.recharge_to,
                retry_delays=ar.retry_delays,
            ),
            workflow_id=recharge_workflow_id(state.profile.external_id),
            run_timeout=CHILD_RUN_TIMEOUT,
            kind="recharge_started",
            note=f"auto-recharge {recharge_id} started",
        )
    except WorkflowAlreadyStartedError:
        # One is running already (its finish signal clears ``in_flight``).
        ar.in_flight = "running"
        return
    ar.in_flight = recharge_id


async def on_recharge_finished(state: CustomerState, outcome: RechargeOutcome) -> None:
    if not remember(state, outcome.message_id):
        return
    ar = state.auto_recharge
    ar.in_flight = None  # at most one runs at a time, so this was it
    if outcome.status == "succeeded" and outcome.purchase is not None:
        p = outcome.purchase
        record(
            state,
            "recharged",
            f"auto-recharge {outcome.recharge_id}: charged {p.amount:f} {p.currency}, "
            f"granted {p.credits:f} (attempt {outcome.attempts})",
        )
        events.emit(
            state,
            EventType.auto_recharge_succeeded,
            f"auto_recharge.succeeded:{outcome.recharge_id}",
            AutoRechargeSucceeded(
                recharge_id=outcome.recharge_id,
                attempt=outcome.attempts,
                purchase_id=p.id,
                amount=p.amount,
                currency=p.currency,
                credits=p.credits,
                payment_intent=p.payment_intent,
            ),
        )
    elif outcome.status == "not_needed":
        record(state, "recharge_skipped", "auto-recharge not needed: above the threshold")
    else:
        reason = outcome.reason or "payment failed"
        record(
            state,
            "auto_recharge_disabled",
            f"auto-recharge disabled after {outcome.attempts} failed attempts: {reason}",
        )
        if ar.enabled:
            ar.enabled = False
            ar.wanted = False
            ar.status = "failed"
            ar.disabled_reason = reason
            events.emit(
                state,
                EventType.auto_recharge_disabled,
                f"auto_recharge.disabled:{outcome.recharge_id}",
                AutoRechargeDisabled(
                    recharge_id=outcome.recharge_id, attempts=outcome.attempts, reason=reason
                ),
            )
            await _save_auto_recharge(state, ar)


# -- refunds ---------------------------------------------------------------------------------


async def on_refund(state: CustomerState, notice: RefundNotice) -> None:
    if not remember(state, f"refund:{notice.event_id}"):
        return
    result = await call(
        PaymentActivities.refund_purchase,
        RefundInput(payment_intent=notice.payment_intent, amount_refunded=notice.amount_refunded),
    )
    if result is not None and result.credits > 0:
        record(
            state,
            "refund",
            f"refund of {result.purchase_id} ({result.refunded_amount:f} refunded in total): "
            f"{result.credits:f} credits clawed back, {result.charged:f} of them already spent",
        )
        events.emit(
            state,
            EventType.purchase_refunded,
            f"purchase.refunded:{notice.event_id}",
            PurchaseRefunded(
                purchase_id=result.purchase_id,
                refunded_amount=result.refunded_amount,
                credits=result.credits,
                charged=result.charged,
            ),
        )


def require_open(state: CustomerState) -> None:
    if not state.registered or state.stripe_customer_id is None:
        raise WorkflowBusy("the customer is still signing up; try again shortly")
    if state.status in ("closing", "closed"):
        raise StateConflict(f"the customer's account is {state.status}")


def _trim(mapping: dict[str, str] | dict[str, PurchaseView]) -> None:
    for key in list(mapping)[:-MAX_PURCHASES]:
        del mapping[key]
