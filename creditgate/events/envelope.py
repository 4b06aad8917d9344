"""The one JSON shape of an event, whether pulled (``GET .../events``) or pushed (webhooks)."""

from typing import Any

from creditgate.models import CustomerEvent


def envelope(event: CustomerEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "external_id": event.external_id,
        "sequence": event.sequence,
        "data": event.data,
    }
