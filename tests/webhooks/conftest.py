"""A receiver with an endpoint registered for it on the stack, removed after the test."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.stack import Stack
from tests.webhooks.receiver import Receiver, receiver
from tests.webhooks.support import create_endpoint


@dataclass
class Hook:
    receiver: Receiver
    endpoint: dict[str, Any]

    @property
    def id(self) -> str:
        endpoint_id: str = self.endpoint["id"]
        return endpoint_id


@pytest.fixture
async def hook(stack: Stack) -> AsyncIterator[Hook]:
    async with receiver() as listening:
        endpoint = await create_endpoint(stack.http, listening.url)
        listening.secret = endpoint["secret"]
        yield Hook(listening, endpoint)
        await stack.http.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
