"""Model search: a seeded Optuna study over families and hyperparameters, under a deadline.

- Trials run one after another (deterministic for ``--trials N --seed S``).
- The study starts from each family's portfolio of known-good configurations, cheapest
  families first, then TPE (multivariate, grouped) proposes the rest.
- Each trial is K-fold cross-validated; its out-of-fold predictions are kept for ensembling.
  After every fold the running loss is reported, so hopeless trials are pruned early.
- A time model never starts a fold that cannot finish before the deadline: fold times are
  predicted from the trial's own earlier folds or from earlier trials of the same family.
"""

from __future__ import annotations

import base64
import math
import os
import socket
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl_cli.core.cpu import CpuShare
from automl_cli.core.learners import FAMILIES, make_learner
from automl_cli.core.learners._base import (
    STOP_REQUESTED,
    DeadlinePassed,
    Learner,
    fit_deadline,
)
from automl_cli.core.metrics import Metric
from automl_cli.core.stash import STASH_MIN_BYTES, StashedModels, stash

__all__ = ["SearchResult", "SearchSettings", "TrialRecord", "make_folds", "run_search"]

HOLDOUT_ROWS = 100_000  # above this, one 80/20 split instead of K folds


@dataclass
class SearchSettings:
    task: str
    n_classes: int
    metric: Metric
    families: list[str]
    cv: int = 5
    seed: int = 0
    trials: int | None = None
    n_jobs: int = 2
    keep_models: int = 10  # fold models kept for the best trials (ensemble without refit)
    keep_bytes: int = 96 * 2**20  # ... and at most this much memory for them
    constrained: bool = False  # deployment limits: TPE learns where trials break them
    repeats: int = 1  # K-fold repeated with other shuffles (small tables: see cv_repeats)
    refits: bool = True  # members are refit after the search (not by a worker): keep time


@dataclass
class TrialRecord:
    number: int
    family: str
    params: dict[str, Any]
    state: str  # complete | pruned | failed | stopped
    portfolio: bool
    fold_losses: list[float] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)
    iterations: list[int | None] = field(default_factory=list)
    oof: np.ndarray | None = None
    models: Sequence[Learner] | None = None  # a list, or on disk (StashedModels) once kept
    model_bytes: int = 0
    error: str | None = None
    worker: str | None = None  # host:pid of the process that ran it (shared studies)
    remote: bool = False  # run by another worker: its OOF came through the storage, no models
    threads: int | None = None  # fewest threads a fit of it used (fewer on a busy machine)
    # measured on fold model 0 when deployment limits are set (``assess``):
    latency_ms: float | None = None  # one row through predict's scoring path
    model_ms: float | None = None  # ... of which the learner's own call
    batch_ms_per_1k: float | None = None  # 1,000 rows through predict's scoring path
    model_batch_ms_per_1k: float | None = None  # ... of which the learner's own call
    size_bytes: int | None = None  # saved size, scaled to a model refit on all rows
    artifact_bytes: int | None = None  # ... plus the artifact's other files: it alone, saved
    limit_excess: float = 0.0  # > 0: breaks a limit by this fraction (0.2 = 20 % over)

    @property
    def feasible(self) -> bool:
        return self.limit_excess <= 0

    @property
    def loss(self) -> float:
        return float(np.mean(self.fold_losses)) if self.fold_losses else math.inf

    @property
    def loss_std(self) -> float:
        return float(np.std(self.fold_losses)) if len(self.fold_losses) > 1 else 0.0


@dataclass
class SearchResult:
    trials: list[TrialRecord]
    folds: list[tuple[np.ndarray, np.ndarray]]
    interrupted: bool
    stopped_by: str  # trials | deadline | interrupt | exhausted
    repeats: int = 1  # times the K-fold CV was repeated (``folds`` holds them all)

    def complete(self) -> list[TrialRecord]:
        return finished(self.trials)


