"""Customer signup end to end: API over HTTP → CustomerWorkflow → localstripe + ledger."""

import asyncio

from temporalio.client import WorkflowExecutionStatus

from messages.customer import CustomerState
from tests.api.support import count_rows, signup_body, stripe_customers_for
from tests.support.stack import Stack
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow


async def test_signup_creates_workflow_stripe_customer_and_wallet(
    stack: Stack, unique_id: str
) -> None:
    response = await stack.http.post("/v1/customers", json=signup_body(unique_id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["external_id"] == unique_id
    assert body["status"] == "active"
    assert body["workflow_id"] == f"customer-{unique_id}"
    assert body["stripe_customer_id"].startswith("cus_")
    assert body["balance"] == {
        "available": "0",
        "held": "0",
        "debt": "0",
        "entitled": False,
        "currency": "USD",
    }

    fetched = await stack.http.get(f"/v1/customers/{unique_id}")
    assert fetched.status_code == 200
    assert fetched.json() == body

    handle = stack.client.get_workflow_handle(f"customer-{unique_id}")
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.workflow_type == "CustomerWorkflow"
    attrs = description.typed_search_attributes
    assert attrs.get(sa.CUSTOMER_ID) == unique_id
    assert attrs.get(sa.STATUS) == "active"
    assert attrs.get(sa.ENTITLED) is False

    state = await handle.query(CustomerWorkflow.get_state)
    assert isinstance(state, CustomerState)
    assert state.stripe_customer_id == body["stripe_customer_id"]
    assert [e.kind for e in state.timeline] == ["created", "stripe_customer", "registered"]

    in_stripe = await stripe_customers_for(stack, unique_id)
    assert [c.id for c in in_stripe] == [body["stripe_customer_id"]]
    assert in_stripe[0].email == "jane@example.com"


async def test_repeated_signup_returns_existing_customer(stack: Stack, unique_id: str) -> None:
    first = await stack.http.post("/v1/customers", json=signup_body(unique_id))
    assert first.status_code == 201
    again = await stack.http.post("/v1/customers", json=signup_body(unique_id))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert await count_rows(stack, unique_id) == (1, 1)
    assert len(await stripe_customers_for(stack, unique_id)) == 1


async def test_ten_concurrent_signups_make_one_customer(stack: Stack, unique_id: str) -> None:
    responses = await asyncio.gather(
        *(stack.http.post("/v1/customers", json=signup_body(unique_id)) for _ in range(10))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["stripe_customer_id"] for r in responses}) == 1
    assert await count_rows(stack, unique_id) == (1, 1)
    assert len(await stripe_customers_for(stack, unique_id)) == 1
    runs = [w async for w in stack.client.list_workflows(f"WorkflowId = 'customer-{unique_id}'")]
    assert len(runs) == 1


async def test_continue_as_new_carries_state(stack: Stack, unique_id: str) -> None:
    created = (await stack.http.post("/v1/customers", json=signup_body(unique_id))).json()
    handle = stack.client.get_workflow_handle(f"customer-{unique_id}")
    first_run = (await handle.describe()).run_id
    before = await handle.query(CustomerWorkflow.get_state)

    await handle.signal(CustomerWorkflow.request_continue_as_new)

    from tests.support.waiting import eventually

    async def current_run() -> str | None:
        return (await stack.client.get_workflow_handle(handle.id).describe()).run_id

    new_run = await eventually(current_run, lambda r: r != first_run, what="a new run")
    latest = stack.client.get_workflow_handle(handle.id)
    after = await latest.query(CustomerWorkflow.get_state)
    assert after.run_number == before.run_number + 1
    assert after.stripe_customer_id == created["stripe_customer_id"]
    assert after.idempotency_keys == before.idempotency_keys
    assert after.processed_message_ids == before.processed_message_ids
    assert after.timeline == before.timeline
    assert (await latest.describe()).status == WorkflowExecutionStatus.RUNNING
    assert new_run != first_run
    # The new run did not sign up again.
    assert len(await stripe_customers_for(stack, unique_id)) == 1
    again = await stack.http.post("/v1/customers", json=signup_body(unique_id))
    assert again.status_code == 200
