"""Profile the hot path in-process: ``python -m bench.profile``. Not a test.

Starts a throwaway PostgreSQL, fills it like ``bench.ledger`` does, then sends requests
through the real app (``create_app`` over httpx's ASGI transport, no network, no uvicorn)
one after the other: single-event ``POST /v1/events``, 1,000-event batches (``--paths batch``)
and ``GET .../balance``. For each it prints the SQL statements one request runs through
SQLAlchemy, the time per request without a profiler, and a cProfile (CPU-time clock: waiting
on PostgreSQL is not counted) grouped by package, with the hottest functions and Creditgate's
own functions. Counts (statements, Python calls per
request) do not depend on how busy the machine is; times do.
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import event

from api.main import create_app
from bench import fixtures
from bench.pg import start_cluster
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings

API_KEY = "cg_bench_key"
WARMUP = 200
BATCH = 1000  # events per request on the "batch" path
PACKAGES = (
    "creditgate", "api", "fastapi", "starlette", "pydantic", "pydantic_core", "sqlmodel",
    "sqlalchemy", "asyncpg", "anyio", "httpx", "httpcore", "greenlet", "asyncio", "json",
)  # fmt: skip


def _event_body(n: int, customers: int, size: int = 1) -> dict[str, Any]:
    return {
        "events": [
            {
                "id": f"prof-{n}-{i}",
                "customer": fixtures.customer_id(n % customers),
                "event_type": "tokens",
                "properties": {"count": 1000, "model": "gpt-4o"},
            }
            for i in range(size)
        ]
    }


async def _run(url: str, requests: int, customers: int, paths: list[str]) -> None:
    db = Database(url)
    statements: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()))

    checkouts = [0]

    @event.listens_for(db.engine.sync_engine.pool, "checkout")
    def _checkout(*_args: Any) -> None:
        checkouts[0] += 1

    app = create_app(Settings(database_url=url, api_key=API_KEY), db)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as client,
    ):
        counter = iter(range(10**9))

        async def post_events(size: int) -> None:
            body = _event_body(next(counter), customers, size)
            response = await client.post("/v1/events", json=body)
            response.raise_for_status()
            assert response.json()["results"][-1]["status"] == "debited", response.text

        async def post_event() -> None:
            await post_events(1)

        async def post_batch() -> None:
            await post_events(BATCH)

        async def read_balance() -> None:
            customer = fixtures.customer_id(next(counter) % customers)
            (await client.get(f"/v1/customers/{customer}/balance")).raise_for_status()

        requests_by_path: dict[str, Callable[[], Awaitable[None]]] = {
            "events": post_event,
            "batch": post_batch,
            "balance": read_balance,
        }
        for path in paths:
            send = requests_by_path[path]
            print(f"\n######## {path} ########")
            for _ in range(WARMUP if path != "batch" else 3):  # caches, prepared statements
                await send()
            statements.clear()
            checkouts[0] = 0
            await send()
            print(
                f"SQL statements through SQLAlchemy in one request: {len(statements)} "
                f"(connection checkouts: {checkouts[0]}; the PostgreSQL hot path runs its "
                "statements on the asyncpg connection, creditgate/ledger/pg.py)"
            )
            for sql in statements:
                print(f"  {sql[:140]}{' ...' if len(sql) > 140 else ''}")
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(requests):
                await send()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            print(
                f"\n{requests} sequential requests, no profiler: {elapsed / requests * 1000:.2f} "
                f"ms wall, {cpu / requests * 1000:.2f} ms CPU each (CPU includes the test client)"
            )
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(requests):
                await send()
            profiler.disable()
            _report(profiler, requests)
    await db.dispose()


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for ours in ("creditgate", "api", "bench"):
        if f"/{ours}/" in filename:
            return ours
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    parts = filename.rsplit("/", 2)
    return parts[-2] if len(parts) > 2 and parts[-2] in PACKAGES else "stdlib"


def _report(profiler: cProfile.Profile, requests: int) -> None:
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    own: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for (filename, _line, _name), (primitive, _total, tottime, _cum, _callers) in raw.items():
        package = _package(filename)
        own[package] += tottime
        calls[package] += primitive
    total = sum(own.values()) or 1.0
    print(
        f"\ncProfile (CPU clock; profiling inflates times, most for code making many small "
        f"calls): {sum(calls.values()) / requests:,.0f} Python calls per request"
    )
    print(f"  {'package':<16}{'own CPU':>9}{'calls/request':>15}")
    for package, seconds in sorted(own.items(), key=lambda kv: -kv[1])[:16]:
        print(f"  {package:<16}{seconds / total:>8.1%}{calls[package] / requests:>15,.0f}")
    for title, sort, restrict, limit in (
        ("functions by own time", "tottime", "", 20),
        ("creditgate/ and api/ by cumulative time", "cumulative", "/(creditgate|api)/", 25),
    ):
        out = io.StringIO()
        view = pstats.Stats(profiler, stream=out)
        view.sort_stats(sort)
        if restrict:
            view.print_stats(restrict, limit)
        else:
            view.print_stats(limit)
        text = out.getvalue()
        print(f"\n== {title} ==")
        print(text[text.find("   ncalls") :].rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument(
        "--paths", default="events,balance", help="comma-separated: events, batch, balance"
    )
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        url = cluster.create_database(fixtures.APP_DB)
        fixtures.prepare(url, args.customers)
        paths = [p.strip() for p in args.paths.split(",") if p.strip()]
        asyncio.run(_run(url, args.requests, args.customers, paths))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    status = 1
    try:
        status = main()
    except KeyboardInterrupt:
        status = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