def finished(records: list[TrialRecord]) -> list[TrialRecord]:
    """Trials that ran all their folds, best first. A trial's state reads "complete" from
    its start (until pruned, failed or stopped): its out-of-fold predictions say it ended."""
    return sorted((t for t in records if t.state == "complete" and t.oof is not None), key=_loss)


def _loss(record: TrialRecord) -> float:
    return record.loss


class _Stop(Exception):
    """Raised inside a trial when the deadline does not leave room for its next fold, or,
    before its first, for all its folds: an unfinished trial is no ensemble candidate."""


def cv_repeats(n_rows: int, n_features: int) -> int:
    """How many times K-fold CV is repeated, with other shuffles, on a table this size.

    On a few hundred rows one K-fold estimate is noisy (titanic, 668 rows: fold scores
    vary by ±0.04 AUC), and a search that runs a hundred trials on it picks the luckiest,
    not the best. A second repeat cuts that noise, at the cost of half the trials, so it is
    kept for tables where trials are cheap: up to 3,000 rows and 50,000 cells (ames, 2,197
    rows × 80 columns, finished 5 trials in 60 s with it). A third repeat left a dozen
    trials on tables of 130-300 rows (the forests' 300 trees cost ~1 s a fold whatever the
    rows), too few to tune the model that wins there.
    """
    return 2 if n_rows <= 3_000 and n_rows * n_features <= 50_000 else 1


