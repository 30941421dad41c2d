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
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.config import Resolved
from automl_cli.core.cpu import CpuShare
from automl_cli.core.cutoff import cutoff
from automl_cli.core.memory import return_freed_memory
from automl_cli.core.stash import private_workdir, save_seconds
from automl_cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ArtifactCorruptError,
    ArtifactTooLarge,
    AutomlError,
    BudgetError,
    LimitError,
    Terminated,
    UsageError,
)
from automl_cli.steps._common import config_doc, noop, open_step, threads_setting
from automl_cli.steps._limits import LIMIT_KEYS, Assessor, Limits, measured_text, time_model
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
    from automl_cli.core.latency import Timing
    from automl_cli.core.learners._base import Learner
    from automl_cli.core.preprocessing import Preprocessor
    from automl_cli.core.schema import SchemaReport
    from automl_cli.core.search import SearchResult, TrialRecord

__all__ = ["VOLATILE", "FittedModel", "Given", "Interrupted", "load_model", "run_search_step"]

MODEL_FILE = "model.json"
MODEL_FORMAT = 1
DEFAULT_BUDGET = 60.0
# Files a same-seed re-run rewrites with other bytes: fit timings, the study's timestamps.
VOLATILE = ("leaderboard.csv", "study.db")
ENSEMBLE_CANDIDATES = 10
# of the time the search leaves (for refits and saving), what choosing the ensemble may take:
# small tables need milliseconds; a 200,000-row holdout needs seconds, and the rounds made
# by then already hold most of the gain
ENSEMBLE_SHARE = 0.25
TIMING_ROWS = 200  # training rows kept to time models on (single rows cycle through them)
LIMIT_ATTEMPTS = 3  # ensembles tried, each under tighter estimates, before giving up
LEADERBOARD_ROW_BYTES = 400  # size estimates before the files exist
SPEC_BYTES = 24_000  # model.json + manifest.json
SAVE_MARGIN_S = 1.0  # the save beyond the members' files: OOF, leaderboard, study, manifest
# importing what the search runs on, measured idle: scikit-learn (scipy.stats with it) 1.5 s,
# optuna with its SQLite storage 0.7 s; on a busy machine, two to three times as long
SEARCH_IMPORTS_S = {"sklearn": 1.5, "optuna": 0.7}
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
    # deployment limits (steps._limits): the saved model must keep to each one that is set
    **dict.fromkeys(LIMIT_KEYS),
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
    learners: Sequence[Learner]  # the search's fold models may wait on disk until chosen
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
    temperature: float = 1.0  # applied to the members' averaged probabilities (logloss)
    floor_rows: int = 0  # then floored as from so many training rows (logloss; 0: not)

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
        if self.task != "regression":
            from automl_cli.core.ensemble import finish_probabilities

            total = finish_probabilities(total, self.temperature, self.floor_rows)
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
    max_latency_ms: float | None = None,
    max_batch_ms_per_1k: float | None = None,
    max_model_mb: float | None = None,
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
    from automl_cli.core.latency import sample_rows
    from automl_cli.core.learners import FAMILIES, default_families
    from automl_cli.core.metrics import get_metric
    from automl_cli.core.preprocessing import encode_target
    from automl_cli.core.search import SearchSettings, cv_repeats, run_search

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
            "max_latency_ms": max_latency_ms,
            "max_batch_ms_per_1k": max_batch_ms_per_1k,
            "max_model_mb": max_model_mb,
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
    n_trials = config["trials"].value
    if finalize:
        n_trials = 0
    budget = resolve_budget(config["time_budget"].value, n_trials)
    if n_trials is not None and int(n_trials) < 1 and not finalize:
        raise UsageError("--trials must be at least 1")
    if int(config["cv"].value) < 2:
        raise UsageError("--cv must be at least 2")
    jobs = threads_setting(config["jobs"].value)
    requested = [m.strip() for m in config["models"].value for m in str(m).split(",") if m.strip()]
    unknown = [m for m in requested if m not in FAMILIES]
    if unknown:
        raise UsageError(
            f"unknown model famil{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}",
            hint=f"choose from: {', '.join(FAMILIES)}",
        )
    hard_deadline = None if budget is None else started + budget
    seed_value = int(config["seed"].value)
    limits = Limits.from_config(config)

    search_deadline = _search_deadline(started, budget, limits.active)

    # reading, profiling, preparing and encoding: once the search's deadline passes during
    # them, no model can come of this command (automl_cli.core.cutoff)
    with search_cutoff(started, budget, limits):
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
        # a busy machine gets fewer threads per fit (automl_cli.core.cpu), except where the
        # thread count was chosen (jobs) or results must repeat exactly (--trials)
        cpu = CpuShare(jobs) if config["jobs"].value is None and n_trials is None else None
        say("encoding features")
        features = {
            v: prep.transform(X_raw, variant=v, y=y_raw if v == "encoded" else None)
            for v in variants
        }
        # rows the chosen model (and, under limits, every trial) is timed on, as predict reads them
        timing_rows = sample_rows(X_raw, min(len(X_raw), TIMING_ROWS), seed_value)
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
        constrained=limits.active,
        repeats=cv_repeats(len(y), max(df.shape[1] for df in features.values())),
        refits=not worker_only,  # a worker's trials end its run: nothing to refit after
    )
    if search_deadline is not None and budget is not None:
        _check_time_to_start(search_deadline, started, budget)
    with private_workdir() as workdir:
        study_storage: Any = f"sqlite:///{workdir / 'study.db'}"
        if storage_url:
            study_storage = _join_study(
                storage_url,
                study_name,
                _study_meta(
                    info, target_name, task_name, scorer.name, config, families, prep, limits
                ),
                say,
            )

        seen = [0]  # trials so far (the leaderboard's rows)

        def on_trial(record: TrialRecord, best: TrialRecord | None) -> None:
            seen[0] += 1
            elapsed = time.monotonic() - started
            limit = f"/{budget:.0f}" if budget is not None else ""
            busy = ""
            if record.threads is not None and record.threads < settings.n_jobs:
                busy = f" · machine busy: {record.threads} of {settings.n_jobs} threads"
            best_txt = (
                f"best {scorer.name} {scorer.to_score(best.loss):.4f} ({best.family})"
                if best
                else "no complete trial yet"
            )
            say(
                f"{elapsed:5.1f}{limit} s · trial {record.number + 1} {record.family} "
                f"{record.state} · {best_txt}{busy}"
            )

        def make_model(parts: list[tuple[Any, list[Learner]]]) -> FittedModel:
            return FittedModel(
                task_name,
                classes,
                prep,
                [Member(r.family, 1.0 / len(parts), r.params, lrn, "refit") for r, lrn in parts],
                scorer.name,
            )

        def overhead_bytes() -> int:
            """The files a model holds besides its members, as they stand now."""
            study_file = workdir / "study.db"
            return (
                prep_art.file(PREPROCESSOR_FILE).stat().st_size
                + (study_file.stat().st_size if study_file.is_file() else 0)
                + _oof_bytes(len(y), n_classes, per_trial=False)
                + LEADERBOARD_ROW_BYTES * (seen[0] + 1)
                + SPEC_BYTES
            )

        assessor = None
        if limits.active:
            assessor = Assessor(
                limits,
                make_model,
                timing_rows,
                {v: prep.transform(timing_rows, variant=v) for v in variants},
                overhead_bytes,
            )
            say(f"deployment limits: {limits.describe()}")

        def assess(record: TrialRecord, seconds_left: float) -> None:
            assert assessor is not None
            assessor(record, seconds_left)

        repeated = f" ×{settings.repeats}" if settings.repeats > 1 else ""
        say(f"searching {', '.join(families)} ({scorer.name}, {settings.cv}-fold{repeated})")
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
                assess=assess if assessor is not None else None,
                stash_dir=workdir / "models",
                cpu=cpu,
            )
        if worker_only:
            return _worker_doc(result, study_name, config, scorer, started)
        if not result.complete() and result.interrupted:
            raise Interrupted(
                "interrupted before any model finished; nothing was saved",
                hint="run again and let at least one trial finish (the progress lines say when)",
            )
        if not result.complete():
            raise BudgetError("no model finished within the time budget")
        refits: dict[int, Member] = {}  # trial → its refit member, reused if chosen again

        def build(slack: float) -> tuple[list[Member], dict[str, Any]]:
            ends = None  # the ensemble's share of the time the search left
            if hard_deadline is not None:
                now = time.monotonic()
                ends = now + ENSEMBLE_SHARE * max(hard_deadline - SAVE_MARGIN_S - now, 0.0)
            members, info = _ensemble(
                result, y, scorer, n_classes, assessor, slack, settings.seed, ends
            )
            members = _refit_or_bag(
                members,
                features,
                y,
                settings,
                hard_deadline,
                result.interrupted,
                say,
                refits,
                one_fold=limits.active,
                cpu=cpu,
            )
            return members, info

        def save(members: list[Member], ens: dict[str, Any], timing: Timing | None) -> Artifact:
            say("saving the model artifact")
            return _save(
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
                ens,
                workdir,
                seed_value,
                len(y),
                dropped_rows,
                budget,
                timing,
                limits,
            )

        say("building the ensemble")
        # saving a scikit-learn member imports skops (over a second): here, before the refits
        # look at the clock, and only when a candidate needs it
        if any(FAMILIES[t.family].saves_with_skops for t in result.complete()):
            import skops.io  # noqa: F401

        if assessor is None:
            members, ensemble_info = build(1.0)
            timing = _time_default(make_model, members, timing_rows, hard_deadline)
            art = save(members, ensemble_info, timing)
        else:
            art, members, ensemble_info = _within_limits(
                result, limits, assessor, build, save, make_model, hard_deadline, say
            )
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
        "size_mb": round(art.manifest["size_bytes"] / 1e6, 3),
        "latency_ms": art.manifest["metrics"].get("latency_ms"),
        "batch_ms_per_1k": art.manifest["metrics"].get("batch_ms_per_1k"),
        "limits": limits.to_dict() if limits.active else None,
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


