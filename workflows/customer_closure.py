"""CustomerWorkflow's account closure, as plain functions on its state (docs/operators.md).

The ``close_account`` update marks the customer ``closing`` (usage, holds, purchases and
grants refused from that commit on) and stores a ``ClosureState``; the main loop then runs
one step at a time, holding the workflow's lock, in this order:

``payments``  wait for purchases and an auto-recharge already in flight to end;
``holds``     wait for open holds to be captured or to expire (or release them at once);
``statement`` close the open period now into the final statement, and its collection;
``refunds``   refund each purchase's unspent credits to its card, purchase by purchase;
``forfeit``   void the credit that is left (promotional, adjustments, sub-cent remainders);
``card``      detach the saved card, mark the customer ``closed``; the workflow completes.

The state says which step is next and carries across continue-as-new, and every step's
activity is safe to run again, so a closure resumes where it stopped, whatever crashed.
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import customer_operators as operators
from workflows import customer_periods as periods
from workflows import events
from workflows import search_attributes as sa
from workflows.activity_calls import call
from workflows.customer_log import record
from workflows.period_close import PeriodCloseWorkflow, period_workflow_id
from workflows.recharge import RechargeWorkflow, recharge_workflow_id
from workflows.refusals import StateConflict, WorkflowBusy

with workflow.unsafe.imports_passed_through():
    from activities.closure import ClosureActivities
    from creditgate.events.catalogue import EventType, PurchaseRefunded
    from messages.closure import (
        BeginClosureInput,
        CloseAccountRequest,
        ClosureRefundInput,
        ClosureState,
        DetachCardInput,
        FinishClosureInput,
        SettleHoldsInput,
    )
    from messages.customer import CustomerState

# Closures from before their workflows showed auto-recharge off in the search attributes.
RECHARGE_ATTRIBUTE_PATCH = "closure-recharge-attribute-v1"
# How often open holds are looked at again while the closure waits for them.
HOLDS_POLL = timedelta(seconds=30)


def validate(state: CustomerState, request: CloseAccountRequest) -> None:
    if not state.registered:
        raise WorkflowBusy("the customer is still signing up; try again shortly")
    if state.status == "closed":
        raise StateConflict("the account is already closed")
    if state.closure is not None:
        raise StateConflict("the account is already closing")


async def begin(state: CustomerState, request: CloseAccountRequest) -> ClosureState:
    """Called holding the customer workflow's lock."""
    if state.closure is not None:  # a second close validated before the first took the lock
        raise ApplicationError(
            "the account is already closing", type=StateConflict.__name__, non_retryable=True
        )
    external_id = state.profile.external_id
    await call(
        ClosureActivities.begin_closure,
        BeginClosureInput(external_id=external_id, reason=request.reason),
    )
    if request.operator is not None:
        details = request.model_dump(mode="json", exclude={"operator", "api_key"})
        await operators.audit("close_account", request.operator, details)
    now = workflow.now()
    state.closure = ClosureState(
        reason=request.reason,
        requested_by=request.operator or f"api key {request.api_key}",
        requested_at=now,
        holds_deadline=now if request.holds == "release" else None,
    )
    state.status = "closing"
    state.entitled = False
    recharge = state.auto_recharge
    recharge.enabled, recharge.wanted, recharge.status = False, False, "disabled"
    recharge.disabled_reason = "account closing"
    if workflow.patched(RECHARGE_ATTRIBUTE_PATCH):
        workflow.upsert_search_attributes([sa.AUTO_RECHARGE.value_set("disabled")])
    if recharge.in_flight is not None:
        # A recharge waiting to retry tries now, and finds nothing to charge for a closing
        # customer.
        handle = workflow.get_external_workflow_handle(recharge_workflow_id(external_id))
        try:
            await handle.signal(RechargeWorkflow.retry_now)
        except Exception:
            workflow.logger.info("no recharge to wake for %s", external_id)
    billing = state.billing
    if billing is not None and billing.closing is not None:
        # A close sitting out its grace for late events: none can come now, so it closes at
        # once and the final statement follows.
        running = workflow.get_external_workflow_handle(
            period_workflow_id(external_id, billing.closing)
        )
        try:
            await running.signal(PeriodCloseWorkflow.end_grace)
        except Exception:
            workflow.logger.info("no period close to hurry for %s", external_id)
    record(
        state,
        "closing",
        f"account closing, asked by {state.closure.requested_by}: {request.reason}",
    )
    return state.closure


