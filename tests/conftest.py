"""Root hooks: a crash-proof exit and a count of the tests run per database.

The fixtures live in ``tests/support``, loaded as plugins so every folder sees them: databases
(``database``, ``db_url``...), localstripe, the stack (Temporal dev server, worker, API over
HTTP, ``unique_id``) and the time-skipping server (``time_skipping``).
"""

import os
import sys

import pytest

from tests.support.run_summary import count_per_database, database_of

pytest_plugins = [
    "tests.support.databases",
    "tests.support.localstripe",
    "tests.support.stack",
    "tests.support.time_skipping",
]

# -- exit without CPython finalization (temporalio sdk-python #300) ---------------------------

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
