"""Search: ``automl search`` against FLAML, AutoGluon and default LightGBM at an equal budget.

The product bar is that, given the same seconds on this 2-core machine, automl's models score
better than FLAML's and AutoGluon's, and never worse than LightGBM with default parameters.
Protocol (the AutoML Benchmark's metrics): one fixed 75/25 split per table, stratified for
classification, seed 0; every system gets the same train CSV, the same budget and 2 cores;
the harness scores every system's test predictions with one function, classes aligned by
label: AUC (binary), log loss (multiclass), RMSE (regression).

Each system fits in its own process (``wall_s``, ``peak_rss_mib`` from ``os.wait4``: reading
the CSV, the search, the refit and saving the model, not the test predictions), then predicts
the test CSV in a second process, timed apart. Systems run one at a time, never two at once,
so the 2 cores are theirs alone; they are interleaved per table so that drift on the shared
machine spreads over all of them.

Deployment figures ride along: the predict process times 20 single-row calls of the model it
loaded (``latency_ms_1row``), the harness weighs the saved model on disk (``artifact_mb``)
before cleaning up, and for automl it runs ``automl retrain --refit-only`` on the searched
project to set the time of refitting the chosen pipeline against the search (``refit_only``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import search_envs
import search_tables
from _common import AUTOML, BENCH, PYTHON, RESULTS, WORK, Measured, measure, rel, show
from search_envs import VenvSpec
from search_tables import Table

DEFAULT_BUDGET = 60
CPUS = 2
PROTOCOL = "v1: 75/25 split (stratified for classification), seed 0, 2 cores, one system at a time"
METRICS = {"binary": "auc", "multiclass": "log_loss", "regression": "rmse"}
AUTOML_METRIC = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}
ERROR_OF = {"binary": "1 − AUC", "multiclass": "log loss", "regression": "RMSE"}
# A perfect AUC would make a ratio infinite; below 0.001 of AUC or log loss, a test split of
# a few hundred rows cannot tell two models apart anyway.
ERROR_FLOOR = 1e-3
PROBA_EPS = 1e-15  # log loss clip, as scikit-learn and the AutoML Benchmark do
BOOTSTRAP_RESAMPLES = 2000  # paired bootstrap of a test error difference (vs the baseline)
RUNNERS = BENCH / "search_runners"
RUNS = WORK / "search" / "runs"
ROWS_FILE = "test_rows.npz"  # a run's per-row truth and prediction, for paired comparisons
REFERENCE = "flaml"
BASELINE = "lightgbm_default"
# The machine is shared (other sessions run test suites on it): before each fit, wait until
# the rest of the machine uses under QUIET cores, for at most QUIET_WAIT_S; a fit during which
# others averaged over CONTENDED cores is run once more at the end of the invocation.
QUIET = 0.25
QUIET_WAIT_S = 300.0
CONTENDED = 0.3
DEPLOYMENT = {
    "latency_ms_1row": "median ms of 20 single-row predict_proba (regression: predict) calls "
    "on raw test rows in the predict process, after 2 warm-ups, model loaded, gc off; "
    "automl: its predict scorer (BatchScorer) timed by automl_cli.core.latency.time_scoring",
    "artifact_mb": "saved model on disk, all files, 10^6 bytes: AutoGluon its ag folder, "
    "FLAML flaml.pkl, LightGBM lightgbm.pkl, automl the newest project/artifacts/model/v*",
    "refit_only": "automl only: `automl retrain --refit-only` on the searched project (train "
    "CSV, --holdout test CSV); wall_s of that whole process (read, refit, judge on the "
    "holdout, save), refit_s the refit alone from its JSON, over_search_wall = wall_s / the "
    "search's fit wall_s",
}


@dataclass(frozen=True)
class System:
    """A contender: a runner script in a venv (or automl's CLI), with an optional preset."""

    name: str
    about: str
    venv: VenvSpec | None = None  # None: automl's own .venv
    runner: str | None = None  # None: the automl CLI
    preset: str | None = None
    artifact: str = "project/artifacts/model"  # saved model in the run dir (automl: newest v*)


SYSTEMS = {
    s.name: s
    for s in (
        System("automl", "automl search (this repo)"),
        System(
            "flaml",
            "FLAML AutoML, flaml[automl], defaults + benchmark metric",
            search_envs.FLAML,
            "flaml_runner.py",
            artifact="flaml.pkl",
        ),
        System(
            "autogluon_best",
            "AutoGluon TabularPredictor, presets=best_quality",
            search_envs.AUTOGLUON,
            "autogluon_runner.py",
            "best_quality",
            "ag",
        ),
        System(
            "autogluon_medium",
            "AutoGluon TabularPredictor, presets=medium_quality",
            search_envs.AUTOGLUON,
            "autogluon_runner.py",
            "medium_quality",
            "ag",
        ),
        System(
            BASELINE,
            "LightGBM 4 default parameters, no search",
            None,
            "lightgbm_runner.py",
            artifact="lightgbm.pkl",
        ),
    )
}

_AUTOML_VERSIONS = (
    "import importlib.metadata as m, json\n"
    "print(json.dumps({p: m.version(p) for p in "
    "('automl-cli', 'lightgbm', 'xgboost-cpu', 'scikit-learn', 'optuna', 'pandas', 'numpy')}))\n"
)
_LIGHTGBM_VERSIONS = (
    "import importlib.metadata as m, json\n"
    "print(json.dumps({p: m.version(p) for p in ('lightgbm', 'pandas', 'numpy')}))\n"
)


def stem(budget: float) -> str:
    """``search`` for the reference 60 s budget; another budget never overwrites it."""
    return "search" if budget == DEFAULT_BUDGET else f"search_{budget:g}s"


# ---------------------------------------------------------------- systems


def _versions_of(code: str) -> dict[str, str]:
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}


