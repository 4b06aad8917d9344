"""The delivery log: what the workflow sends next, each attempt's outcome, operator retries
and replays, and the log's pages."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.infra.db import Database
from creditgate.ledger.errors import NotFound
from creditgate.models import Customer, CustomerEvent, WebhookDelivery, WebhookEndpoint
from creditgate.webhooks import endpoints
from creditgate.webhooks.dispatch import new_delivery
from creditgate.webhooks.event_types import subscribed
from messages.webhooks import NextDelivery

MAX_ERROR_LENGTH = 500


async def next_delivery(db: Database, endpoint_pk: int, customer_id: int) -> NextDelivery:
    async with db.session() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_pk)
        if endpoint is None or not endpoint.enabled:
            return NextDelivery(state="stopped")
        stream = (
            col(WebhookDelivery.endpoint_id) == endpoint_pk,
            col(WebhookDelivery.customer_id) == customer_id,
        )
        failed = (
            await session.exec(
                select(WebhookDelivery.id).where(*stream, WebhookDelivery.status == "failed")
            )
        ).first()
        if failed is not None:
            return NextDelivery(state="blocked")
        pending = (
            await session.exec(
                select(WebhookDelivery)
                .where(*stream, WebhookDelivery.status == "pending")
                .order_by(col(WebhookDelivery.sequence))
                .limit(1)
            )
        ).first()
    if pending is None:
        return NextDelivery(state="idle")
    return NextDelivery(
        state="deliver",
        delivery=pending.id,
        generation=pending.generation,
        sequence=pending.sequence,
    )


@dataclass
class Attempt:
    """What one attempt sends: the row, its endpoint and its event."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: CustomerEvent


async def attempt(db: Database, delivery_pk: int, generation: int) -> Attempt | None:
    """The attempt to make, or None when there is none (reset, removed, disabled, done)."""
    async with db.session() as session:
        delivery = await session.get(WebhookDelivery, delivery_pk)
        if delivery is None or delivery.generation != generation:
            return None
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        event = await session.get(CustomerEvent, delivery.event_pk)
    if endpoint is None or not endpoint.enabled or event is None:
        return None
    return Attempt(delivery, endpoint, event)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


async def record(db: Database, delivery: WebhookDelivery, outcome: Outcome, final: bool) -> None:
    """Log the attempt; settle the row (delivered, or failed after the last attempt) and the
    endpoint (disabled on 410, failing after a last attempt, no longer failing once nothing
    is failed)."""
    now = datetime.now(UTC)
    this = col(WebhookDelivery.id) == delivery.id
    same_generation = col(WebhookDelivery.generation) == delivery.generation
    async with db.transaction() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(this)
            .values(
                attempts=col(WebhookDelivery.attempts) + 1,
                last_status_code=outcome.status_code,
                last_error=(outcome.error or "")[:MAX_ERROR_LENGTH] or None,
                last_attempt_at=now,
            )
        )
        endpoint = col(WebhookEndpoint.id) == delivery.endpoint_id
        if outcome.delivered:
            await session.exec(
                update(WebhookDelivery)
                .where(this, same_generation)
                .values(status="succeeded", delivered_at=now)
            )
            await _clear_failing(session, delivery.endpoint_id)
        elif outcome.gone:
            await session.exec(
                update(WebhookEndpoint)
                .where(endpoint)
                .values(enabled=False, disabled_reason="gone", updated_at=now)
            )
        elif final:
            await session.exec(
                update(WebhookDelivery).where(this, same_generation).values(status="failed")
            )
            await session.exec(
                update(WebhookEndpoint)
                .where(endpoint)
                .values(failing_since=func.coalesce(col(WebhookEndpoint.failing_since), now))
            )


async def _clear_failing(session: AsyncSession, endpoint_pk: int) -> None:
    failed = exists().where(
        col(WebhookDelivery.endpoint_id) == endpoint_pk, col(WebhookDelivery.status) == "failed"
    )
    await session.exec(
        update(WebhookEndpoint)
        .where(
            col(WebhookEndpoint.id) == endpoint_pk,
            col(WebhookEndpoint.failing_since).is_not(None),
            ~failed,
        )
        .values(failing_since=None)
    )


def _reset(delivery: WebhookDelivery) -> None:
    if delivery.status != "pending":
        delivery.status = "pending"
        delivery.generation += 1
        delivery.delivered_at = None
    delivery.needs_kick = True


async def retry(db: Database, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
    """Send the delivery again (its customer's later events follow it)."""
    async with db.transaction() as session:
        endpoint = await endpoints.find(session, endpoint_id)
        delivery = (
            await session.exec(
                select(WebhookDelivery).where(
                    WebhookDelivery.delivery_id == delivery_id,
                    WebhookDelivery.endpoint_id == endpoint.id,
                )
            )
        ).first()
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id!r} for endpoint {endpoint_id!r}")
        _reset(delivery)
        session.add(delivery)
        await session.flush()
        assert endpoint.id is not None
        await _clear_failing(session, endpoint.id)
        return delivery


async def replay(db: Database, endpoint_id: str, external_id: str, from_sequence: int) -> int:
    """Send the customer's events from ``from_sequence`` on (those the endpoint subscribes
    to) again, in order; returns how many."""
    async with db.transaction() as session:
        endpoint = await endpoints.find(session, endpoint_id)
        customer = (
            await session.exec(select(Customer).where(Customer.external_id == external_id))
        ).first()
        if customer is None:
            raise NotFound(f"no customer {external_id!r}")
        events = [
            event
            for event in (
                await session.exec(
                    select(CustomerEvent).where(
                        CustomerEvent.customer_id == customer.id,
                        col(CustomerEvent.sequence) >= from_sequence,
                    )
                )
            ).all()
            if subscribed(endpoint.event_types, event.type)
        ]
        existing = {
            d.event_pk: d
            for d in (
                await session.exec(
                    select(WebhookDelivery).where(
                        WebhookDelivery.endpoint_id == endpoint.id,
                        col(WebhookDelivery.event_pk).in_([e.id for e in events]),
                    )
                )
            ).all()
        }
        for event in events:
            delivery = existing.get(event.id or 0) or new_delivery(endpoint, event)
            _reset(delivery)
            session.add(delivery)
        await session.flush()
        assert endpoint.id is not None
        await _clear_failing(session, endpoint.id)
        return len(events)


async def page(
    session: AsyncSession, endpoint_id: str, limit: int, starting_after: str | None
) -> tuple[list[WebhookDelivery], bool]:
    """Newest first; ``starting_after`` is the last delivery id of the previous page."""
    endpoint = await endpoints.find(session, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if starting_after is not None:
        after = (
            await session.exec(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.delivery_id == starting_after,
                    WebhookDelivery.endpoint_id == endpoint.id,
                )
            )
        ).first()
        if after is None:
            raise NotFound(f"no delivery {starting_after!r} for endpoint {endpoint_id!r}")
        query = query.where(col(WebhookDelivery.id) < after)
    rows = list(
        (await session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit + 1))).all()
    )
    return rows[:limit], len(rows) > limit