def make_folds(
    y: np.ndarray, task: str, cv: int, seed: int, repeats: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold for classification, K-fold for regression; one split for big tables.

    ``repeats`` > 1: the K folds of each repeat follow those of the one before, each repeat
    shuffled with its own seed, so every row is validated once per repeat.
    """
    if repeats > 1 and len(y) <= HOLDOUT_ROWS and cv >= 2:
        return [
            pair
            for r in range(repeats)
            for pair in make_folds(y, task, cv, seed if r == 0 else seed + 7919 * r)
        ]
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    n = len(y)
    idx = np.arange(n)
    stratify = task != "regression"
    if stratify:
        smallest = int(np.bincount(y.astype(int)).min()) if n else 0
        stratify = smallest >= 2
    if n > HOLDOUT_ROWS or cv < 2:
        train, val = train_test_split(
            idx, test_size=0.2, random_state=seed, stratify=y if stratify else None
        )
        return [(np.sort(train), np.sort(val))]
    if stratify:
        k = max(2, min(cv, int(np.bincount(y.astype(int)).min())))
        splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(tr, va) for tr, va in splitter.split(idx, y.astype(int))]
    splitter = KFold(n_splits=min(cv, n), shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in splitter.split(idx)]


def _prefixed(family: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"family": family, **{f"{family}_{k}": v for k, v in params.items()}}


# Typical cost of one fold relative to LightGBM's default, measured on tables of 2k-40k rows;
# only used for a family's first fold, before its own time is known.
RELATIVE_COST = {
    "linear": 0.5,
    "knn": 0.3,
    "lgbm": 1.0,
    "xgb": 1.5,
    "mlp": 2.0,
    "hgb": 3.0,
    "et": 6.0,
    "rf": 8.0,
}


class _TimeModel:
    """Predicts how long a fold will take from what was already measured."""

    def __init__(self) -> None:
        self.per_family: dict[str, list[float]] = {}

    def record(self, family: str, seconds: float) -> None:
        self.per_family.setdefault(family, []).append(seconds)

    def fold_estimate(self, family: str, own: list[float]) -> float:
        if own:
            return max(own) * 1.1
        seen = self.per_family.get(family)
        if seen:
            return float(np.median(seen))
        # a family not tried yet: scale what the others took by typical relative costs
        cost = RELATIVE_COST.get(family, 4.0)
        guesses = [
            float(np.median(v)) / RELATIVE_COST.get(f, 4.0) * cost
            for f, v in self.per_family.items()
        ]
        return float(np.median(guesses)) if guesses else 0.0

    def fastest_fold(self, family: str) -> float:
        """The family's quickest fold so far (a guess from the others before its first).
        A family's configurations differ a lot in cost (a booster's rounds, a forest's
        leaves), so whether a new trial can finish is judged by its fastest fold: a median
        turned away fast trials that would have finished and joined the ensemble."""
        seen = self.per_family.get(family)
        return min(seen) if seen else self.fold_estimate(family, [])

    def family_that_fits(
        self, families: list[str], n_folds: int, seconds: float, records: list[TrialRecord]
    ) -> str | None:
        """Of the families whose whole trial can end within ``seconds`` (at their fastest
        fold), the one with the best trial so far (else the cheapest); None if none can."""
        fits = [f for f in families if self.fastest_fold(f) * n_folds <= seconds]
        if not fits:
            return None
        for r in finished(records):
            if r.family in fits:
                return r.family
        return min(fits, key=self.fastest_fold)


def run_search(
    features: dict[str, pd.DataFrame],
    y: np.ndarray,
    settings: SearchSettings,
    *,
    deadline: float | None = None,
    storage: Any = None,
    study_name: str = "automl-search",
    shared: bool = False,
    on_trial: Callable[[TrialRecord, TrialRecord | None], None] | None = None,
    assess: Callable[[TrialRecord, float], None] | None = None,
    stash_dir: Path | None = None,
    cpu: CpuShare | None = None,
) -> SearchResult:
    """Run the study until ``settings.trials`` trials, the ``deadline`` (time.monotonic), or Ctrl-C.

    ``shared``: the study in ``storage`` is (or will be) joined by other processes. Each
    finished trial then publishes its out-of-fold predictions and settings in the storage,
    and the result also holds every other worker's finished trials (``remote``, without
    fold models), so any process can build the ensemble from all of them.

    ``assess(record, seconds_left)`` measures a finished trial against deployment limits
    (latency, size) and sets its ``limit_excess``; with ``settings.constrained`` the sampler
    is told, so TPE steers away from configurations that break them.

    ``stash_dir``: a private directory where kept fold models wait on disk, not in memory
    (see ``automl_cli.core.stash``); without it they stay in memory.

    ``cpu``: each fold's fit gets only the cores other processes left free since the last
    look (``automl_cli.core.cpu``); without it, always ``settings.n_jobs`` threads.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # outcomes are reported by on_trial
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
    folds = make_folds(y, settings.task, settings.cv, settings.seed, settings.repeats)
    n_rows, metric = len(y), settings.metric
    width = max(df.shape[1] for df in features.values())
    families = [f for f in settings.families if f in FAMILIES]
    sampler = optuna.samplers.TPESampler(
        seed=settings.seed,
        multivariate=True,
        group=True,
        n_startup_trials=10,
        warn_independent_sampling=False,
        constraints_func=_limit_excess if settings.constrained else None,
    )
    pruner = optuna.pruners.PercentilePruner(75.0, n_startup_trials=8, n_warmup_steps=0)
    study = optuna.create_study(
        direction="minimize",
        sampler=sampler,
        pruner=pruner,
        storage=storage,
        study_name=study_name,
        load_if_exists=shared,
    )
    portfolio = _portfolio_order(families, settings.task, n_rows, width)
    if not study.user_attrs.get("portfolio_enqueued"):
        study.set_user_attr("portfolio_enqueued", True)  # the first worker seeds the queue
        for i, (family, config) in enumerate(portfolio):
            study.enqueue_trial(_prefixed(family, config), user_attrs={"portfolio": i})
    worker = f"{socket.gethostname()}:{os.getpid()}"
    current: list[int] = []  # the trial this process is running (never another worker's)

    timer = _TimeModel()
    records: list[TrialRecord] = []
    best: TrialRecord | None = None
    interrupted = False
    stopped_by = "exhausted"

    def remaining() -> float:
        return math.inf if deadline is None else deadline - time.monotonic()

    span = remaining()  # the search's own time, for the refit reserve's cap
    repeats = settings.repeats if len(folds) > 1 else 1  # one holdout split is never repeated

    def left_for_trials() -> float:
        return time_for_trials(remaining(), records, len(folds), repeats, span, settings.refits)

    def objective(trial: optuna.Trial) -> float:
        nonlocal best
        current[:] = [trial.number]
        family = trial.suggest_categorical("family", families)
        params = FAMILIES[family].search_space(trial, settings.task, n_rows, width)
        index = trial.user_attrs.get("portfolio")
        if index is not None:
            params = {**params, **portfolio[int(index)][1]}
        if timer.fastest_fold(family) * len(folds) > left_for_trials():
            # not started, so not on the leaderboard: the time is better spent on a family
            # that can finish, or on refitting the ensemble's members
            raise _Stop()
        record = TrialRecord(
            trial.number,
            family,
            params,
            "complete",
            index is not None,
            worker=worker if shared else None,  # a private study has one worker: no column noise
        )
        records.append(record)
        n_jobs = settings.n_jobs
        if shared:
            trial.set_user_attr("worker", worker)
            n_jobs = _threads_beside_local_workers(study, worker, settings.n_jobs)
        record.threads = n_jobs if cpu is None else min(n_jobs, cpu.next_threads())
        X = features[FAMILIES[family].variant]
        oof = None
        seen = np.zeros(n_rows)  # how many repeats validated each row so far
        models: list[Learner] | StashedModels = []
        held = 0  # bytes of this trial's fold models
        predicting = 0.0  # seconds the folds' validation predictions took
        try:
            for k, (train, val) in enumerate(folds):
                if STOP_REQUESTED.is_set():
                    raise KeyboardInterrupt
                estimate = timer.fold_estimate(family, record.fit_seconds)
                if estimate > remaining():
                    raise _Stop()
                if k and estimate * (len(folds) - k) > left_for_trials():
                    # its own folds say it cannot finish before the refits' time: stop it
                    # now, not at the deadline, with that time still there
                    raise _Stop()
                # looked at again before each fold: a long trial may start alone and end
                # beside another busy process (cheap: asked within half a second, it stands)
                threads = n_jobs if cpu is None else min(n_jobs, cpu.next_threads())
                record.threads = min(record.threads, threads)
                learner = make_learner(
                    family,
                    task=settings.task,
                    n_classes=settings.n_classes,
                    seed=settings.seed,
                    n_jobs=threads,
                    **params,
                )
                t0 = time.monotonic()
                with fit_deadline(deadline, PREDICT_SHARE):
                    learner.fit(X.iloc[train], y[train], X.iloc[val], y[val])
                    t1 = time.monotonic()
                    try:
                        # k-NN's cost is here, not in its fit: 60,000 rows take seconds
                        out = learner.predict_output(X.iloc[val])
                    except DeadlinePassed:
                        if STOP_REQUESTED.is_set():
                            raise KeyboardInterrupt from None
                        raise _Stop() from None
                spent = time.monotonic() - t0
                predicting += time.monotonic() - t1
                record.fit_seconds.append(spent)
                timer.record(family, spent)
                record.iterations.append(learner.fitted_iterations())
                if oof is None:
                    shape = (
                        (n_rows, settings.n_classes) if settings.task != "regression" else n_rows
                    )
                    oof = np.full(shape, np.nan)
                _add_fold(oof, seen, val, out)
                record.fold_losses.append(metric.loss(y[val], out, settings.n_classes))
                held += learner.model_bytes()
                models = _keep_fold_model(models, learner, held, stash_dir, trial.number)
                del learner  # on disk now, maybe: not held in memory through the next fold
                trial.report(float(np.mean(record.fold_losses)), k)
                if k < len(folds) - 1 and trial.should_prune():
                    record.state = "pruned"
                    raise optuna.TrialPruned()
        except _Stop:
            record.state = "stopped"
            raise
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # a family failing on this data must not end the search
            record.state = "failed"
            record.error = f"{type(exc).__name__}: {exc}"
            raise optuna.TrialPruned() from exc
        finally:
            if record.state != "complete" and isinstance(models, StashedModels):
                models.drop()
            if on_trial is not None and record.state != "complete":
                on_trial(record, best)
        if predicting < remaining():  # the rescoring predicts every fold again
            _score_at_common_rounds(record, models, folds, X, y, oof, settings)
        record.oof = oof
        record.models = models
        record.model_bytes = held
        if assess is not None:
            assess(record, remaining())
            trial.set_user_attr("limit_excess", record.limit_excess)
        if record.feasible and (best is None or record.loss < best.loss):
            best = record
        _keep_best_models(records, settings.keep_models, settings.keep_bytes, stash_dir)
        if on_trial is not None:
            on_trial(record, best)
        trial.set_user_attr("fold_losses", record.fold_losses)
        if shared:
            _publish(trial, record)
        return record.loss

    while True:
        if settings.trials is not None and len(records) >= settings.trials:
            stopped_by = "trials"
            break
        if remaining() <= 0:
            stopped_by = "deadline"
            break
        try:
            if STOP_REQUESTED.is_set():
                raise KeyboardInterrupt
            study.optimize(objective, n_trials=1, catch=())
        except _Stop:
            _tell_stopped(study, current)
            # the time left may still hold a whole trial of a cheaper family, which TPE
            # would not propose next: queue one (queued ones that cannot finish go unstarted)
            fits = timer.family_that_fits(families, len(folds), left_for_trials(), records)
            if fits is None:
                stopped_by = "deadline"
                break
            if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
                study.enqueue_trial({"family": fits})
        except KeyboardInterrupt:
            interrupted, stopped_by = True, "interrupt"
            if records and records[-1].state == "complete" and records[-1].oof is None:
                records[-1].state = "stopped"
            _tell_stopped(study, current)
            break
    if shared:
        records += _remote_records(study, {r.number for r in records})
    return SearchResult(records, folds, interrupted, stopped_by, repeats)


