"""Operator updates on CustomerWorkflow, sent exactly as the Temporal UI's "Send Update" form
sends them (an untyped handle, the update's name, a plain JSON object): each changes the ledger
once, keeps ``creditgate check`` clean, shows in the search attributes and current details, and
is in the audit log as ``operator:<name>``."""

from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from creditgate.checks.ledger import check
from tests.support.stack import Stack
from tests.workflows.support import grant, search_attributes_become, sign_up, stored
from workflows.customer import customer_workflow_id


def ui_handle(stack: Stack, external_id: str) -> WorkflowHandle[Any, Any]:
    return stack.client.get_workflow_handle(customer_workflow_id(external_id))


async def violations(stack: Stack, external_id: str) -> list[str]:
    return [str(v) for v in await check(stack.db) if v.customer == external_id]


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    """What the Temporal UI shows as the workflow's current details."""
    metadata = await handle.query("__temporal_workflow_metadata")
    return str(metadata.current_details)


async def operator_log(stack: Stack, operator: str) -> list[dict[str, Any]]:
    response = await stack.http.get("/v1/audit-log", params={"actor": f"operator:{operator}"})
    return list(reversed(response.json()["entries"]))


async def test_operator_updates_change_the_ledger_and_are_audited(
    stack: Stack, unique_id: str
) -> None:
    who = f"ops_{unique_id}"
    await sign_up(stack, who)
    voidable = (await grant(stack.db, who, "3")).grant
    await search_attributes_become(stack, who, "active", True)
    handle = ui_handle(stack, who)

    credit = await handle.execute_update(
        "adjust", {"amount": "5.00", "reason": "goodwill", "operator": "alice@ops"}
    )
    voided = await handle.execute_update(
        "void_grant", {"grant_id": voidable.id, "reason": "sent in error", "operator": "alice@ops"}
    )
    debit = await handle.execute_update(
        "adjust", {"amount": "-5", "reason": "reverse goodwill", "operator": "alice@ops"}
    )
    assert (credit["balance"], voided["balance"], debit["balance"]) == ("8", "5", "0")
    assert debit["status"] == "cut_off"
    await search_attributes_become(stack, who, "cut_off", False)

    await grant(stack.db, who, "2")
    await search_attributes_become(stack, who, "active", True)
    paused = await handle.execute_update("pause", {"reason": "fraud review", "operator": "bob"})
    assert paused["status"] == "paused"
    await search_attributes_become(stack, who, "paused", True)
    details = await current_details(handle)
    assert "paused" in details and "balance 2" in details and "auto-recharge" in details
    refused = await stack.http.post(
        "/v1/events", json={"events": [{"id": "e1", "customer": who, "event_type": "x"}]}
    )
    assert refused.status_code == 402 and "fraud review" in refused.json()["error"]["message"]
    resumed = await handle.execute_update("resume", {"operator": "bob"})
    assert resumed["status"] == "active"
    await search_attributes_become(stack, who, "active", True)

    found = await stored(stack.db, who)
    assert (found.customer.status, found.wallet.balance) == ("active", Decimal(2))
    assert await violations(stack, who) == []
    alice = await operator_log(stack, "alice@ops")
    assert [e["action"] for e in alice] == ["update adjust", "update void_grant", "update adjust"]
    assert alice[0]["details"] == {"amount": "5", "reason": "goodwill"}
    assert {e["target"] for e in alice} == {customer_workflow_id(who)}
    bob = await operator_log(stack, "bob")
    assert [e["action"] for e in bob] == ["update pause", "update resume"]


REFUSED = [
    ("beyond the credit limit", "adjust", {"amount": "-0.01", "reason": "x", "operator": "a"}),
    ("unknown grant", "void_grant", {"grant_id": 999999999, "reason": "x", "operator": "a"}),
    ("float amount", "adjust", {"amount": 5.0, "reason": "x", "operator": "a"}),
    ("zero amount", "adjust", {"amount": "0", "reason": "x", "operator": "a"}),
    ("empty reason", "pause", {"reason": "", "operator": "a"}),
    ("no operator", "pause", {"reason": "x"}),
    ("extra field", "pause", {"reason": "x", "operator": "a", "until": "never"}),
    ("not paused", "resume", {"operator": "a"}),
]


@pytest.mark.parametrize(
    ("update", "payload"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
async def test_refused_updates_change_nothing(
    stack: Stack, unique_id: str, update: str, payload: dict[str, Any]
) -> None:
    who = f"ops_{unique_id}"
    await sign_up(stack, who)
    await search_attributes_become(stack, who, "active", False)
    handle = ui_handle(stack, who)
    before = await stored(stack.db, who)

    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(update, payload)

    after = await stored(stack.db, who)
    assert after.customer.status == before.customer.status
    assert after.wallet.balance == before.wallet.balance
    assert await operator_log(stack, "a") == []
    # The workflow is still there for the next update.
    assert (await handle.execute_update("pause", {"reason": "ok", "operator": "z"}))["status"] == (
        "paused"
    )


async def test_a_pause_through_the_api_reaches_the_workflow(stack: Stack, unique_id: str) -> None:
    who = f"ops_{unique_id}"
    await sign_up(stack, who)
    await grant(stack.db, who, "1")
    await search_attributes_become(stack, who, "active", True)

    paused = await stack.http.post(f"/v1/customers/{who}/pause", json={"reason": "chargeback"})
    assert paused.status_code == 200, paused.text
    await search_attributes_become(stack, who, "paused", True)
    assert "paused" in await current_details(ui_handle(stack, who))
    resumed = await stack.http.post(f"/v1/customers/{who}/resume", json={})
    assert resumed.json()["status"] == "active"
    await search_attributes_become(stack, who, "active", True)
