"""Root fixtures: localstripe, a crash-proof exit, and a count of the tests run per database.

Database fixtures are in ``tests/support/databases.py``; Temporal, worker and API fixtures in
``tests/support/stack.py`` (both imported below).
"""

import os
import sys
from collections.abc import Iterator

import pytest

from tests.support.databases import *  # noqa: F403
from tests.support.localstripe import LocalStripe
from tests.support.run_summary import count_per_database, database_of
from tests.support.skipping import skipping  # noqa: F401
from tests.support.stack import *  # noqa: F403

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
def localstripe() -> Iterator[LocalStripe]:
    """A running localstripe; use ``localstripe.base_url`` (``str(localstripe)`` is the same)."""
    with LocalStripe() as instance:
        yield instance


# -- how many tests ran on each database -------------------------------------------------------

_databases: dict[str, str | None] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _databases.update((item.nodeid, database_of(item)) for item in items)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = count_per_database(_databases, terminalreporter.stats)
    if lines:
        terminalreporter.section("tests per database")
        for line in lines:
            terminalreporter.write_line(line)