def active(state: CustomerState) -> bool:
    return state.closure is not None and state.closure.step != "done"


def due(state: CustomerState) -> bool:
    """Whether the closure's next step can run now."""
    closure = state.closure
    if closure is None or closure.step == "done":
        return False
    if closure.step == "payments":
        pending = any(p.status == "pending" for p in state.purchases.values())
        return not pending and state.auto_recharge.in_flight is None
    if closure.step == "holds":
        return closure.next_check is None or closure.next_check <= workflow.now()
    if closure.step == "statement":
        billing = state.billing
        return billing is None or closure.final_period is None or billing.closing is None
    return True


def next_check(state: CustomerState) -> datetime | None:
    """When the closure wants the loop woken (a hold check), if it waits on a timer."""
    closure = state.closure
    if closure is None or closure.step != "holds":
        return None
    return closure.next_check


async def advance(state: CustomerState) -> None:
    """Run the next step (called from the main loop, holding the lock)."""
    closure = state.closure
    if closure is None or not due(state):
        return
    external_id = state.profile.external_id
    if closure.step == "payments":
        closure.step = "holds"
    elif closure.step == "holds":
        now = workflow.now()
        release = closure.holds_deadline is not None and closure.holds_deadline <= now
        left = await call(
            ClosureActivities.settle_holds,
            SettleHoldsInput(external_id=external_id, release=release),
        )
        if left.count == 0:
            closure.step, closure.next_check = "statement", None
            record(state, "closure_holds", "closing: no open holds")
        else:
            expiry = left.latest_expiry or now
            closure.next_check = min(max(expiry, now + timedelta(seconds=1)), now + HOLDS_POLL)
    elif closure.step == "statement":
        await _final_statement(state, closure)
    elif closure.step == "refunds":
        await _refund(state, closure)
        closure.step = "forfeit"
    elif closure.step == "forfeit":
        closure.forfeited = await call(ClosureActivities.forfeit_credits, external_id)
        record(state, "closure_forfeit", f"closing: {closure.forfeited:f} credits forfeited")
        closure.step = "card"
    elif closure.step == "card":
        await _finish(state, closure)


async def _final_statement(state: CustomerState, closure: ClosureState) -> None:
    billing = state.billing
    if billing is None:  # a workflow from before billing periods: nothing to close
        closure.step = "refunds"
        return
    if closure.final_period is None:
        index, at = await periods.close_early(state, grace=timedelta(0))
        closure.final_period = index
        record(state, "closure_statement", f"closing: final period {index} ends {at}")
    elif billing.closing is None:
        closure.step = "refunds"


async def _refund(state: CustomerState, closure: ClosureState) -> None:
    external_id = state.profile.external_id
    for purchase_id in await call(ClosureActivities.refundable_purchases, external_id):
        refund = await call(
            ClosureActivities.refund_unspent,
            ClosureRefundInput(external_id=external_id, purchase_id=purchase_id),
        )
        closure.refunds.append(refund)
        money = f"{refund.amount:f} {refund.currency}"
        if refund.status == "failed":
            record(
                state, "closure_refund_failed", f"refund {money} of {purchase_id}: {refund.failure}"
            )
            continue
        record(
            state,
            "closure_refund",
            f"refunded {money} of {purchase_id} ({refund.credits:f} unspent credits)",
        )
        if refund.credits > 0:
            events.emit(
                state,
                EventType.purchase_refunded,
                f"purchase.refunded:closure:{purchase_id}",
                PurchaseRefunded(
                    purchase_id=purchase_id,
                    refunded_amount=refund.amount,
                    credits=refund.credits,
                    charged=0,
                ),
            )


async def _finish(state: CustomerState, closure: ClosureState) -> None:
    external_id = state.profile.external_id
    if state.stripe_customer_id is not None:
        cards = await call(
            ClosureActivities.detach_cards,
            DetachCardInput(
                stripe_customer_id=state.stripe_customer_id,
                payment_method=state.payment_method,
            ),
        )
        record(state, "closure_card", f"closing: cards detached: {', '.join(cards) or 'none'}")
        state.payment_method = None
    finished = await call(
        ClosureActivities.finish_closure,
        FinishClosureInput(external_id=external_id, forfeited=closure.forfeited),
    )
    closure.step, closure.closed_at = "done", finished.closed_at
    state.status = "closed"
    state.entitled = False
    state.balance = f"{finished.balance:f}"
    record(state, "closed", f"account closed; final balance {finished.balance:f}")
