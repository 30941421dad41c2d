"""Where a search's Optuna study lives when several processes share it.

- ``postgresql://…`` (and ``mysql://…`` where a driver is installed): many workers on many
  machines. Each running trial sends a heartbeat; a trial whose worker died is failed once
  its heartbeat is older than the grace period and queued again once
  (``RetryHeartbeatStaleTrialCallback``).
- ``journal:PATH``: several workers on one machine, through an append-only file (Optuna's
  JournalStorage), which is safe under concurrent writers.
- ``sqlite:///PATH``: one worker only. SQLite locks the whole file for each write, and
  several processes writing one study corrupt it or fail with "database is locked".
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from automl_cli.errors import DataError, UsageError

__all__ = ["HEARTBEAT_S", "open_storage", "redact", "storage_kind"]

HEARTBEAT_S = 30  # AUTOML_STUDY_HEARTBEAT overrides (seconds); the grace period is twice it


def storage_kind(url: str) -> str:
    """``postgresql`` | ``mysql`` | ``journal`` | ``sqlite``; anything else is a usage error."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme in ("mysql", "sqlite", "journal"):
        return scheme
    raise UsageError(
        f"--storage {redact(url)!r} is not a storage automl knows",
        hint="use postgresql://USER:PASSWORD@HOST/DB (many machines), journal:PATH (many "
        "processes on one machine) or sqlite:///PATH (one process)",
    )


def redact(url: str) -> str:
    """The URL without its password, for manifests, messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _heartbeat() -> int:
    raw = os.environ.get("AUTOML_STUDY_HEARTBEAT")
    if raw is None:
        return HEARTBEAT_S
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"AUTOML_STUDY_HEARTBEAT={raw!r} is not a whole number of seconds ≥ 1")
    return value


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``, with heartbeats and retries where the backend has them."""
    import optuna

    kind = storage_kind(url)
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.split(":", 1)[1].removeprefix("//"))
        if not path.parent.is_dir():
            raise DataError(
                f"the journal file's folder {path.parent} does not exist",
                hint="create it, or point journal: at a file in an existing folder",
            )
        return JournalStorage(JournalFileBackend(str(path)))
    if kind in ("postgresql", "mysql"):
        _check_driver(url, kind)
    beat = _heartbeat() if kind != "sqlite" else None
    try:
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs={"pool_pre_ping": True} if kind != "sqlite" else None,
            heartbeat_interval=beat,
            grace_period=None if beat is None else 2 * beat,
            heartbeat_stale_trial_callback=(
                None
                if beat is None
                else optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
            ),
        )
    except Exception as exc:  # sqlalchemy's OperationalError and friends, without the noise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot open the study storage {redact(url)}: {first}",
            hint="check that the database server is up, reachable, and the URL's user, "
            "password and database are right",
        ) from None


def _check_driver(url: str, kind: str) -> None:
    driver = url.split(":", 1)[0].partition("+")[2] or ("psycopg2" if kind == "postgresql" else "")
    module = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pymysql": "pymysql"}.get(
        driver, driver or "MySQLdb"
    )
    try:
        __import__(module)
    except ImportError:
        extra = "postgres" if kind == "postgresql" else "mysql"
        raise UsageError(
            f"--storage {kind} needs the Python driver '{module}', which is not installed",
            hint=f"pip install 'automl-cli[{extra}]' (or pip install "
            f"{'psycopg2-binary' if module == 'psycopg2' else module})",
        ) from None
