"""Helpers for end-to-end customer workflow tests (the real stack, no mocks)."""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlmodel import col, select
from temporalio.client import WorkflowHandle

from creditgate.infra.db import Database
from creditgate.ledger import customers, service
from creditgate.ledger.customers import CustomerWithWallet
from creditgate.ledger.grants import GrantOutcome, GrantSpec
from creditgate.models import Customer, OutboxMessage
from messages.customer import CustomerState
from tests.support.stack import Stack
from tests.support.waiting import eventually
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow, customer_workflow_id


async def sign_up(stack: Stack, external_id: str, plan: str | None = None) -> None:
    body = {"external_id": external_id, "name": "Jane Doe", "email": "jane@example.com"}
    if plan is not None:
        body["plan"] = plan
    response = await stack.http.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text


def workflow(stack: Stack, external_id: str) -> WorkflowHandle[CustomerWorkflow, None]:
    """The customer's workflow, whatever its current run."""
    return stack.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(external_id)
    )


async def workflow_state(stack: Stack, external_id: str) -> CustomerState:
    return await workflow(stack, external_id).query(CustomerWorkflow.get_state)


async def state_when(
    stack: Stack,
    external_id: str,
    until: Callable[[CustomerState], bool],
    what: str,
    timeout: float = 20.0,
) -> CustomerState:
    return await eventually(
        lambda: workflow_state(stack, external_id), until, timeout=timeout, what=what
    )


async def search_attributes(stack: Stack, external_id: str) -> tuple[str | None, bool | None]:
    attrs = (await workflow(stack, external_id).describe()).typed_search_attributes
    return attrs.get(sa.STATUS), attrs.get(sa.ENTITLED)


async def search_attributes_become(
    stack: Stack, external_id: str, status: str, entitled: bool
) -> None:
    await eventually(
        lambda: search_attributes(stack, external_id),
        lambda found: found == (status, entitled),
        what=f"search attributes {status}/{entitled}",
    )


async def stored(db: Database, external_id: str) -> CustomerWithWallet:
    async with db.session() as session:
        found = await customers.get_customer(session, external_id)
    assert found is not None
    return found


async def grant(
    db: Database, external_id: str, amount: str, expires_at: datetime | None = None
) -> GrantOutcome:
    spec = GrantSpec(amount=Decimal(amount), source="promotional", expires_at=expires_at)
    return await service.grant(db, external_id, spec)


async def outbox_rows(db: Database, external_id: str) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .join(Customer, col(Customer.id) == col(OutboxMessage.customer_id))
            .where(Customer.external_id == external_id)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


def kinds(state: CustomerState, *wanted: str) -> list[str]:
    """The timeline's kinds, in order, limited to ``wanted``."""
    return [entry.kind for entry in state.timeline if entry.kind in wanted]
