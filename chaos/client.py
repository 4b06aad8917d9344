"""An HTTP client that retries as a real client does: on connection errors, timeouts and any
5xx, with capped exponential backoff (honouring ``Retry-After``), until a deadline."""

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT_SECONDS = 20.0
GIVE_UP_SECONDS = 180.0
MAX_BACKOFF_SECONDS = 2.0
MAX_RETRY_AFTER_SECONDS = 5.0


class GaveUp(RuntimeError):
    pass


@dataclass
class Stats:
    requests: int = 0
    # Why a request was sent again: "connection" (refused, reset, timed out) or the status.
    retries: Counter[str] = field(default_factory=Counter)
    # Every answer sent again (a 5xx, a 409 workflow_busy): "500 internal_error on POST
    # /v1/customers".
    retried_answers: Counter[str] = field(default_factory=Counter)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), MAX_RETRY_AFTER_SECONDS) if value else None
    except ValueError:
        return None


def _route(path: str) -> str:
    """``/v1/customers/{id}/purchases`` for ``/v1/customers/chaos-3/purchases?limit=5``."""
    parts = path.split("?")[0].split("/")
    named = {"customers", "purchases", "holds", "plans"}
    return "/".join(
        "{id}" if i > 0 and parts[i - 1] in named else part for i, part in enumerate(parts)
    )


def _error_type(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["type"])
    except (ValueError, KeyError, TypeError):
        return "no JSON error body"


@dataclass
class RetryingClient:
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    give_up_seconds: float = GIVE_UP_SECONDS
    _http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self.headers,
                timeout=TIMEOUT_SECONDS,
                limits=httpx.Limits(max_connections=32, keepalive_expiry=10),
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The first answer below 500; connection errors, 5xx and 409 ``workflow_busy`` (a
        customer workflow still finishing a signup a crash interrupted) are sent again."""
        deadline = time.monotonic() + self.give_up_seconds
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            wait: float | None = None
            try:
                response = await self.http.request(method, path, **kwargs)
            except httpx.TransportError as err:
                cause = f"connection ({type(err).__name__})"
            else:
                busy = response.status_code == 409 and _error_type(response) == "workflow_busy"
                if response.status_code < 500 and not busy:
                    return response
                cause = str(response.status_code)
                self.stats.retried_answers[
                    f"{response.status_code} {_error_type(response)} on {method} {_route(path)}"
                ] += 1
                wait = _retry_after(response)
            self.stats.retries[cause] += 1
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {path}: still failing after {attempt} attempts ({cause})")
            backoff = min(MAX_BACKOFF_SECONDS, 0.1 * 2**attempt) * random.uniform(0.5, 1.0)
            await asyncio.sleep(wait if wait is not None else backoff)
