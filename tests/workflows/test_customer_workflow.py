"""CustomerWorkflow on Temporal's time-skipping test server, with the real activities (a migrated
SQLite ledger and localstripe): signup registers the customer once, then the workflow lives on.

The test server rejects upserts of search attributes it does not know ("search attribute
CreditgateCustomerId is not defined") and does not implement ListSearchAttributes (so
``worker.search_attributes.ensure_search_attributes`` cannot run against it), but it does accept
AddSearchAttributes: the fixture registers Creditgate's attributes that way, as a cluster
operator would.
"""

from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError

from tests.support.time_skipping import TimeSkipping
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow, customer_workflow_id


async def test_signup_registers_the_customer_and_the_workflow_lives_on(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    handle = await time_skipping.start(unique_id)

    # The signup update waits for Stripe and the ledger; the first caller is told "created".
    first = await handle.execute_update(CustomerWorkflow.signup, "request-1")
    assert first.created
    state = first.state
    assert state.registered and state.status == "active" and not state.entitled
    assert state.stripe_customer_id is not None and state.stripe_customer_id.startswith("cus_")
    assert [e.kind for e in state.timeline] == ["created", "stripe_customer", "registered"]

    stored = await time_skipping.stored(unique_id)
    assert stored is not None
    assert stored.customer.stripe_customer_id == state.stripe_customer_id
    assert stored.customer.workflow_id == customer_workflow_id(unique_id)
    assert stored.customer.email == "jane@x.example"
    assert stored.customer.status == "active"
    assert stored.wallet.balance == 0
    assert await time_skipping.stripe_customers(unique_id) == [state.stripe_customer_id]

    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(sa.CUSTOMER_ID) == unique_id
    assert attrs.get(sa.STATUS) == "active"
    assert attrs.get(sa.ENTITLED) is False

    # A month passes: the customer's workflow (whatever its current run) still answers.
    before = await time_skipping.env.get_current_time()
    await time_skipping.env.sleep(timedelta(days=30))
    assert await time_skipping.env.get_current_time() - before >= timedelta(days=30)
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
    assert await time_skipping.stripe_customers(unique_id) == [state.stripe_customer_id]


async def test_a_second_start_for_the_same_customer_is_refused(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    handle = await time_skipping.start(unique_id)
    await handle.execute_update(CustomerWorkflow.signup, "request-1")
    with pytest.raises(WorkflowAlreadyStartedError):
        await time_skipping.start(unique_id)
    assert await time_skipping.stripe_customers(unique_id) == [
        (await handle.query(CustomerWorkflow.get_state)).stripe_customer_id
    ]
