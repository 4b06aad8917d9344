"""Root fixtures: throwaway PostgreSQL, localstripe, database URLs, and a crash-proof exit.

Temporal, worker and API fixtures are in ``tests/support/stack.py`` (imported below).
"""

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from creditgate.migrate import upgrade  # noqa: E402
from tests.support.localstripe import LocalStripe  # noqa: E402
from tests.support.postgres import PostgresCluster, find_bindir  # noqa: E402
from tests.support.skipping import skipping  # noqa: E402, F401
from tests.support.stack import *  # noqa: E402, F403

# -- exit without CPython finalization (temporalio sdk-python #300, see DESIGN.md) -------------

_session: pytest.Session | None = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _session
    _session = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Runs after the terminal summary and every other plugin's unconfigure: leave now, keeping
    pytest's exit status, before interpreter shutdown can crash in Temporal's native threads."""
    if _session is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(_session.exitstatus))


# -- services ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        bindir = find_bindir()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL server binaries not available: {exc}")
    with PostgresCluster(bindir) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """A running localstripe; use ``localstripe.base_url`` (``str(localstripe)`` is the same)."""
    with LocalStripe() as instance:
        yield instance


# -- database URLs (plain URLs, as in CREDITGATE_DATABASE_URL) ---------------------------------


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_cluster.create_database(name)
    yield url
    postgres_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/test.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated (``alembic upgrade head``) database of each kind.

    Sync on purpose: ``upgrade`` calls ``asyncio.run``; async code must use
    ``await asyncio.to_thread(upgrade, url)`` instead.
    """
    url: str = request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url")
    upgrade(url)
    return url
