"""CustomerWorkflow: one long-running workflow per customer (id ``customer-{external_id}``).

Its whole lifecycle reads here: the main loop and what wakes it, and every signal, update and
query it takes. The work behind them lives in plain functions on ``CustomerState``:
``customer_payments`` (purchases, the saved card, auto-recharge, refunds) and
``customer_periods`` (billing periods).
"""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from temporalio import workflow

from workflows import customer_closure as closure
from workflows import customer_operators as operators
from workflows import customer_payments as payments
from workflows import customer_periods as periods
from workflows import customer_plan as plan_change
from workflows import events
from workflows import search_attributes as sa
from workflows.activity_calls import call
from workflows.customer_log import record, remember
from workflows.customer_profile import on_profile_changed

with workflow.unsafe.imports_passed_through():
    from activities.customers import CustomerActivities
    from activities.ledger import LedgerActivities
    from creditgate.events.catalogue import (
        Balance,
        BalanceLow,
        CustomerCutOff,
        CustomerRestored,
        EventType,
    )
    from messages.closure import CloseAccountRequest, ClosureState
    from messages.customer import (
        CreateStripeCustomerInput,
        CustomerState,
        CustomerWorkflowInput,
        ExpireGrantsInput,
        LedgerNotice,
        PaymentMethodRequest,
        RegisterCustomerInput,
        SignupResult,
    )
    from messages.operator import (
        AdjustRequest,
        OperatorResult,
        PauseRequest,
        ResumeRequest,
        VoidGrantRequest,
    )
    from messages.period import PeriodClosed
    from messages.plan_change import PlanChangeRequest, PlanChangeResult
    from messages.purchase import (
        PurchaseAnswer,
        PurchaseProgress,
        PurchaseRequest,
        RefundNotice,
    )
    from messages.recharge import (
        AutoRechargeRequest,
        AutoRechargeState,
        RechargeOutcome,
    )

# When the database's clock says a due grant is not due yet, ask again this much later.
EXPIRY_RECHECK = timedelta(seconds=1)


def customer_workflow_id(external_id: str) -> str:
    return f"customer-{external_id}"


