"""``automl worker``: add trials to a shared study without repeating the data arguments.

The study (started by ``automl search DATA --storage URL --study NAME``) records the table's
path and sha256, the target and every setting that shapes the trials. A worker checks that
it sees the same bytes (a shared path, or ``--data`` pointing at a copy), prepares them
exactly as the study's prep did (checked by fingerprint), and runs trials until its own
``--time-budget`` or ``--trials``. It writes no model: ``automl search ... --finalize`` (or
the process that started the study) builds the ensemble from every worker's trials.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl_cli.errors import DataError, UsageError
from automl_cli.hashing import sha256_file

__all__ = ["run_worker"]


def run_worker(
    project_dir: Path,
    *,
    storage: str,
    study: str,
    data: str | None = None,
    time_budget: float | None = None,
    trials: int | None = None,
    lock_timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    import optuna

    from automl_cli.core.studies import open_storage, redact
    from automl_cli.steps.search import STUDY_META_FORMAT, run_search_step

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        shared = optuna.load_study(study_name=study, storage=open_storage(storage))
    except KeyError:
        raise UsageError(
            f"there is no study '{study}' in {redact(storage)}",
            hint=f"start it with: automl search DATA --target COLUMN --storage URL --study {study}",
        ) from None
    meta = shared.user_attrs.get("automl")
    if not isinstance(meta, dict) or meta.get("format") != STUDY_META_FORMAT:
        raise UsageError(
            f"study '{study}' in {redact(storage)} was not started by this automl",
            hint="start one with automl search DATA --target COLUMN --storage URL --study NAME",
        )
    path = data or str(meta["data"]["path"])
    if not Path(path).is_file():
        raise DataError(
            f"the study's table {path} is not reachable from this machine",
            hint="put it on a path every worker sees, or pass a copy with --data FILE",
        )
    if sha256_file(path) != meta["data"]["sha256"]:
        raise DataError(
            f"{path} is not the table the study searches (its sha256 differs)",
            hint="every worker must read the very same bytes; copy the file again",
        )
    prep_settings = dict(meta.get("prep_settings", {}))
    return run_search_step(
        project_dir,
        path,
        target=str(meta["target"]),
        time_budget=time_budget,
        trials=trials,
        metric=str(meta["metric"]),
        task=prep_settings.get("task"),  # as the study's first process had it (None: guessed)
        seed=int(meta["seed"]),
        cv=int(meta["cv"]),
        models=list(meta["families"]),
        lock_timeout=lock_timeout,
        storage=storage,
        study=study,
        **dict(meta.get("limits") or {}),  # the study's deployment limits, if it has any
        worker_only=True,
        extra_settings={k: v for k, v in prep_settings.items() if k not in ("target", "task")},
        progress=progress,
    )
