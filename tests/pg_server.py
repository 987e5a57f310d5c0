"""A throwaway PostgreSQL server for the store tests (initdb + pg_ctl in a temporary directory).

``LLM_CAPACITY_TEST_PG_URL`` (a server URL whose user may create databases) wins over starting one.
When neither works the PostgreSQL tests skip locally, but fail where ``CI=true`` or
``LLM_CAPACITY_REQUIRE_PG=1``: CI must exercise the real server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

URL_ENV = "LLM_CAPACITY_TEST_PG_URL"
START_TIMEOUT_S = 60


class Unavailable(Exception):
    """No PostgreSQL server can be had here."""


def required() -> bool:
    """Whether a missing server is a failure (CI) rather than a skip."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("LLM_CAPACITY_REQUIRE_PG") == "1"


def _bin_dir() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise Unavailable("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """A PostgreSQL server owned by this test session; ``stop()`` removes every trace."""

    def __init__(self):
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="llm-capacity-pg-"))
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the 'postgres' user
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise Unavailable("running as root and there is no 'postgres' user to run the server") from None
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._start()

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if done.returncode:
            log = (self.dir / "log").read_text(errors="replace")[-400:] if (self.dir / "log").exists() else ""
            raise Unavailable(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-400:]} {log}")

    def _start(self) -> None:
        data = self.dir / "data"
        try:
            self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync")
            self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t",
                      str(START_TIMEOUT_S), "-o",
                      f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        except (OSError, subprocess.SubprocessError, Unavailable) as exc:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise Unavailable(str(exc)) from None

    def stop(self) -> None:
        subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                        "stop"], capture_output=True, timeout=START_TIMEOUT_S)
        shutil.rmtree(self.dir, ignore_errors=True)


def server_url() -> tuple[str, LocalServer | None]:
    """The admin URL of a server to test against, and the server to stop afterwards (if we started it)."""
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV], None
    server = LocalServer()
    return server.url, server


def fresh_database(admin_url: str) -> tuple[str, callable]:
    """Create an empty database on the server; returns its URL and a function that drops it."""
    import sqlalchemy as sa

    admin = sa.make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"llm_capacity_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()

    return admin.set(database=name).render_as_string(hide_password=False), drop
