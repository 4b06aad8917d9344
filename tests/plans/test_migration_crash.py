"""A migration of 500 customers survives a worker restart mid-way and
moves each exactly once.

The migration runs on ``python -m worker`` in a subprocess on its own task queue; once some
batches have moved customers the worker is SIGKILLed, then started again. Every move writes an
audit row in the transaction that moves the customer, so "exactly once" is read back from the
database: 500 rows, 500 distinct customers.
"""

import asyncio
import os
import signal
import uuid
from collections import Counter
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy

from creditgate.plans.migrations import migration_workflow_id, new_migration_id
from messages.plan_migration import MigrationProgress, PlanMigrationInput
from tests.api.support import create_plan
from tests.plans.support import (
    bulk_customers,
    get_migration,
    moves_of,
    new_version,
    plan_versions,
    wait_until_finished,
)
from tests.support.plans import design_plan, plan_code
from tests.support.stack import Stack, worker_process
from tests.support.waiting import eventually
from workflows.plan_migration import PlanMigrationWorkflow

CUSTOMERS = 500


async def test_a_migration_of_500_customers_survives_a_worker_kill_and_moves_each_once(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    cheaper = design_plan(code)
    cheaper["prices"][0]["unit_amount"] = "0.000002"
    await new_version(stack, code, cheaper)
    ids = await bulk_customers(stack, unique_id, code, 1, CUSTOMERS)
    # Already on version 2, and on another plan: neither is touched.
    bystanders = await bulk_customers(stack, f"{unique_id}-v2", code, 2, 3)
    other_code = plan_code(unique_id, "-other")
    await create_plan(stack, design_plan(other_code))
    bystanders += await bulk_customers(stack, f"{unique_id}-other", other_code, 1, 3)

    task_queue = f"migration-crash-{uuid.uuid4().hex[:8]}"
    migration_id = new_migration_id()
    workflow_id = migration_workflow_id(code, 1, 2, migration_id)
    with worker_process(stack, task_queue) as first:
        handle = await stack.client.start_workflow(
            PlanMigrationWorkflow.run,
            PlanMigrationInput(
                migration_id=migration_id,
                plan_code=code,
                from_version=1,
                to_version=2,
                effective="now",
                batch_size=20,
                batch_pause_seconds=0.3,
                batches_per_run=6,  # continue-as-new on the way, too
            ),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        before = await eventually(
            lambda: get_migration_or_none(stack, code, migration_id),
            until=lambda m: m is not None and m["moved"] >= 100,
            timeout=90,
            what="the first batches to move customers",
        )
        os.killpg(first.pid, signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
    assert before is not None
    at_kill = await get_migration(stack, code, migration_id)
    assert at_kill["status"] == "running"
    assert 100 <= at_kill["moved"] < CUSTOMERS, at_kill
    assert at_kill["total"] == CUSTOMERS
    assert at_kill["workflow_id"] == workflow_id

    with worker_process(stack, task_queue):
        done = await wait_until_finished(stack, code, migration_id, timeout=180)
        progress: MigrationProgress = await handle.result()

    assert done["status"] == "completed", done
    assert done["moved"] == CUSTOMERS
    assert done["total"] == CUSTOMERS
    assert done["completed_at"] is not None
    assert progress.status == "completed"
    assert progress.moved == CUSTOMERS
    assert progress.run_number > 1  # it continued as new at least once
    assert progress.batches >= CUSTOMERS // 20

    versions = await plan_versions(stack, ids)
    assert set(versions.values()) == {(2, None)}
    moved = Counter(await moves_of(stack, migration_id))
    assert len(moved) == CUSTOMERS
    assert set(moved) == set(ids)
    assert set(moved.values()) == {1}, [c for c, n in moved.items() if n > 1]
    untouched = await plan_versions(stack, bystanders)
    assert sorted(untouched.values()) == [(1, None)] * 3 + [(2, None)] * 3

    # Running it again finds nobody left on version 1.
    again = await stack.http.post(
        f"/v1/plans/{code}/migrate", json={"from_version": 1, "to_version": 2, "effective": "now"}
    )
    assert again.status_code == 202, again.text
    repeat = await wait_until_finished(stack, code, again.json()["id"])
    assert (repeat["status"], repeat["total"], repeat["moved"]) == ("completed", 0, 0)
    assert len(await moves_of(stack, migration_id)) == CUSTOMERS


async def get_migration_or_none(
    stack: Stack, code: str, migration_id: str
) -> dict[str, Any] | None:
    response = await stack.http.get(f"/v1/plans/{code}/migrations/{migration_id}")
    if response.status_code == 404:  # the workflow's first activity has not made it yet
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
