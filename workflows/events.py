"""Outbound events from workflow code (the catalogue: ``creditgate.events.catalogue``).

The customer workflow's handlers ``emit`` into its state; its main loop records them in order
(``record_pending``). Child workflows ``record`` theirs at once. Each event's key names the
state change, so a retried activity or a replayed handler records it once. Workflows whose
history predates events record none (``EVENTS_PATCH``).
"""

from temporalio import workflow

from workflows.activity_calls import call

with workflow.unsafe.imports_passed_through():
    from activities.events import EventActivities
    from creditgate.events.catalogue import EventData, EventType
    from messages.customer import MAX_PENDING_EVENTS, CustomerState
    from messages.events import RecordEventInput

EVENTS_PATCH = "customer-events-v1"


def _event(external_id: str, type: EventType, key: str, data: EventData) -> RecordEventInput:
    return RecordEventInput(
        external_id=external_id,
        type=str(type),
        key=key,
        data=data.dump(),
        created_at=workflow.now(),
    )


def emit(state: CustomerState, type: EventType, key: str, data: EventData) -> None:
    state.pending_events.append(_event(state.profile.external_id, type, key, data))
    del state.pending_events[:-MAX_PENDING_EVENTS]


async def record_pending(state: CustomerState) -> None:
    """Record the emitted events, oldest first (callers hold the customer workflow's lock)."""
    while state.pending_events:
        event = state.pending_events[0]
        await call(EventActivities.record_event, event)
        if state.pending_events and state.pending_events[0] is event:
            state.pending_events.pop(0)


async def record(external_id: str, type: EventType, key: str, data: EventData) -> None:
    if workflow.patched(EVENTS_PATCH):
        await call(EventActivities.record_event, _event(external_id, type, key, data))
