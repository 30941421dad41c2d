"""``automl search``: profile → prep → model search → ensemble → refit → ``model`` artifact.

The whole command, start-up and saving included, keeps to ``--time-budget``: the search
stops early enough to leave room for refitting the chosen members, and when the refit
would not fit in what is left, the members' fold models (already trained during
cross-validation) are averaged instead, which needs no further training.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.config import Resolved
from automl_cli.core.memory import return_freed_memory
from automl_cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ArtifactCorruptError,
    AutomlError,
    Terminated,
    UsageError,
)
from automl_cli.steps._common import config_doc, noop, open_step
from automl_cli.steps.prep import (
    DEFAULTS as PREP_DEFAULTS,
)
from automl_cli.steps.prep import (
    PREPROCESSOR_FILE,
    ensure_profile,
    load_preprocessor,
    rows_with_target,
    write_prep,
)
from automl_cli.store import Artifact, Project

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from automl_cli.core.io import TableInfo
    from automl_cli.core.learners._base import Learner
    from automl_cli.core.preprocessing import Preprocessor
    from automl_cli.core.schema import SchemaReport
    from automl_cli.core.search import SearchResult, TrialRecord

__all__ = ["VOLATILE", "FittedModel", "Given", "Interrupted", "load_model", "run_search_step"]

MODEL_FILE = "model.json"
MODEL_FORMAT = 1
DEFAULT_BUDGET = 60.0
DEFAULT_JOBS = 2  # threads per fit: this machine class has 2 cores
# Files a same-seed re-run rewrites with other bytes: fit timings, the study's timestamps.
VOLATILE = ("leaderboard.csv", "study.db")
ENSEMBLE_CANDIDATES = 10
DEFAULTS: dict[str, Any] = {
    **PREP_DEFAULTS,
    "time_budget": None,
    "trials": None,
    "metric": None,
    "cv": 5,
    "models": [],
    "jobs": None,  # threads per fit (default 2); AUTOML_JOBS=1 when several runs share cores
    "storage": None,  # an Optuna storage URL shared by several processes (see core.studies)
    "study": None,  # the shared study's name (default: automl-search)
}


# The signals that asked the running search to stop (set by _ctrl_c_stops_the_search).
_STOP_SIGNALS: list[int] = []


class Interrupted(AutomlError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143) during the search: the best model so far was
    saved."""

    exit_code = EXIT_INTERRUPTED
    default_hint = "the saved model is complete and usable; run again for a longer search"

    def __init__(self, message: str, hint: str | None = None, **details: Any) -> None:
        import signal

        super().__init__(message, hint, **details)
        if signal.SIGTERM in _STOP_SIGNALS:
            self.exit_code = EXIT_TERMINATED


@dataclass
class Member:
    family: str
    weight: float
    params: dict[str, Any]
    learners: list[Learner]
    fit: str  # "refit" (one model on all rows) | "folds" (the CV fold models, averaged)
    trial: int = -1
    fold_seconds: float = 0.0  # mean fit time of one CV fold: the refit time model's input
    iterations: list[int | None] = field(default_factory=list)  # boosting rounds per fold


@dataclass
class Given:
    """What a chained command has already settled before the search starts."""

    frame: pd.DataFrame | None
    info: TableInfo
    profile: tuple[Artifact, dict[str, Any]]
    prep: tuple[Artifact, Preprocessor]
    started: float  # monotonic time the time budget counts from


