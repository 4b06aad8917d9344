"""The worker (``python -m worker``, its dispatcher and its workflows) SIGKILLed while a
delivery is on the wire: after a restart every event arrives, in order per customer, and a
delivery sent twice carries the same ``webhook-id`` both times."""

import asyncio
import os
import signal
import subprocess
import uuid
from collections import defaultdict
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from temporalio.testing import WorkflowEnvironment

from creditgate.infra.db import Database
from creditgate.webhooks import endpoints
from tests.support.stack import worker_subprocess
from tests.support.waiting import eventually
from tests.webhooks.receiver import Receiver, receiver
from tests.webhooks.support import emit, sign_up


def worker_process(
    env: WorkflowEnvironment, db_url: str, task_queue: str
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """The production worker on its own database and task queue, short retry delays."""
    return worker_subprocess(
        {
            "CREDITGATE_DATABASE_URL": db_url,
            "CREDITGATE_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "CREDITGATE_TEMPORAL_NAMESPACE": env.client.namespace,
            "CREDITGATE_TEMPORAL_TASK_QUEUE": task_queue,
            "CREDITGATE_WEBHOOK_RETRY_DELAYS": "1,1,1,1,1",
        }
    )


async def test_a_worker_killed_mid_delivery_still_delivers_every_event_in_order(
    temporal_env: WorkflowEnvironment, db_url: str, unique_id: str
) -> None:
    db = Database(db_url)
    first, second = f"{unique_id}-1", f"{unique_id}-2"
    await sign_up(db, first)
    await sign_up(db, second)
    task_queue = f"kill-{uuid.uuid4().hex[:8]}"
    try:
        async with receiver() as hook:
            endpoint = await endpoints.create(db, hook.url, ["*"], "killed worker")
            hook.secret = endpoint.secret
            killed = asyncio.Event()
            with worker_process(temporal_env, db_url, task_queue) as process:
                pid = process.pid

                async def kill_on_the_third(event: dict[str, Any]) -> int:
                    third = event["external_id"] == first and event["sequence"] == 3
                    if third and not killed.is_set():
                        os.killpg(pid, signal.SIGKILL)
                        killed.set()
                    return 200

                hook.answer = kill_on_the_third
                await emit(db, first, 6)
                await emit(db, second, 6)
                await asyncio.wait_for(killed.wait(), timeout=90)
            # Recorded while no worker runs: the next one dispatches them.
            await emit(db, first, 2, start=6)
            await emit(db, second, 2, start=6)
            with worker_process(temporal_env, db_url, task_queue):
                for who in (first, second):
                    await eventually(
                        partial(_count, hook, who),
                        until=lambda n: n >= 8,
                        timeout=120,
                        what=f"{who}'s 8 events after the restart",
                    )
            assert hook.sequences(first) == list(range(2, 10))  # 1: customer.created
            assert hook.sequences(second) == list(range(2, 10))
            assert hook.unverified == []
            # At least once: the delivery cut off by the kill came again, with its webhook-id;
            # no webhook-id ever carried a different event.
            sent: dict[str, set[tuple[str, int]]] = defaultdict(set)
            for got in hook.received:
                sent[got.webhook_id].add((got.event["external_id"], got.event["sequence"]))
            assert all(len(events) == 1 for events in sent.values())
            third = [r.webhook_id for r in hook.of(first) if r.event["sequence"] == 3]
            assert len(third) >= 2 and len(set(third)) == 1
    finally:
        await db.dispose()


async def _count(hook: Receiver, who: str) -> int:
    return len(hook.sequences(who))
