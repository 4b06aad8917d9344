"""Plan migrations over HTTP: next_period schedules the change, one running migration per
plan, and bad inputs are 4xx JSON errors that change nothing."""

from typing import Any

from sqlalchemy import func, select

from creditgate.models import PlanMigration
from creditgate.plans import migrations as plan_migrations
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
from tests.support.stack import Stack


async def migrate(stack: Stack, code: str, body: Any) -> Any:
    return await stack.http.post(f"/v1/plans/{code}/migrate", json=body)


async def test_next_period_sets_next_plan_version_and_leaves_plan_version(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    await new_version(stack, code, design_plan(code))
    ids = await bulk_customers(stack, unique_id, code, 1, 7)

    response = await migrate(
        stack, code, {"from_version": 1, "to_version": 2, "effective": "next_period"}
    )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] == "running"
    assert (started["plan"], started["from_version"], started["to_version"]) == (code, 1, 2)
    assert started["effective"] == "next_period"
    assert started["total"] == 7
    assert started["workflow_id"] == f"plan-migration-{code}-1-2-{started['id'][4:12]}"
    handle = stack.client.get_workflow_handle(started["workflow_id"])

    done = await wait_until_finished(stack, code, started["id"])
    assert (done["status"], done["total"], done["moved"]) == ("completed", 7, 7)
    assert done["completed_at"] is not None
    assert set((await plan_versions(stack, ids)).values()) == {(1, 2)}
    assert sorted(await moves_of(stack, started["id"])) == sorted(ids)
    progress = await handle.query("progress")
    assert (progress["status"], progress["moved"]) == ("completed", 7)

    # Scheduled already: a second next_period migration finds nobody to move.
    again = (
        await migrate(stack, code, {"from_version": 1, "to_version": 2, "effective": "next_period"})
    ).json()
    repeat = await wait_until_finished(stack, code, again["id"])
    assert (repeat["status"], repeat["moved"]) == ("completed", 0)
    listed = (await stack.http.get(f"/v1/plans/{code}/migrations")).json()
    assert [m["id"] for m in listed] == [again["id"], started["id"]]


async def test_a_second_migration_of_a_plan_while_one_runs_is_409(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    await new_version(stack, code, design_plan(code))
    ids = await bulk_customers(stack, unique_id, code, 1, 2)
    running = await plan_migrations.create(
        stack.db,
        plan_migrations.MigrationSpec(
            migration_id=plan_migrations.new_migration_id(),
            plan_code=code,
            from_version=2,
            to_version=1,
            effective="now",
            workflow_id="held-by-the-test",
        ),
    )
    response = await migrate(stack, code, {"from_version": 1, "to_version": 2})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["type"] == "conflict"
    assert running.id in response.json()["error"]["message"]
    assert set((await plan_versions(stack, ids)).values()) == {(1, None)}

    await plan_migrations.finish(stack.db, running.id, "failed", "released by the test")
    response = await migrate(stack, code, {"from_version": 1, "to_version": 2})
    assert response.status_code == 202, response.text
    assert (await wait_until_finished(stack, code, response.json()["id"]))["moved"] == 2
    assert set((await plan_versions(stack, ids)).values()) == {(2, None)}


async def count_migrations(stack: Stack, code: str) -> int:
    async with stack.db.read_engine.connect() as conn:
        table = PlanMigration.__table__  # type: ignore[attr-defined]
        query = select(func.count()).select_from(table).where(table.c.plan_code == code)
        return int((await conn.execute(query)).scalar_one())


async def test_bad_migrations_are_4xx_json_and_change_nothing(stack: Stack, unique_id: str) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    await new_version(stack, code, design_plan(code))
    credits = design_plan(code)
    credits["credit_unit"] = {"name": "credits", "price": "0.01"}
    await new_version(stack, code, credits)  # version 3 keeps balances in credits
    other = plan_code(unique_id, "-other")
    await create_plan(stack, design_plan(other))
    ids = await bulk_customers(stack, unique_id, code, 1, 3)

    cases: list[tuple[str, Any, int, str]] = [
        ("nope-" + code[:90], {"from_version": 1, "to_version": 2}, 404, "not_found"),
        (code, {"from_version": 1, "to_version": 9}, 404, "not_found"),
        (code, {"from_version": 9, "to_version": 1}, 404, "not_found"),
        (code, {"from_version": 1, "to_version": 1}, 400, "invalid_migration"),
        (code, {"from_version": 1, "to_version": 3}, 400, "invalid_migration"),
        (code, {"from_version": 1, "to_version": 2, "effective": "later"}, 422, "validation_error"),
        (code, {"from_version": "1", "to_version": 2}, 422, "validation_error"),
        (code, {"from_version": 1.0, "to_version": 2}, 422, "validation_error"),
        (code, {"from_version": 0, "to_version": 2}, 422, "validation_error"),
        (code, {"from_version": 1}, 422, "validation_error"),
        (code, {"from_version": 1, "to_version": 2, "plan": other}, 422, "validation_error"),
        (code, [1, 2], 422, "validation_error"),
        ("Bad Code", {"from_version": 1, "to_version": 2}, 422, "validation_error"),
    ]
    for url_code, body, status, kind in cases:
        response = await migrate(stack, url_code, body)
        assert response.status_code == status, (url_code, body, response.text)
        assert response.json()["error"]["type"] == kind, (body, response.text)
        assert response.json()["error"]["message"]
    response = await stack.http.post(
        f"/v1/plans/{code}/migrate",
        content=b'{"from_version": 1,',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_json"

    for path in (f"/v1/plans/{code}/migrations/mig_unknown", f"/v1/plans/{code}/migrations/a%20b"):
        response = await stack.http.get(path)
        assert response.status_code in (404, 422), response.text
        assert "error" in response.json()

    assert await count_migrations(stack, code) == 0
    assert set((await plan_versions(stack, ids)).values()) == {(1, None)}
    # A migration is read under its own plan's code only.
    started = await migrate(stack, other, {"from_version": 1, "to_version": 1})
    assert started.status_code == 400
    response = await migrate(stack, code, {"from_version": 1, "to_version": 2})
    assert response.status_code == 202
    migration_id = response.json()["id"]
    response = await stack.http.get(f"/v1/plans/{other}/migrations/{migration_id}")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert (await get_migration(stack, code, migration_id))["id"] == migration_id
    await wait_until_finished(stack, code, migration_id)
