"""Request and response bodies of the webhook endpoints API."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, StringConstraints

from api.schemas.common import RequestBody
from creditgate.models import WebhookDelivery, WebhookEndpoint
from creditgate.values.identifiers import STORABLE
from creditgate.webhooks.event_types import ALL_TYPES, unknown

_MADE_ID = r"^[A-Za-z0-9_-]+$"
EndpointIdPath = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_MADE_ID)]
DeliveryIdPath = EndpointIdPath
MAX_OVERLAP_SECONDS = 7 * 86400


def _known_types(types: list[str]) -> list[str]:
    bad = unknown(types)
    if bad:
        raise ValueError(
            f"unknown event type(s) {', '.join(repr(t) for t in bad)} "
            f"(see docs/events.md; {ALL_TYPES!r} subscribes to every type)"
        )
    return sorted(set(types))


EventTypes = Annotated[
    list[Annotated[str, StringConstraints(max_length=60)]],
    Field(min_length=1, max_length=100),
    AfterValidator(_known_types),
]
Url = Annotated[HttpUrl, Field(max_length=2048)]
Description = Annotated[str, StringConstraints(max_length=500, pattern=STORABLE)]


class EndpointCreate(RequestBody):
    url: Url
    event_types: EventTypes
    description: Description = ""


class EndpointUpdate(RequestBody):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: Annotated[bool | None, Field(strict=True)] = None


class SecretRotation(RequestBody):
    # How long the old secret keeps signing too (deliveries carry both signatures).
    overlap_seconds: Annotated[int, Field(ge=0, le=MAX_OVERLAP_SECONDS, strict=True)] = 86400


class EndpointPublic(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: Literal["operator", "gone"] | None
    # A delivery's last attempt failed; that customer's later events wait for a retry.
    failing: bool
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WebhookEndpoint) -> "EndpointPublic":
        return cls(
            id=row.endpoint_id,
            url=row.url,
            description=row.description,
            event_types=row.event_types,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            failing=row.failing_since is not None,
            failing_since=row.failing_since,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class EndpointWithSecret(EndpointPublic):
    """Answered once, on creation and rotation: the secret is not shown again."""

    secret: str
    previous_secret_expires_at: datetime | None = None

    @classmethod
    def with_secret(cls, row: WebhookEndpoint) -> "EndpointWithSecret":
        return cls(
            **EndpointPublic.of(row).model_dump(),
            secret=row.secret,
            previous_secret_expires_at=row.previous_secret_expires_at,
        )


class EndpointPage(BaseModel):
    data: list[EndpointPublic]
    has_more: bool
    next_starting_after: str | None


class DeliveryPublic(BaseModel):
    id: str
    event_id: str
    event_type: str
    external_id: str
    sequence: int
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookDelivery) -> "DeliveryPublic":
        return cls(
            id=row.delivery_id,
            event_id=row.event_id,
            event_type=row.event_type,
            external_id=row.external_id,
            sequence=row.sequence,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
        )


class DeliveryPage(BaseModel):
    data: list[DeliveryPublic]
    has_more: bool
    next_starting_after: str | None


class ReplayCreate(RequestBody):
    endpoint: EndpointIdPath
    from_sequence: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)] = 1


class ReplayAccepted(BaseModel):
    endpoint: str
    external_id: str
    from_sequence: int
    # Events queued for the endpoint again (those of the types it subscribes to).
    events: int
