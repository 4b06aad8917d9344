"""What the ``units`` fixture (``tests/workflows/conftest.py``) gives a workflow unit test: the
real workflows on Temporal's time-skipping test server, run by a worker whose activities are
the test doubles in ``tests/workflows/doubles.py``."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from messages.customer import CustomerProfile, CustomerState, CustomerWorkflowInput
from tests.support.time_skipping import skip
from tests.support.waiting import eventually
from tests.workflows.doubles import Doubles
from workflows.customer import CustomerWorkflow, customer_workflow_id


@dataclass
class Units:
    env: WorkflowEnvironment
    task_queue: str
    doubles: Doubles = field(default_factory=Doubles)

    @property
    def client(self) -> Client:
        return self.env.client

    async def signed_up(self, external_id: str) -> WorkflowHandle[CustomerWorkflow, None]:
        """A customer workflow that has finished signing up (registered, active)."""
        profile = CustomerProfile(external_id=external_id, name="Jane Doe", email="j@x.example")
        handle = await self.client.start_workflow(
            CustomerWorkflow.run,
            CustomerWorkflowInput(profile=profile),
            id=customer_workflow_id(external_id),
            task_queue=self.task_queue,
        )
        await handle.execute_update(CustomerWorkflow.signup, "signup")
        return handle

    def customer(self, external_id: str) -> WorkflowHandle[CustomerWorkflow, Any]:
        """The customer's workflow, whatever its current run."""
        return self.client.get_workflow_handle_for(
            CustomerWorkflow.run, customer_workflow_id(external_id)
        )

    async def state(self, external_id: str) -> CustomerState:
        return await self.customer(external_id).query(CustomerWorkflow.get_state)

    async def search_attributes(self, external_id: str) -> TypedSearchAttributes:
        return (await self.customer(external_id).describe()).typed_search_attributes

    async def skip(self, duration: timedelta) -> None:
        """Advance the test server's clock (timers and activity retries come due)."""
        await skip(self.env, duration)

    async def skip_timer(self, workflow_id: str, duration: timedelta) -> None:
        """Once ``workflow_id`` waits on a timer, advance the clock by ``duration``. (Skipping
        before the timer exists moves the clock past where the timer then starts.)"""

        async def timers_pending() -> int:
            try:
                history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return 0  # not started yet
                raise
            kinds = [event.event_type for event in history.events]
            return kinds.count(EventType.EVENT_TYPE_TIMER_STARTED) - sum(
                kinds.count(ended)
                for ended in (EventType.EVENT_TYPE_TIMER_FIRED, EventType.EVENT_TYPE_TIMER_CANCELED)
            )

        await eventually(timers_pending, what=f"{workflow_id} to wait on a timer")
        await self.skip(duration)
