"""A new name or email sent with ``PATCH /v1/customers/{id}`` reaches the customer's workflow
(its ``state`` query and timeline) through the outbox, in the order the changes were made."""

from typing import Any

from sqlmodel import col, select

from creditgate.models import Customer, OutboxMessage
from messages.customer import CustomerState
from tests.api.support import signup
from tests.support.stack import Stack
from tests.support.waiting import eventually
from workflows.customer import CustomerWorkflow, customer_workflow_id


async def profile_notices(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    async with stack.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage.payload)
            .join(Customer, col(Customer.id) == col(OutboxMessage.customer_id))
            .where(Customer.external_id == external_id, OutboxMessage.kind == "profile_changed")
            .order_by(col(OutboxMessage.id))
        )
        return [dict(payload) for payload in rows.all()]


async def test_the_workflow_learns_a_new_name_and_email(stack: Stack, unique_id: str) -> None:
    await signup(stack, unique_id)
    url = f"/v1/customers/{unique_id}"
    handle = stack.client.get_workflow_handle(customer_workflow_id(unique_id))
    before = await handle.query(CustomerWorkflow.get_state)
    assert (before.profile.name, before.profile.email) == ("Jane Doe", "jane@example.com")

    changes = [
        {"name": "Jane Q. Doe", "email": "jq@example.com"},
        {"email": "jane.q@example.com"},
        {"metadata": {"team": "ml"}},  # neither name nor email: the workflow hears nothing
    ]
    for change in changes:
        response = await stack.http.patch(url, json=change)
        assert response.status_code == 200, response.text

    def renamed(state: CustomerState) -> bool:
        return (state.profile.name, state.profile.email) == ("Jane Q. Doe", "jane.q@example.com")

    state = await eventually(
        lambda: handle.query(CustomerWorkflow.get_state),
        renamed,
        what="the workflow's profile to show the last name and email",
    )
    assert [e.message for e in state.timeline if e.kind == "profile_changed"] == [
        "profile changed: Jane Q. Doe <jq@example.com>",
        "profile changed: Jane Q. Doe <jane.q@example.com>",
    ]
    assert state.profile.external_id == unique_id
    assert await profile_notices(stack, unique_id) == [
        {"name": "Jane Q. Doe", "email": "jq@example.com"},
        {"name": "Jane Q. Doe", "email": "jane.q@example.com"},
    ]
