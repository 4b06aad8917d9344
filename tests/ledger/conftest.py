"""Ledger fixtures (helpers in ``tests.ledger.support``).

``db_url`` is overridden here for speed: instead of running the Alembic migrations for every
test, each backend is migrated once per session into a template (a SQLite file; a PostgreSQL
database used as ``CREATE DATABASE ... TEMPLATE``) and every test gets a fresh copy of it.
"""

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from creditgate.migrate import upgrade
from tests.ledger.support import Ledger, make_ledger
from tests.support.postgres import PostgresCluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger-template") / "template.db"
    upgrade(f"sqlite:///{path}")  # the engine is disposed afterwards: no WAL left behind
    return path


@pytest.fixture(scope="session")
def pg_template(postgres_cluster: PostgresCluster) -> Iterator[str]:
    name = f"ledger_template_{uuid.uuid4().hex[:8]}"
    upgrade(postgres_cluster.create_database(name))
    yield name
    postgres_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of each kind (a copy of the session's migrated template)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        for part in template.parent.glob(template.name + "*"):
            shutil.copy(part, tmp_path / part.name)
        yield f"sqlite:///{tmp_path / template.name}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    source: str = request.getfixturevalue("pg_template")
    name = f"test_{uuid.uuid4().hex[:16]}"
    cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
async def ledger(db_url: str) -> AsyncIterator[Ledger]:
    """Both backends (``db_url`` is parametrized sqlite/postgres), two customers."""
    made = await make_ledger(db_url, customers=2)
    yield made
    await made.db.dispose()
