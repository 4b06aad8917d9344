import asyncio
import logging
import signal

from temporalio.service import RPCError

from creditgate.infra.db import Database
from creditgate.infra.settings import get_settings
from creditgate.infra.temporal import connect_patiently
from creditgate.payments.stripe_gateway import StripeGateway
from worker.reconcile import Reconciler
from worker.registry import build_worker
from worker.relay import OutboxRelay
from worker.search_attributes import ensure_search_attributes
from worker.webhook_dispatch import WebhookDispatcher

log = logging.getLogger("creditgate.worker")


async def run_worker() -> None:
    settings = get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await connect_patiently(settings, stop)
    if client is None:
        return
    try:
        await ensure_search_attributes(client, settings.temporal_namespace)
    except RPCError as err:  # e.g. Temporal Cloud, where the namespace config owns them
        log.warning("could not register search attributes (%s); register them yourself", err)
    db = Database(settings.database_url)
    stripe = StripeGateway.from_settings(settings)
    worker = build_worker(client, settings.temporal_task_queue, db, stripe, settings)
    log.info(
        "worker polling task queue %r on %s",
        settings.temporal_task_queue,
        settings.temporal_address,
    )
    relaying = asyncio.create_task(OutboxRelay(db, client).run(stop), name="outbox-relay")
    dispatching = asyncio.create_task(
        WebhookDispatcher(db, client, settings).run(stop), name="webhook-dispatch"
    )
    reconciler = Reconciler(db, client, stripe, settings.temporal_task_queue)
    reconciling = asyncio.create_task(reconciler.run(stop), name="reconciliation")
    try:
        async with worker:
            await stop.wait()
    finally:
        stop.set()
        await relaying
        await dispatching
        await reconciling
        await db.dispose()