def resolve_budget(budget: Any, trials: Any) -> float | None:
    """The search's time budget in seconds: 60 unless a number of trials is given."""
    if budget is None and trials is None:
        return DEFAULT_BUDGET
    if budget is not None and float(budget) < 5:
        raise UsageError(f"--time-budget {budget} is too short", hint="give at least 5 seconds")
    return None if budget is None else float(budget)


def search_cutoff(
    started: float, budget: float | None, limits: Limits
) -> AbstractContextManager[None]:
    """The cutoff (``automl_cli.core.cutoff``) for the work before a search that started at
    ``started``: its search deadline, past which the search could not run at all."""
    deadline = _search_deadline(started, budget, limits.active)
    return cutoff(deadline, lambda: _no_time_to_search(started, budget or 0.0, finished=False))


def _search_deadline(started: float, budget: float | None, limits_active: bool) -> float | None:
    """When trials must end so that ensembling, timing and saving still end within the
    ``budget`` counted from ``started``. A refit happens only when it fits in what is left,
    else the fold models are kept, so the reserve need not cover training."""
    if budget is None:
        return None
    reserve = 1.5 + 0.06 * budget
    if limits_active:  # the chosen model is timed, and may be chosen again, before saving
        reserve += 1.0 + 0.04 * budget
    return started + budget - reserve


