"""The end-of-run line saying how many tests ran on each database, and with what outcome."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import pytest

# A test with reports in several of these ends as the first one listed.
OUTCOMES = ("failed", "error", "xpassed", "skipped", "xfailed", "passed")


def database_of(item: pytest.Item) -> str | None:
    """``sqlite`` or ``postgres`` for a test parametrized by database, ``postgres`` for one
    that uses the PostgreSQL cluster directly, else None."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "database" in callspec.params:
        return str(callspec.params["database"])
    if "postgres_cluster" in getattr(item, "fixturenames", ()):
        return "postgres"
    return None


def outcomes(stats: Mapping[str, Iterable[object]]) -> dict[str, str]:
    """Each test's overall outcome, by node id."""
    found: dict[str, str] = {}
    for outcome in reversed(OUTCOMES):
        for report in stats.get(outcome, ()):
            nodeid = getattr(report, "nodeid", None)
            if nodeid:
                found[nodeid] = outcome
    return found


def count_per_database(
    databases: Mapping[str, str | None], stats: Mapping[str, Iterable[object]]
) -> list[str]:
    """One line per database: how many tests ran on it and how they ended."""
    by_database: dict[str, Counter[str]] = defaultdict(Counter)
    for nodeid, outcome in outcomes(stats).items():
        by_database[databases.get(nodeid) or "no database fixture"][outcome] += 1
    lines = []
    for name in ("sqlite", "postgres", "no database fixture"):
        counts = by_database.get(name)
        if counts:
            detail = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
            lines.append(f"{name}: {counts.total()} tests ({detail})")
    return lines
