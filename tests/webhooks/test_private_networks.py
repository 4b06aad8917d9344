"""Endpoints on private networks refused when they are not allowed: when saved (IP
literals, ``localhost``, names resolving to a non-public address, names that do not
resolve) and again before each delivery."""

import asyncio
import ipaddress
import socket
from typing import Any

import pytest
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from creditgate.models import WebhookDelivery, WebhookEndpoint
from creditgate.webhooks.addresses import is_public
from messages.webhooks import DELIVERY_FAILED, AttemptInput
from tests.ledger.support import serve_database
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.webhooks.conftest import Hook
from tests.webhooks.support import deliveries, emit, sign_up

BASE = "/v1/webhook-endpoints"
PUBLIC_URL = "https://93.184.216.34/hooks"
# This machine's own name: /etc/hosts (or the container's DNS) gives a local address.
HOSTNAME = socket.gethostname()
HOSTILE = [
    "https://169.254.169.254/latest/meta-data/",
    "http://localhost:5432/",
    "https://app.localhost/hooks",
    "https://10.0.0.5/",
    "https://127.0.0.1:8000/hooks",
    "https://0.0.0.0/",
    "https://100.64.0.1/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://[::1]/hooks",
    "https://[::]/hooks",
    "https://[fe80::1]/hooks",
    "https://[fd00::1]/hooks",
    "https://[ff02::1]/hooks",
    "https://[::ffff:169.254.169.254]/hooks",
    "https://2130706433/hooks",  # 127.0.0.1 written as one number
    f"https://{HOSTNAME}/hooks",
    "https://nothing-here.invalid/hooks",  # RFC 6761: never resolves
]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff0e::1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.5", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ],
)
def test_only_globally_reachable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_private_hosts_are_refused_and_nothing_is_stored(stack: Stack) -> None:
    local = {info[4][0] for info in socket.getaddrinfo(HOSTNAME, None)}
    assert not any(is_public(ipaddress.ip_address(str(a))) for a in local), local
    async with serve_database(stack.db, webhook_allow_private_networks=False) as guarded:
        before = await _urls(stack)
        for url in HOSTILE:
            response = await guarded.post(BASE, json={"url": url, "event_types": ["*"]})
            assert response.status_code == 422, (url, response.text)
            error = response.json()["error"]
            assert error["type"] == "invalid_url"
            assert "public internet" in error["message"], error
        assert await _urls(stack) == before

        created = await guarded.post(BASE, json={"url": PUBLIC_URL, "event_types": ["*"]})
        assert created.status_code == 201, created.text
        endpoint = created.json()["id"]
        try:
            for url in HOSTILE[:3]:
                changed = await guarded.patch(f"{BASE}/{endpoint}", json={"url": url})
                assert changed.status_code == 422, (url, changed.text)
            assert (await guarded.get(f"{BASE}/{endpoint}")).json()["url"] == PUBLIC_URL
        finally:
            await guarded.delete(f"{BASE}/{endpoint}")


async def test_a_delivery_to_a_private_address_is_not_sent_and_says_why(
    stack: Stack, hook: Hook, unique_id: str
) -> None:
    # The endpoint on 127.0.0.1 was saved while private networks were allowed (as the
    # stack's settings allow them); a worker refusing them does not connect to it.
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hold(_: dict[str, Any]) -> int:
        arrived.set()
        await release.wait()  # the stack's own attempt waits while the guarded one runs
        return 200

    hook.receiver.answer = hold
    await sign_up(stack.db, unique_id)
    try:
        await emit(stack.db, unique_id, 1)
        await asyncio.wait_for(arrived.wait(), timeout=30)
        delivery = await _delivery(stack, hook.id)
        guarded = WebhookActivities(stack.db, 5, allow_private_networks=False)
        attempt = AttemptInput(delivery=delivery.id, generation=delivery.generation, final=False)
        with pytest.raises(ApplicationError) as failed:
            await ActivityEnvironment().run(guarded.attempt_webhook_delivery, attempt)
        assert failed.value.type == DELIVERY_FAILED and failed.value.non_retryable
        logged = (await deliveries(stack.http, hook.id))[0]
        assert logged["attempts"] == 1 and logged["status"] == "pending"
        assert "not sent" in logged["last_error"] and "127.0.0.1" in logged["last_error"]
        assert hook.receiver.received == [] and hook.receiver.refused == []
    finally:
        release.set()
    await eventually(lambda: _received(hook), until=lambda got: got >= 1)


async def _urls(stack: Stack) -> list[str]:
    async with stack.db.session() as session:
        return list((await session.exec(select(WebhookEndpoint.url))).all())


async def _delivery(stack: Stack, endpoint_id: str) -> WebhookDelivery:
    async with stack.db.session() as session:
        found = await session.exec(
            select(WebhookDelivery)
            .join(WebhookEndpoint)
            .where(WebhookEndpoint.endpoint_id == endpoint_id)
        )
        return found.one()


async def _received(hook: Hook) -> int:
    return len(hook.receiver.received)