def _add_fold(oof: np.ndarray, seen: np.ndarray, val: np.ndarray, out: np.ndarray) -> None:
    """Out-of-fold output of one fold into ``oof``: the mean over the repeats so far that
    validated each row (``seen`` counts them)."""
    n = seen[val]
    if not n.any():
        oof[val] = out
    else:
        old = np.nan_to_num(oof[val])
        w = n if out.ndim == 1 else n[:, None]
        oof[val] = (old * w + out) / (w + 1)
    seen[val] = n + 1


def _keep_fold_model(
    models: list[Learner] | StashedModels,
    learner: Learner,
    held: int,
    stash_dir: Path | None,
    number: int,
) -> list[Learner] | StashedModels:
    """A running trial's fold models with ``learner`` added; on disk once the trial's
    ``held`` bytes reach ``STASH_MIN_BYTES``.

    Kept in memory until the trial ends, 5 or 10 fold models of a forest or a deep
    multiclass booster made most of the search's peak (a forest of full-depth trees on a
    few thousand rows is about 30 MB a fold). Written as they come, a trial holds one fold
    model at a time; the few hundred ms a forest's folds take to write are small beside
    their fits. A disk that refuses them (full, say) leaves them in memory, as before: the
    stash only saves memory, it must never fail a trial."""
    if isinstance(models, StashedModels):
        try:
            models.append(learner)
            return models
        except OSError:
            back = [*models, learner]  # the ones written are read back
            models.drop()
            return back
    models.append(learner)
    if stash_dir is None or held < STASH_MIN_BYTES:
        return models
    try:
        return stash(models, stash_dir, f"trial-{number}")
    except OSError:
        return models