def _no_time_to_search(started: float, budget: float, finished: bool = True) -> BudgetError:
    spent = time.monotonic() - started
    done = "took" if finished else "was still going after"
    return BudgetError(
        f"no model finished within the time budget: reading and preparing the table {done} "
        f"{spent:.1f} s of {budget:g} s, which leaves no time to search",
        hint="raise --time-budget: this table takes longer to read and prepare than the "
        "budget leaves for the search",
    )


def _check_time_to_start(search_deadline: float, started: float, budget: float) -> None:
    """Fail at once when the search could not even import its libraries before its deadline:
    starting anyway only overruns the budget on the way to the same error."""
    imports = sum(s for name, s in SEARCH_IMPORTS_S.items() if name not in sys.modules)
    if time.monotonic() + imports >= search_deadline:
        raise _no_time_to_search(started, budget)


def _ensemble(
    result: SearchResult,
    y: np.ndarray,
    scorer: Any,
    n_classes: int,
    assessor: Assessor | None = None,
    slack: float = 1.0,
    seed: int = 0,
    ends: float | None = None,
) -> tuple[list[Member], dict[str, Any]]:
    """Greedy ensemble over the best candidates; under limits, only sets that keep to
    ``slack`` × each limit by the trials' measured costs (ValueError if none can). With log
    loss, the chosen probabilities then get a temperature (kept only when it cross-checks)
    and a floor (``finish_probabilities``), and the CV score is that of what is shipped.
    ``ends``: no selection round starts after it (``greedy_ensemble``)."""
    import numpy as np

    from automl_cli.core.ensemble import (
        NoCandidateFits,
        finish_probabilities,
        fit_temperature,
        greedy_ensemble,
        predicted_rows,
    )
    from automl_cli.core.search import family_bests

    # another worker's trial has no fold models here; it is refit if chosen
    usable = [t for t in result.complete() if (t.models is not None or t.remote) and t.feasible]
    # the best overall, and the best of every family: members that err differently
    bests = {id(t) for t in family_bests(usable)}
    candidates = [t for i, t in enumerate(usable) if i < ENSEMBLE_CANDIDATES or id(t) in bests]
    if not candidates:
        raise NoCandidateFits("no candidate keeps to the limits on its own")
    outputs = [t.oof for t in candidates if t.oof is not None]
    fits = None if assessor is None else assessor.fits(candidates, slack)
    found = greedy_ensemble(outputs, y, scorer, n_classes, fits=fits, ends=ends)
    use_ensemble = len(found.weights) > 1 and found.loss < found.single_loss
    weights = found.weights if use_ensemble else {found.single_best: 1.0}
    members = [
        Member(
            candidates[i].family,
            w,
            candidates[i].params,
            candidates[i].models or [],  # on disk until chosen (see _refit_or_bag)
            "folds",
            candidates[i].number,
            float(np.mean(candidates[i].fit_seconds)),
            list(candidates[i].iterations),
        )
        for i, w in sorted(weights.items(), key=lambda kv: -kv[1])
    ]
    chosen = np.asarray(sum(w * np.asarray(candidates[i].oof) for i, w in weights.items()))
    loss = found.loss if use_ensemble else found.single_loss
    temperature, floor_rows = 1.0, 0
    if scorer.name == "logloss":  # the one metric that scores confidence, not order
        temperature = fit_temperature(chosen, y, scorer, n_classes, seed)
        # each out-of-fold row was predicted by models fitted on a fold's training rows
        fold_rows = round(float(np.mean([len(train) for train, _ in result.folds])))
        chosen = finish_probabilities(chosen, temperature, fold_rows)
        floor_rows = len(y)  # the shipped model learnt from every row
        scored = predicted_rows(chosen)
        loss = scorer.loss(y[scored], chosen[scored], n_classes)
    info = {
        "oof": chosen,  # the model's out-of-fold output: what `evaluate` reports without data
        "y": y,
        "used": use_ensemble,
        "ensemble_loss": found.loss,
        "single_loss": found.single_loss,
        "temperature": temperature,
        "floor_rows": floor_rows,
        "cv_score": scorer.to_score(loss),
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
    refits: dict[int, Member] | None = None,
    one_fold: bool = False,
    cpu: CpuShare | None = None,
) -> list[Member]:
    """Refit each member on all rows when the time model says it fits; else keep fold models.

    Saving is part of the budget: a member is refit only when its fit and the save of
    everything chosen still end before the deadline, and a member that keeps its fold models
    keeps only as many as there is time to save (at least one; forests' fold models can take
    tens of MB, which a slow disk writes in seconds). ``refits`` holds members already refit
    (by trial), reused when chosen again. With ``one_fold`` (deployment limits), a member that
    is not refit keeps only its first fold model: the one its latency and size were
    measured on. ``cpu``: each refit gets the threads a busy machine leaves free."""
    refits = {} if refits is None else refits

    from automl_cli.core.learners import make_learner
    from automl_cli.core.learners._base import fit_deadline
    from automl_cli.core.search import refit_seconds, train_share

    if interrupted:
        # no time to train another worker's chosen trial: keep the members this process has
        kept = [m for m in members if m.learners]
        for m in kept:  # read back from disk: the model is timed and saved next
            m.learners = list(m.learners[:1] if one_fold else m.learners)
        if not kept:
            raise AutomlError("interrupted before any chosen model could be trained here")
        total = sum(m.weight for m in kept)
        for m in kept:
            m.weight /= total
        return kept
    # the least each member will cost to save: its earlier refit, or one fold model
    least = [
        save_seconds(refits[m.trial].learners) if m.trial in refits else
        save_seconds(m.learners[:1])
        for m in members
    ]  # fmt: skip
    committed = 0.0  # save time of the members settled so far

    def left(i: int) -> float:
        """Seconds for member ``i``'s fit and save, the others' saves set aside."""
        if hard_deadline is None:
            return math.inf
        return hard_deadline - SAVE_MARGIN_S - time.monotonic() - committed - sum(least[i + 1 :])

    def keep_folds(i: int, member: Member) -> None:
        """Member ``i`` as its fold models: as many as there is time to save, at least one."""
        nonlocal committed
        per_fold = save_seconds(member.learners) / len(member.learners)
        n = 1 if one_fold else max(1, min(len(member.learners), int(left(i) / per_fold)))
        if not one_fold and n < len(member.learners):
            say(f"time to save {n} of {member.family}'s {len(member.learners)} fold models")
        member.learners = list(member.learners[:n])  # read back from disk, when stashed
        refitted.append(member)
        committed += save_seconds(member.learners)

    n_rows = len(y)
    refitted: list[Member] = []
    for i, member in enumerate(members):
        if member.trial in refits:
            done = refits[member.trial]
            refitted.append(
                Member(done.family, member.weight, done.params, done.learners, "refit", done.trial)
            )
            committed += least[i]
            continue
        fold_models = member.learners
        n_folds, repeats = len(fold_models), int(settings.repeats)
        estimate = refit_seconds(max(member.fold_seconds, 0.05), n_folds, repeats)
        # one model on all rows: a fold model's size, grown by its share of the rows
        refit_save = save_seconds(fold_models) / max(n_folds, 1) / train_share(n_folds, repeats)
        if estimate + refit_save > left(i) and fold_models:
            # without fold models (another worker's) it must be refit
            keep_folds(i, member)
            continue
        iterations = member.iterations  # the fold models' own, recorded by the search
        params = refit_params("folds", member.params, iterations)
        say(f"refitting {member.family} on all {n_rows:,} rows")
        learner = make_learner(
            member.family,
            task=settings.task,
            n_classes=settings.n_classes,
            seed=settings.seed,
            n_jobs=settings.n_jobs if cpu is None else cpu.next_threads(),
            **params,
        )
        cutoff = None if hard_deadline is None else time.monotonic() + left(i) - refit_save
        with fit_deadline(cutoff):
            learner.fit(features[learner.variant], y)
        if cutoff is not None and time.monotonic() >= cutoff and fold_models:
            # cut short by the deadline (a slower machine than the estimate): a booster
            # stopped after a few rounds predicts badly, the finished fold models do not
            say(f"no time to finish refitting {member.family}: keeping its fold models")
            keep_folds(i, member)
            continue
        refitted.append(
            Member(member.family, member.weight, params, [learner], "refit", member.trial)
        )
        refits[member.trial] = refitted[-1]
        committed += learner.save_seconds()
    return refitted


