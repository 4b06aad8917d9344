"""Portal links for tests: a fresh one from the API, or one made as if minutes ago."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from api.portal.sessions import LINK_SALT
from tests.support.stack import Stack


async def portal_link(stack: Stack, external_id: str, **body: Any) -> str:
    response = await stack.http.post(f"/v1/customers/{external_id}/portal-sessions", json=body)
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def link_made_ago(stack: Stack, external_id: str, seconds: float) -> str:
    """A link signed with the stack's secret ``seconds`` ago (the time is in the signature)."""

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - seconds)

    signer = URLSafeTimedSerializer(stack.settings.portal_secret, salt=LINK_SALT, signer=Earlier)
    token = signer.dumps({"customer": external_id, "return_url": None})
    return f"{stack.base_url}/portal/open?token={token}"


def browser_client(stack: Stack) -> httpx.AsyncClient:
    """An HTTP client as a browser: no API key, cookies kept, redirects not followed."""
    return httpx.AsyncClient(base_url=stack.base_url, timeout=60)


@asynccontextmanager
async def open_portal(stack: Stack, external_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client signed in to ``external_id``'s portal."""
    async with browser_client(stack) as client:
        opened = await client.get(await portal_link(stack, external_id))
        assert opened.status_code == 303, opened.text
        yield client