@dataclass
class FittedModel:
    """A loaded ``model`` artifact: preprocessing + weighted members, ready to predict."""

    task: str
    classes_: list[Any] | None
    preprocessor: Preprocessor
    members: list[Member]
    metric: str
    info: dict[str, Any] = field(default_factory=dict)

    def predict_output(
        self, frame: pd.DataFrame, report: SchemaReport | None = None, where: str = "the input"
    ) -> np.ndarray:
        """Probabilities (n, k) in ``classes_`` order, or regression values (n,).

        ``report``, when given, receives what schema enforcement did (unseen categories …).
        """
        import numpy as np

        variants = sorted({m.learners[0].variant for m in self.members})
        features = {}
        for i, v in enumerate(variants):
            features[v], seen = self.preprocessor.transform_with_report(
                frame, variant=v, where=where
            )
            if report is not None and i == 0:  # one count per row, whatever the variants
                report.merge(seen)
        total: np.ndarray | None = None
        for member in self.members:
            X = features[member.learners[0].variant]
            out = np.mean([lrn.predict_output(X) for lrn in member.learners], axis=0)
            total = out * member.weight if total is None else total + out * member.weight
        assert total is not None
        return total

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            raise UsageError("probabilities exist only for classification models")
        return self.predict_output(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        out = self.predict_output(frame)
        if self.task == "regression":
            return out
        assert self.classes_ is not None
        return np.asarray(self.classes_, dtype=object)[out.argmax(axis=1)]


# -- the step -------------------------------------------------------------------------------


def _process_start_monotonic() -> float:
    """When this process started, on the monotonic clock: the budget counts from there."""
    import psutil

    age = max(0.0, time.time() - psutil.Process().create_time())
    return time.monotonic() - age


def run_search_step(
    project_dir: Path,
    data: str,
    *,
    target: str | None = None,
    time_budget: float | None = None,
    trials: int | None = None,
    metric: str | None = None,
    task: str | None = None,
    seed: int | None = None,
    cv: int | None = None,
    models: list[str] | None = None,
    lock_timeout: float | None = None,
    storage: str | None = None,
    study: str | None = None,
    finalize: bool = False,
    worker_only: bool = False,
    extra_settings: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    given: Given | None = None,
) -> dict[str, Any]:
    """Search ``data`` into a new ``model`` version (profiling and prepping it if needed).

    ``given`` lets a chained command (``automl run``) hand over the table it already read,
    the profile and prep it already settled on, and when the time budget starts counting.

    With ``storage`` the study is shared: other processes (``automl worker``) may join it,
    and the ensemble is built from every worker's finished trials. ``finalize`` runs no
    trial, only that; ``worker_only`` runs trials and writes no artifact.
    ``extra_settings`` are settings a worker takes from the study (prep's, above all).
    """
    from automl_cli.core.io import check_target, read_table
    from automl_cli.core.learners import FAMILIES, default_families
    from automl_cli.core.metrics import get_metric
    from automl_cli.core.preprocessing import encode_target
    from automl_cli.core.search import SearchSettings, run_search

    started = _process_start_monotonic() if given is None else given.started
    return_freed_memory()
    say = progress or noop
    project, config = open_step(
        project_dir,
        "search",
        {
            "target": target,
            "time_budget": time_budget,
            "trials": trials,
            "metric": metric,
            "task": task,
            "seed": seed,
            "cv": cv,
            "models": models or None,
            "lock_timeout": lock_timeout,
            "storage": storage,
            "study": study,
            **(extra_settings or {}),
        },
        DEFAULTS,
    )
    storage_url = config["storage"].value
    if (config["study"].value or finalize) and not storage_url:
        raise UsageError(
            "--study and --finalize are about a shared study, which needs --storage URL",
            hint="e.g. --storage postgresql://user:password@host/db --study churn",
        )
    study_name = str(config["study"].value or "automl-search")
    if storage_url:
        from automl_cli.core.studies import redact, storage_kind

        storage_kind(storage_url)  # an unknown scheme is a usage error before any work
        config["storage"] = Resolved(redact(storage_url), config["storage"].source)
    target_name = config["target"].value
    if not target_name:
        raise UsageError("search needs the column to predict", hint="pass --target COLUMN")
    budget = config["time_budget"].value
    n_trials = config["trials"].value
    if finalize:
        n_trials = 0
    if budget is None and n_trials is None:
        budget = DEFAULT_BUDGET
    if budget is not None and float(budget) < 5:
        raise UsageError(f"--time-budget {budget} is too short", hint="give at least 5 seconds")
    if n_trials is not None and int(n_trials) < 1 and not finalize:
        raise UsageError("--trials must be at least 1")
    if int(config["cv"].value) < 2:
        raise UsageError("--cv must be at least 2")
    jobs = DEFAULT_JOBS if config["jobs"].value is None else int(config["jobs"].value)
    if jobs < 1:
        raise UsageError(
            f"jobs must be at least 1, not {jobs}",
            hint="AUTOML_JOBS (or jobs in automl.toml) is the number of threads a fit uses",
        )
    requested = [m.strip() for m in config["models"].value for m in str(m).split(",") if m.strip()]
    unknown = [m for m in requested if m not in FAMILIES]
    if unknown:
        raise UsageError(
            f"unknown model famil{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}",
            hint=f"choose from: {', '.join(FAMILIES)}",
        )
    hard_deadline = None if budget is None else started + float(budget)
    seed_value = int(config["seed"].value)

    if given is None:
        say(f"reading {data}")
        frame, info = read_table(data)
        check_target(list(frame.columns), target_name, path=info.path)
        profile_art, profile = ensure_profile(project, frame, info, config, say)
    else:
        assert given.frame is not None, "a Given table is used once"
        frame, info, (profile_art, profile) = given.frame, given.info, given.profile
        given.frame = None  # the search holds the only reference, freed once it is encoded
    X_raw, y_raw, dropped_rows = rows_with_target(frame, target_name, info.path)
    del frame
    if given is not None:
        prep_art, prep = given.prep
    elif (found := _matching_prep(project, info.sha256, target_name, config)) is None:
        prep_art, prep = write_prep(
            project, X_raw, y_raw, info, config, profile_art, profile, dropped_rows, say
        )
    else:
        prep_art, prep = found, load_preprocessor(found)
    task_name = prep.task_
    assert task_name is not None
    scorer = get_metric(config["metric"].value, task_name)
    y, classes = encode_target(y_raw, task_name)
    if task_name != "regression":
        y = y.astype(int)
    n_classes = len(classes) if classes else 0
    if task_name != "regression" and n_classes < 2:
        raise UsageError(f"the target '{target_name}' has only one class; nothing to learn")
    families = requested or default_families(task_name, len(y))
    variants = {FAMILIES[f].variant for f in families}
    say("encoding features")
    features = {
        v: prep.transform(X_raw, variant=v, y=y_raw if v == "encoded" else None) for v in variants
    }
    del X_raw

    settings = SearchSettings(
        task=task_name,
        n_classes=n_classes,
        metric=scorer,
        families=families,
        cv=int(config["cv"].value),
        seed=seed_value,
        trials=None if n_trials is None else int(n_trials),
        keep_models=ENSEMBLE_CANDIDATES,
        n_jobs=jobs,
    )
    search_deadline = None
    if hard_deadline is not None:
        # ensemble and saving; a refit happens only when it fits in what is left, else the
        # fold models are kept, so this need not cover training
        reserve = 1.5 + 0.06 * float(budget)
        search_deadline = hard_deadline - reserve
    workdir = Path(tempfile.mkdtemp(prefix="automl-search-"))
    try:
        study_storage: Any = f"sqlite:///{workdir / 'study.db'}"
        if storage_url:
            study_storage = _join_study(
                storage_url,
                study_name,
                _study_meta(info, target_name, task_name, scorer.name, config, families, prep),
                say,
            )

        def on_trial(record: TrialRecord, best: TrialRecord | None) -> None:
            elapsed = time.monotonic() - started
            limit = f"/{float(budget):.0f}" if budget is not None else ""
            best_txt = (
                f"best {scorer.name} {scorer.to_score(best.loss):.4f} ({best.family})"
                if best
                else "no complete trial yet"
            )
            say(
                f"{elapsed:5.1f}{limit} s · trial {record.number + 1} {record.family} "
                f"{record.state} · {best_txt}"
            )

        say(f"searching {', '.join(families)} ({scorer.name}, {settings.cv}-fold)")
        with _ctrl_c_stops_the_search(say):
            result = run_search(
                features,
                y,
                settings,
                deadline=search_deadline,
                storage=study_storage,
                study_name=study_name,
                shared=bool(storage_url),
                on_trial=on_trial,
            )
        if worker_only:
            return _worker_doc(result, study_name, config, scorer, started)
        if not result.complete() and result.interrupted:
            raise Interrupted(
                "interrupted before any model finished; nothing was saved",
                hint="run again and let at least one trial finish (the progress lines say when)",
            )
        if not result.complete():
            raise AutomlError(
                "no model finished within the time budget",
                hint="raise --time-budget, or try cheaper --models such as linear,lgbm",
            )
        say("building the ensemble")
        members, ensemble_info = _ensemble(result, y, scorer, n_classes)
        members = _refit_or_bag(
            members, features, y, settings, hard_deadline, result.interrupted, say
        )
        say("saving the model artifact")
        art = _save(
            project,
            members,
            result,
            prep,
            prep_art,
            profile_art,
            info,
            config,
            scorer,
            classes,
            ensemble_info,
            workdir,
            seed_value,
            len(y),
            dropped_rows,
            started,
            budget,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    wall = time.monotonic() - started
    doc = {
        "command": "search",
        "artifact": art.ref,
        "path": str(art.path),
        "prep": prep_art.ref,
        "profile": profile_art.ref,
        "target": target_name,
        "task": task_name,
        "metric": scorer.name,
        "cv_score": art.manifest["metrics"]["cv_score"],
        "best_single": art.manifest["metrics"]["best_single_score"],
        "ensemble": [
            {"family": m.family, "trial": m.trial, "weight": round(m.weight, 4), "fit": m.fit}
            for m in members
        ],
        "trials": {
            state: sum(1 for t in result.trials if t.state == state)
            for state in ("complete", "pruned", "failed", "stopped")
        },
        "stopped_by": result.stopped_by,
        "time_budget": budget,
        "wall_time_s": round(wall, 2),
        "leaderboard": _leaderboard_rows(result, scorer, members)[:10],
        "config": config_doc(config),
    }
    if result.interrupted:
        raise Interrupted(f"interrupted: the best model so far was saved as {art.ref}", result=doc)
    return doc


@contextmanager
def _ctrl_c_stops_the_search(say: Callable[[str], None]) -> Iterator[None]:
    """First Ctrl-C or SIGTERM: ask the fit in progress to stop at its next round or chunk of
    trees, then end the search at the next safe point (an exception thrown into a fit that
    runs on worker threads could leave it hanging). A second signal interrupts at once.
    Which signal came is kept in ``_STOP_SIGNALS`` so the process exits 130 or 143."""
    import signal
    import threading

    from automl_cli.core.learners._base import STOP_REQUESTED

    STOP_REQUESTED.clear()
    _STOP_SIGNALS.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        _STOP_SIGNALS.append(signum)
        if STOP_REQUESTED.is_set():
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        STOP_REQUESTED.set()
        again = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        say(f"stopping: saving the best model so far ({again} again to abort)")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
        STOP_REQUESTED.clear()


def _matching_prep(
    project: Project, data_sha256: str, target: str, config: dict[str, Any]
) -> Artifact | None:
    """The newest prep of the same bytes and target whose settings equal this run's."""
    for version in reversed(project.versions("prep")):
        art = project.load(f"prep@{version}", verify=False)
        summary, used = art.manifest.get("summary", {}), art.manifest.get("config", {})
        if summary.get("data_sha256") != data_sha256 or summary.get("target") != target:
            continue
        if all(
            used.get(k, {}).get("value") == config[k].value for k in PREP_DEFAULTS if k != "target"
        ):
            art.verify()
            return art
    return None


def _ensemble(
    result: SearchResult, y: np.ndarray, scorer: Any, n_classes: int
) -> tuple[list[Member], dict[str, Any]]:
    import numpy as np

    from automl_cli.core.ensemble import greedy_ensemble

    # another worker's trial has no fold models here; it is refit if chosen
    candidates = [t for t in result.complete() if t.models is not None or t.remote][
        :ENSEMBLE_CANDIDATES
    ]
    outputs = [t.oof for t in candidates if t.oof is not None]
    found = greedy_ensemble(outputs, y, scorer, n_classes)
    use_ensemble = len(found.weights) > 1 and found.loss < found.single_loss
    weights = found.weights if use_ensemble else {found.single_best: 1.0}
    members = [
        Member(
            candidates[i].family,
            w,
            candidates[i].params,
            list(candidates[i].models or []),
            "folds",
            candidates[i].number,
            float(np.mean(candidates[i].fit_seconds)),
            list(candidates[i].iterations),
        )
        for i, w in sorted(weights.items(), key=lambda kv: -kv[1])
    ]
    chosen = sum(w * np.asarray(candidates[i].oof) for i, w in weights.items())
    info = {
        "oof": chosen,  # the model's out-of-fold output: what `evaluate` reports without data
        "y": y,
        "used": use_ensemble,
        "ensemble_loss": found.loss,
        "single_loss": found.single_loss,
        "cv_score": scorer.to_score(found.loss if use_ensemble else found.single_loss),
        "best_single_score": scorer.to_score(found.single_loss),
        "iterations": {candidates[i].number: candidates[i].iterations for i in weights},
    }
    return members, info


def _refit_or_bag(
    members: list[Member],
    features: dict[str, pd.DataFrame],
    y: np.ndarray,
    settings: Any,
    hard_deadline: float | None,
    interrupted: bool,
    say: Callable[[str], None],
) -> list[Member]:
    """Refit each member on all rows when the time model says it fits; else keep fold models."""
    import numpy as np

    from automl_cli.core.learners import make_learner
    from automl_cli.core.learners._base import fit_deadline

    if interrupted:
        # no time to train another worker's chosen trial: keep the members this process has
        kept = [m for m in members if m.learners]
        if not kept:
            raise AutomlError("interrupted before any chosen model could be trained here")
        total = sum(m.weight for m in kept)
        for m in kept:
            m.weight /= total
        return kept
    n_rows = len(y)
    refitted: list[Member] = []
    for member in members:
        fold_models = member.learners
        train_share = 1.0 - 1.0 / max(len(fold_models), 2)
        estimate = max(member.fold_seconds, 0.05) / max(train_share, 0.5) * 1.3
        too_late = hard_deadline is not None and time.monotonic() + estimate > hard_deadline - 1.0
        if too_late and fold_models:  # without fold models (another worker's) it must be refit
            refitted.append(member)
            continue
        params = dict(member.params)
        iterations = [lrn.fitted_iterations() for lrn in fold_models] or member.iterations
        if iterations and all(i is not None for i in iterations):
            params["n_estimators"] = max(1, int(np.mean([i for i in iterations if i]) * 1.1))
        say(f"refitting {member.family} on all {n_rows:,} rows")
        learner = make_learner(
            member.family,
            task=settings.task,
            n_classes=settings.n_classes,
            seed=settings.seed,
            n_jobs=settings.n_jobs,
            **params,
        )
        with fit_deadline(None if hard_deadline is None else hard_deadline - 1.0):
            learner.fit(features[learner.variant], y)
        refitted.append(
            Member(member.family, member.weight, params, [learner], "refit", member.trial)
        )
    return refitted


def _leaderboard_rows(
    result: SearchResult, scorer: Any, members: list[Member]
) -> list[dict[str, Any]]:
    weights = {m.trial: m.weight for m in members}
    rows = []
    for t in sorted(result.trials, key=lambda t: (t.state != "complete", t.loss)):
        rows.append(
            {
                "trial": t.number,
                "family": t.family,
                "state": t.state,
                "portfolio": t.portfolio,
                "score": None if math.isinf(t.loss) else round(scorer.to_score(t.loss), 6),
                "score_std": round(t.loss_std, 6) if t.fold_losses else None,
                "folds": len(t.fold_losses),
                "fit_time_s": round(sum(t.fit_seconds), 3),
                "ensemble_weight": round(weights.get(t.number, 0.0), 4),
                "params": json.dumps(t.params, sort_keys=True, default=str),
                "error": t.error,
                "worker": t.worker,
            }
        )
    return rows


def _save(
    project: Project,
    members: list[Member],
    result: SearchResult,
    prep: Preprocessor,
    prep_art: Artifact,
    profile_art: Artifact,
    info: Any,
    config: dict[str, Any],
    scorer: Any,
    classes: list[Any] | None,
    ensemble_info: dict[str, Any],
    workdir: Path,
    seed: int,
    n_rows: int,
    dropped_rows: int,
    started: float,
    budget: float | None,
) -> Artifact:
    import numpy as np
    import pandas as pd

    leaderboard = pd.DataFrame(_leaderboard_rows(result, scorer, members))
    oof_columns: dict[str, Any] = {}
    for t in result.complete()[:ENSEMBLE_CANDIDATES]:
        assert t.oof is not None
        if t.oof.ndim == 1:
            oof_columns[f"trial_{t.number}"] = t.oof
        else:
            for j in range(t.oof.shape[1]):
                oof_columns[f"trial_{t.number}_class_{j}"] = t.oof[:, j]
    with project.new_artifact("model", seed=seed) as writer:
        writer.volatile.update(VOLATILE)
        writer.add_input(info.path, info.sha256, info.size, rows=info.rows, format=info.format)
        writer.add_parent(prep_art)
        writer.add_parent(profile_art)
        for name, value in config.items():
            writer.set_config(name, value.value, value.source)
        spec_members = []
        for i, member in enumerate(members):
            paths = []
            for j, learner in enumerate(member.learners):
                rel = f"members/{i}/{j}"
                learner.save(writer.dir_path(rel))
                paths.append(rel)
            spec_members.append(
                {
                    "family": member.family,
                    "variant": member.learners[0].variant,
                    "weight": member.weight,
                    "trial": member.trial,
                    "fit": member.fit,
                    "params": member.learners[0].get_params(),
                    "paths": paths,
                }
            )
        spec = {
            "format_version": MODEL_FORMAT,
            "task": prep.task_,
            "classes": classes,
            "metric": scorer.name,
            "members": spec_members,
        }
        writer.write_json(MODEL_FILE, spec)
        shutil.copyfile(prep_art.file(PREPROCESSOR_FILE), writer.file_path(PREPROCESSOR_FILE))
        leaderboard.to_csv(writer.file_path("leaderboard.csv"), index=False)
        oof = pd.DataFrame(oof_columns)
        model_oof = np.asarray(ensemble_info["oof"])
        if model_oof.ndim == 1:
            oof.insert(0, "model", model_oof)
        else:
            for j in reversed(range(model_oof.shape[1])):
                oof.insert(0, f"model_class_{j}", model_oof[:, j])
        oof.insert(0, "target", np.asarray(ensemble_info["y"]))
        oof.insert(0, "fold", _fold_ids(result.folds, n_rows))
        oof.to_parquet(writer.file_path("oof.parquet"), index=False)
        study = workdir / "study.db"
        if study.is_file():
            shutil.copyfile(study, writer.file_path("study.db"))
        writer.summary.update(
            {"data_sha256": info.sha256, "target": prep.target, "task": prep.task_}
        )
        if config["storage"].value:
            writer.summary.update(
                {
                    "storage": config["storage"].value,  # redacted: no password
                    "study": config["study"].value or "automl-search",
                    "workers": sorted({t.worker for t in result.trials if t.worker}),
                }
            )
        writer.metrics.update(
            {
                "metric": scorer.name,
                "cv_score": round(float(ensemble_info["cv_score"]), 6),
                "best_single_score": round(float(ensemble_info["best_single_score"]), 6),
                "ensemble": bool(ensemble_info["used"]),
                "trials_complete": sum(1 for t in result.trials if t.state == "complete"),
                "trials_total": len(result.trials),
                "rows_used": n_rows,
                "rows_without_target": dropped_rows,
                "time_budget_s": budget,
                "stopped_by": result.stopped_by,
            }
        )
    assert writer.result is not None
    return writer.result


def _fold_ids(folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> np.ndarray:
    import numpy as np

    ids = np.full(n_rows, -1, dtype=int)
    for k, (_, val) in enumerate(folds):
        ids[val] = k
    return ids


# -- shared studies -------------------------------------------------------------------------

STUDY_META_FORMAT = 1


def _study_meta(
    info: Any,
    target: str,
    task: str,
    metric: str,
    config: dict[str, Any],
    families: list[str],
    prep: Preprocessor,
) -> dict[str, Any]:
    """What every worker of a study must agree on, and where a worker finds the data."""
    import hashlib

    fingerprint = hashlib.sha256(
        json.dumps(prep.to_dict(), sort_keys=True, default=str).encode()
    ).hexdigest()
    return {
        "format": STUDY_META_FORMAT,
        "data": {"path": str(Path(info.path).resolve()), "sha256": info.sha256, "rows": info.rows},
        "target": target,
        "task": task,
        "metric": metric,
        "cv": int(config["cv"].value),
        "seed": int(config["seed"].value),
        "families": list(families),
        "prep_settings": {k: config[k].value for k in PREP_DEFAULTS},
        "prep_fingerprint": fingerprint,
    }


def _join_study(url: str, name: str, meta: dict[str, Any], say: Callable[[str], None]) -> Any:
    """Open the shared study (creating it with ``meta``) and check this process agrees."""
    import optuna

    from automl_cli.core.studies import open_storage, redact, storage_kind

    storage = open_storage(url)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        storage=storage, study_name=name, direction="minimize", load_if_exists=True
    )
    found = study.user_attrs.get("automl")
    if found is None:
        study.set_user_attr("automl", meta)
        say(f"created study '{name}' in {redact(url)}")
        return storage
    differs = [key for key in meta if key != "data" and found.get(key) != meta[key]] + (
        ["data sha256"] if found.get("data", {}).get("sha256") != meta["data"]["sha256"] else []
    )
    if differs:
        raise UsageError(
            f"study '{name}' in {redact(url)} was started with other "
            + ", ".join(differs)
            + " than this run",
            hint="every worker must search the same table and target with the same settings "
            "(automl worker takes them from the study); or use another --study name",
        )
    trials = study.get_trials(deepcopy=False)
    if storage_kind(url) == "sqlite" and any(
        t.state == optuna.trial.TrialState.RUNNING for t in trials
    ):
        raise UsageError(
            f"study '{name}' in {redact(url)} is being searched by another process, and SQLite "
            "is for one process at a time (concurrent writers corrupt it or fail with "
            "'database is locked')",
            hint="share the study through journal:PATH (one machine) or postgresql:// (many)",
        )
    done = sum(1 for t in trials if t.state.is_finished())
    say(f"joined study '{name}' in {redact(url)} ({done} trials finished so far)")
    return storage


def _worker_doc(
    result: SearchResult, study: str, config: dict[str, Any], scorer: Any, started: float
) -> dict[str, Any]:
    mine = [t for t in result.trials if not t.remote]
    everyone = result.complete()
    best = everyone[0] if everyone else None
    return {
        "command": "worker",
        "study": study,
        "storage": config["storage"].value,
        "trials": {
            state: sum(1 for t in mine if t.state == state)
            for state in ("complete", "pruned", "failed", "stopped")
        },
        "study_complete_trials": len(everyone),
        "best_in_study": None
        if best is None
        else {
            "trial": best.number,
            "family": best.family,
            "score": round(float(scorer.to_score(best.loss)), 6),
            "worker": best.worker,
        },
        "metric": scorer.name,
        "stopped_by": result.stopped_by,
        "wall_time_s": round(time.monotonic() - started, 2),
    }


# -- loading --------------------------------------------------------------------------------


def load_model(project_dir: Path, ref: str = "model@latest") -> FittedModel:
    """A model artifact ready to predict; every file's sha256 is checked before it is read.

    model.json is data, not instructions: a member folder must lie inside the artifact and
    hold only files its manifest lists (so every byte a loader reads was verified), and
    whatever a family's loader raises on the bytes (not a skops file, a type outside the
    trusted list that ships with automl, a booster file its parser refuses, invalid saved
    params) is a corrupt artifact (exit 4), never a traceback.
    """
    import os

    from automl_cli.core.learners import FAMILIES
    from automl_cli.core.preprocessing import Preprocessor

    art = Project(project_dir).load(ref, default_kind="model")  # verifies every sha256
    listed = {str(o["path"]) for o in art.manifest.get("outputs", [])}

    def member_dir(rel: Any) -> Path:
        parts = Path(str(rel)).parts
        if not isinstance(rel, str) or not parts or Path(rel).is_absolute() or ".." in parts:
            raise ArtifactCorruptError(
                f"{art.ref}: model.json names a member folder outside its folder: {rel!r}"
            )
        folder = art.path
        for part in parts:
            folder = folder / part
            if folder.is_symlink():
                raise ArtifactCorruptError(f"{art.ref}: '{rel}' is a symbolic link")
        if not folder.is_dir():
            raise ArtifactCorruptError(f"{art.ref} is missing its member folder '{rel}'")
        for where, dirs, files in os.walk(folder):
            for name in [*dirs, *files]:
                path = Path(where) / name
                inner = path.relative_to(art.path).as_posix()
                if path.is_symlink() or (name in files and inner not in listed):
                    raise ArtifactCorruptError(f"{art.ref}: '{inner}' is not in its manifest")
        return folder

    def load_member(cls: Any, rel: Any, params: Any) -> Any:
        folder = member_dir(rel)
        try:
            return cls.load(folder, params)
        except MemoryError:
            raise
        except Exception as exc:  # whatever the bytes (or saved params) make a loader raise
            raise ArtifactCorruptError(
                f"{art.ref} cannot be loaded: member '{rel}': {type(exc).__name__}: {exc}"
            ) from None

    try:
        spec = json.loads(art.file(MODEL_FILE).read_text("utf-8"))
        prep = Preprocessor.from_dict(json.loads(art.file(PREPROCESSOR_FILE).read_text("utf-8")))
        if spec.get("format_version") != MODEL_FORMAT:
            raise ArtifactCorruptError(
                f"{art.ref} has model format {spec.get('format_version')!r}",
                hint="upgrade automl to read it",
            )
        members = []
        for m in spec["members"]:
            cls = FAMILIES[m["family"]]
            learners = [load_member(cls, rel, m["params"]) for rel in m["paths"]]
            members.append(Member(m["family"], m["weight"], m["params"], learners, m["fit"]))
        return FittedModel(
            spec["task"], spec["classes"], prep, members, spec["metric"], {"ref": art.ref}
        )
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ArtifactCorruptError(
            f"{art.ref} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