# learner arguments that come from the run, not from the saved hyperparameters
_RUN_PARAMS = ("task", "n_classes", "seed", "n_jobs")
REFIT_ROUNDS = 1.1  # all rows support a few more boosting rounds than a fold's share


def refit_params(fit: str, params: dict[str, Any], iterations: list[int | None]) -> dict[str, Any]:
    """A member's hyperparameters for one fit on all rows, without a validation set.

    ``folds``: the member is its CV fold models, each early-stopped on its own validation
    fold; trained on all rows with no validation set to stop on, a booster gets the fold
    models' mean round count × 1.1. ``refit``: the saved ``n_estimators`` already is that
    count for all rows (``retrain --refit-only``); multiplying again would grow the model
    by 10 % at every refit.
    """
    import numpy as np

    out = {k: v for k, v in params.items() if k not in _RUN_PARAMS}
    if fit == "folds" and iterations and all(i is not None for i in iterations):
        rounds = [i for i in iterations if i]
        if rounds:
            out["n_estimators"] = max(1, int(np.mean(rounds) * REFIT_ROUNDS))
    return out


def _leaderboard_rows(
    result: SearchResult, scorer: Any, members: list[Member], limits: Limits | None = None
) -> list[dict[str, Any]]:
    """One row per trial; under deployment limits, what each candidate measured and
    whether it kept to them (empty where nothing was measured)."""
    weights = {m.trial: m.weight for m in members}
    active = limits is not None and limits.active
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
                "threads": t.threads,
                "ensemble_weight": round(weights.get(t.number, 0.0), 4),
                "params": json.dumps(t.params, sort_keys=True, default=str),
                "error": t.error,
                "worker": t.worker,
                "latency_ms": _round(t.latency_ms, 3),
                "batch_ms_per_1k": _round(t.batch_ms_per_1k, 3),
                "size_mb": _round(None if t.artifact_bytes is None else t.artifact_bytes / 1e6, 4),
                "within_limits": (t.feasible if t.state == "complete" else None)
                if active
                else None,
            }
        )
    return rows


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _oof_bytes(n_rows: int, n_classes: int, *, per_trial: bool) -> int:
    """What oof.parquet will take, roughly: 8 bytes per value (floats barely compress)."""
    outputs = max(n_classes, 1)
    columns = 2 + outputs * (1 + (ENSEMBLE_CANDIDATES if per_trial else 0))
    return 8 * n_rows * columns + 4096


