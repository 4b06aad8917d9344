"""The production retry schedule on Temporal's time-skipping server: a delivery is retried
for more than three days; the receiver that recovers in time gets it, the one that never does
leaves the delivery failed and the endpoint failing."""

from datetime import timedelta
from typing import Any

from creditgate.infra.settings import Settings
from creditgate.webhooks import endpoints
from tests.support.time_skipping import TimeSkipping, skip
from tests.webhooks.receiver import receiver
from tests.webhooks.support import emit, sign_up
from worker.webhook_dispatch import WebhookDispatcher


async def test_deliveries_are_retried_for_more_than_three_days(
    time_skipping: TimeSkipping, unique_id: str
) -> None:
    recovers, never = f"{unique_id}-r", f"{unique_id}-n"
    for who in (recovers, never):
        await sign_up(time_skipping.db, who)
    settings = Settings(temporal_task_queue=time_skipping.task_queue)
    schedule = settings.webhook_retry_delays
    up = False

    async def down(event: dict[str, Any]) -> int:
        return 200 if up and event["external_id"] == recovers else 503

    async with receiver() as hook:
        endpoint = await endpoints.create(time_skipping.db, hook.url, ["*"], "schedule")
        hook.secret = endpoint.secret
        hook.answer = down
        await emit(time_skipping.db, recovers, 1)
        await emit(time_skipping.db, never, 1)
        await WebhookDispatcher(time_skipping.db, time_skipping.client, settings).dispatch_once()

        await skip(time_skipping.env, timedelta(days=3))
        # Every attempt of the schedule but the last has been made by now, none got through.
        for who in (recovers, never):
            tried = [r for r in hook.refused if r.event["external_id"] == who]
            assert len(tried) == len(schedule)
        assert hook.received == []

        up = True
        await skip(time_skipping.env, timedelta(days=1))
        assert hook.sequences(recovers) == [2]  # 1 is the signup's customer.created
        assert hook.sequences(never) == []
        async with time_skipping.db.session() as session:
            failing = await endpoints.find(session, endpoint.endpoint_id)
        assert failing.failing_since is not None and failing.enabled
        assert (
            len([r for r in hook.refused if r.event["external_id"] == never]) == len(schedule) + 1
        )
