"""The outbox relay: signals each ledger outbox row to its customer workflow, then marks it sent.

Delivery is at least once (a crash between the signal and the mark sends the row again; the
workflow de-duplicates by ``message_id``) and in order per workflow: rows of one workflow go
out in id order, and after a failure the rest of that workflow's rows wait for the retry.

A pass claims a batch in one short transaction (``claimed_until``: other relays leave the
rows alone until then; on PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED`` so two
relays never claim the same row), signals with no transaction open, and marks the outcomes in
a second short transaction. No row lock and no SQLite write lock is held across a signal. A
relay that dies mid-batch leaves claims that run out after ``claim_seconds``.

A failed signal records ``attempts`` and ``last_error`` and is retried with backoff. A row
whose workflow does not exist is dead-lettered (``dead_at``) after ``max_attempts``: it and
the later rows of its workflow wait, ``creditgate check`` reports it, and
``creditgate outbox retry`` puts it back. Other failures (Temporal unreachable) are retried
for as long as they last: nothing accepted is dropped.

Each loop also releases expired holds (``sweep_expired_holds``) about once a second.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from creditgate.infra.db import Database
from creditgate.ledger.service import sweep_expired_holds
from creditgate.models import Customer, OutboxMessage
from messages.customer import LedgerNotice
from worker.loop import repeat
from workflows.customer import CustomerWorkflow

log = logging.getLogger("creditgate.relay")

SIGNAL_TIMEOUT = timedelta(seconds=10)
MAX_ERROR_LENGTH = 1000
MAX_ATTEMPTS = 20  # for a missing workflow: about a quarter of an hour with the backoff


@dataclass(frozen=True)
class Failure:
    error: str
    gone: bool  # the workflow does not exist


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
        max_attempts: int = MAX_ATTEMPTS,
        claim_seconds: float = 300.0,
    ) -> None:
        self.db = db
        self.client = client
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.claim = timedelta(seconds=claim_seconds)
        # workflow id → monotonic time before which its rows are not tried again.
        self._retry_at: dict[str, float] = {}
        self._next_sweep = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and sweep until ``stop`` is set."""
        log.info("outbox relay started")
        await repeat(stop, self._pass, self.poll_interval, log, "outbox relay pass")
        log.info("outbox relay stopped")

    async def _pass(self) -> bool:
        """Sweep if due, relay one batch; True when a full batch went (more are probably
        waiting)."""
        await self._sweep_if_due()  # logs its own failures
        return await self.relay_once() >= self.batch_size

    async def relay_once(self) -> int:
        """Send one batch of unsent rows; returns how many were signalled and marked sent."""
        rows = await self._claim()
        if not rows:
            return 0
        outcomes = await self._deliver(rows)
        await self._mark(rows, outcomes)
        return sum(1 for failure in outcomes.values() if failure is None)

    # -- claiming and marking, each in a short transaction -------------------------------------

    async def _claim(self) -> list[OutboxMessage]:
        now = datetime.now(UTC)
        # A read first: an idle relay never takes SQLite's write lock.
        async with self.db.session() as session:
            if (await session.exec(self._unsent(now).limit(1))).first() is None:
                return []
        async with self.db.transaction() as session:
            query = self._unsent(now).limit(self.batch_size)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = await self._in_order(session, list((await session.exec(query)).all()))
            if rows:
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_([row.id for row in rows]))
                    .values(claimed_until=now + self.claim)
                )
        return rows

    async def _mark(
        self, rows: Sequence[OutboxMessage], outcomes: dict[int, Failure | None]
    ) -> None:
        now = datetime.now(UTC)
        sent = [row_id for row_id, failure in outcomes.items() if failure is None]
        async with self.db.transaction() as session:
            if sent:
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(sent), col(OutboxMessage.sent_at).is_(None))
                    .values(sent_at=now, claimed_until=None)
                )
            for row in rows:
                failure = outcomes.get(row.id or 0)
                if row.id not in outcomes:  # left for the retry behind a failed one
                    values: dict[str, object] = {"claimed_until": None}
                elif failure is None:
                    continue
                else:
                    attempts = row.attempts + 1
                    dead = failure.gone and attempts >= self.max_attempts
                    values = {
                        "attempts": attempts,
                        "last_error": failure.error,
                        "claimed_until": None,
                        "dead_at": now if dead else None,
                    }
                    if dead:
                        log.error(
                            "outbox row %s (%s for %s) dead-lettered after %d attempts: %s",
                            row.id,
                            row.kind,
                            row.workflow_id,
                            attempts,
                            failure.error,
                        )
                await session.exec(
                    update(OutboxMessage).where(col(OutboxMessage.id) == row.id).values(**values)
                )

    def _unsent(self, now: datetime) -> SelectOfScalar[OutboxMessage]:
        """Rows to send: not sent, not dead, not claimed, not behind a dead row of their
        workflow, not backing off."""
        dead = select(OutboxMessage.workflow_id).where(
            col(OutboxMessage.dead_at).is_not(None), col(OutboxMessage.sent_at).is_(None)
        )
        query = select(OutboxMessage).where(
            col(OutboxMessage.sent_at).is_(None),
            col(OutboxMessage.dead_at).is_(None),
            or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now),
            col(OutboxMessage.workflow_id).not_in(dead),
        )
        mono = time.monotonic()
        for workflow_id, retry_at in list(self._retry_at.items()):
            if retry_at <= mono:
                del self._retry_at[workflow_id]
        if self._retry_at:
            query = query.where(col(OutboxMessage.workflow_id).not_in(list(self._retry_at)))
        return query.order_by(col(OutboxMessage.id))

    async def _in_order(
        self, session: AsyncSession, rows: list[OutboxMessage]
    ) -> list[OutboxMessage]:
        """Keep, per workflow, only the rows no other unsent row of it precedes.

        Another relay may hold some of a workflow's rows (claimed, or locked and passed over
        by ``SKIP LOCKED``, possibly in the middle of our batch): its rows from the first one
        we do not hold on wait for a later pass, so a workflow's messages never overtake each
        other.
        """
        if not rows:
            return rows
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

    async def _deliver(self, rows: Sequence[OutboxMessage]) -> dict[int, Failure | None]:
        """Signal rows in order; row id → None when sent, else the failure. After a
        workflow's first failure its later rows in the batch are left for the retry."""
        outcomes: dict[int, Failure | None] = {}
        failed: set[str] = set()
        for row in rows:
            if row.workflow_id in failed:
                continue
            assert row.id is not None
            failure = await self._signal(row)
            outcomes[row.id] = failure
            if failure is None:
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
                failure.error,
            )
        return outcomes

    async def _closed(self, customer_id: int) -> bool:
        async with self.db.session() as session:
            customer = await session.get(Customer, customer_id)
        return customer is not None and customer.status == "closed"

    async def _signal(self, row: OutboxMessage) -> Failure | None:
        notice = LedgerNotice(
            message_id=row.message_id, kind=row.kind, payload=row.payload, at=row.created_at
        )
        handle = self.client.get_workflow_handle(row.workflow_id)
        try:
            await handle.signal(CustomerWorkflow.ledger_notice, notice, rpc_timeout=SIGNAL_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                if await self._closed(row.customer_id):
                    # A closed account's workflow has completed: nothing is left to tell it.
                    log.info("outbox row %s (%s) dropped: account closed", row.id, row.kind)
                    return None
                return Failure(_clip(f"workflow {row.workflow_id} not found: {err.message}"), True)
            return Failure(_clip(f"signal failed ({err.status.name}): {err.message}"), False)
        except Exception as err:
            return Failure(_clip(f"signal failed: {err!r}"), False)
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