def _score_at_common_rounds(
    record: TrialRecord,
    models: list[Learner] | StashedModels,
    folds: list[tuple[np.ndarray, np.ndarray]],
    X: pd.DataFrame,
    y: np.ndarray,
    oof: np.ndarray | None,
    settings: SearchSettings,
) -> None:
    """Score a booster's folds at one round count, the folds' mean best round.

    Each fold model early-stops on its own validation fold, so its best round is chosen on
    the very rows it is scored on: on small tables that flatters boosters, and the noisier
    the configuration the more (a 60-row fold's best round is mostly luck). The model that
    is shipped is refit with one round count for all rows, so the out-of-fold predictions
    are recomputed at the mean round: they measure that model, and boosters compete with
    the other families on equal terms. Costs one prediction per fold.
    """
    rounds = record.iterations
    if oof is None or len(models) != len(folds) or len(models) < 2:
        return
    if any(r is None for r in rounds):
        return
    common = max(1, round(float(np.mean([float(r) for r in rounds if r is not None]))))
    seen = np.zeros(len(y))
    iterations = []
    for k, (_, val) in enumerate(folds):
        model = models[k]  # one at a time: a stashed model is read from disk
        if not model.use_iterations(common):
            return  # the same family: every fold model can, or none
        out = model.predict_output(X.iloc[val])
        if k == 0:
            oof[...] = np.nan
        _add_fold(oof, seen, val, out)
        record.fold_losses[k] = settings.metric.loss(y[val], out, settings.n_classes)
        iterations.append(model.fitted_iterations())
        if isinstance(models, StashedModels):
            models.use_iterations(k, common)  # the copy on disk still has its own rounds
    record.iterations = iterations


