"""CustomerWorkflow: one long-running workflow per customer (id ``customer-{external_id}``)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows import search_attributes as sa
from workflows.models import (
    MAX_PROCESSED_IDS,
    MAX_TIMELINE,
    CustomerState,
    CustomerWorkflowInput,
    SignupResult,
    TimelineEntry,
)

with workflow.unsafe.imports_passed_through():
    from activities.customers import CustomerActivities
    from activities.models import CreateStripeCustomerInput, RegisterCustomerInput

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


def customer_workflow_id(external_id: str) -> str:
    return f"customer-{external_id}"


@workflow.defn
class CustomerWorkflow:
    @workflow.init
    def __init__(self, input: CustomerWorkflowInput) -> None:
        self.state = input.state or CustomerState(profile=input.profile)
        self._continue_as_new_requested = False

    @workflow.run
    async def run(self, input: CustomerWorkflowInput) -> None:
        if input.state is None:
            self._record("created", f"customer {self.state.profile.external_id} signing up")
        await self._sign_up()
        self._publish_search_attributes()

        await workflow.wait_condition(
            lambda: (
                self._continue_as_new_requested or workflow.info().is_continue_as_new_suggested()
            )
        )
        # Never drop an update or signal that is still running.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.state.run_number += 1
        workflow.continue_as_new(
            CustomerWorkflowInput(profile=self.state.profile, state=self.state)
        )

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
            self.state.status = registered.status
            self.state.entitled = registered.entitled
            self._record("registered", "customer and wallet stored in the ledger")

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
