"""Database fixtures: a throwaway PostgreSQL cluster, and which database a test runs on.

``database`` is session-scoped and parametrized (``sqlite``, ``postgres``); ``db_url``, the
``stack`` and ``time_skipping`` follow it, so every test using any of them runs once per database,
its id saying which (``test_x[postgres]``). Pytest groups the tests by this parameter, so each
session-wide resource built on it (the stack) exists once per database, one after the other.

Each backend is migrated once per session into a template (a SQLite file; a PostgreSQL database
used as ``CREATE DATABASE ... TEMPLATE``) and every test database is a fresh copy of it.

Under ``CI`` (environment variable set) a PostgreSQL that cannot start fails the run instead of
skipping its tests: PostgreSQL is the production database.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditgate.devtools.migrate import upgrade
from tests.support.postgres import PostgresCluster

DATABASES = ("sqlite", "postgres")


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster().start()
    except (FileNotFoundError, RuntimeError, OSError) as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL cannot start (CI requires it): {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL cannot start: {exc}")
    with cluster:
        yield cluster


@pytest.fixture(scope="session", params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: the database kind this test runs on."""
    kind: str = request.param
    if kind == "postgres":
        request.getfixturevalue("postgres_cluster")  # skips (or fails under CI) up front
    return kind


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")  # the engine is disposed afterwards: no WAL left behind
    return path


@pytest.fixture(scope="session")
def pg_template(postgres_cluster: PostgresCluster) -> Iterator[str]:
    name = f"template_{uuid.uuid4().hex[:8]}"
    upgrade(postgres_cluster.create_database(name))
    yield name
    postgres_cluster.drop_database(name)


def sqlite_copy(template: Path, directory: Path) -> str:
    """A migrated SQLite database in ``directory``: a copy of ``template``."""
    for part in template.parent.glob(template.name + "*"):
        shutil.copy(part, directory / part.name)
    return f"sqlite:///{directory / template.name}"


def pg_copy(cluster: PostgresCluster, template: str) -> tuple[str, str]:
    """A migrated PostgreSQL database copied from ``template``: its name and URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name, cluster.url(name)


def migrated_url(request: pytest.FixtureRequest, kind: str, directory: Path) -> Iterator[str]:
    """A fresh migrated database of ``kind``, dropped when the requesting fixture ends."""
    if kind == "sqlite":
        yield sqlite_copy(request.getfixturevalue("sqlite_template"), directory)
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name, url = pg_copy(cluster, request.getfixturevalue("pg_template"))
    yield url
    cluster.drop_database(name)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, database: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of this test's kind at the head migration (``alembic upgrade head``).

    For one kind only, parametrize ``database``, not this fixture:
    ``@pytest.mark.parametrize("database", ["postgres"], indirect=True)``."""
    if hasattr(request, "param"):
        pytest.fail(
            'db_url follows "database": parametrize that instead '
            '(@pytest.mark.parametrize("database", ["postgres"], indirect=True))',
            pytrace=False,
        )
    yield from migrated_url(request, database, tmp_path)


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_cluster.create_database(name)
    yield url
    postgres_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, empty SQLite database file for this test."""
    return f"sqlite:///{tmp_path}/test.db"