@workflow.defn
class CustomerWorkflow:
    @workflow.init
    def __init__(self, input: CustomerWorkflowInput) -> None:
        self.state = input.state or CustomerState(profile=input.profile)
        self._continue_as_new_requested = False
        self._expiry_not_before: datetime | None = None
        # Whether this run records outbound events (runs whose history predates them do not).
        self._events = False
        # Held by every handler and main-loop step that awaits and then changes state, so
        # none of them writes back a copy another one changed during its await.
        self._lock = asyncio.Lock()

    # -- the main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CustomerWorkflowInput) -> None:
        self._events = workflow.patched(events.EVENTS_PATCH)
        if input.state is None:
            record(
                self.state,
                "created",
                f"customer {self.state.profile.external_id} signing up",
            )
        await self._sign_up()
        self._publish_search_attributes()
        await periods.load_billing(self.state)

        while not self._should_continue_as_new() and not self._closed():
            expiry_at = self._next_expiry()
            if self._events_pending():
                async with self._lock:
                    await events.record_pending(self.state)
            elif closure.active(self.state):
                if closure.due(self.state):
                    async with self._lock:
                        await closure.advance(self.state)
                    self._publish_search_attributes()
                else:
                    self._show()
                    await self._wait_for_work(closure.next_check(self.state))
            elif payments.recharge_due(self.state):
                async with self._lock:
                    await payments.start_recharge(self.state)
            elif expiry_at is not None and expiry_at <= workflow.now():
                async with self._lock:
                    await self._expire_grants()
            elif periods.period_due(self.state):
                async with self._lock:
                    await periods.start_period_close(self.state)
            else:
                self._show()
                await self._wait_for_work(self._next_due())
        # Never drop an update or signal that is still running.
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._closed():
            return  # the account is closed: the workflow completes
        self.state.run_number += 1
        workflow.continue_as_new(
            CustomerWorkflowInput(profile=self.state.profile, state=self.state)
        )

    def _closed(self) -> bool:
        """The closure finished and its events are recorded."""
        done = self.state.closure is not None and self.state.closure.step == "done"
        return done and not self._events_pending()

    def _events_pending(self) -> bool:
        return self._events and bool(self.state.pending_events)

    def _should_continue_as_new(self) -> bool:
        return self._continue_as_new_requested or workflow.info().is_continue_as_new_suggested()

    async def _sign_up(self) -> None:
        profile = self.state.profile
        if self.state.stripe_customer_id is None:
            key = self.state.idempotency_keys.setdefault(
                "stripe_customer", f"cg-customer-{workflow.uuid4()}"
            )
            self.state.stripe_customer_id = await call(
                CustomerActivities.create_stripe_customer,
                CreateStripeCustomerInput(
                    external_id=profile.external_id,
                    name=profile.name,
                    email=profile.email,
                    idempotency_key=key,
                ),
            )
            record(
                self.state,
                "stripe_customer",
                f"Stripe customer {self.state.stripe_customer_id}",
            )
        if not self.state.registered:
            registered = await call(
                CustomerActivities.register_customer,
                RegisterCustomerInput(
                    external_id=profile.external_id,
                    name=profile.name,
                    email=profile.email,
                    plan=profile.plan,
                    stripe_customer_id=self.state.stripe_customer_id,
                    workflow_id=workflow.info().workflow_id,
                ),
            )
            self.state.registered = True
            # A ledger notice handled while registration finished is newer: keep it.
            if self.state.status == "pending":
                self.state.status = registered.status
                self.state.entitled = registered.entitled
            record(self.state, "registered", "customer and wallet stored in the ledger")

    def _next_expiry(self) -> datetime | None:
        earliest = min(self.state.grant_expiries.values(), default=None)
        if earliest is not None and self._expiry_not_before is not None:
            return max(earliest, self._expiry_not_before)
        return earliest

    def _next_due(self) -> datetime | None:
        """The next timer: the earliest grant expiry or the end of the open period."""
        return min(
            (
                at
                for at in (self._next_expiry(), periods.next_period_end(self.state))
                if at is not None
            ),
            default=None,
        )

    async def _wait_for_work(self, due_at: datetime | None) -> None:
        """Sleep until the next timer is due, an earlier one appears, a recharge is due, or
        it is time to continue as new."""

        def woken() -> bool:
            if closure.active(self.state):
                return (
                    self._should_continue_as_new()
                    or closure.due(self.state)
                    or self._events_pending()
                )
            return (
                self._should_continue_as_new()
                or self._next_due() != due_at
                or payments.recharge_due(self.state)
                or self._events_pending()
                or closure.active(self.state)
            )

        if due_at is None:
            await workflow.wait_condition(woken)
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                woken,
                timeout=due_at - workflow.now(),
                timeout_summary="next expiry or period end",
            )

    async def _expire_grants(self) -> None:
        """One durable timer, for the earliest grant expiry, brings the loop here."""
        now = workflow.now()
        due = sorted(g for g, at in self.state.grant_expiries.items() if at <= now)
        result = await call(
            LedgerActivities.expire_grants,
            ExpireGrantsInput(external_id=self.state.profile.external_id, grant_ids=due),
        )
        for grant in result.expired:
            self.state.grant_expiries.pop(grant.grant_id, None)
            if remember(self.state, f"grant-expired:{grant.grant_id}"):
                record(
                    self.state,
                    "grant_expired",
                    f"grant {grant.grant_id} expired: {grant.amount:f} lost",
                )
        # Due grants that are gone otherwise (used up, voided) need no timer any more.
        for grant_id in due:
            if grant_id not in result.pending:
                self.state.grant_expiries.pop(grant_id, None)
        self._expiry_not_before = workflow.now() + EXPIRY_RECHECK if result.pending else None

    # -- signup and operators --------------------------------------------------------------------

    @workflow.update
    async def signup(self, request_id: str) -> SignupResult:
        """Wait until the customer exists in Stripe and the ledger; ``created`` for the first."""
        await workflow.wait_condition(lambda: self.state.registered)
        first = not self.state.signup_acknowledged
        self.state.signup_acknowledged = True
        remember(self.state, f"signup:{request_id}")
        return SignupResult(created=first, state=self.state)

    @workflow.query(name="state")
    def get_state(self) -> CustomerState:
        return self.state

    @workflow.signal
    def request_continue_as_new(self) -> None:
        """Operator and test hook: start a fresh run now, carrying the state."""
        self._continue_as_new_requested = True

    # -- ledger notices (the outbox relay signals them, at least once) ---------------------------

    @workflow.signal
    def ledger_notice(self, notice: LedgerNotice) -> None:
        if not remember(self.state, notice.message_id):
            return
        payload = notice.payload
        if "balance" in payload:
            self.state.balance = str(payload["balance"])
        # A paused customer stays paused whatever the balance does; so does a closing one.
        kept = self.state.status if self.state.status in ("paused", "closing", "closed") else None
        if notice.kind == "zero":
            self.state.status = kept or "cut_off"
            self.state.entitled = False
            record(self.state, "cut_off", "cut off: balance reached zero")
            self._emit_crossing(notice, EventType.customer_cut_off, CustomerCutOff)
        elif notice.kind == "restored":
            self.state.status = kept or "active"
            self.state.entitled = True
            record(
                self.state,
                "restored",
                f"restored: balance {payload.get('balance', '?')}",
            )
            self._emit_crossing(notice, EventType.customer_restored, CustomerRestored)
        elif notice.kind == "threshold":
            # Available fell to the recharge threshold: the main loop starts a recharge.
            record(
                self.state,
                "threshold",
                f"available {payload.get('available', '?')} reached the recharge threshold "
                f"{payload.get('threshold', '?')}",
            )
            payments.on_threshold_crossed(self.state)
        elif notice.kind == "balance_low":
            for threshold in payload.get("thresholds", []):
                record(self.state, "balance_low", f"available fell to the alert {threshold}")
                self._emit_crossing(notice, EventType.balance_low, BalanceLow, threshold=threshold)
        elif notice.kind == "grant_added":
            self._on_grant_added(notice)
        elif notice.kind in ("paused", "resumed"):
            # A pause or resume made through the API (an operator update set it already).
            if notice.kind == "paused":
                self.state.status = "paused"
            else:
                self.state.status = "cut_off" if payload.get("status") == "cut_off" else "active"
            why = payload.get("reason", self.state.status)
            record(self.state, notice.kind, f"{notice.kind}: {why}")
        elif notice.kind == "profile_changed":
            on_profile_changed(self.state, payload)
        else:
            workflow.logger.warning("ignoring ledger notice of unknown kind %r", notice.kind)
        self._publish_search_attributes()

    def _emit_crossing(
        self, notice: LedgerNotice, kind: EventType, data: type[Balance], **extra: str
    ) -> None:
        """An event carrying the wallet figures the ledger put in the notice (a notice
        written before they were has none, and makes no event)."""
        try:
            figures = data.model_validate({**notice.payload, **extra})
        except ValueError:
            workflow.logger.warning("no event for notice %r: no balance figures", notice)
            return
        key = ":".join((str(kind), notice.message_id, *extra.values()))
        events.emit(self.state, kind, key, figures)

    def _on_grant_added(self, notice: LedgerNotice) -> None:
        try:
            grant_id = int(notice.payload["grant_id"])
            expires_at = datetime.fromisoformat(str(notice.payload["expires_at"]))
        except (KeyError, TypeError, ValueError):
            workflow.logger.warning("ignoring malformed grant_added notice %r", notice)
            return
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        self.state.grant_expiries[grant_id] = expires_at

    def _publish_search_attributes(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.CUSTOMER_ID.value_set(self.state.profile.external_id),
                sa.STATUS.value_set(self.state.status),
                sa.ENTITLED.value_set(self.state.entitled),
            ]
        )
        self._show()

    def _show(self) -> None:
        workflow.set_current_details(operators.current_details(self.state))

    # -- operator updates (docs/operators.md; each is audited as ``operator:<name>``) ----------

    @workflow.update
    async def pause(self, request: PauseRequest) -> OperatorResult:
        """Cut the customer off whatever the balance until ``resume``."""
        return await self._operate("pause", request)

    @workflow.update
    async def resume(self, request: ResumeRequest) -> OperatorResult:
        """Lift a pause: active or cut_off, as the balance implies."""
        return await self._operate("resume", request)

    @pause.validator
    def _validate_pause(self, request: PauseRequest) -> None:
        if self.state.status in ("paused", "closing", "closed", "pending"):
            raise ValueError(f"the customer is {self.state.status}: nothing to pause")

    @resume.validator
    def _validate_resume(self, request: ResumeRequest) -> None:
        if self.state.status != "paused":
            raise ValueError(f"the customer is {self.state.status}, not paused")

    @workflow.update
    async def adjust(self, request: AdjustRequest) -> OperatorResult:
        """A correction: a credit (positive amount) or a debit (negative), with a reason."""
        return await self._operate("adjust", request)

    @workflow.update
    async def void_grant(self, request: VoidGrantRequest) -> OperatorResult:
        """Forfeit what remains of a grant."""
        return await self._operate("void_grant", request)

    async def _operate(self, action: str, request: operators.OperatorRequest) -> OperatorResult:
        async with self._lock:
            result = await operators.apply(self.state, action, request)
        self._publish_search_attributes()
        return result

    # -- closing the account ---------------------------------------------------------------------

    @workflow.update
    async def close_account(self, request: CloseAccountRequest) -> ClosureState:
        """Close the account (docs/operators.md): usage and purchases are refused at once;
        the main loop then settles holds, closes the final statement, refunds unspent
        purchased credits, forfeits the rest, detaches the card and completes the workflow."""
        async with self._lock:
            started = await closure.begin(self.state, request)
        self._publish_search_attributes()
        return started

    @close_account.validator
    def _validate_close_account(self, request: CloseAccountRequest) -> None:
        closure.validate(self.state, request)

    # -- purchases -------------------------------------------------------------------------------

    @workflow.update
    async def purchase(self, request: PurchaseRequest) -> PurchaseAnswer:
        """Start a purchase; answers once the PaymentIntent exists (or the card declined).
        A repeated request id answers with the purchase it made."""
        async with self._lock:
            purchase_id, created = await payments.start_purchase(self.state, request)
        if not created and purchase_id not in self.state.purchases:
            # A repeat of a request whose purchase is older than the ones kept in state.
            finished = await payments.finished_purchase(purchase_id)
            if finished is not None:
                return PurchaseAnswer(purchase=finished, created=False)
        await workflow.wait_condition(lambda: purchase_id in self.state.purchases)
        return PurchaseAnswer(purchase=self.state.purchases[purchase_id], created=created)

    @purchase.validator
    def _validate_purchase(self, request: PurchaseRequest) -> None:
        payments.validate_purchase(self.state, request)

    @workflow.signal
    def purchase_progress(self, progress: PurchaseProgress) -> None:
        """Child purchase or recharge → here: where a purchase stands now."""
        payments.on_purchase_progress(self.state, progress)
        self._show()

    # -- the saved card and auto-recharge --------------------------------------------------------

    @workflow.update
    async def set_payment_method(self, request: PaymentMethodRequest) -> str:
        async with self._lock:
            await payments.attach(self.state, request.payment_method)
        return request.payment_method

    @set_payment_method.validator
    def _validate_payment_method(self, request: PaymentMethodRequest) -> None:
        payments.require_open(self.state)

    @workflow.update
    async def configure_auto_recharge(self, request: AutoRechargeRequest) -> AutoRechargeState:
        """Save the settings (attaching a new card first); enabling it while available is
        already at or below the threshold recharges at once."""
        async with self._lock:
            configured = await payments.configure_auto_recharge(self.state, request)
        self._show()
        return configured

    @configure_auto_recharge.validator
    def _validate_auto_recharge(self, request: AutoRechargeRequest) -> None:
        payments.validate_auto_recharge(self.state, request)

    @workflow.signal
    async def recharge_finished(self, outcome: RechargeOutcome) -> None:
        async with self._lock:
            await payments.on_recharge_finished(self.state, outcome)
        self._show()

    # -- refunds (the API signals ``charge.refunded`` webhooks) ----------------------------------

    @workflow.signal
    async def payment_refunded(self, notice: RefundNotice) -> None:
        async with self._lock:
            await payments.on_refund(self.state, notice)
        self._show()

    # -- billing periods -------------------------------------------------------------------------

    @workflow.signal
    def period_closed(self, closed: PeriodClosed) -> None:
        if periods.on_period_closed(self.state, closed):
            # A fresh run per period keeps histories short; state (and message ids) carry over.
            self._continue_as_new_requested = True

    # -- plan changes ----------------------------------------------------------------------------

    @workflow.update
    async def change_plan(self, request: PlanChangeRequest) -> PlanChangeResult:
        """Move the customer to another plan or version, ``now`` (the open period closes early
        into a statement) or at the next period close (``next_period``)."""
        async with self._lock:
            return await plan_change.change_plan(self.state, request)

    @change_plan.validator
    def _validate_change_plan(self, request: PlanChangeRequest) -> None:
        plan_change.validate_plan_change(self.state, request)