def _automl_search_exists() -> str | None:
    """None when ``automl search`` exists, else why not (the command is being written)."""
    if not AUTOML.exists():
        return f"{rel(AUTOML)} not installed (make install)"
    done = subprocess.run([str(AUTOML), "search", "--help"], capture_output=True, text=True)
    if done.returncode:
        return "not available: `automl search` does not exist yet in this checkout"
    return None


def prepare(system: System) -> tuple[Path | None, dict[str, Any]]:
    """(python, description) of a system; python is None when it cannot run here."""
    info: dict[str, Any] = {"about": system.about, "preset": system.preset}
    if system.venv is not None:
        python, versions, error = search_envs.ensure(system.venv)
        return python, info | {
            "venv": rel(system.venv.python.parent.parent),
            "versions": versions,
            "error": error,
        }
    if system.runner is None:
        error = _automl_search_exists()
        versions = _versions_of(_AUTOML_VERSIONS)
        return (None if error else PYTHON), info | {
            "venv": ".venv",
            "versions": versions,
            "error": error,
        }
    return PYTHON, info | {
        "venv": ".venv",
        "versions": _versions_of(_LIGHTGBM_VERSIONS),
        "error": None,
    }


def _commands(
    system: System, python: Path, table: Table, budget: float, rundir: Path, split_seed: int
) -> tuple[list[str], list[str]]:
    """(fit command, predict command) of one system on one table."""
    train, test = search_tables.paths(table, split_seed)
    common = ["--target", table.target, "--task", table.task, "--budget", f"{budget:g}"]
    common += ["--workdir", str(rundir)]
    if system.runner is None:
        # the task and metric are given, as they are to FLAML and AutoGluon
        fit = [
            str(AUTOML),
            "--project",
            str(rundir / "project"),
            "--json",
            "--quiet",
            "search",
            str(train),
            "--target",
            table.target,
            "--time-budget",
            f"{budget:g}",
            "--seed",
            "0",
            "--task",
            table.task,
            "--metric",
            AUTOML_METRIC[table.task],
        ]
        predict = [
            str(python),
            str(RUNNERS / "automl_predict.py"),
            "predict",
            "--data",
            str(test),
            *common,
        ]
        return fit, predict
    script = str(RUNNERS / system.runner)
    preset = ["--preset", system.preset] if system.preset else []
    fit = [str(python), script, "fit", "--data", str(train), *common, *preset]
    predict = [str(python), script, "predict", "--data", str(test), *common, *preset]
    return fit, predict


# ---------------------------------------------------------------- scoring


def label_key(value: Any) -> str:
    """One spelling per label whatever the tool's dtype: 1, 1.0, '1', np.int64(1) → '1'."""
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return text


def score(task: str, y_true: pd.Series, pred: dict[str, Any]) -> float:
    """The benchmark metric of one system's predictions; raises ValueError when unusable.

    Every system goes through here, so differences in scores are the models', not the
    scoring's.
    """
    return metric_of(task, test_rows(task, y_true, pred))


