"""The customer workflow's timeline and processed message ids, kept in its state."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.customer import (
        MAX_PROCESSED_IDS,
        MAX_TIMELINE,
        CustomerState,
        TimelineEntry,
    )


def record(state: CustomerState, kind: str, message: str) -> None:
    state.timeline.append(TimelineEntry(at=workflow.now(), kind=kind, message=message))
    del state.timeline[:-MAX_TIMELINE]


def remember(state: CustomerState, message_id: str) -> bool:
    """Mark a message id processed; False when it was seen before (in any run)."""
    if message_id in state.processed_message_ids:
        return False
    state.processed_message_ids.append(message_id)
    del state.processed_message_ids[:-MAX_PROCESSED_IDS]
    return True
