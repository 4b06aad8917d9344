"""The worker started before its Temporal server waits for it instead of exiting (a process
supervisor, or ``creditgate dev``, would otherwise see a dead worker after a server restart)."""

import asyncio
import os
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from creditgate.devtools.migrate import upgrade
from tests.support.ports import free_port
from tests.support.stack import TEMPORAL_BIN
from tests.support.waiting import eventually


async def test_a_worker_started_before_temporal_polls_once_the_server_is_up(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/creditgate.db"
    await asyncio.to_thread(upgrade, url)
    port = free_port()
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "CREDITGATE_DATABASE_URL": url,
        "CREDITGATE_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "CREDITGATE_TEMPORAL_TASK_QUEUE": "startup-test",
    }
    with log.open("wb") as out:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", env=env, stdout=out, stderr=out
        )
    try:
        await eventually(
            lambda: asyncio.to_thread(log.read_text),
            until=lambda text: "unreachable" in text,
            what="the worker's first failed connection",
        )
        assert worker.returncode is None, log.read_text()
        server = await WorkflowEnvironment.start_local(
            port=port, dev_server_existing_path=str(TEMPORAL_BIN), dev_server_log_level="error"
        )
        try:
            await eventually(
                lambda: asyncio.to_thread(log.read_text),
                until=lambda text: "worker polling task queue" in text,
                timeout=60,
                what="the worker to connect and poll",
            )
            assert worker.returncode is None, log.read_text()
        finally:
            worker.terminate()
            assert await worker.wait() == 0, log.read_text()
            await server.shutdown()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