def _time_default(
    make_model: Callable[[list[tuple[Any, list[Learner]]]], FittedModel],
    members: list[Member],
    rows: pd.DataFrame,
    hard_deadline: float | None,
) -> Timing | None:
    """The chosen model's single-row latency for the manifest, when the budget leaves time
    beyond the save."""
    saving = SAVE_MARGIN_S + sum(save_seconds(m.learners) for m in members)
    left = math.inf if hard_deadline is None else hard_deadline - time.monotonic() - saving
    if left < 3.0:
        return None
    return time_model(_as_model(make_model, members), rows, Limits(), min(0.3, left / 10))


def _as_model(
    make_model: Callable[[list[tuple[Any, list[Learner]]]], FittedModel], members: list[Member]
) -> FittedModel:
    """The members as the saved model will run them (weights and fits as chosen)."""
    model = make_model([])
    model.members = members
    return model


def _within_limits(
    result: SearchResult,
    limits: Limits,
    assessor: Assessor,
    build: Callable[[float], tuple[list[Member], dict[str, Any]]],
    save: Callable[[list[Member], dict[str, Any], Timing | None], Artifact],
    make_model: Callable[[list[tuple[Any, list[Learner]]]], FittedModel],
    hard_deadline: float | None,
    say: Callable[[str], None],
) -> tuple[Artifact, list[Member], dict[str, Any]]:
    """Choose, refit, time and save a model that keeps to every limit, or exit 5.

    Estimates come from the trials' fold models; the chosen model is measured again after
    its refit (time through predict's path; size at commit). When it breaks a limit, the
    ensemble is chosen again with estimates scaled by how far off they were.
    """
    from automl_cli.core.ensemble import NoCandidateFits

    measured: list[dict[str, Any]] = []
    slack = 1.0
    for attempt in range(LIMIT_ATTEMPTS):
        left = math.inf if hard_deadline is None else hard_deadline - time.monotonic()
        if left < 1.0:
            break
        try:
            members, info = build(slack)
        except NoCandidateFits:
            break  # no candidate keeps to the limits even on its own
        names = "+".join(f"{m.family}#{m.trial}" for m in members)
        model = _as_model(make_model, members)
        timing = time_model(model, assessor.raw_rows, limits, min(2.0, left / 5))
        over = limits.excess(timing.latency_ms, timing.batch_ms_per_1k, None)
        if over > 0:
            measured.append({"model": names, **timing.metrics()})
            say(f"{names} breaks the limits once refit ({measured_text(measured[-1])}); "
                "choosing again")  # fmt: skip
            slack *= 0.95 / (1.0 + over)
            continue
        try:
            return save(members, info, timing), members, info
        except ArtifactTooLarge as exc:
            size = int(exc.details["size_bytes"])
            measured.append({"model": names, "artifact_bytes": size, **timing.metrics()})
            say(f"{names} would take {size / 1e6:.2f} MB; choosing again")
            slack *= 0.95 * float(exc.details["max_bytes"]) / size
        if attempt == LIMIT_ATTEMPTS - 1:
            break
    raise _limit_error(result, limits, measured)


