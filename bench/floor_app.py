"""The least a Python HTTP service with one database round trip costs here: a bare ASGI app
under the same uvicorn as the API, answering every request with a fixed JSON body after one
``SELECT 1`` through an asyncpg pool. Not Creditgate code: the bench measures it one request
at a time beside the balance read, so that figure can be read against what this host allows.

Served by ``uvicorn bench.floor_app:app``; ``CREDITGATE_DATABASE_URL`` is the database.
"""

import os
from typing import Any

import asyncpg

BODY = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
_pool: list[asyncpg.Pool] = []


def _dsn() -> str:
    return os.environ["CREDITGATE_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            _pool.append(await asyncpg.create_pool(_dsn(), min_size=1, max_size=4))
            await send({"type": "lifespan.startup.complete"})
        await _pool.pop().close()
        await send({"type": "lifespan.shutdown.complete"})
        return
    async with _pool[0].acquire() as conn:
        await conn.fetchval("SELECT 1")
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
