"""CustomerWorkflow on Temporal's time-skipping test server, with the real activities (a migrated
SQLite ledger and localstripe): signup registers the customer once, then the workflow lives on.

The test server rejects upserts of search attributes it does not know ("search attribute
CreditgateCustomerId is not defined") and does not implement ListSearchAttributes (so
``worker.search_attributes.ensure_search_attributes`` cannot run against it), but it does accept
AddSearchAttributes: the fixture registers Creditgate's attributes that way, as a cluster
operator would.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from creditgate import customers
from creditgate.customers import CustomerWithWallet
from creditgate.db import Database
from creditgate.migrate import upgrade
from creditgate.stripe_gateway import StripeGateway
from tests.support.localstripe import LocalStripe
from worker.registry import build_worker
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow, customer_workflow_id
from workflows.models import CustomerProfile, CustomerWorkflowInput


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
class Skipping:
    env: WorkflowEnvironment
    db: Database
    stripe: StripeGateway
    task_queue: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(self, external_id: str) -> WorkflowHandle[CustomerWorkflow, None]:
        profile = CustomerProfile(external_id=external_id, name="Jane Doe", email="jane@x.example")
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
async def skipping(
    time_skipping_env: WorkflowEnvironment, localstripe: LocalStripe, tmp_path: Path
) -> AsyncIterator[Skipping]:
    await register_search_attributes(time_skipping_env.client)
    url = f"sqlite:///{tmp_path}/creditgate.db"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    stripe = StripeGateway("sk_test_creditgate_tests", localstripe.base_url)
    task_queue = f"skip-{uuid.uuid4().hex[:8]}"
    try:
        async with build_worker(time_skipping_env.client, task_queue, db, stripe):
            yield Skipping(time_skipping_env, db, stripe, task_queue)
    finally:
        await db.dispose()


async def test_signup_registers_the_customer_and_the_workflow_lives_on(
    skipping: Skipping, unique_id: str
) -> None:
    handle = await skipping.start(unique_id)

    # The signup update waits for Stripe and the ledger; the first caller is told "created".
    first = await handle.execute_update(CustomerWorkflow.signup, "request-1")
    assert first.created
    state = first.state
    assert state.registered and state.status == "active" and not state.entitled
    assert state.stripe_customer_id is not None and state.stripe_customer_id.startswith("cus_")
    assert [e.kind for e in state.timeline] == ["created", "stripe_customer", "registered"]

    stored = await skipping.stored(unique_id)
    assert stored is not None
    assert stored.customer.stripe_customer_id == state.stripe_customer_id
    assert stored.customer.workflow_id == customer_workflow_id(unique_id)
    assert stored.customer.email == "jane@x.example"
    assert stored.customer.status == "active"
    assert stored.wallet.balance == 0
    assert await skipping.stripe_customers(unique_id) == [state.stripe_customer_id]

    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(sa.CUSTOMER_ID) == unique_id
    assert attrs.get(sa.STATUS) == "active"
    assert attrs.get(sa.ENTITLED) is False

    # A month passes: the customer's workflow (whatever its current run) still answers.
    before = await skipping.env.get_current_time()
    await skipping.env.sleep(timedelta(days=30))
    assert await skipping.env.get_current_time() - before >= timedelta(days=30)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    later = await handle.query(CustomerWorkflow.get_state)
    assert later.stripe_customer_id == state.stripe_customer_id
    assert later.status == "active" and later.registered
    assert later.timeline[: len(state.timeline)] == state.timeline

    # Signing up again a month later finds the customer; nothing is created twice.
    again = await handle.execute_update(CustomerWorkflow.signup, "request-2")
    assert not again.created
    assert again.state.stripe_customer_id == state.stripe_customer_id
    assert await skipping.stripe_customers(unique_id) == [state.stripe_customer_id]


async def test_a_second_start_for_the_same_customer_is_refused(
    skipping: Skipping, unique_id: str
) -> None:
    handle = await skipping.start(unique_id)
    await handle.execute_update(CustomerWorkflow.signup, "request-1")
    with pytest.raises(WorkflowAlreadyStartedError):
        await skipping.start(unique_id)
    assert await skipping.stripe_customers(unique_id) == [
        (await handle.query(CustomerWorkflow.get_state)).stripe_customer_id
    ]
