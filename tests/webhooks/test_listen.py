"""``creditgate listen`` against the stack: registers an endpoint, prints each event with its
verified signature, and removes the endpoint on Ctrl-C."""

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.support.stack import API_KEY, Stack
from tests.webhooks.support import emit, sign_up

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "creditgate"


async def _line(process: asyncio.subprocess.Process, containing: str) -> str:
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert line, f"creditgate listen ended before printing {containing!r}"
        if containing in line:
            return line


async def _endpoint_ids(stack: Stack) -> set[str]:
    listed = (await stack.http.get("/v1/webhook-endpoints", params={"limit": 500})).json()
    return {e["id"] for e in listed["data"]}


async def test_listen_prints_verified_events_and_removes_its_endpoint(
    stack: Stack, unique_id: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    env |= {"CREDITGATE_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "listen",
        "--api",
        stack.base_url,
        "--events",
        "grant.created,purchase.succeeded",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        ready = await _line(process, "Ready")
        endpoint_id = ready.split(" as endpoint ")[1].split()[0]
        assert endpoint_id in await _endpoint_ids(stack)
        assert "whsec_" not in ready

        await sign_up(stack.db, unique_id)
        await emit(stack.db, unique_id, 3)  # grant.created, customer.cut_off, purchase.succeeded
        first = await _line(process, unique_id)
        # Sequence 1 is the signup's customer.created, which the listener did not ask for.
        assert "grant.created" in first and "#2" in first and "signature ok" in first
        third = await _line(process, unique_id)
        assert "purchase.succeeded" in third and "#4" in third

        process.send_signal(signal.SIGINT)
        await _line(process, f"Removed endpoint {endpoint_id}")
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
        assert endpoint_id not in await _endpoint_ids(stack)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
