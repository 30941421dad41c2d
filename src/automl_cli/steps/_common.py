"""What every step does first: open the project and resolve its settings in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl_cli.config import Resolved, load_project_config, resolve
from automl_cli.errors import UsageError
from automl_cli.store import BROKEN_LOCKS, DEFAULT_LOCK_TIMEOUT, Project

__all__ = ["DEFAULT_JOBS", "broken_locks", "config_doc", "noop", "open_step", "threads_setting"]

DEFAULT_JOBS = 2  # threads per fit or prediction: this machine class has 2 cores


def noop(_msg: str) -> None:
    """The progress callback when the caller wants none."""
    return None


def open_step(
    project_dir: Path, command: str, cli_values: dict[str, Any], defaults: dict[str, Any]
) -> tuple[Project, dict[str, Resolved]]:
    """The project and the step's resolved settings (flag > env > automl.toml > default).

    ``lock_timeout`` is resolved for every step, so it may come from any of those sources.
    """
    project = Project(project_dir)
    config = resolve(
        command,
        cli_values,
        {**defaults, "lock_timeout": DEFAULT_LOCK_TIMEOUT},
        load_project_config(project.config_path),
    )
    project.lock_timeout = float(config["lock_timeout"].value)
    jobs = config.get("jobs")
    if jobs is not None and jobs.value is not None:
        # checked before any work, and a number (not the environment's text) in --json and
        # the manifest; None stays None: the default adapts to a busy machine
        config["jobs"] = Resolved(threads_setting(jobs.value), jobs.source)
    return project, config


def threads_setting(value: Any) -> int:
    """The resolved ``jobs`` setting (``AUTOML_JOBS``, automl.toml) as a thread count."""
    try:
        jobs = DEFAULT_JOBS if value is None else int(str(value).strip())
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise UsageError(
            f"jobs must be a whole number of threads, at least 1, not {value!r}",
            hint="AUTOML_JOBS (or jobs in automl.toml) is the number of threads a fit or a "
            "prediction uses",
        )
    return jobs


def config_doc(config: dict[str, Resolved]) -> dict[str, dict[str, Any]]:
    """Resolved settings as the result documents show them."""
    return {k: {"value": v.value, "source": v.source} for k, v in config.items()}


def broken_locks() -> list[dict[str, Any]]:
    """Stale project locks this process broke (pid, host, reason), for the command to report."""
    return list(BROKEN_LOCKS)