def _limit_error(
    result: SearchResult, limits: Limits, measured: list[dict[str, Any]]
) -> LimitError:
    """Exit 5, naming the best figure found for each limit (trials' estimates and the
    chosen models' measurements alike), so the user knows how far to relax it."""
    done = [t for t in result.trials if t.state == "complete"]
    found: list[str] = []
    for key, limit, unit, scale in (
        ("latency_ms", limits.latency_ms, "ms per row", 1.0),
        ("batch_ms_per_1k", limits.batch_ms_per_1k, "ms per 1,000 rows", 1.0),
        ("artifact_bytes", limits.model_mb, "MB", 1e-6),
    ):
        if limit is None:
            continue
        values = [(float(v), f"{t.family} trial {t.number}") for t in done
                  if (v := getattr(t, key)) is not None]  # fmt: skip
        values += [(float(m[key]), m["model"]) for m in measured if m.get(key) is not None]
        if values:
            best, where = min(values)
            found.append(f"the smallest found is {best * scale:.3g} {unit} ({where})")
    detail = "; ".join(found) if found else "no model finished to measure"
    return LimitError(
        f"no model keeps to the limits ({limits.describe()}): {detail}",
        hint="relax the limit, give a longer --time-budget, or try faster or smaller --models "
        "such as linear,lgbm",
        limits=limits.to_dict(),
        measured=measured,
    )


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
    budget: float | None,
    timing: Timing | None,
    limits: Limits,
) -> Artifact:
    """Write the model version; with ``--max-model-mb`` the store refuses to commit one
    bigger than that (ArtifactTooLarge), and the candidates' own OOF columns are left out
    (only the model's are needed by ``evaluate``)."""
    import numpy as np
    import pandas as pd

    leaderboard = pd.DataFrame(_leaderboard_rows(result, scorer, members, limits))
    oof_columns: dict[str, Any] = {}
    per_trial = limits.model_mb is None
    for t in result.complete()[:ENSEMBLE_CANDIDATES] if per_trial else []:
        assert t.oof is not None
        if t.oof.ndim == 1:
            oof_columns[f"trial_{t.number}"] = t.oof
        else:
            for j in range(t.oof.shape[1]):
                oof_columns[f"trial_{t.number}_class_{j}"] = t.oof[:, j]
    with project.new_artifact("model", seed=seed) as writer:
        writer.volatile.update(VOLATILE)
        writer.max_bytes = limits.max_bytes
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
        writer.write_json(
            MODEL_FILE,
            model_spec(
                prep.task_,
                classes,
                scorer.name,
                spec_members,
                ensemble_info["temperature"],
                ensemble_info["floor_rows"],
            ),
        )
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
                "temperature": round(float(ensemble_info["temperature"]), 6),
                "floor_rows": int(ensemble_info["floor_rows"]),
                "trials_complete": sum(1 for t in result.trials if t.state == "complete"),
                "trials_total": len(result.trials),
                "rows_used": n_rows,
                "rows_without_target": dropped_rows,
                "time_budget_s": budget,
                "stopped_by": result.stopped_by,
                "cv_repeats": result.repeats,
                **({} if timing is None else timing.metrics()),
            }
        )
    assert writer.result is not None
    return writer.result


