"""Events pushed to a real HTTP receiver that verifies every signature with the
``standardwebhooks`` library: order, retries, holding back, 410, rotation, log, replay."""

import asyncio
from functools import partial
from typing import Any

from sqlmodel import col, select
from temporalio.client import Client

from creditgate.models import Customer, WebhookCursor
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.webhooks.conftest import Hook
from tests.webhooks.support import deliveries, emit, sign_up


async def test_each_customers_events_arrive_in_sequence_without_gaps(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    alice, bob = f"{unique_id}-a", f"{unique_id}-b"
    await sign_up(stack.db, alice)
    await sign_up(stack.db, bob)

    await asyncio.gather(emit(stack.db, alice, 12), emit(stack.db, bob, 12))

    for who in (alice, bob):
        await eventually(partial(_sequences, hook, who), until=lambda got: len(got) >= 12, what=who)
        assert hook.receiver.sequences(who) == list(range(2, 14))
    assert hook.receiver.unverified == []
    # A delivery is marked succeeded just after the receiver answered.
    log = await eventually(
        lambda: deliveries(stack.http, hook.id),
        until=lambda got: (
            [d["status"] for d in got if d["external_id"] in (alice, bob)] == ["succeeded"] * 24
        ),
        what="24 deliveries marked succeeded",
    )
    mine = [d for d in log if d["external_id"] in (alice, bob)]
    assert len(mine) == 24
    assert all(d["last_status_code"] == 200 and d["delivered_at"] for d in mine)
    # The body is the event's one envelope, its webhook-id the event id.
    first = hook.receiver.of(alice)[0]
    assert first.webhook_id == first.event["id"]
    assert set(first.event) == {"id", "type", "created_at", "external_id", "sequence", "data"}


async def test_a_receiver_down_for_a_while_then_up_gets_everything_in_order(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    await sign_up(stack.db, unique_id)
    up = asyncio.Event()

    async def down_until_up(_: dict[str, Any]) -> int:
        return 200 if up.is_set() else 503

    hook.receiver.answer = down_until_up
    await emit(stack.db, unique_id, 5)

    refused = await eventually(
        lambda: _refused(hook, unique_id),
        until=lambda got: len(got) >= 3,
        what="three refused attempts",
    )
    # Only the first event is tried while it fails: the later ones wait behind it.
    assert set(refused) == {2}
    up.set()

    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 5)
    assert hook.receiver.sequences(unique_id) == [2, 3, 4, 5, 6]
    log = {d["sequence"]: d for d in await deliveries(stack.http, hook.id)}
    assert log[2]["attempts"] >= 4 and log[2]["status"] == "succeeded"


async def test_an_attempt_without_an_answer_in_time_is_retried(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    await sign_up(stack.db, unique_id)
    release = asyncio.Event()
    calls = 0

    async def hang_the_first(_: dict[str, Any]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()  # longer than the stack's 5 s attempt timeout
        return 200

    hook.receiver.answer = hang_the_first
    try:
        await emit(stack.db, unique_id, 2)
        await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 2)
    finally:
        release.set()
    assert hook.receiver.sequences(unique_id) == [2, 3]
    log = {d["sequence"]: d for d in await deliveries(stack.http, hook.id)}
    assert log[2]["attempts"] == 2 and log[2]["status"] == "succeeded"


async def test_a_failing_event_holds_back_only_its_own_customer_until_retried(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    stuck, other = f"{unique_id}-s", f"{unique_id}-o"
    await sign_up(stack.db, stuck)
    await sign_up(stack.db, other)
    broken = True

    async def fail_stucks_second(event: dict[str, Any]) -> int:
        failing = broken and event["external_id"] == stuck and event["sequence"] == 3
        return 500 if failing else 200

    hook.receiver.answer = fail_stucks_second
    await emit(stack.db, stuck, 3)
    await emit(stack.db, other, 3)

    await eventually(lambda: _sequences(hook, other), until=lambda s: len(s) >= 3)
    assert hook.receiver.sequences(other) == [2, 3, 4]
    # After the last attempt of the schedule: the delivery failed, the endpoint is failing,
    # and the customer's third event still waits.
    endpoint = await eventually(
        lambda: _endpoint(stack, hook.id), until=lambda e: e["failing"], timeout=60
    )
    assert endpoint["enabled"] is True
    assert hook.receiver.sequences(stuck) == [2]
    log = {
        d["sequence"]: d for d in await deliveries(stack.http, hook.id) if d["external_id"] == stuck
    }
    assert log[3]["status"] == "failed"
    assert log[3]["attempts"] == len(stack.settings.webhook_retry_delays) + 1
    assert log[3]["last_status_code"] == 500
    assert log[4]["status"] == "pending" and log[4]["attempts"] == 0
    # An operator finds it in the Temporal UI.
    await eventually(
        lambda: _failing_workflows(stack.client, hook.id),
        until=lambda ids: ids == [f"webhook-{hook.id}-{stuck}"],
        what="the failing workflow in visibility",
    )

    broken = False
    response = await stack.http.post(
        f"/v1/webhook-endpoints/{hook.id}/deliveries/{log[3]['id']}/retry"
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await eventually(lambda: _sequences(hook, stuck), until=lambda s: len(s) >= 3)
    assert hook.receiver.sequences(stuck) == [2, 3, 4]
    endpoint = await _endpoint(stack, hook.id)
    assert endpoint["failing"] is False and endpoint["failing_since"] is None


async def test_410_disables_the_endpoint_and_reenabling_sends_the_backlog(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    await sign_up(stack.db, unique_id)
    gone = True

    async def gone_then_back(_: dict[str, Any]) -> int:
        return 410 if gone else 200

    hook.receiver.answer = gone_then_back
    await emit(stack.db, unique_id, 3)

    endpoint = await eventually(lambda: _endpoint(stack, hook.id), until=lambda e: not e["enabled"])
    assert endpoint["disabled_reason"] == "gone"
    # Told once: a 410 is not retried.
    assert len(await _refused(hook, unique_id)) == 1
    await emit(stack.db, unique_id, 1, start=3)
    # The dispatcher has passed event 4 while the endpoint was disabled.
    await eventually(lambda: _dispatched(stack, unique_id), until=lambda n: n >= 5)
    assert hook.receiver.sequences(unique_id) == []

    gone = False
    response = await stack.http.patch(f"/v1/webhook-endpoints/{hook.id}", json={"enabled": True})
    assert response.status_code == 200 and response.json()["disabled_reason"] is None
    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 3)
    # Events recorded while it was disabled are not sent; the backlog from before is.
    assert hook.receiver.sequences(unique_id) == [2, 3, 4]


async def test_rotating_the_secret_keeps_every_delivery_verifiable(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    await sign_up(stack.db, unique_id)
    old = hook.receiver.secret
    await emit(stack.db, unique_id, 1)
    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 1)

    rotated = await stack.http.post(
        f"/v1/webhook-endpoints/{hook.id}/rotate-secret", json={"overlap_seconds": 3600}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated.json()["previous_secret_expires_at"] is not None

    # The receiver still on the old secret verifies (both signatures are sent) ...
    await emit(stack.db, unique_id, 1, start=1)
    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 2)
    assert len(hook.receiver.of(unique_id)[-1].headers["webhook-signature"].split(" ")) == 2
    # ... and so does one switched to the new secret.
    hook.receiver.secret = new
    await emit(stack.db, unique_id, 1, start=2)
    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 3)
    assert hook.receiver.sequences(unique_id) == [2, 3, 4]
    assert hook.receiver.unverified == []

    # Without overlap the old secret stops signing at once: a receiver still on it refuses
    # (and the delivery is retried) until it takes the newest secret.
    immediate = await stack.http.post(
        f"/v1/webhook-endpoints/{hook.id}/rotate-secret", json={"overlap_seconds": 0}
    )
    newest = immediate.json()["secret"]
    await emit(stack.db, unique_id, 1, start=3)
    await eventually(lambda: _unverified(hook), until=lambda n: n >= 1)
    assert hook.receiver.sequences(unique_id) == [2, 3, 4]
    hook.receiver.secret = newest
    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 4)
    assert hook.receiver.sequences(unique_id) == [2, 3, 4, 5]


async def test_replay_resends_a_customers_events_from_a_sequence_with_their_ids(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    await sign_up(stack.db, unique_id)
    await emit(stack.db, unique_id, 4)
    await eventually(lambda: _sequences(hook, unique_id), until=lambda s: len(s) >= 4)
    first_ids = [r.webhook_id for r in hook.receiver.of(unique_id)]

    response = await stack.http.post(
        f"/v1/customers/{unique_id}/events/replay",
        json={"endpoint": hook.id, "from_sequence": 4},
    )
    assert response.status_code == 202, response.text
    assert response.json()["events"] == 2

    await eventually(lambda: _count(hook, unique_id), until=lambda n: n >= 6)
    again = hook.receiver.of(unique_id)[4:]
    assert [r.event["sequence"] for r in again] == [4, 5]
    assert [r.webhook_id for r in again] == first_ids[2:]

    # The log pages newest first.
    page = (await stack.http.get(f"/v1/webhook-endpoints/{hook.id}/deliveries?limit=3")).json()
    assert page["has_more"] is True and len(page["data"]) == 3
    rest = await stack.http.get(
        f"/v1/webhook-endpoints/{hook.id}/deliveries",
        params={"limit": 3, "starting_after": page["next_starting_after"]},
    )
    sequences = [d["sequence"] for d in page["data"] + rest.json()["data"]]
    assert sorted(sequences, reverse=True) == sequences == [5, 4, 3, 2]


async def test_replay_refuses_unknown_endpoints_and_customers(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    await sign_up(stack.db, unique_id)
    for external_id, body in (
        (unique_id, {"endpoint": "we_missing", "from_sequence": 1}),
        (f"{unique_id}-nobody", {"endpoint": hook.id, "from_sequence": 1}),
    ):
        response = await stack.http.post(f"/v1/customers/{external_id}/events/replay", json=body)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found"
    bad = await stack.http.post(
        f"/v1/customers/{unique_id}/events/replay", json={"endpoint": hook.id, "from_sequence": 0}
    )
    assert bad.status_code == 422
    assert await deliveries(stack.http, hook.id) == []


# -- probes -----------------------------------------------------------------------------------


async def _sequences(hook: Hook, external_id: str) -> list[int]:
    return hook.receiver.sequences(external_id)


async def _count(hook: Hook, external_id: str) -> int:
    return len(hook.receiver.of(external_id))


async def _unverified(hook: Hook) -> int:
    return len(hook.receiver.unverified)


async def _refused(hook: Hook, external_id: str) -> list[int]:
    return [
        r.event["sequence"] for r in hook.receiver.refused if r.event["external_id"] == external_id
    ]


async def _dispatched(stack: Stack, external_id: str) -> int:
    """The last of the customer's events the dispatcher fanned out."""
    async with stack.db.session() as session:
        cursor = (
            await session.exec(
                select(WebhookCursor)
                .join(Customer, col(Customer.id) == col(WebhookCursor.customer_id))
                .where(Customer.external_id == external_id)
            )
        ).first()
    return cursor.dispatched_sequence if cursor else 0


async def _endpoint(stack: Stack, endpoint_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/v1/webhook-endpoints/{endpoint_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _failing_workflows(client: Client, endpoint_id: str) -> list[str]:
    query = (
        f"CreditgateWebhookEndpoint = '{endpoint_id}' AND CreditgateWebhookStatus = 'failing'"
        " AND ExecutionStatus = 'Running'"
    )
    return [w.id async for w in client.list_workflows(query)]
