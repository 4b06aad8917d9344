"""PostgreSQL is the production database: under CI a PostgreSQL that cannot start fails the
run; elsewhere the PostgreSQL half of the suite is skipped and the SQLite half still runs."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.postgres import BINDIR_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
ONE_TEST_ON_BOTH = "tests/test_migrations.py::test_upgrade_matches_models"


def run_without_postgres(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    """The suite's own pytest on one test, pointed at PostgreSQL binaries that do not exist."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env[BINDIR_VARIABLE] = str(tmp_path / "no-postgres")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'run'}", ONE_TEST_ON_BOTH],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_under_ci_a_postgres_that_cannot_start_fails_the_run(tmp_path: Path) -> None:
    result = run_without_postgres(tmp_path, ci=True)
    assert result.returncode != 0, result.stdout
    assert "1 passed, 1 error" in result.stdout, result.stdout
    assert "PostgreSQL cannot start (CI requires it)" in result.stdout, result.stdout


def test_outside_ci_a_postgres_that_cannot_start_skips_its_tests(tmp_path: Path) -> None:
    result = run_without_postgres(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout, result.stdout
    assert "sqlite: 1 tests (1 passed)" in result.stdout, result.stdout
    assert "postgres: 1 tests (1 skipped)" in result.stdout, result.stdout
