"""Outbound webhooks: endpoints, their delivery log, retries and replays."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import HttpUrl

from api.deps import DbDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.schemas.common import ERRORS
from api.schemas.webhooks import (
    DeliveryIdPath,
    DeliveryPage,
    DeliveryPublic,
    EndpointCreate,
    EndpointIdPath,
    EndpointPage,
    EndpointPublic,
    EndpointUpdate,
    EndpointWithSecret,
    ReplayAccepted,
    ReplayCreate,
    SecretRotation,
)
from creditgate.infra.settings import Settings
from creditgate.values.identifiers import ExternalId
from creditgate.webhooks import addresses, deliveries, endpoints

router = APIRouter(tags=["webhooks"], responses=ERRORS)
PREFIX = "/webhook-endpoints"
Limit = Annotated[int, Query(ge=1, le=500)]
StartingAfter = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


async def _checked_url(url: HttpUrl, settings: Settings) -> str:
    if not settings.webhook_allow_private_networks:
        refused = await addresses.refusal(str(url))
        if refused is not None:
            raise ApiError(
                422,
                "invalid_url",
                f"webhook endpoints must be on the public internet: {refused} "
                "(CREDITGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS allows private networks)",
            )
    if url.scheme != "https" and settings.env == "production" and not settings.webhook_allow_http:
        raise ApiError(
            422,
            "invalid_url",
            "webhook endpoints must use https in production "
            "(CREDITGATE_WEBHOOK_ALLOW_HTTP allows http)",
        )
    return str(url)


@router.post(PREFIX, status_code=status.HTTP_201_CREATED, response_model=EndpointWithSecret)
async def create_endpoint(
    body: EndpointCreate, db: DbDep, settings: SettingsDep
) -> EndpointWithSecret:
    """Register an endpoint for the given event types (``*``: all). The answer carries its
    signing secret (Standard Webhooks, ``whsec_…``), shown this once."""
    url = await _checked_url(body.url, settings)
    created = await endpoints.create(db, url, body.event_types, body.description)
    return EndpointWithSecret.with_secret(created)


@router.get(PREFIX, response_model=EndpointPage)
async def list_endpoints(
    session: SessionDep, limit: Limit = 50, starting_after: StartingAfter = None
) -> EndpointPage:
    """Endpoints, oldest first; pass the last id as ``starting_after`` for the next page."""
    rows, has_more = await endpoints.page(session, limit, starting_after)
    return EndpointPage(
        data=[EndpointPublic.of(r) for r in rows],
        has_more=has_more,
        next_starting_after=rows[-1].endpoint_id if has_more and rows else None,
    )


@router.get(PREFIX + "/{endpoint_id}", response_model=EndpointPublic)
async def read_endpoint(endpoint_id: EndpointIdPath, session: SessionDep) -> EndpointPublic:
    return EndpointPublic.of(await endpoints.find(session, endpoint_id))


@router.patch(PREFIX + "/{endpoint_id}", response_model=EndpointPublic)
async def update_endpoint(
    endpoint_id: EndpointIdPath, body: EndpointUpdate, db: DbDep, settings: SettingsDep
) -> EndpointPublic:
    """Change the URL, event types or description; ``enabled: false`` stops deliveries (the
    backlog is kept), ``enabled: true`` sends the backlog."""
    changes = endpoints.EndpointChanges(
        url=await _checked_url(body.url, settings) if body.url is not None else None,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
    )
    return EndpointPublic.of(await endpoints.change(db, endpoint_id, changes))


@router.delete(PREFIX + "/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(endpoint_id: EndpointIdPath, db: DbDep) -> Response:
    """Remove the endpoint and its delivery log."""
    await endpoints.remove(db, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(PREFIX + "/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
async def rotate_secret(
    endpoint_id: EndpointIdPath, db: DbDep, body: SecretRotation | None = None
) -> EndpointWithSecret:
    """A new signing secret, shown this once. For ``overlap_seconds`` deliveries are signed
    with the old and the new secret, so receivers can switch without rejecting any."""
    overlap = timedelta(seconds=(body or SecretRotation()).overlap_seconds)
    return EndpointWithSecret.with_secret(await endpoints.rotate_secret(db, endpoint_id, overlap))


@router.get(PREFIX + "/{endpoint_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    endpoint_id: EndpointIdPath,
    session: SessionDep,
    limit: Limit = 50,
    starting_after: StartingAfter = None,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first."""
    rows, has_more = await deliveries.page(session, endpoint_id, limit, starting_after)
    return DeliveryPage(
        data=[DeliveryPublic.of(r) for r in rows],
        has_more=has_more,
        next_starting_after=rows[-1].delivery_id if has_more and rows else None,
    )


@router.post(
    PREFIX + "/{endpoint_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
)
async def retry_delivery(
    endpoint_id: EndpointIdPath, delivery_id: DeliveryIdPath, db: DbDep
) -> DeliveryPublic:
    """Send the delivery again; the customer's later events held behind it follow."""
    return DeliveryPublic.of(await deliveries.retry(db, endpoint_id, delivery_id))


@router.post(
    "/customers/{external_id}/events/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReplayAccepted,
)
async def replay_events(external_id: ExternalId, body: ReplayCreate, db: DbDep) -> ReplayAccepted:
    """Send the customer's events from ``from_sequence`` on to the endpoint again, in order
    (with their original ``webhook-id``, so receivers can de-duplicate)."""
    count = await deliveries.replay(db, body.endpoint, external_id, body.from_sequence)
    return ReplayAccepted(
        endpoint=body.endpoint,
        external_id=external_id,
        from_sequence=body.from_sequence,
        events=count,
    )