def _limit_excess(trial: Any) -> tuple[float]:
    """Optuna's constraint value: feasible at 0 or below (unmeasured trials count as such)."""
    return (float(trial.user_attrs.get("limit_excess", 0.0)),)


LIMIT_FIELDS = (
    "latency_ms",
    "model_ms",
    "batch_ms_per_1k",
    "model_batch_ms_per_1k",
    "size_bytes",
    "artifact_bytes",
)


def _threads_beside_local_workers(study: Any, me: str, n_jobs: int) -> int:
    """Threads for this trial when other workers of the study run on this machine.

    Boosting libraries' OpenMP threads spin while they wait: two processes with two
    threads each on two cores ran 24× slower than one (make bench-distributed). So the
    cores are split between the live local workers: processes on this host, still running,
    that have run a trial of this study (between two trials a worker still needs its share).
    """
    host = me.rsplit(":", 1)[0]
    local = {me}
    for other in {str(t.user_attrs.get("worker") or "") for t in study.get_trials(deepcopy=False)}:
        other_host, _, pid = other.rpartition(":")
        if other_host == host and pid.isdigit() and other not in local and _alive(int(pid)):
            local.add(other)
    return max(1, n_jobs // len(local))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish(trial: Any, record: TrialRecord) -> None:
    """What another worker needs to ensemble or refit this trial, kept in the study itself.

    Out-of-fold predictions go as zlib-compressed float32 in base64 (4 bytes per row and
    class before compression): the storage is the only thing all workers share.
    """
    assert record.oof is not None
    oof = np.ascontiguousarray(record.oof, dtype=np.float32)
    trial.set_user_attr("automl_params", _jsonable(record.params))
    trial.set_user_attr("automl_family", record.family)
    trial.set_user_attr("fit_seconds", record.fit_seconds)
    trial.set_user_attr("iterations", record.iterations)
    trial.set_user_attr("worker", record.worker)
    trial.set_user_attr("limits", {k: getattr(record, k) for k in LIMIT_FIELDS})
    trial.set_user_attr(
        "oof",
        {
            "shape": list(oof.shape),
            "float32_zlib_b64": base64.b64encode(zlib.compress(oof.tobytes(), 6)).decode(),
        },
    )


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}


