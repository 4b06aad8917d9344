"""Profile the single-event path in-process: ``python -m bench.profile``. Not a test.

Starts a throwaway PostgreSQL, fills it like ``bench.ledger`` does, then sends single-event
``POST /v1/events`` requests through the real app (``create_app`` over httpx's ASGI
transport, no network) one after the other under cProfile. Prints the SQL statements one
request runs and the hottest functions, overall and in Creditgate's own code.
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from typing import Any

import httpx

from api.main import create_app
from bench import fixtures
from bench.pg import start_cluster
from creditgate.db import Database
from creditgate.settings import Settings

API_KEY = "cg_bench_key"
OUR_CODE = ("/creditgate/", "/api/")


def _body(n: int, customers: int) -> dict[str, Any]:
    return {
        "events": [
            {
                "id": f"prof-{n}",
                "customer": fixtures.customer_id(n % customers),
                "event_type": "tokens",
                "properties": {"count": 1000, "model": "gpt-4o"},
            }
        ]
    }


async def _run(url: str, requests: int, customers: int) -> None:
    db = Database(url)
    statements: list[str] = []

    from sqlalchemy import event

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()))

    settings = Settings(database_url=url, api_key=API_KEY)
    app = create_app(settings, db)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers
        ) as client,
    ):
        for n in range(200):  # warm up: plan cache, pool, prepared statements
            (await client.post("/v1/events", json=_body(n, customers))).raise_for_status()
        statements.clear()
        (await client.post("/v1/events", json=_body(10_000_000, customers))).raise_for_status()
        print(f"SQL statements for one single-event request: {len(statements)}")
        for sql in statements:
            print(f"  {sql[:150]}{'...' if len(sql) > 150 else ''}")

        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(500_000, 500_000 + requests):
            (await client.post("/v1/events", json=_body(n, customers))).raise_for_status()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            f"\n{requests} sequential requests without a profiler: {elapsed / requests * 1000:.2f}"
            f" ms wall and {cpu / requests * 1000:.2f} ms CPU (this process) each"
        )

        # CPU time, not wall time: the machine is shared, and waiting on PostgreSQL is not ours.
        profiler = cProfile.Profile(time.process_time)
        started, cpu_started = time.perf_counter(), time.process_time()
        profiler.enable()
        for n in range(1000, 1000 + requests):
            (await client.post("/v1/events", json=_body(n, customers))).raise_for_status()
        profiler.disable()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(
            f"\n{requests} sequential requests under cProfile: {elapsed / requests * 1000:.2f} ms "
            f"wall and {cpu / requests * 1000:.2f} ms CPU each (profiling inflates both)"
        )
    await db.dispose()
    _report(profiler)


def _report(profiler: cProfile.Profile) -> None:
    for title, sort, restrict in (
        ("top 25 by own time (all code)", "tottime", ()),
        ("top 30 by cumulative time in creditgate/ and api/", "cumulative", OUR_CODE),
    ):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(sort)
        if restrict:
            stats.print_stats("|".join(p.strip("/") + "/" for p in restrict), 30)
        else:
            stats.print_stats(25)
        text = out.getvalue()
        print(f"\n== {title} (total {stats.total_tt:.2f}s) ==")
        print(text[text.find("   ncalls") :])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=100)
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        url = cluster.create_database(fixtures.APP_DB)
        fixtures.prepare(url, args.customers)
        asyncio.run(_run(url, args.requests, args.customers))
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