def test_rows(task: str, y_true: pd.Series, pred: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per test row, what the metric needs: the truth and the system's prediction.

    Binary: ``y`` (positive?) and ``p`` (the positive class's score); multiclass: ``p`` (the
    true class's probability, rows renormalised; a test class the model never predicts gets
    probability 0, as a missing column should cost); regression: ``y`` and ``p`` (values).
    Kept per run so that two systems can be compared row by row (``paired_difference``).
    """
    if task == "regression":
        values = np.asarray(pred["values"], dtype=float)
        actual = y_true.to_numpy(dtype=float)
        if values.shape != actual.shape or not np.isfinite(values).all():
            raise ValueError(f"bad regression predictions: shape {values.shape}, non-finite?")
        return {"y": actual, "p": values}
    proba = np.asarray(pred["proba"], dtype=float)
    columns = [label_key(c) for c in pred["classes"]]
    truth = [label_key(v) for v in y_true]
    if proba.shape != (len(truth), len(columns)) or not np.isfinite(proba).all():
        raise ValueError(f"bad probabilities: shape {proba.shape} for {len(truth)} rows")
    if len(set(columns)) != len(columns):
        raise ValueError(f"duplicate class labels after normalising: {pred['classes']}")
    where = {c: i for i, c in enumerate(columns)}
    if task == "binary":
        labels = sorted(set(truth) | set(columns))
        if len(labels) != 2:
            raise ValueError(f"binary task with labels {labels}")
        positive = labels[1]
        # a model that lists only the other class still ranks rows: use 1 − its column
        p = proba[:, where[positive]] if positive in where else 1.0 - proba[:, where[labels[0]]]
        return {"y": np.array([t == positive for t in truth]), "p": p}
    sums = proba.sum(axis=1, keepdims=True)
    proba = proba / np.where(sums > 0, sums, 1.0)
    p_true = np.array([proba[i, where[t]] if t in where else 0.0 for i, t in enumerate(truth)])
    return {"y": np.zeros(len(truth)), "p": p_true}


def metric_of(task: str, rows: dict[str, np.ndarray]) -> float:
    """AUC (binary), log loss clipped at ``PROBA_EPS`` (multiclass) or RMSE of ``test_rows``."""
    if task == "regression":
        return float(np.sqrt(np.mean((rows["p"] - rows["y"]) ** 2)))
    if task == "binary":
        return float(_auc(rows["y"].astype(bool), rows["p"]))
    return float(-np.mean(np.log(np.clip(rows["p"], PROBA_EPS, 1.0))))


def paired_difference(
    task: str,
    rows: dict[str, np.ndarray],
    baseline: dict[str, np.ndarray],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """How far one system's test error is from another's, and how sure the test split is.

    ``error_diff``: error (1 − AUC, log loss, RMSE) of ``rows`` less that of ``baseline``;
    below 0 is better. ``ci95``: its 2.5 and 97.5 percentiles over ``resamples`` bootstrap
    resamples of the test rows, the same rows for both systems (paired), so a gap that one
    or two test rows make shows up as an interval across 0.
    """
    if not np.array_equal(rows["y"], baseline["y"]):
        raise ValueError("the two systems were scored on different test rows")
    diff = error_of(task, metric_of(task, rows), floor=0.0) - error_of(
        task, metric_of(task, baseline), floor=0.0
    )
    rng = np.random.default_rng(seed)
    n = len(rows["y"])
    draws = []
    for _ in range(resamples):
        take = rng.integers(0, n, n)
        if task == "binary" and len(set(rows["y"][take].tolist())) < 2:
            continue  # AUC needs both classes
        a = {k: v[take] for k, v in rows.items()}
        b = {k: v[take] for k, v in baseline.items()}
        draws.append(
            error_of(task, metric_of(task, a), floor=0.0)
            - error_of(task, metric_of(task, b), floor=0.0)
        )
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {
        "error_diff": round(float(diff), 6),
        "ci95": [round(float(lo), 6), round(float(hi), 6)],
        "test_rows": n,
        "resamples": len(draws),
    }


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula, ties averaged (same as scikit-learn's)."""
    ranks = pd.Series(p).rank(method="average").to_numpy()
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        raise ValueError("AUC needs both classes in the test split")
    return (ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg)


def error_of(task: str, value: float, floor: float = ERROR_FLOOR) -> float:
    """Lower-is-better error: 1 − AUC, log loss or RMSE, floored above zero for ratios."""
    return max(1.0 - value if task == "binary" else value, floor)


# ---------------------------------------------------------------- a shared machine


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy since boot, all cores (``/proc/stat``)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _load(seconds: float = 3.0) -> float:
    """Cores kept busy by others over the next ``seconds`` (the harness itself sleeps)."""
    start = _busy_cpu_s()
    time.sleep(seconds)
    return (_busy_cpu_s() - start) / seconds


def _wait_for_quiet(limit_s: float = QUIET_WAIT_S, poll_s: float = 10.0) -> tuple[float, float]:
    """(seconds waited, others' load when we went): a fit should have both cores to itself."""
    started = time.perf_counter()
    while True:
        load = _load()
        waited = time.perf_counter() - started
        if load < QUIET or waited >= limit_s:
            return round(waited, 1), round(load, 2)
        time.sleep(poll_s)


# ---------------------------------------------------------------- one run


def _measure_when_quiet(
    cmd: list[str], *, timeout: float, logs: Path
) -> tuple[Measured, dict[str, Any]]:
    """``measure`` once the machine is quiet, with what the rest of the machine did meanwhile.

    ``others_cores``: cores others used during the run, on average (0 is a fair run);
    ``waited_for_quiet_s`` and ``others_cores_before``: the wait, and the load it ended at.
    """
    waited, load_before = _wait_for_quiet()
    busy = _busy_cpu_s()
    run = measure(cmd, timeout=timeout, logs=logs)
    others = max(0.0, _busy_cpu_s() - busy - run.cpu_s)
    return run, {
        "others_cores": round(others / run.wall_s, 2) if run.wall_s else None,
        "waited_for_quiet_s": waited,
        "others_cores_before": load_before,
    }


def _failure(run: Measured, what: str) -> str:
    """Why a process failed: its last lines, where a traceback names the exception."""
    why = "timed out" if run.timed_out else f"exit {run.returncode}"
    lines = [ln for ln in (run.stderr_tail or run.stdout_tail).splitlines() if ln.strip()]
    return f"{what} {why}: " + " / ".join(ln.strip() for ln in lines[-3:])[-600:]


def run_one(
    system: System,
    python: Path,
    table: Table,
    budget: float,
    keep_models: bool,
    split_seed: int = search_tables.SEED,
    *,
    refit_only: bool = False,
) -> dict[str, Any]:
    """Fit, predict and score one system on one table; failures become an ``error`` string.

    ``refit_only`` (automl only) adds the ``retrain --refit-only`` timing; it is off by default
    because the split-noise benchmark reuses this function and has no use for it.
    """
    where = table.name if split_seed == search_tables.SEED else f"{table.name}-seed{split_seed}"
    rundir = RUNS / f"{budget:g}s" / where / system.name
    shutil.rmtree(rundir, ignore_errors=True)
    rundir.mkdir(parents=True)
    fit_cmd, predict_cmd = _commands(system, python, table, budget, rundir, split_seed)
    entry: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metric": METRICS[table.task],
        "score": None,
        "error": None,
        "fit_command": show(fit_cmd),
    }
    fit, quiet = _measure_when_quiet(fit_cmd, timeout=4 * budget + 300, logs=rundir / "fit")
    entry |= {
        "wall_s": round(fit.wall_s, 2),
        "wall_over_budget": round(fit.wall_s / budget, 3),
        "peak_rss_mib": fit.peak_rss_mib,
        "cpu_s": fit.cpu_s,
        "timed_out": fit.timed_out,
        **quiet,
    }
    if not fit.ok:
        entry["error"] = _failure(fit, "fit")
        return entry
    entry |= _artifact_size(system, rundir)  # before retrain adds a version, before cleanup
    info = rundir / "fit.json"
    if info.exists():
        entry["fit_info"] = json.loads(info.read_text())
    elif system.runner is None:
        entry["fit_info"] = _automl_result(rundir / "fit.stdout")
    predict = measure(predict_cmd, timeout=900, logs=rundir / "predict")
    entry |= {
        "predict_wall_s": round(predict.wall_s, 2),
        "predict_peak_rss_mib": predict.peak_rss_mib,
    }
    if not predict.ok:
        entry["error"] = _failure(predict, "predict")
        return entry
    try:
        pred = json.loads((rundir / "predictions.json").read_text())
        for key in ("latency_ms_1row", "latency_calls", "latency_error"):
            if key in pred:
                entry[key] = pred[key]
        _, test = search_tables.paths(table, split_seed)
        y_true = pd.read_csv(test)[table.target]
        rows = test_rows(table.task, y_true, pred)
        entry["score"] = round(metric_of(table.task, rows), 6)
        # kept after cleanup, for compare_to_baseline
        np.savez(rundir / ROWS_FILE, score=entry["score"], y=rows["y"], p=rows["p"])
    except (OSError, ValueError, KeyError) as exc:
        entry["error"] = f"scoring failed: {exc!r}"
    if refit_only and system.runner is None:
        entry["refit_only"] = _refit_only(table, budget, rundir, split_seed, fit.wall_s)
    if not keep_models:
        for path in ("ag", "project", "flaml.pkl", "lightgbm.pkl", "predictions.json"):
            target = rundir / path
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
    return entry


