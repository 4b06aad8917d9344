"""Group commit for usage events: concurrent requests share ledger transactions.

While a transaction is in flight, requests that arrive queue up; the next transaction takes
all of them (up to ``max_events``). Idle, a request is its own batch and waits for nothing;
under load the per-transaction cost (locks, round trips, commit) is paid once per batch
instead of once per request. Each request still gets its own per-event results, and
everything is decided under the same locks and rules as ``service.ingest``.

A request of ``solo_events`` or more already spreads that cost over its events: it runs in
its own transaction at once, beside the group commits and not counted against
``concurrency`` (with one transaction in flight per process, 1,000-event requests would
otherwise queue one behind the other while the cores sit idle). At most ``solo_limit`` of
those run at once; more wait here rather than for a pooled connection, whose wait times out.
"""

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger.errors import Busy
from creditgate.ledger.retry import lost_connection
from creditgate.ledger.usage import EventIn, UsageResult

Pending = tuple[list[EventIn], asyncio.Future[list[UsageResult]]]


class IngestBatcher:
    def __init__(
        self,
        db: Database,
        backdating: timedelta = service.DEFAULT_BACKDATING,
        max_events: int = 1000,
        concurrency: int = 4,
        solo_events: int = 100,
        solo_limit: int = 8,
    ) -> None:
        self.db = db
        self.backdating = backdating
        self.max_events = max_events
        self.solo_events = solo_events
        self._solo = asyncio.Semaphore(solo_limit)
        # Transactions in flight at once (PostgreSQL runs them in parallel; on SQLite they
        # queue on the write lock).
        self.concurrency = concurrency
        self._queue: deque[Pending] = deque()
        self._drainers: set[asyncio.Task[None]] = set()

    async def submit(self, events: list[EventIn]) -> list[UsageResult]:
        if len(events) >= self.solo_events:
            async with self._solo:
                return await service.ingest(self.db, events, self.backdating)
        future: asyncio.Future[list[UsageResult]] = asyncio.get_running_loop().create_future()
        self._queue.append((events, future))
        if len(self._drainers) < self.concurrency:
            task = asyncio.create_task(self._drain())
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        return await future

    def _take(self) -> list[Pending]:
        taken: list[Pending] = []
        size = 0
        while self._queue and (not taken or size + len(self._queue[0][0]) <= self.max_events):
            events, future = self._queue.popleft()
            taken.append((events, future))
            size += len(events)
        return taken

    async def _drain(self) -> None:
        while taken := self._take():
            batch = [event for events, _ in taken for event in events]
            try:
                results = await service.ingest(self.db, batch, self.backdating)
            except Exception as err:
                if len(taken) == 1 or lost_connection(err):
                    # The database is gone (the transaction already ran again once on a new
                    # connection): every request of the batch gets the error.
                    for _, future in taken:
                        _fail(future, err)
                else:
                    # Something in one request failed the shared transaction: each request
                    # runs again on its own, so only that one fails.
                    rerun = _Rerun(asyncio.Semaphore(self.concurrency))
                    await asyncio.gather(*(self._alone(rerun, *pending) for pending in taken))
                continue
            start = 0
            for events, future in taken:
                _settle(future, results[start : start + len(events)])
                start += len(events)

    async def _alone(
        self,
        rerun: "_Rerun",
        events: list[EventIn],
        future: asyncio.Future[list[UsageResult]],
    ) -> None:
        customers = {event.customer for event in events}
        async with rerun.limit:
            if customers & rerun.busy:
                # Another request of this customer alone already waited out the lock timeout.
                _fail(future, Busy())
                return
            try:
                results = await service.ingest(self.db, events, self.backdating)
            except Exception as err:
                if isinstance(err, Busy) and len(customers) == 1:
                    rerun.busy |= customers
                _fail(future, err)
                return
        _settle(future, results)


@dataclass
class _Rerun:
    """The requests of a failed shared transaction, run again one by one."""

    limit: asyncio.Semaphore
    # Customers whose lock a request alone waited for in vain: their other requests fail at
    # once instead of each waiting out the lock timeout again.
    busy: set[str] = field(default_factory=set)


def _settle(future: asyncio.Future[list[UsageResult]], results: list[UsageResult]) -> None:
    # A request whose client went away is still debited: accepted is accepted.
    if not future.done():
        future.set_result(results)


def _fail(future: asyncio.Future[list[UsageResult]], err: Exception) -> None:
    if not future.done():
        future.set_exception(err)
