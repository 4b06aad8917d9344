"""Signups whose data cannot be stored: refused up front with a 4xx, and a signup that fails
in the workflow anyway ends instead of retrying for ever, leaving its external id usable."""

import asyncio
import json
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ActivityError, ApplicationError

from activities.customers import UNSTORABLE_CUSTOMER
from messages.customer import CustomerProfile, CustomerWorkflowInput
from tests.api.support import count_rows, signup_body, stripe_customers_for
from tests.support.stack import Stack
from workflows.customer import CustomerWorkflow, customer_workflow_id

BAD_FIELDS: dict[str, tuple[str, Any]] = {
    "NUL in the name": ("name", "Jane\x00Doe"),
    "NUL alone": ("name", "\x00"),
    "lone surrogate in the name": ("name", "Jane \ud800"),
    "low surrogate alone": ("name", "\udfff"),
    "newline in the name": ("name", "Jane\nDoe"),
    "escape in the name": ("name", "Jane\x1b[31m"),
    "DEL in the name": ("name", "Jane\x7f"),
    "C1 control in the name": ("name", "Ja\x85ne"),
    "empty name": ("name", ""),
    "blank name": ("name", "   "),
    "name too long": ("name", "J" * 201),
    "name not a string": ("name", ["Jane"]),
    "NUL in the email": ("email", "jane\x00@example.com"),
    "lone surrogate in the email": ("email", "jane\ud800@example.com"),
    "newline in the email": ("email", "jane@example.com\n"),
    "email too long": ("email", "j" * 310 + "@example.com"),
    "NUL in the external id": ("external_id", "user\x00"),
    "NUL in the plan": ("plan", "default\x00"),
}


@pytest.mark.parametrize("case", list(BAD_FIELDS))
async def test_a_signup_with_unstorable_text_is_a_422_and_the_id_stays_usable(
    stack: Stack, unique_id: str, case: str
) -> None:
    field, value = BAD_FIELDS[case]
    # As JSON escapes (a lone surrogate has no UTF-8 form), the way a client sends them.
    body = json.dumps({**signup_body(unique_id), field: value})
    response = await stack.http.post(
        "/v1/customers", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "validation_error"
    assert field in error["message"]
    # Nothing was started: no Stripe customer, no row, and the id signs up normally.
    assert await stripe_customers_for(stack, unique_id) == []
    assert await count_rows(stack, unique_id) == (0, 0)
    valid = await stack.http.post("/v1/customers", json=signup_body(unique_id))
    assert valid.status_code == 201, valid.text


async def start_unstorable_signup(stack: Stack, external_id: str) -> WorkflowHandle[Any, None]:
    """A signup with a NUL in the name, started past the API's checks (PostgreSQL refuses NUL
    in text)."""
    return await stack.client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(
            profile=CustomerProfile(
                external_id=external_id, name="Nul\x00", email="nul@example.com", plan="default"
            )
        ),
        id=customer_workflow_id(external_id),
        task_queue=stack.task_queue,
    )


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_signup_the_database_refuses_fails_and_the_id_stays_usable(
    stack: Stack, unique_id: str
) -> None:
    """Defence in depth: the activity fails for good instead of retrying."""
    handle = await start_unstorable_signup(stack, unique_id)
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=60)
    cause = failed.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == UNSTORABLE_CUSTOMER
    assert "database refused the customer" in cause.cause.message
    assert await count_rows(stack, unique_id) == (0, 0)

    response = await stack.http.post("/v1/customers", json=signup_body(unique_id))
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Jane Doe"
    assert await count_rows(stack, unique_id) == (1, 1)


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_valid_signups_joining_a_failing_signup_of_their_id_succeed(
    stack: Stack, unique_id: str
) -> None:
    """They join the failing run (same workflow id); when it fails they start a fresh one:
    one customer, created once, and no 5xx."""
    await start_unstorable_signup(stack, unique_id)
    responses = await asyncio.gather(
        *(stack.http.post("/v1/customers", json=signup_body(unique_id)) for _ in range(5))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert {r.json()["name"] for r in responses} == {"Jane Doe"}
    assert await count_rows(stack, unique_id) == (1, 1)