def compare_to_baseline(table: Table, row: dict[str, Any], budget: float) -> None:
    """Give each system's entry in ``row`` its ``vs_lightgbm_default``: the paired bootstrap
    of its test error against the baseline's (``paired_difference``).

    A single test split of a few hundred rows cannot tell a 0.004 AUC gap from chance; this
    says which gaps it can. Read from the runs' ``ROWS_FILE``, which hold the newest run of
    each system; an entry whose score is not its file's (a first attempt kept over a busier
    retry) gets no comparison rather than another run's.
    """
    base_entry = row.get(BASELINE) or {}
    base = _rows_of(table, BASELINE, budget, base_entry.get("score"))
    for name, entry in row.items():
        entry.pop("vs_" + BASELINE, None)
        if name == BASELINE or base is None:
            continue
        rows = _rows_of(table, name, budget, entry.get("score"))
        if rows is not None:
            try:
                entry["vs_" + BASELINE] = paired_difference(table.task, rows, base)
            except ValueError:
                continue


def _rows_of(
    table: Table, system: str, budget: float, score_: float | None
) -> dict[str, np.ndarray] | None:
    """The run's ``ROWS_FILE`` when it is the run that scored ``score_``; else None."""
    path = RUNS / f"{budget:g}s" / table.name / system / ROWS_FILE
    if score_ is None or not path.exists():
        return None
    with np.load(path) as saved:
        if float(saved["score"]) != score_:
            return None
        return {"y": saved["y"], "p": saved["p"]}


def _automl_result(path: Path) -> Any:
    """automl's ``--json`` document without its long leaderboard (ensemble, trials, stop)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"stdout_tail": path.read_text(errors="replace")[-500:] if path.exists() else ""}
    if isinstance(doc, dict):
        doc.pop("leaderboard", None)
    return doc


def _tree_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (symbolic links not followed)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for where, _, files in os.walk(path):
        total += sum((Path(where) / f).lstat().st_size for f in files)
    return total


def _artifact_path(system: System, rundir: Path) -> Path | None:
    """The saved model a deployment would ship; automl's is the newest model version."""
    path = rundir / system.artifact
    if system.runner is not None:
        return path if path.exists() else None
    versions = [v for v in path.glob("v*") if v.is_dir() and v.name[1:].isdigit()]
    return max(versions, key=lambda v: int(v.name[1:])) if versions else None


def _artifact_size(system: System, rundir: Path) -> dict[str, Any]:
    """``artifact_mb`` (10⁶ bytes) of the saved model, all its files, and which path it was."""
    path = _artifact_path(system, rundir)
    if path is None:
        return {"artifact_mb": None, "artifact_error": f"no {system.artifact} after the fit"}
    size = _tree_bytes(path)
    return {"artifact_mb": round(size / 1e6, 3), "artifact_bytes": size, "artifact": rel(path)}


def _find_key(doc: Any, key: str) -> Any:
    """The first value of ``key`` in a JSON document, top level first, then nested."""
    if isinstance(doc, dict):
        if key in doc:
            return doc[key]
        children: list[Any] = list(doc.values())
    elif isinstance(doc, list):
        children = doc
    else:
        return None
    for child in children:
        found = _find_key(child, key)
        if found is not None:
            return found
    return None


def _refit_only(
    table: Table, budget: float, rundir: Path, split_seed: int, search_wall_s: float
) -> dict[str, Any]:
    """``automl retrain --refit-only`` on the searched project, measured like the fit.

    Refitting the chosen pipeline on new data without searching again is what a scheduled
    retrain costs; set against the search's wall time it says how much cheaper that is.
    Any failure (the flag is new) is this field's ``error`` only: the score stands.
    """
    train, test = search_tables.paths(table, split_seed)
    cmd = [
        str(AUTOML),
        "--project",
        str(rundir / "project"),
        "--json",
        "--quiet",
        "retrain",
        str(train),
        "--target",
        table.target,
        "--refit-only",
        "--holdout",
        str(test),
    ]
    out: dict[str, Any] = {"command": show(cmd), "error": None}
    try:
        run, quiet = _measure_when_quiet(cmd, timeout=4 * budget + 300, logs=rundir / "refit")
        out |= {
            "wall_s": round(run.wall_s, 2),
            "refit_s": None,
            "over_search_wall": round(run.wall_s / search_wall_s, 3) if search_wall_s else None,
            "peak_rss_mib": run.peak_rss_mib,
            **quiet,
        }
        if not run.ok:
            # a failed command's wall time is not a refit's: keep it out of the ratio
            out |= {"error": _failure(run, "retrain --refit-only"), "over_search_wall": None}
            return out
        doc = json.loads((rundir / "refit.stdout").read_text())
        refit_s = _find_key(doc, "refit_s")
        out["refit_s"] = round(float(refit_s), 3) if refit_s is not None else None
    except (OSError, ValueError, TypeError) as exc:
        # without its JSON the run cannot be told from a broken one: no ratio either
        out |= {"error": f"retrain --refit-only: {exc!r}"[:600], "over_search_wall": None}
    return out


