"""The outbox relay: signals each ledger outbox row to its customer workflow, then marks it sent.

Delivery is at least once (a crash between the signal and the commit sends the row again;
the workflow de-duplicates by ``message_id``) and in order per workflow: rows of one workflow
go out in id order, and after a failure the rest of that workflow's rows wait for the retry.
A row is never dropped: a missing workflow or a failed signal records ``attempts`` and
``last_error`` and the row is tried again with backoff.

On PostgreSQL a pass runs in one transaction that locks its rows ``FOR UPDATE SKIP LOCKED``,
so several workers never send the same row at the same time. On SQLite (one machine, tests)
rows are read without a lock and marked in a short write transaction afterwards, so the
database's single write lock is never held across network calls.

Each loop also releases expired holds (``sweep_expired_holds``) about once a second.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from creditgate.db import Database
from creditgate.ledger.service import sweep_expired_holds
from creditgate.models import OutboxMessage
from workflows.customer import CustomerWorkflow
from workflows.models import LedgerNotice

log = logging.getLogger("creditgate.relay")

SIGNAL_TIMEOUT = timedelta(seconds=10)
MAX_ERROR_LENGTH = 1000


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        client: Client,
        poll_interval: float = 0.2,
        batch_size: int = 100,
        *,
        sweep_interval: float = 1.0,
        min_backoff: float = 0.5,
        max_backoff: float = 60.0,
    ) -> None:
        self.db = db
        self.client = client
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        # workflow id → monotonic time before which its rows are not tried again.
        self._retry_at: dict[str, float] = {}
        self._next_sweep = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and sweep until ``stop`` is set."""
        log.info("outbox relay started")
        while not stop.is_set():
            sent = 0
            try:
                sent = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying")
            await self._sweep_if_due()
            if sent >= self.batch_size:
                continue  # more rows are probably waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)
        log.info("outbox relay stopped")

    async def relay_once(self) -> int:
        """Send one batch of unsent rows; returns how many were signalled and marked sent."""
        if self.db.is_sqlite:
            return await self._relay_unlocked()
        return await self._relay_locked()

    # -- the two ways of claiming rows -----------------------------------------------------------

    async def _relay_locked(self) -> int:
        async with self.db.transaction() as session:
            rows = list(
                (await session.exec(self._unsent().with_for_update(skip_locked=True))).all()
            )
            if not rows:
                return 0
            rows = await self._in_order(session, rows)
            outcomes = await self._deliver(rows)
            now = datetime.now(UTC)
            for row in rows:
                if row.id not in outcomes:
                    continue
                error = outcomes[row.id]
                if error is None:
                    row.sent_at = now
                else:
                    row.attempts += 1
                    row.last_error = error
                session.add(row)
        return sum(1 for error in outcomes.values() if error is None)

    async def _relay_unlocked(self) -> int:
        async with self.db.session() as session:
            rows = list((await session.exec(self._unsent())).all())
        if not rows:
            return 0
        outcomes = await self._deliver(rows)
        if not outcomes:
            return 0
        now = datetime.now(UTC)
        sent = [row_id for row_id, error in outcomes.items() if error is None]
        async with self.db.transaction() as session:
            if sent:
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(sent), col(OutboxMessage.sent_at).is_(None))
                    .values(sent_at=now)
                )
            for row_id, error in outcomes.items():
                if error is not None:
                    await session.exec(
                        update(OutboxMessage)
                        .where(col(OutboxMessage.id) == row_id)
                        .values(attempts=col(OutboxMessage.attempts) + 1, last_error=error)
                    )
        return len(sent)

    def _unsent(self) -> SelectOfScalar[OutboxMessage]:
        query = select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
        now = time.monotonic()
        for workflow_id, retry_at in list(self._retry_at.items()):
            if retry_at <= now:
                del self._retry_at[workflow_id]
        if self._retry_at:
            query = query.where(col(OutboxMessage.workflow_id).not_in(list(self._retry_at)))
        return query.order_by(col(OutboxMessage.id)).limit(self.batch_size)

    async def _in_order(
        self, session: AsyncSession, rows: list[OutboxMessage]
    ) -> list[OutboxMessage]:
        """Keep, per workflow, only the rows no other unsent row of it precedes.

        Another relay may hold some of a workflow's rows (``SKIP LOCKED`` passed over them,
        possibly in the middle of our batch): its rows from the first one we do not hold on
        wait for a later pass, so a workflow's messages never overtake each other.
        """
        held = {row.id for row in rows}
        unsent = await session.exec(
            select(OutboxMessage.workflow_id, OutboxMessage.id)
            .where(
                col(OutboxMessage.sent_at).is_(None),
                col(OutboxMessage.workflow_id).in_({row.workflow_id for row in rows}),
                col(OutboxMessage.id) <= max(row.id or 0 for row in rows),
            )
            .order_by(col(OutboxMessage.id))
        )
        gap: dict[str, int] = {}  # workflow id → its first unsent row someone else holds
        for workflow_id, row_id in unsent.all():
            if row_id is not None and row_id not in held:
                gap.setdefault(workflow_id, row_id)
        return [
            row
            for row in rows
            if row.workflow_id not in gap or (row.id or 0) < gap[row.workflow_id]
        ]

    # -- signalling ------------------------------------------------------------------------------

    async def _deliver(self, rows: Sequence[OutboxMessage]) -> dict[int, str | None]:
        """Signal rows in order; row id → None when sent, else the error. After a workflow's
        first failure its later rows in the batch are left for the retry."""
        outcomes: dict[int, str | None] = {}
        failed: set[str] = set()
        for row in rows:
            if row.workflow_id in failed:
                continue
            assert row.id is not None
            error = await self._signal(row)
            outcomes[row.id] = error
            if error is None:
                self._retry_at.pop(row.workflow_id, None)
                continue
            failed.add(row.workflow_id)
            delay = min(self.max_backoff, self.min_backoff * 2 ** min(row.attempts, 16))
            self._retry_at[row.workflow_id] = time.monotonic() + delay
            log.warning(
                "outbox row %s (%s for %s) not delivered, attempt %d, retry in %.1fs: %s",
                row.id,
                row.kind,
                row.workflow_id,
                row.attempts + 1,
                delay,
                error,
            )
        return outcomes

    async def _signal(self, row: OutboxMessage) -> str | None:
        notice = LedgerNotice(
            message_id=row.message_id, kind=row.kind, payload=row.payload, at=row.created_at
        )
        handle = self.client.get_workflow_handle(row.workflow_id)
        try:
            await handle.signal(CustomerWorkflow.ledger_notice, notice, rpc_timeout=SIGNAL_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return _clip(f"workflow {row.workflow_id} not found: {err.message}")
            return _clip(f"signal failed ({err.status.name}): {err.message}")
        except Exception as err:
            return _clip(f"signal failed: {err!r}")
        return None

    # -- holds ---------------------------------------------------------------------------------

    async def _sweep_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_interval
        try:
            released = await sweep_expired_holds(self.db)
        except Exception:
            log.exception("sweeping expired holds failed; retrying")
            return
        if released:
            log.debug("released expired holds of %d customers", released)


def _clip(message: str) -> str:
    return message[:MAX_ERROR_LENGTH]