def _remote_records(study: Any, local: set[int]) -> list[TrialRecord]:
    """Every other worker's trials, read back from the storage (finished ones with OOF)."""
    import optuna

    state_names = {
        optuna.trial.TrialState.COMPLETE: "complete",
        optuna.trial.TrialState.PRUNED: "pruned",
        optuna.trial.TrialState.FAIL: "failed",
    }
    out = []
    for t in study.get_trials(deepcopy=False):
        if t.number in local or t.state not in state_names:
            continue
        attrs = t.user_attrs
        family = attrs.get("automl_family") or t.params.get("family")
        if family is None:
            continue
        record = TrialRecord(
            t.number,
            str(family),
            dict(attrs.get("automl_params") or {}),
            state_names[t.state],
            "portfolio" in attrs,
            fold_losses=[float(v) for v in attrs.get("fold_losses", [])],
            fit_seconds=[float(v) for v in attrs.get("fit_seconds", [])],
            iterations=list(attrs.get("iterations", [])),
            worker=attrs.get("worker"),
            remote=True,
            limit_excess=float(attrs.get("limit_excess", 0.0)),
        )
        for key, value in (attrs.get("limits") or {}).items():
            if key in LIMIT_FIELDS:
                setattr(record, key, value)
        packed = attrs.get("oof")
        if record.state == "complete":
            if not packed or not record.fold_losses:
                record.state = "failed"
                record.error = "finished without publishing its predictions"
            else:
                raw = zlib.decompress(base64.b64decode(packed["float32_zlib_b64"]))
                shape = tuple(int(d) for d in packed["shape"])
                record.oof = np.frombuffer(raw, dtype=np.float32).reshape(shape).astype(float)
        elif "failed_trial" in t.system_attrs or t.state == optuna.trial.TrialState.FAIL:
            record.error = "its worker stopped (failed or lost its heartbeat)"
        out.append(record)
    return out


# the likely ensemble members whose refit on all rows the search keeps time for near its
# deadline, and the most of the search's span that reserve may take (a big table's refits
# would otherwise leave no time to search; a member not refit ships as its fold models)
REFIT_MEMBERS = 3
REFIT_SHARE = 0.15
REFIT_GROWTH = 1.3  # a refit takes this much longer than its rows alone say (refit_seconds)

# the share of a fold's fit time kept for predicting its validation rows when a fit runs
# into the deadline (automl_cli.core.learners.fit_deadline): that prediction took 2-10 % of
# the fit's time for boosters and forests cut at the deadline on 300,000 and 1,000,000 rows
PREDICT_SHARE = 0.25

FIRST_FAMILIES = ("lgbm", "linear", "xgb", "et", "hgb", "rf", "knn", "mlp")


def _portfolio_order(
    families: list[str], task: str, n_rows: int, width: int
) -> list[tuple[str, dict[str, Any]]]:
    """Zero-shot configurations, round-robin over families: every family's best default is
    tried before any family's second one, strong-and-cheap families first."""
    ranked = sorted(families, key=lambda f: FIRST_FAMILIES.index(f) if f in FIRST_FAMILIES else 99)
    configs = {f: FAMILIES[f].portfolio(task, n_rows, width) for f in ranked}
    order: list[tuple[str, dict[str, Any]]] = []
    for round_ in range(max((len(c) for c in configs.values()), default=0)):
        order += [(f, c[round_]) for f, c in configs.items() if round_ < len(c)]
    return order


def _tell_stopped(study: Any, current: list[int]) -> None:
    """Mark the trial this process was running, cut off by the deadline or Ctrl-C, as failed
    in the stored study (other workers' running trials are theirs to finish)."""
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.number in current:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def family_bests(ranked: list[TrialRecord]) -> list[TrialRecord]:
    """The first trial of each family in ``ranked`` (best first): its best."""
    seen: set[str] = set()
    out = []
    for r in ranked:
        if r.family not in seen:
            seen.add(r.family)
            out.append(r)
    return out


