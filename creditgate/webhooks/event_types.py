"""The event types an endpoint may subscribe to: the catalogue (docs/events.md), or ``*``."""

from creditgate.events.catalogue import EventType

ALL_TYPES = "*"

EVENT_TYPES: frozenset[str] = frozenset(EventType)


def unknown(types: list[str]) -> list[str]:
    return [t for t in types if t != ALL_TYPES and t not in EVENT_TYPES]


def subscribed(event_types: list[str], event_type: str) -> bool:
    return ALL_TYPES in event_types or event_type in event_types
