"""CustomerWorkflow: one long-running workflow per customer (id ``customer-{external_id}``)."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows import search_attributes as sa
from workflows.customer_payments import CustomerPayments
from workflows.customer_periods import CustomerPeriods

with workflow.unsafe.imports_passed_through():
    from activities.customers import CustomerActivities
    from activities.ledger import LedgerActivities
    from messages.customer import (
        MAX_PROCESSED_IDS,
        MAX_TIMELINE,
        CreateStripeCustomerInput,
        CustomerState,
        CustomerWorkflowInput,
        ExpireGrantsInput,
        LedgerNotice,
        RegisterCustomerInput,
        SignupResult,
        TimelineEntry,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# When the database's clock says a due grant is not due yet, ask again this much later.
EXPIRY_RECHECK = timedelta(seconds=1)


def customer_workflow_id(external_id: str) -> str:
    return f"customer-{external_id}"


@workflow.defn
class CustomerWorkflow(CustomerPayments, CustomerPeriods):
    @workflow.init
    def __init__(self, input: CustomerWorkflowInput) -> None:
        self.state = input.state or CustomerState(profile=input.profile)
        self._continue_as_new_requested = False
        self._expiry_not_before: datetime | None = None
        # Held by every handler and main-loop step that awaits and then changes state, so
        # none of them writes back a copy another one changed during its await.
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: CustomerWorkflowInput) -> None:
        if input.state is None:
            self._record("created", f"customer {self.state.profile.external_id} signing up")
        await self._sign_up()
        self._publish_search_attributes()
        await self._load_billing()

        while not self._should_continue_as_new():
            expiry_at = self._next_expiry()
            if self._recharge_due():
                async with self._lock:
                    await self._start_recharge()
            elif expiry_at is not None and expiry_at <= workflow.now():
                async with self._lock:
                    await self._expire_grants()
            elif self._period_due():
                async with self._lock:
                    await self._start_period_close()
            else:
                await self._wait_for_work(self._next_due())
        # Never drop an update or signal that is still running.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.state.run_number += 1
        workflow.continue_as_new(
            CustomerWorkflowInput(profile=self.state.profile, state=self.state)
        )

    def _should_continue_as_new(self) -> bool:
        return self._continue_as_new_requested or workflow.info().is_continue_as_new_suggested()

    async def _sign_up(self) -> None:
        profile = self.state.profile
        if self.state.stripe_customer_id is None:
            key = self.state.idempotency_keys.setdefault(
                "stripe_customer", f"cg-customer-{workflow.uuid4()}"
            )
            self.state.stripe_customer_id = await workflow.execute_activity_method(
                CustomerActivities.create_stripe_customer,
                CreateStripeCustomerInput(
                    external_id=profile.external_id,
                    name=profile.name,
                    email=profile.email,
                    idempotency_key=key,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._record("stripe_customer", f"Stripe customer {self.state.stripe_customer_id}")
        if not self.state.registered:
            registered = await workflow.execute_activity_method(
                CustomerActivities.register_customer,
                RegisterCustomerInput(
                    external_id=profile.external_id,
                    name=profile.name,
                    email=profile.email,
                    plan=profile.plan,
                    stripe_customer_id=self.state.stripe_customer_id,
                    workflow_id=workflow.info().workflow_id,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.state.registered = True
            # A ledger notice handled while registration finished is newer: keep it.
            if self.state.status == "pending":
                self.state.status = registered.status
                self.state.entitled = registered.entitled
            self._record("registered", "customer and wallet stored in the ledger")

    # -- grant expiry: one durable timer, for the earliest expiry --------------------------------

    def _next_expiry(self) -> datetime | None:
        earliest = min(self.state.grant_expiries.values(), default=None)
        if earliest is not None and self._expiry_not_before is not None:
            return max(earliest, self._expiry_not_before)
        return earliest

    def _next_due(self) -> datetime | None:
        """The next timer: the earliest grant expiry or the end of the open period."""
        return min(
            (at for at in (self._next_expiry(), self._next_period_end()) if at is not None),
            default=None,
        )

    async def _wait_for_work(self, due_at: datetime | None) -> None:
        """Sleep until the next timer is due, an earlier one appears, a recharge is due, or
        it is time to continue as new."""

        def woken() -> bool:
            return (
                self._should_continue_as_new() or self._next_due() != due_at or self._recharge_due()
            )

        if due_at is None:
            await workflow.wait_condition(woken)
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                woken, timeout=due_at - workflow.now(), timeout_summary="next expiry or period end"
            )

    async def _expire_grants(self) -> None:
        now = workflow.now()
        due = sorted(g for g, at in self.state.grant_expiries.items() if at <= now)
        result = await workflow.execute_activity_method(
            LedgerActivities.expire_grants,
            ExpireGrantsInput(external_id=self.state.profile.external_id, grant_ids=due),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        for grant in result.expired:
            self.state.grant_expiries.pop(grant.grant_id, None)
            if self._remember(f"grant-expired:{grant.grant_id}"):
                self._record(
                    "grant_expired", f"grant {grant.grant_id} expired: {grant.amount:f} lost"
                )
        # Due grants that are gone otherwise (used up, voided) need no timer any more.
        for grant_id in due:
            if grant_id not in result.pending:
                self.state.grant_expiries.pop(grant_id, None)
        self._expiry_not_before = workflow.now() + EXPIRY_RECHECK if result.pending else None

    # -- ledger notices (the outbox relay signals them, at least once) ---------------------------

    @workflow.signal
    def ledger_notice(self, notice: LedgerNotice) -> None:
        if not self._remember(notice.message_id):
            return
        payload = notice.payload
        if notice.kind == "zero":
            self.state.status = "cut_off"
            self.state.entitled = False
            self._record("cut_off", "cut off: balance reached zero")
        elif notice.kind == "restored":
            self.state.status = "active"
            self.state.entitled = True
            self._record("restored", f"restored: balance {payload.get('balance', '?')}")
        elif notice.kind == "threshold":
            self._on_threshold(notice)
        elif notice.kind == "grant_added":
            self._on_grant_added(notice)
        else:
            workflow.logger.warning("ignoring ledger notice of unknown kind %r", notice.kind)
        self._publish_search_attributes()

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

    def _on_threshold(self, notice: LedgerNotice) -> None:
        """Available fell to the recharge threshold: the main loop starts a recharge."""
        payload = notice.payload
        self._record(
            "threshold",
            f"available {payload.get('available', '?')} reached the recharge threshold "
            f"{payload.get('threshold', '?')}",
        )
        self._on_threshold_crossed()

    # -- helpers -----------------------------------------------------------------------------

    def _publish_search_attributes(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.CUSTOMER_ID.value_set(self.state.profile.external_id),
                sa.STATUS.value_set(self.state.status),
                sa.ENTITLED.value_set(self.state.entitled),
            ]
        )

    def _record(self, kind: str, message: str) -> None:
        self.state.timeline.append(TimelineEntry(at=workflow.now(), kind=kind, message=message))
        del self.state.timeline[:-MAX_TIMELINE]

    def _remember(self, message_id: str) -> bool:
        """Mark a message id processed; False when it was seen before (in any run)."""
        if message_id in self.state.processed_message_ids:
            return False
        self.state.processed_message_ids.append(message_id)
        del self.state.processed_message_ids[:-MAX_PROCESSED_IDS]
        return True

    @workflow.update
    async def signup(self, request_id: str) -> SignupResult:
        """Wait until the customer exists in Stripe and the ledger; ``created`` for the first."""
        await workflow.wait_condition(lambda: self.state.registered)
        first = not self.state.signup_acknowledged
        self.state.signup_acknowledged = True
        self._remember(f"signup:{request_id}")
        return SignupResult(created=first, state=self.state)

    @workflow.query(name="state")
    def get_state(self) -> CustomerState:
        return self.state

    @workflow.signal
    def request_continue_as_new(self) -> None:
        """Operator and test hook: start a fresh run now, carrying the state."""
        self._continue_as_new_requested = True
