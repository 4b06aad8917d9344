"""The events Creditgate sends, in the OpenAPI document's ``webhooks`` (OpenAPI 3.1): one
operation per event type, whose body is the envelope with that type's ``data``."""

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, create_model

from creditgate.events.catalogue import DATA, EventType

SIGNATURE = (
    "Signed the Standard Webhooks way: `webhook-id` (the event's `id`), `webhook-timestamp` "
    "and `webhook-signature` headers, verifiable with any Standard Webhooks library and the "
    "endpoint's secret. Answer 2xx once handled; 410 disables the endpoint."
)


def envelope_model(event_type: EventType) -> type[BaseModel]:
    """The envelope of ``creditgate.events.envelope`` for one type."""
    name = "".join(part.title() for part in event_type.value.replace(".", "_").split("_"))
    literal: Any = Literal[event_type.value]
    model: type[BaseModel] = create_model(
        f"{name}Event",
        id=(str, ...),
        type=(literal, ...),
        created_at=(datetime, ...),
        external_id=(str, ...),
        sequence=(int, ...),
        data=(DATA[event_type], ...),
    )
    return model


def document_events(app: FastAPI) -> None:
    for event_type in EventType:
        body_model = envelope_model(event_type)

        async def receive(event: body_model) -> None:  # type: ignore[valid-type]
            """Documentation only: the product's endpoint receives this."""

        app.webhooks.post(
            event_type.value,
            summary=event_type.value,
            description=f"{(DATA[event_type].__doc__ or '').strip()}\n\n{SIGNATURE}",
        )(receive)