def refit_reserve(
    records: list[TrialRecord], n_folds: int, repeats: int, cap: float = math.inf
) -> float:
    """Seconds to keep back for refitting the likely ensemble members on all rows: the best
    trial of each of the ``REFIT_MEMBERS`` best families, each at its mean fold time grown
    to all rows as the refit's own time model grows it, at most ``cap``."""
    done = finished(records)  # not the running trial: its folds so far are no member
    likely = family_bests(done)[:REFIT_MEMBERS]
    return min(
        cap, sum(refit_seconds(float(np.mean(r.fit_seconds)), n_folds, repeats) for r in likely)
    )


def train_share(n_folds: int, repeats: int) -> float:
    """The share of the rows a fold model was trained on: (K − 1) / K of a K-fold, K being
    ``n_folds`` over ``repeats``; a single holdout split counts as K = 2."""
    return 1.0 - 1.0 / max(n_folds // max(repeats, 1), 2)


def refit_seconds(fold_seconds: float, n_folds: int, repeats: int) -> float:
    """How long refitting on all rows takes, from a fold model's fit time: grown by the rows
    the fold left out, and by ``REFIT_GROWTH``. One estimate for the search's refit reserve
    and for the refit decision after it (``steps.search._refit_or_bag``)."""
    return fold_seconds / train_share(n_folds, repeats) * REFIT_GROWTH


def time_for_trials(
    left: float,
    records: list[TrialRecord],
    n_folds: int,
    repeats: int,
    span: float,
    refits: bool = True,
) -> float:
    """Of the ``left`` seconds to the search's deadline, those new trials may use: less the
    refit reserve, at most ``REFIT_SHARE`` of the search's ``span``. A worker (``refits``
    False) keeps none: its trials end its run, the refits are the finishing search's."""
    if not refits:
        return left
    return left - refit_reserve(records, n_folds, repeats, REFIT_SHARE * span)


def _keep_best_models(
    records: list[TrialRecord], keep: int, keep_bytes: int, stash_dir: Path | None = None
) -> None:
    """Fold models cost memory: keep them only for the best ``keep`` complete trials. The
    best trial's are always kept; the others share ``keep_bytes`` beside them, so one big
    best model (deep boosters on many classes reach 100+ MB over 10 folds) cannot leave the
    ensemble without candidates. A trial that breaks a deployment limit can never be a
    member: its models go at once. With ``stash_dir``, kept models of 8 MiB or more move to
    disk (``automl_cli.core.stash``): the ensemble needs them only at the end, if at all."""
    ranked = sorted(
        (r for r in records if r.state == "complete" and r.models is not None),
        key=lambda r: r.loss,
    )
    kept = [r for r in ranked if r.feasible]
    # the best of each family as well as the best overall: ensembles gain most from
    # members that err differently, and on small tables the top 10 are often one family
    firsts = family_bests(kept)
    first_ids = {id(r) for r in firsts}
    wanted = first_ids | {id(r) for r in kept[:keep]}
    held = 0
    dropped = [r for r in ranked if not r.feasible]
    for r in firsts + [r for r in kept if id(r) not in first_ids]:  # family bests go first
        if r is kept[0]:
            continue
        if id(r) in wanted and held + r.model_bytes <= keep_bytes:
            held += r.model_bytes
        else:
            dropped.append(r)
    for r in dropped:
        if isinstance(r.models, StashedModels):
            r.models.drop()
        r.models = None
    if stash_dir is None:
        return
    for r in kept:
        if isinstance(r.models, list) and r.model_bytes >= STASH_MIN_BYTES:
            try:
                r.models = stash(r.models, stash_dir, f"trial-{r.number}")
            except OSError:  # no room on disk: they stay in memory, as without a stash
                return
