"""A private, throwaway PostgreSQL server for tests.

``private_postgres()`` finds the server binaries (Debian's ``/usr/lib/postgresql/*/bin``,
newest first, then ``PATH``), initdb's a fresh cluster in a temporary directory under
``/tmp``, starts it on a free loopback port and yields a SQLAlchemy URL for a database
``automl_test``; on exit it stops the server and deletes the directory.

initdb and postgres refuse to run as root, so as root the server runs as the ``postgres``
OS user (created by Debian's ``postgresql`` package) through ``runuser``; otherwise it runs
as the current user.

Tests use the session-scoped ``postgres_url`` fixture::

    from .postgres import postgres_url  # noqa: F401

It skips when no server is installed, unless ``AUTOML_REQUIRE_POSTGRES=1`` (set by CI,
which installs Debian's ``postgresql``), where a missing server is an error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REQUIRE_ENV = "AUTOML_REQUIRE_POSTGRES"
DATABASE = "automl_test"
SUPERUSER = "postgres"
NOT_FOUND = "PostgreSQL server binaries not found"
_SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")


def required() -> bool:
    """Whether a missing server must fail the run (CI) instead of skipping."""
    return os.environ.get(REQUIRE_ENV) == "1"


def _has_tools(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in _SERVER_TOOLS)


def _version_key(directory: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: "15" -> (15,), "9.6" -> (9, 6)
    return tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))


def find_server_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    for directory in sorted(
        (Path(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), key=_version_key, reverse=True
    ):
        if _has_tools(directory):
            return directory
    initdb = shutil.which("initdb")
    if initdb is not None:
        # /usr/local/bin/initdb may be a symlink into the real bin directory
        for directory in (Path(initdb).parent, Path(initdb).resolve().parent):
            if _has_tools(directory):
                return directory
    return None


def to_psycopg2_dsn(url: str) -> str:
    """``postgresql+psycopg2://user[:pw]@host:port/db`` -> a libpq key/value DSN."""
    parts = urlsplit(url)
    fields = {
        "host": parts.hostname,
        "port": parts.port,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "dbname": unquote(parts.path.lstrip("/")) or None,
    }

    def quote(value: object) -> str:
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"

    return " ".join(f"{key}={quote(value)}" for key, value in fields.items() if value is not None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


class _Runner:
    """Runs server commands as the right OS user: ``postgres`` under root, else oneself."""

    def __init__(self) -> None:
        self.prefix: list[str] = []
        self.uid: int | None = None
        self.gid: int | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise RuntimeError(
                    "running as root, but there is no 'postgres' OS user to run the test server "
                    "as (Debian's postgresql package creates it)"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root, but runuser (util-linux) is not on PATH")
            self.prefix = [runuser, "-u", SUPERUSER, "--"]
            self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def run(
        self, args: list[str], *, cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [*self.prefix, *args],
            cwd=cwd,  # readable by the server user (the caller's cwd may be /root)
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _check(proc: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if proc.returncode == 0:
        return
    message = f"{what} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
    if log is not None:
        message += f"\n--- tail of {log} ---\n{_tail(log)}"
    raise RuntimeError(message)


def _create_database(port: int) -> None:
    try:
        import psycopg2
    except ImportError:
        raise RuntimeError(
            "psycopg2 is not installed (pip install -e '.[postgres]' or '.[dev]')"
        ) from None
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        conn.close()


def _kill_leftover(pgdata: Path) -> None:
    """Last resort when ``pg_ctl stop`` failed: SIGQUIT the postmaster from its pid file."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


@contextlib.contextmanager
def private_postgres() -> Iterator[str | None]:
    """Start a throwaway PostgreSQL server; yield its SQLAlchemy URL.

    Yields None when the server binaries are not installed (so the caller can skip),
    unless ``AUTOML_REQUIRE_POSTGRES=1``, where that raises RuntimeError. Any failure to
    start raises RuntimeError, with the tail of the server log when there is one.
    """
    bindir = find_server_bin()
    if bindir is None:
        if required():
            raise RuntimeError(
                f"{NOT_FOUND} (looked in /usr/lib/postgresql/*/bin and PATH; "
                f"Debian: apt-get install postgresql) and {REQUIRE_ENV}=1"
            )
        yield None
        return

    runner = _Runner()
    base = Path(tempfile.mkdtemp(prefix="automl-pg-", dir="/tmp"))
    pgdata = base / "data"
    log = pgdata / "server.log"
    pg_ctl = str(bindir / "pg_ctl")
    started = False
    try:
        runner.chown(base)
        _check(
            runner.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdata),
                    "--auth=trust",
                    "-U",
                    SUPERUSER,
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                cwd=base,
                timeout=180,
            ),
            "initdb",
        )
        conf = pgdata / "postgresql.conf"
        socket_dir = str(pgdata).replace("'", "''")
        for attempt in range(3):
            port = _free_port()
            settings = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(port),
                "unix_socket_directories": f"'{socket_dir}'",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "shared_buffers": "'16MB'",
                "max_connections": "100",
            }
            with conf.open("a") as fh:  # later lines win over earlier ones
                fh.write("\n# automl test server\n")
                fh.writelines(f"{key} = {value}\n" for key, value in settings.items())
            proc = runner.run(
                [pg_ctl, "start", "-D", str(pgdata), "-l", str(log), "-w", "-t", "60"],
                cwd=base,
                timeout=120,
            )
            started = True  # even a failed start may have left a postmaster behind
            if proc.returncode == 0:
                break
            if attempt < 2 and "already in use" in _tail(log):
                continue  # lost the race for the port: try another one
            _check(proc, f"pg_ctl start (port {port})", log)
        _create_database(port)
        yield f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        try:
            if started:
                stop = runner.run(
                    [pg_ctl, "stop", "-D", str(pgdata), "-m", "fast", "-w", "-t", "60"],
                    cwd=base,
                    timeout=90,
                )
                if stop.returncode != 0:
                    _kill_leftover(pgdata)
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a private PostgreSQL server's empty ``automl_test`` database.

    One server per test session. Skips when PostgreSQL is not installed, or psycopg2 is
    missing, unless ``AUTOML_REQUIRE_POSTGRES=1``, where either is an error.
    """
    if importlib.util.find_spec("psycopg2") is None:
        message = "psycopg2 not installed (pip install -e '.[postgres]')"
        if required():
            pytest.fail(message)
        pytest.skip(message)
    with private_postgres() as url:
        if url is None:
            pytest.skip(NOT_FOUND)
        yield url
