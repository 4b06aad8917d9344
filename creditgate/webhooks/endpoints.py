"""Webhook endpoints: create, read, change, rotate the secret, delete."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.infra.db import Database
from creditgate.ledger.errors import NotFound
from creditgate.models import CustomerEvent, WebhookDelivery, WebhookEndpoint
from creditgate.webhooks.signing import new_secret


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


async def create(
    db: Database, url: str, event_types: list[str], description: str
) -> WebhookEndpoint:
    async with db.transaction() as session:
        last_event = (await session.exec(select(func.max(CustomerEvent.id)))).one()
        endpoint = WebhookEndpoint(
            endpoint_id=f"we_{uuid.uuid4().hex}",
            url=url,
            event_types=event_types,
            description=description,
            secret=new_secret(),
            after_event=last_event or 0,
        )
        session.add(endpoint)
        await session.flush()
        return endpoint


async def find(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    found = (
        await session.exec(
            select(WebhookEndpoint).where(WebhookEndpoint.endpoint_id == endpoint_id)
        )
    ).first()
    if found is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    return found


async def page(
    session: AsyncSession, limit: int, starting_after: str | None
) -> tuple[list[WebhookEndpoint], bool]:
    """Oldest first; ``starting_after`` is the last endpoint id of the previous page."""
    query = select(WebhookEndpoint)
    if starting_after is not None:
        after = await find(session, starting_after)
        query = query.where(col(WebhookEndpoint.id) > after.id)
    rows = list(
        (await session.exec(query.order_by(col(WebhookEndpoint.id)).limit(limit + 1))).all()
    )
    return rows[:limit], len(rows) > limit


async def change(db: Database, endpoint_id: str, changes: EndpointChanges) -> WebhookEndpoint:
    async with db.transaction() as session:
        endpoint = await find(session, endpoint_id)
        if changes.url is not None:
            endpoint.url = changes.url
        if changes.event_types is not None:
            endpoint.event_types = changes.event_types
        if changes.description is not None:
            endpoint.description = changes.description
        if changes.enabled is True and not endpoint.enabled:
            endpoint.enabled = True
            endpoint.disabled_reason = None
            # Its backlog goes out again: the dispatcher signals each customer's workflow.
            await session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.endpoint_id) == endpoint.id,
                    col(WebhookDelivery.status) == "pending",
                )
                .values(needs_kick=True)
            )
        elif changes.enabled is False and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_reason = "operator"
        endpoint.updated_at = datetime.now(UTC)
        session.add(endpoint)
        return endpoint


async def rotate_secret(db: Database, endpoint_id: str, overlap: timedelta) -> WebhookEndpoint:
    """A new secret; the old one keeps signing too until ``overlap`` has passed."""
    async with db.transaction() as session:
        endpoint = await find(session, endpoint_id)
        now = datetime.now(UTC)
        endpoint.previous_secret = endpoint.secret if overlap > timedelta(0) else None
        endpoint.previous_secret_expires_at = now + overlap if overlap > timedelta(0) else None
        endpoint.secret = new_secret()
        endpoint.updated_at = now
        session.add(endpoint)
        return endpoint


async def remove(db: Database, endpoint_id: str) -> None:
    """The endpoint and its delivery log; its workflows find it gone and end."""
    async with db.transaction() as session:
        endpoint = await find(session, endpoint_id)
        await session.exec(
            delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id)
        )
        await session.delete(endpoint)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]
