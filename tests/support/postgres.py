"""A throwaway PostgreSQL cluster from the machine's binaries (``initdb`` + ``pg_ctl``).

PostgreSQL refuses to run as root, so when we are root every server-side command runs as the
``postgres`` user (``runuser``) in a temporary directory that user owns.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from creditgate.devtools.managed import Managed

from .ports import free_port

BINDIR_VARIABLE = "TEST_PG_BINDIR"
# Debian's server packages install here, one directory per major version.
DEBIAN_BINDIRS = Path("/usr/lib/postgresql")
PG_USER = "postgres"
START_ATTEMPTS = 3
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=300"
)


def find_bindir() -> Path:
    """``$TEST_PG_BINDIR`` when set (used as given), else ``pg_config --bindir`` when it holds
    ``initdb``, else the newest Debian server install (``/usr/lib/postgresql/<major>/bin``)."""
    if BINDIR_VARIABLE in os.environ:
        return Path(os.environ[BINDIR_VARIABLE])
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(result.stdout.strip())
        if result.returncode == 0 and (candidate / "initdb").exists():
            return candidate
    installed = [
        path.parent
        for path in DEBIAN_BINDIRS.glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    if installed:
        return max(installed, key=lambda bindir: int(bindir.parent.name))
    raise FileNotFoundError("no PostgreSQL server binaries (initdb) found")


class PostgresCluster(Managed):
    """``start()`` / ``stop()`` or ``with PostgresCluster() as pg:``; trust auth, user postgres."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.port = 0
        self.base_dir: Path | None = None
        self._as_root = os.geteuid() == 0

    # -- paths -------------------------------------------------------------------------------
    def bin(self, name: str) -> str:
        """Full path of a PostgreSQL program, e.g. ``bin("pgbench")``."""
        return str(self.bindir / name)

    @property
    def _dir(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("PostgresCluster is not started")
        return self.base_dir

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    @property
    def log_path(self) -> Path:
        return self._dir / "postgres.log"

    @property
    def running(self) -> bool:
        return self.base_dir is not None and self.port != 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle ---------------------------------------------------------------------------
    def _server_cmd(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.setdefault("LC_ALL", "C.UTF-8")
        return subprocess.run(
            cmd, cwd=self._dir, env=env, capture_output=True, text=True, timeout=120
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise RuntimeError(
                f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}"
            )

    def start(self) -> Self:
        if self.running:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix="creditgate-pg-"))
        try:
            if self._as_root:
                shutil.chown(self._dir, PG_USER, PG_USER)
            self._check(
                self._server_cmd(
                    self.bin("initdb"), "-D", str(self.data_dir), "-A", "trust",
                    "-U", PG_USER, "--no-sync", "-E", "UTF8",
                ),
                "initdb",
            )  # fmt: skip
            self._start_server()
        except BaseException:
            self._remove_dir()
            raise
        return self

    def _start_server(self) -> None:
        # free_port() is racy: another process may take the port first, so retry a few times.
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            options = f"-p {port} -k {self._dir} {SERVER_OPTIONS}"
            result = self._server_cmd(
                self.bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                "-o", options, "-w", "-t", "60", "start",
            )  # fmt: skip
            if result.returncode == 0:
                self.port = port
                return
            if attempt == START_ATTEMPTS:
                self._check(result, "pg_ctl start")

    def stop(self) -> None:
        if self.base_dir is None:
            return
        if self.port:
            self._server_cmd(
                self.bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"
            )
            self.port = 0
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    # -- databases ---------------------------------------------------------------------------
    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through ``psql`` (client side, needs no runuser); returns its stdout."""
        result = subprocess.run(
            [self.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", self.url(dbname),
             "-c", sql],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        self.psql(f'CREATE DATABASE "{_ident(name)}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')


def _ident(name: str) -> str:
    if not name or '"' in name or "\x00" in name or len(name) > 63:
        raise ValueError(f"bad database name {name!r}")
    return name
