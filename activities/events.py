from temporalio import activity

from creditgate.events import store
from creditgate.infra.db import Database
from messages.events import RecordedEvent, RecordEventInput


class EventActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    async def record_event(self, input: RecordEventInput) -> RecordedEvent:
        event = await store.record(
            self.db, input.external_id, input.type, input.key, input.data, input.created_at
        )
        return RecordedEvent(event_id=event.event_id, sequence=event.sequence)