# ---------------------------------------------------------------- the whole benchmark


def run(
    budget: float,
    table_names: list[str] | None,
    system_names: list[str] | None,
    *,
    command: str,
    keep_models: bool = False,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the chosen systems on the chosen tables, merged into earlier results at this budget.

    Merging lets one system be re-run (say automl, once ``automl search`` lands) without
    re-running the peers; every entry keeps its own date, and the invocations are listed.
    ``checkpoint`` gets the merged results after every run, so a stopped run keeps its figures.
    """
    tables = (
        [search_tables.BY_NAME[n] for n in table_names]
        if table_names
        else list(search_tables.TABLES)
    )
    systems = [SYSTEMS[n] for n in system_names] if system_names else list(SYSTEMS.values())
    results = _previous(budget)
    results["budget_s"] = budget
    results["protocol"] = PROTOCOL
    results["metrics"] = METRICS
    results["wall_time"] = (
        "fit process only: start, read CSV, search, refit, save model; "
        "test predictions are timed apart (predict_wall_s)"
    )
    results["deployment"] = DEPLOYMENT
    results.setdefault("invocations", []).append(
        {
            "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command,
            "tables": [t.name for t in tables],
            "systems": [s.name for s in systems],
        }
    )
    skipped, data_versions = search_tables.export(tables)
    results["data_versions"] = data_versions or results.get("data_versions", {})
    results.setdefault("skipped_tables", {}).update(skipped)
    for table in tables:
        if table.name not in skipped:
            results["skipped_tables"].pop(table.name, None)
            results.setdefault("tables", {})[table.name] = search_tables.split(table)
    pythons: dict[str, Path | None] = {}
    for system in systems:
        python, info = prepare(system)
        pythons[system.name] = python
        results.setdefault("systems", {})[system.name] = info
        state = "ok" if python else f"UNAVAILABLE ({info['error'][:200]})"
        print(f"  {system.name}: {state} {info['versions']}", flush=True)
    runs = results.setdefault("runs", {})
    todo = [(t, s) for t in tables if t.name not in skipped for s in systems]
    for name in skipped:
        print(f"  {name}: skipped ({skipped[name]})", flush=True)
    for attempt in (1, 2):
        for table, system in todo:
            python = pythons[system.name]
            if python is None:
                entry = {
                    "metric": METRICS[table.task],
                    "score": None,
                    "error": results["systems"][system.name]["error"],
                }
            else:
                entry = run_one(system, python, table, budget, keep_models, refit_only=True)
            first = runs.get(table.name, {}).get(system.name) if attempt == 2 else None
            if first is not None:
                entry["attempts"] = 2
                entry["first_attempt"] = {
                    k: first.get(k) for k in ("score", "wall_s", "others_cores", "error")
                }
                if (entry.get("others_cores") or 0) > (first.get("others_cores") or 0):
                    entry = first | {"attempts": 2, "retry_was_busier": True}
            runs.setdefault(table.name, {})[system.name] = entry
            compare_to_baseline(table, runs[table.name], budget)
            print(f"  {_progress(table, system.name, entry)}", flush=True)
            results["summary"] = summarize(results)
            if checkpoint is not None:
                checkpoint(results)
        todo = [
            (t, s) for t, s in todo if (runs[t.name][s.name].get("others_cores") or 0) > CONTENDED
        ]
        if not todo:
            break
        print(f"  re-running {len(todo)} fit(s) that shared the CPU with others", flush=True)
    results["summary"] = summarize(results)
    return results


def _previous(budget: float) -> dict[str, Any]:
    """Earlier results at this budget and protocol, to merge into; else a fresh document."""
    path = RESULTS / f"{stem(budget)}.json"
    if path.exists():
        old: dict[str, Any] = json.loads(path.read_text()).get("results", {})
        if old.get("protocol") == PROTOCOL:
            return old
    return {}


def _progress(table: Table, system: str, e: dict[str, Any]) -> str:
    head = f"{table.name:<14} {system:<17}"
    if e.get("score") is not None:
        line = (
            f"{head} {e['metric']} {e['score']:<12.6g} fit {e['wall_s']:>7.1f} s "
            f"({e['wall_over_budget']:.2f}× budget), peak {e['peak_rss_mib']:.0f} MiB, "
            f"others {e.get('others_cores')} cores; 1-row {_fmt(e.get('latency_ms_1row'))} ms, "
            f"model {_fmt(e.get('artifact_mb'))} MB"
        )
        refit = e.get("refit_only")
        if refit:
            line += "; refit-only " + (
                f"FAILED: {_one_line(refit['error'], 120)}"
                if refit.get("error")
                else f"{refit['wall_s']:.1f} s ({_fmt(refit['over_search_wall'])}× search)"
            )
        return line
    return f"{head} FAILED: {_one_line(e.get('error'), 160)}"


# ---------------------------------------------------------------- aggregation


def _ordered(names: Any) -> list[str]:
    """Systems in the fixed order of ``SYSTEMS`` (automl first), whatever order they ran in."""
    known = [s for s in SYSTEMS if s in names]
    return known + sorted(set(names) - set(known))


def _ranks(errors: dict[str, float | None]) -> dict[str, float]:
    """Rank 1 = lowest error, ties averaged; failed runs share the last places."""
    ok = sorted((e, s) for s, e in errors.items() if e is not None)
    ranks: dict[str, float] = {}
    i = 0
    while i < len(ok):
        j = i
        while j + 1 < len(ok) and ok[j + 1][0] == ok[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[ok[k][1]] = (i + j) / 2 + 1
        i = j + 1
    failed = [s for s, e in errors.items() if e is None]
    for s in failed:
        ranks[s] = (len(ok) + 1 + len(errors)) / 2
    return ranks


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per system: mean rank, geometric mean of error ratios vs FLAML, wall/budget, peak RSS."""
    systems = _ordered(results.get("systems", {}))
    tables = results.get("tables", {})
    runs = results.get("runs", {})
    errors: dict[str, dict[str, float | None]] = {}
    for name, info in tables.items():
        if name not in runs:
            continue
        row = runs[name]
        errors[name] = {
            s: error_of(info["task"], row[s]["score"])
            if s in row and row[s].get("score") is not None
            else None
            for s in systems
        }
    ranks = {t: _ranks(e) for t, e in errors.items()}
    out: dict[str, Any] = {}
    for s in systems:
        entries = [runs[t][s] for t in errors if s in runs[t]]
        scored = [e for e in entries if e.get("score") is not None]
        ratios = [
            errors[t][s] / errors[t][REFERENCE]  # type: ignore[operator]
            for t in errors
            if errors[t].get(s) is not None and errors[t].get(REFERENCE) is not None
        ]
        worse = [
            t
            for t in errors
            if errors[t].get(BASELINE) is not None
            and (errors[t][s] is None or errors[t][s] > errors[t][BASELINE])  # type: ignore[operator]
        ]
        walls = [
            e["wall_over_budget"]
            for e in entries
            if "wall_over_budget" in e and e.get("error") is None
        ]
        rss = [e["peak_rss_mib"] for e in entries if "peak_rss_mib" in e and e.get("error") is None]
        latency = [e["latency_ms_1row"] for e in scored if e.get("latency_ms_1row") is not None]
        sizes = [e["artifact_mb"] for e in entries if e.get("artifact_mb") is not None]
        refits = [e["refit_only"] for e in entries if e.get("refit_only")]
        refit_ratios = [f["over_search_wall"] for f in refits if f.get("over_search_wall")]
        out[s] = {
            "tables": len(errors),
            "scored": len(scored),
            "failed": len(errors) - len(scored),
            "mean_rank": round(statistics.mean(r[s] for r in ranks.values()), 2) if ranks else None,
            "wins": sum(1 for r in ranks.values() if r[s] == 1),
            "geomean_error_ratio_vs_flaml": round(
                math.exp(statistics.mean(math.log(r) for r in ratios)), 4
            )
            if ratios
            else None,
            "ratio_tables": len(ratios),
            "worse_than_lightgbm_default": worse if s != BASELINE else [],
            "worse_beyond_noise": [t for t in worse if _beyond_noise(runs[t].get(s))]
            if s != BASELINE
            else [],
            "max_wall_over_budget": max(walls) if walls else None,
            "median_wall_over_budget": round(statistics.median(walls), 3) if walls else None,
            "max_peak_rss_mib": max(rss) if rss else None,
            "median_peak_rss_mib": round(statistics.median(rss), 1) if rss else None,
            "median_latency_ms_1row": _median(latency, 3),
            "max_latency_ms_1row": max(latency) if latency else None,
            "latency_tables": len(latency),
            "median_artifact_mb": _median(sizes, 3),
            "max_artifact_mb": max(sizes) if sizes else None,
            "artifact_tables": len(sizes),
        }
        if refits:  # automl only; absent for systems and older results without it
            out[s] |= {
                "median_refit_only_over_search": _median(refit_ratios, 3),
                "median_refit_only_wall_s": _median(
                    [f["wall_s"] for f in refits if f.get("over_search_wall")], 2
                ),
                "refit_only_tables": len(refit_ratios),
                "refit_only_failed": sum(1 for f in refits if f.get("error")),
            }
    return out


def _beyond_noise(entry: dict[str, Any] | None) -> bool:
    """A loss to the baseline the test split can tell from chance: no score at all, or a
    paired bootstrap interval wholly above 0. Without a comparison (older results), no."""
    if entry is None or entry.get("score") is None:
        return True
    vs = entry.get("vs_" + BASELINE)
    return vs is not None and vs["ci95"][0] > 0


def _median(values: list[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


# ---------------------------------------------------------------- reporting


def _one_line(text: str | None, limit: int = 300) -> str:
    """An error message fit for one Markdown table cell or code span."""
    flat = " / ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return flat.replace("|", "\\|").replace("`", "'")[:limit]


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _score_rows(r: dict[str, Any], systems: list[str]) -> list[list[str]]:
    """Per table: the metric, then each system's score, the best one bold."""
    rows = []
    for name, info in r["tables"].items():
        row = r["runs"].get(name, {})
        errs = {
            s: error_of(info["task"], row[s]["score"])
            for s in systems
            if s in row and row[s].get("score") is not None
        }
        best = min(errs.values()) if errs else None
        cells = []
        for s in systems:
            e = row.get(s)
            if e is None:
                cells.append("")
            elif e.get("score") is None:
                cells.append("n/a" if "not available" in (e.get("error") or "") else "fail")
            else:
                text = _fmt(e["score"])
                cells.append(f"**{text}**" if errs[s] == best else text)
        metric = METRICS[info["task"]] + (" ↑" if info["task"] == "binary" else " ↓")
        rows.append([name, metric, *cells])
    return rows


def _summary_rows(r: dict[str, Any], systems: list[str]) -> list[list[str]]:
    rows = []
    for s in systems:
        m = r["summary"][s]
        worse = m["worse_than_lightgbm_default"]
        rows.append(
            [
                s,
                _fmt(m["mean_rank"]),
                str(m["wins"]),
                f"{_fmt(m['geomean_error_ratio_vs_flaml'])} ({m['ratio_tables']})",
                "—" if s == BASELINE else _worse_cell(r["runs"], s, worse),
                _fmt(m["max_wall_over_budget"]),
                _fmt(m["median_wall_over_budget"]),
                _fmt(m["max_peak_rss_mib"]),
                _fmt(m["median_peak_rss_mib"]),
                _fmt(m.get("median_latency_ms_1row")),
                _fmt(m.get("median_artifact_mb")),
                f"{m['failed']}/{m['tables']}",
            ]
        )
    return rows


def _worse_cell(runs: dict[str, Any], system: str, worse: list[str]) -> str:
    """The tables where ``system`` lost to the baseline, each with its error gap and the
    gap's 95 % paired bootstrap interval when measured: ``titanic +0.0039 [-0.02, +0.03]``."""
    if not worse:
        return "none"
    cells = []
    for t in worse:
        vs = (runs.get(t, {}).get(system) or {}).get("vs_" + BASELINE)
        if vs is None:
            cells.append(t)
        else:
            lo, hi = vs["ci95"]
            cells.append(f"{t} {vs['error_diff']:+.4f} [{lo:+.3f}, {hi:+.3f}]")
    return ", ".join(cells)


SUMMARY_HEAD = [
    "system",
    "mean rank",
    "wins",
    "error ratio vs flaml (n)",
    "worse than lightgbm_default on (error gap [95 % CI])",
    "max wall/budget",
    "median wall/budget",
    "max peak MiB",
    "median peak MiB",
    "median 1-row ms",
    "median model MB",
    "failed",
]


def _md(head: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(head))]
    return [
        f"| {' | '.join(head)} |",
        f"| {' | '.join(align)} |",
        *[f"| {' | '.join(row)} |" for row in rows],
    ]


def render(doc: dict[str, Any]) -> list[str]:
    """Markdown lines for the README section."""
    r = doc["results"]
    systems = _ordered(r["systems"])
    budget = r["budget_s"]
    lines = [
        f"Budget **{budget:g} s** per system and table, {CPUS} cores, one system at a time. "
        f"Protocol {r['protocol']}. Metrics of the AutoML Benchmark: AUC for binary (↑), "
        "log loss for multiclass (↓), RMSE for regression (↓), all computed by one function of "
        "the harness from each system's test predictions. Wall time: "
        f"{r['wall_time']}. `{BASELINE}` ignores the budget (no search).",
        "",
        "### Scores on the test split (best bold)",
        "",
        *_md(["table", "metric", *systems], _score_rows(r, systems), right_from=2),
        "",
        "### Per system",
        "",
        "Mean rank over the tables (1 = best; a failed run ranks last). Error ratio: geometric "
        "mean over the tables of the system's error / FLAML's (error = 1 − AUC, log loss, "
        "RMSE; below 1 beats FLAML). Worse than the baseline: the tables where the system's "
        "test error is above default LightGBM's, each with the gap and its 95 % interval from "
        f"a paired bootstrap of the test rows ({BOOTSTRAP_RESAMPLES:,} resamples); an interval "
        "across 0 is a gap the test split cannot tell from chance. Wall/budget: the fit "
        "process's wall time over the budget.",
        "",
        *_noise_lines(r, systems),
        "",
        *_md(SUMMARY_HEAD, _summary_rows(r, systems)),
        "",
        "### Fit wall time (s) and peak RSS (MiB) per table",
        "",
        *_md(
            ["table", *systems],
            [[t, *[_wall_cell(r["runs"].get(t, {}).get(s)) for s in systems]] for t in r["tables"]],
        ),
        "",
        *_deployment_lines(r, systems),
        "### Tables",
        "",
        *_md(
            ["table", "source", "target", "task", "rows", "columns", "train / test"],
            [
                [
                    t,
                    f"{i['about']} (`{i['source']}`)" + (f"; {i['note']}" if i.get("note") else ""),
                    f"`{i['target']}`",
                    i["task"] + (f" ({i['classes']} classes)" if "classes" in i else ""),
                    f"{i['rows']:,}",
                    str(i["columns"]),
                    f"{i['train_rows']:,} / {i['test_rows']:,}",
                ]
                for t, i in r["tables"].items()
            ],
            right_from=4,
        ),
        "",
    ]
    if r.get("skipped_tables"):
        lines += [
            "Skipped: " + "; ".join(f"{t} ({why})" for t, why in r["skipped_tables"].items()),
            "",
        ]
    lines += [
        "### Systems",
        "",
        *_md(
            ["system", "what", "venv", "versions"],
            [
                [
                    s,
                    i["about"],
                    f"`{i['venv']}`",
                    ", ".join(f"{k} {v}" for k, v in i["versions"].items()) or "—",
                ]
                for s, i in r["systems"].items()
            ],
            right_from=99,
        ),
        "",
    ]
    failures = [
        (t, s, e["error"]) for t, row in r["runs"].items() for s, e in row.items() if e.get("error")
    ]
    if failures:
        lines += ["### Failures", ""]
        lines += [f"- {t} × {s}: `{_one_line(err, 240)}`" for t, s, err in failures]
        lines.append("")
    busy = [
        (t, s, e["others_cores"])
        for t, row in r["runs"].items()
        for s, e in row.items()
        if (e.get("others_cores") or 0) > CONTENDED
    ]
    if busy:
        lines += [
            f"⚠ Fits during which other processes kept more than {CONTENDED} cores busy on "
            "average (after one retry; the machine is shared): "
            + ", ".join(f"{t} × {s} ({c})" for t, s, c in busy),
            "",
        ]
    lines += ["Invocations merged into this file:", ""]
    lines += [f"- {i['date_utc']}: `{i['command']}`" for i in r["invocations"]]
    return lines


def _noise_lines(r: dict[str, Any], systems: list[str]) -> list[str]:
    """One line per system that lost to the baseline somewhere: which losses are real."""
    lines = []
    for s in systems:
        m = r["summary"][s]
        worse = m.get("worse_than_lightgbm_default") or []
        if s == BASELINE or not worse or "worse_beyond_noise" not in m:
            continue
        real = m["worse_beyond_noise"]
        measured = [
            t for t in worse if "vs_" + BASELINE in (r["runs"].get(t, {}).get(s) or {}) or t in real
        ]
        line = f"- {s}: worse than {BASELINE} on {len(worse)} table(s)"
        if measured:
            line += f", beyond the test split's noise on {len(real)} of {len(measured)} measured"
            line += f" ({', '.join(real)})" if real else ""
        if len(measured) < len(worse):
            line += f"; no interval for {len(worse) - len(measured)} (runs before it was kept)"
        lines.append(line)
    return [*lines, ""] if lines else []


def _deployment_lines(r: dict[str, Any], systems: list[str]) -> list[str]:
    """Single-row latency and model size per table, then automl's refit-only time.

    Both sections are left out of results written before they were measured.
    """
    runs = r["runs"]
    entries = [e for row in runs.values() for e in row.values()]
    lines: list[str] = []
    if any("latency_ms_1row" in e or "artifact_mb" in e for e in entries):
        lines += [
            "### Single-row latency (ms) and saved model size (MB) per table",
            "",
            "Median of 20 one-row `predict_proba` (regression: `predict`) calls on raw test "
            "rows, model loaded and warm (2 warm-ups, gc off), each tool's own call; automl "
            "through `automl predict`'s scorer. Size: every file of the saved model "
            "(AutoGluon's `ag` folder, FLAML's and LightGBM's pickle, automl's model version).",
            "",
            *_md(
                ["table", *systems],
                [
                    [t, *[_deploy_cell(runs.get(t, {}).get(s)) for s in systems]]
                    for t in r["tables"]
                ],
            ),
            "",
        ]
    refits = {
        t: row["automl"]["refit_only"]
        for t, row in runs.items()
        if row.get("automl", {}).get("refit_only")
    }
    if refits:
        median = r.get("summary", {}).get("automl", {}).get("median_refit_only_over_search")
        lines += [
            "### automl: refit-only time against search time",
            "",
            "`automl retrain --refit-only` on the searched project (same train CSV, the test "
            "CSV as `--holdout`), its process measured like the search's: its wall time "
            "covers reading, refitting, judging on the holdout and saving; `refit_s` is the "
            "refit alone, as the command reports it. Median refit-only "
            f"wall / search wall: **{_fmt(median)}**.",
            "",
            *_md(
                ["table", "search wall s", "refit-only wall s", "refit_s (its JSON)", "ratio"],
                [_refit_row(t, runs[t]["automl"], f) for t, f in refits.items()],
            ),
            "",
        ]
    return lines


def _deploy_cell(e: dict[str, Any] | None) -> str:
    if not e or ("latency_ms_1row" not in e and "artifact_mb" not in e):
        return "—"
    return f"{_fmt(e.get('latency_ms_1row'))} ms · {_fmt(e.get('artifact_mb'))} MB"


def _refit_row(table: str, e: dict[str, Any], f: dict[str, Any]) -> list[str]:
    if f.get("error") and f.get("over_search_wall") is None:
        failed = f"failed: `{_one_line(f['error'], 160)}`"
        return [table, _fmt(e.get("wall_s")), failed, "—", "—"]
    return [
        table,
        _fmt(e.get("wall_s")),
        _fmt(f.get("wall_s")),
        _fmt(f.get("refit_s")),
        _fmt(f.get("over_search_wall")),
    ]


def _wall_cell(e: dict[str, Any] | None) -> str:
    if not e or "wall_s" not in e:
        return "—"
    shared = " ⚠" if (e.get("others_cores") or 0) > CONTENDED else ""
    return f"{e['wall_s']:.0f} s · {e['peak_rss_mib']:.0f}{shared}"


def summary_text(r: dict[str, Any]) -> str:
    """The stdout summary: scores per table, then the per-system figures."""
    systems = _ordered(r["systems"])
    return "\n".join(
        [
            _text_table(["table", "metric", *systems], _score_rows(r, systems)),
            "",
            _text_table(SUMMARY_HEAD, _summary_rows(r, systems)),
            "",
            *_noise_lines(r, systems),
            *_refit_text(r),
        ]
    )


def _refit_text(r: dict[str, Any]) -> list[str]:
    """automl's refit-only figure for stdout, when it was measured."""
    m = r.get("summary", {}).get("automl", {})
    if "refit_only_tables" not in m:
        return []
    return [
        "",
        f"automl refit-only / search wall: median {_fmt(m['median_refit_only_over_search'])} "
        f"over {m['refit_only_tables']} table(s) (median refit-only "
        f"{_fmt(m['median_refit_only_wall_s'])} s), {m['refit_only_failed']} failed",
    ]


def _text_table(head: list[str], rows: list[list[str]]) -> str:
    rows = [[c.replace("**", "*") for c in row] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in [head, *rows]
    )
