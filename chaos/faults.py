"""The faults: SIGKILLs of the API, the worker (while a purchase or a recharge is in flight)
and the Temporal server (while signups and purchases run), each followed by a restart."""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlmodel import col, select

from chaos.processes import Processes
from creditgate.infra.db import Database
from creditgate.models import Purchase

IN_FLIGHT_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
IN_FLIGHT_LEAD_SECONDS = 0.3


@dataclass
class Faults:
    processes: Processes
    db: Database
    log: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {text}"
        self.log.append(line)
        print(f"chaos: {line}", flush=True)

    async def _kill(self, name: str) -> None:
        await asyncio.to_thread(self.processes.kill, name)

    async def _restart(self, name: str) -> None:
        began = time.monotonic()
        await asyncio.to_thread(self.processes.restart, name)
        self.note(f"{name} restarted (serving again after {time.monotonic() - began:.1f}s)")

    async def kill_api(self, downtime: float) -> None:
        await self._kill("api")
        self.note("API killed (SIGKILL) under load")
        await asyncio.sleep(downtime)
        await self._restart("api")

    async def _pending(self, kind: str) -> str | None:
        async with self.db.session() as session:
            found = (
                await session.exec(
                    select(Purchase.id)
                    .where(col(Purchase.kind) == kind, col(Purchase.status) == "pending")
                    .limit(1)
                )
            ).first()
        return found

    async def kill_worker_during(self, kind: str, downtime: float) -> bool:
        """Kill the worker as soon as a ``kind`` (purchase/recharge) is pending; True if one
        was (else it is killed anyway after a while, and the miss is reported)."""
        deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
        in_flight = await self._pending(kind)
        while in_flight is None and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            in_flight = await self._pending(kind)
        await self._kill("worker")
        what = f"{kind} {in_flight} pending" if in_flight else f"no {kind} was pending"
        self.note(f"worker killed (SIGKILL), {what}")
        await asyncio.sleep(downtime)
        await self._restart("worker")
        return in_flight is not None

    async def kill_temporal_during(
        self,
        started: asyncio.Event,
        busy: Callable[[], bool],
        work: Awaitable[None],
        downtime: float,
    ) -> bool:
        """Start ``work`` (signups), kill Temporal just after it ``started``, restart after
        ``downtime`` on the same SQLite file; True if the work was in flight at the kill."""
        task = asyncio.ensure_future(work)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(started.wait(), IN_FLIGHT_WAIT_SECONDS)
        await asyncio.sleep(IN_FLIGHT_LEAD_SECONDS)  # the requests reach the API and Temporal
        was_busy = busy()
        await self._kill("temporal")
        self.note(f"Temporal server killed (SIGKILL), signups in flight: {was_busy}")
        await asyncio.sleep(downtime)
        await self._restart("temporal")
        await task
        return was_busy
