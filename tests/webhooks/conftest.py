"""A receiver with an endpoint registered for it on the stack, removed after the test."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.stack import Stack
from tests.webhooks.receiver import Receiver, receiver
from tests.webhooks.support import TYPES, create_endpoint


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
        # The types ``emit`` records: not the ``customer.created`` of every signup, so what a
        # receiver gets of a customer starts at sequence 2.
        endpoint = await create_endpoint(stack.http, listening.url, list(TYPES))
        listening.secret = endpoint["secret"]
        yield Hook(listening, endpoint)
        await stack.http.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