def _fold_ids(folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> np.ndarray:
    import numpy as np

    ids = np.full(n_rows, -1, dtype=int)
    for k, (_, val) in enumerate(folds):
        ids[val[ids[val] < 0]] = k  # repeated CV: the fold of the first repeat
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
    limits: Limits,
) -> dict[str, Any]:
    """What every worker of a study must agree on, and where a worker finds the data.

    Deployment limits are part of it when set: every worker measures its trials against
    them, so the finishing process can choose among all of them."""
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
        **({"limits": limits.to_dict()} if limits.active else {}),
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
    keys = [*meta, *(["limits"] if "limits" in found and "limits" not in meta else [])]
    differs = [key for key in keys if key != "data" and found.get(key) != meta.get(key)] + (
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


def model_spec(
    task: str | None,
    classes: list[Any] | None,
    metric: str,
    members: list[dict[str, Any]],
    temperature: float,
    floor_rows: int,
) -> dict[str, Any]:
    """``model.json``: what :func:`load_model` reads (a search and a refit both write it)."""
    return {
        "format_version": MODEL_FORMAT,
        "task": task,
        "classes": classes,
        "metric": metric,
        "members": members,
        "temperature": float(temperature),
        "floor_rows": int(floor_rows),
    }


def load_model(
    project_dir: Path, ref: str = "model@latest", *, n_jobs: int | None = None
) -> FittedModel:
    """A model artifact ready to predict; every file's sha256 is checked before it is read.

    ``n_jobs``: the threads its members predict with here. Without it they keep the count
    they were fitted with, which a search on a busy machine may have cut to 1.

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
            params = m["params"] if n_jobs is None else {**m["params"], "n_jobs": int(n_jobs)}
            learners = [load_member(cls, rel, params) for rel in m["paths"]]
            members.append(Member(m["family"], m["weight"], m["params"], learners, m["fit"]))
        return FittedModel(
            spec["task"],
            spec["classes"],
            prep,
            members,
            spec["metric"],
            {"ref": art.ref},
            float(spec.get("temperature", 1.0)),
            int(spec.get("floor_rows", 0)),  # models saved before the floor have none
        )
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ArtifactCorruptError(
            f"{art.ref} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
