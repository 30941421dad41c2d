"""Distributed search: trials per minute with one shared Optuna study, one worker and two.

Three cases per table, same families, seed and budget B everywhere, one case at a time:

1. ``sqlite``: ``automl search --storage sqlite:///…`` alone (SQLite is for one process).
2. ``postgres_1``: ``automl search --storage postgresql+psycopg2://…`` alone.
3. ``postgres_2``: the same search on another study, and, as soon as that study exists and is
   seeded (the harness polls it), ``automl worker`` on it with the budget left, so both end
   about together. The search builds its model from every finished trial in the study.

The PostgreSQL server is private and throwaway (``tests/postgres.py``), on this machine. A
process's finished trials are its complete + pruned ones: the search's from its leaderboard's
``worker`` column (``host:pid``), the worker's from its ``--json`` document; the study itself
is counted from the storage afterwards, as a cross-check. Trials per minute are over each
process's wall time (start to exit, so start-up, prep and the final refit are in it, the
same in every case); two processes' rate is the sum of their rates.

The figures to read are the ratios: ``postgres_2`` / ``postgres_1`` (scaling) and
``postgres_1`` / ``sqlite`` (the cost of a networked storage). This machine has 2 cores; a
lone process trains with 2 threads, two workers of one study on it with 1 each (the search
splits the cores between local workers). Run on demand only:
``make bench-distributed`` (``BUDGET=60 TABLES=titanic MODELS=lgbm,xgb,linear``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench_search
import pandas as pd
import search_tables
from _common import AUTOML, ROOT, WORK, Measured, ratio, rel, show
from bench_search import AUTOML_METRIC, CONTENDED, _busy_cpu_s, _failure, _fmt, _md
from search_tables import Table

DEFAULT_BUDGET = 60
DEFAULT_TABLES = ("titanic",)
DEFAULT_MODELS = ("lgbm", "xgb", "linear")
SEED = 0
CASES = ("sqlite", "postgres_1", "postgres_2")
LABELS = {
    "sqlite": "SQLite, 1 process",
    "postgres_1": "PostgreSQL, 1 process",
    "postgres_2": "PostgreSQL, 2 processes",
}
DIST = WORK / "distributed"
QUIET_WAIT_S = 90.0  # at most this long (the bench runs on demand: it should not stall)
STUDY_WAIT_S = 120.0  # the search must have created and seeded its study by then
FINISHED = ("complete", "pruned")
# what decides how OpenMP threads (LightGBM's, XGBoost's) wait: recorded with the results
THREAD_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OMP_PROC_BIND")


def stem(budget: float) -> str:
    """``distributed`` for the reference 60 s budget; another budget never overwrites it."""
    return "distributed" if budget == DEFAULT_BUDGET else f"distributed_{budget:g}s"


# ---------------------------------------------------------------- processes


@dataclass
class _Child:
    """A started child process: measured like ``_common.measure``, but not waited for yet."""

    cmd: list[str]
    proc: subprocess.Popen[bytes]
    started: float
    logs: Path


def _start(cmd: list[str], logs: Path) -> _Child:
    logs.parent.mkdir(parents=True, exist_ok=True)
    with Path(f"{logs}.stdout").open("wb") as out, Path(f"{logs}.stderr").open("wb") as err:
        started = time.perf_counter()
        # its own process group, so a timeout or Ctrl-C also ends whatever it started
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, process_group=0
        )
    return _Child(cmd, proc, started, logs)


def _kill(child: _Child) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.proc.pid, signal.SIGKILL)


def _finish(child: _Child, timeout: float) -> Measured:
    """Wait for the child; wall time from its start, peak RSS and CPU from ``os.wait4``."""
    killed = threading.Event()

    def _expire() -> None:
        killed.set()
        _kill(child)

    timer = threading.Timer(max(0.0, timeout - (time.perf_counter() - child.started)), _expire)
    timer.start()
    try:
        _, status, usage = os.wait4(child.proc.pid, 0)
    except BaseException:
        _kill(child)
        raise
    finally:
        timer.cancel()
    wall = time.perf_counter() - child.started
    child.proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen it is reaped

    def tail(suffix: str) -> str:
        return Path(f"{child.logs}.{suffix}").read_text(errors="replace")[-2000:]

    return Measured(
        command=show(child.cmd),
        returncode=child.proc.returncode,
        wall_s=round(wall, 3),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
        stdout_tail=tail("stdout"),
        stderr_tail=tail("stderr"),
        timed_out=killed.is_set(),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
    )


def _doc(child: _Child) -> dict[str, Any] | None:
    """The child's ``--json`` document (the whole stdout, not the measured tail)."""
    try:
        doc = json.loads(Path(f"{child.logs}.stdout").read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _wait_for_quiet() -> tuple[float, float]:
    """(seconds waited, others' cores when we went), as the search benchmark does, shorter."""
    return bench_search._wait_for_quiet(QUIET_WAIT_S, poll_s=5.0)


# ---------------------------------------------------------------- storages


@contextlib.contextmanager
def _postgres() -> Iterator[tuple[str | None, str | None]]:
    """(URL, None) of a private PostgreSQL server, or (None, why not)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:  # by name: mypy checks src/ and benchmarks/, not the tests' helpers
        private_postgres = importlib.import_module("tests.postgres").private_postgres
    except ImportError as exc:
        yield None, f"tests/postgres.py unusable: {exc}"
        return
    with contextlib.ExitStack() as stack:
        why = None
        try:
            url = stack.enter_context(private_postgres())
        except RuntimeError as exc:  # the cases without it still run
            url, why = None, f"the PostgreSQL server did not start: {str(exc)[:500]}"
        yield url, why or (None if url else "PostgreSQL server binaries not installed")


def _study_counts(url: str, name: str) -> dict[str, Any]:
    """Trials of the study by state, and complete ones by worker, read from the storage."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.RDBStorage(url)
    try:
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    except KeyError:
        return {"error": f"no study {name}"}
    finally:
        _dispose(storage)
    states: dict[str, int] = {}
    by_worker: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
        if t.state == optuna.trial.TrialState.COMPLETE:
            who = str(t.user_attrs.get("worker") or "?")
            by_worker[who] = by_worker.get(who, 0) + 1
    return {
        "states": states,
        "finished": sum(states.get(s, 0) for s in FINISHED),
        "complete_by_worker": by_worker,
    }


def _dispose(storage: Any) -> None:
    with contextlib.suppress(Exception):
        storage.engine.dispose()


def _wait_for_study(url: str, name: str, search: _Child) -> str | None:
    """None once the search has created the study and seeded its queue, else why not."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # the schema exists (postgres_1 ran on this database): polling cannot race its creation
    storage = optuna.storages.RDBStorage(url)
    deadline = time.perf_counter() + STUDY_WAIT_S
    try:
        while time.perf_counter() < deadline:
            if search.proc.poll() is not None:
                return f"the search exited ({search.proc.returncode}) before its study was ready"
            with contextlib.suppress(KeyError):
                attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
                if "automl" in attrs and attrs.get("portfolio_enqueued"):
                    return None
            time.sleep(0.2)
    finally:
        _dispose(storage)
    return f"study {name} not ready after {STUDY_WAIT_S:g} s"


# ---------------------------------------------------------------- one case


def _search_cmd(
    project: Path, data: Path, table: Table, url: str, study: str, budget: float, models: list[str]
) -> list[str]:
    return [
        str(AUTOML),
        "--project",
        str(project),
        "--json",
        "--quiet",
        "search",
        str(data),
        "--target",
        table.target,
        "--task",
        table.task,
        "--metric",
        AUTOML_METRIC[table.task],
        "--models",
        ",".join(models),
        "--seed",
        str(SEED),
        "--storage",
        url,
        "--study",
        study,
        "--time-budget",
        f"{budget:g}",
    ]


def _worker_cmd(project: Path, url: str, study: str, budget: float) -> list[str]:
    return [
        str(AUTOML),
        "--project",
        str(project),
        "--json",
        "--quiet",
        "worker",
        "--storage",
        url,
        "--study",
        study,
        "--time-budget",
        f"{budget:g}",
    ]


def _per_minute(finished: int | None, wall_s: float) -> float | None:
    return round(finished * 60 / wall_s, 2) if finished is not None and wall_s else None


def _process(role: str, child: _Child, run: Measured) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "role": role,
        "command": run.command,
        "pid": child.proc.pid,
        "wall_s": round(run.wall_s, 2),
        "peak_rss_mib": run.peak_rss_mib,
        "cpu_s": run.cpu_s,
        "error": None if run.ok else _failure(run, role),
    }
    doc = _doc(child)
    if doc is not None:
        entry["json_wall_time_s"] = doc.get("wall_time_s")
        entry["json_trials"] = doc.get("trials")
        entry["stopped_by"] = doc.get("stopped_by")
        if role == "search":
            entry["cv_score"] = doc.get("cv_score")
            entry["metric"] = doc.get("metric")
            entry["artifact"] = doc.get("artifact")
            entry["artifact_path"] = doc.get("path")
            entry["ensemble"] = doc.get("ensemble")
        else:
            entry["study_complete_trials"] = doc.get("study_complete_trials")
            entry["best_in_study"] = doc.get("best_in_study")
    return entry


def _leaderboard(search: dict[str, Any], worker_ids: dict[str, str]) -> dict[str, Any] | None:
    """The final model's leaderboard, trials counted per process and state."""
    path = search.get("artifact_path")
    if not path or not (Path(path) / "leaderboard.csv").exists():
        return None
    board = pd.read_csv(Path(path) / "leaderboard.csv")
    who = board["worker"].fillna("").astype(str) if "worker" in board else pd.Series(dtype=str)
    out: dict[str, Any] = {"rows": len(board), "by_process": {}}
    # the portfolio's configurations are queued first, the same in every case: the same work
    first = board[(board["portfolio"].astype(str) == "True") & (board["state"] == "complete")]
    out["portfolio_fit_s"] = {
        f"{trial}:{family}": float(seconds)
        for trial, family, seconds in zip(
            first["trial"].tolist(),
            first["family"].tolist(),
            first["fit_time_s"].tolist(),
            strict=True,
        )
    }
    for role, ident in worker_ids.items():
        mine = board[who == ident]
        out["by_process"][role] = {
            str(k): int(v) for k, v in mine["state"].value_counts().sort_index().items()
        }
    out["by_process"]["unattributed"] = {
        str(k): int(v)
        for k, v in board[~who.isin(list(worker_ids.values()))]["state"]
        .value_counts()
        .sort_index()
        .items()
    }
    return out


def run_case(
    case: str,
    url: str,
    table: Table,
    data: Path,
    budget: float,
    models: list[str],
    workdir: Path,
) -> dict[str, Any]:
    """One case: the search alone, or the search and a worker on the same study."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    study = {"sqlite": "s", "postgres_1": "s1", "postgres_2": "s2"}[case]
    two = case == "postgres_2"
    waited, load_before = _wait_for_quiet()
    busy = _busy_cpu_s()
    timeout = 4 * budget + 300
    search = _start(
        _search_cmd(workdir / "search", data, table, url, study, budget, models),
        workdir / "search",
    )
    worker: _Child | None = None
    worker_budget = None
    not_ready = None
    try:
        if two:
            not_ready = _wait_for_study(url, study, search)
            if not_ready is None:
                # the same wall time as the search: the budget it has left
                left = budget - (time.perf_counter() - search.started)
                worker_budget = max(5.0, round(left, 1))
                worker = _start(
                    _worker_cmd(workdir / "worker", url, study, worker_budget),
                    workdir / "worker",
                )
        runs = {"search": (search, _finish(search, timeout))}
        if worker is not None:
            runs["worker"] = (worker, _finish(worker, timeout))
    except BaseException:  # Ctrl-C reaches the harness only: take the children down too
        for child in (search, worker):
            if child is not None:
                _kill(child)
        raise
    end = time.perf_counter()
    cpu = sum(r.cpu_s for _, r in runs.values())
    span = end - search.started
    others = max(0.0, _busy_cpu_s() - busy - cpu)
    processes = {role: _process(role, child, run) for role, (child, run) in runs.items()}
    host = socket.gethostname()
    ids = {role: f"{host}:{child.proc.pid}" for role, (child, _) in runs.items()}
    board = _leaderboard(processes["search"], ids)
    for role, entry in processes.items():
        if role == "worker":
            counts = entry.get("json_trials")
            finished = sum(int(counts.get(s, 0)) for s in FINISHED) if counts else None
        else:  # the search's JSON counts every worker's trials: its own are in the leaderboard
            own = board["by_process"].get("search") if board else None
            finished = sum(int(own.get(s, 0)) for s in FINISHED) if own is not None else None
        entry["finished_trials"] = finished
        entry["trials_per_min"] = _per_minute(finished, entry["wall_s"])
    rates = [e["trials_per_min"] for e in processes.values()]
    finished_all = [e["finished_trials"] for e in processes.values()]
    stored = _study_counts(url, study)
    result: dict[str, Any] = {
        "label": LABELS[case],
        "storage": "sqlite" if case == "sqlite" else "postgresql",
        "study": study,
        "budget_s": budget,
        "worker_budget_s": worker_budget,
        "worker_started_after_s": round(worker.started - search.started, 2) if worker else None,
        "processes": processes,
        "finished_trials": sum(finished_all) if None not in finished_all else None,
        # concurrent processes: their rates add up
        "trials_per_min": round(sum(rates), 2) if None not in rates else None,
        "span_s": round(span, 2),
        "trials_per_min_over_span": _per_minute(stored.get("finished"), span),
        "study_in_storage": stored,
        "leaderboard": board,
        "cv_score": processes["search"].get("cv_score"),
        "metric": processes["search"].get("metric"),
        "others_cores": round(others / span, 2) if span else None,
        "waited_for_quiet_s": waited,
        "others_cores_before": load_before,
        "error": not_ready
        or "; ".join(e["error"] for e in processes.values() if e.get("error"))
        or None,
    }
    return result


def _unavailable(case: str, why: str) -> dict[str, Any]:
    return {"label": LABELS[case], "error": why, "processes": {}, "trials_per_min": None}


# ---------------------------------------------------------------- the whole benchmark


def _table_csv(table: Table) -> tuple[Path, dict[str, Any]]:
    """The whole table (its leaky columns dropped, unlabeled rows removed) as one CSV."""
    frame = pd.read_csv(table.path).drop(columns=list(table.drop))
    frame = frame[frame[table.target].notna()].reset_index(drop=True)
    path = DIST / "tables" / f"{table.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    info = {
        "source": table.source,
        "target": table.target,
        "task": table.task,
        "rows": len(frame),
        "columns": frame.shape[1],
        "dropped_columns": list(table.drop),
        "csv": rel(path),
    }
    return path, info


def ratios(cases: dict[str, Any]) -> dict[str, Any]:
    """Scaling (2 PostgreSQL processes / 1) and storage cost (PostgreSQL 1 / SQLite 1), and
    how much slower the same portfolio trials fitted with two processes than with one."""

    def rate(case: str) -> float:
        return float(cases.get(case, {}).get("trials_per_min") or 0.0)

    def portfolio(case: str) -> dict[str, float]:
        board = cases.get(case, {}).get("leaderboard") or {}
        return dict(board.get("portfolio_fit_s") or {})

    one, two = portfolio("postgres_1"), portfolio("postgres_2")
    both = sorted(set(one) & set(two))
    alone, shared = sum(one[k] for k in both), sum(two[k] for k in both)
    return {
        "scaling_pg2_over_pg1": ratio(rate("postgres_2"), rate("postgres_1")),
        "storage_pg1_over_sqlite1": ratio(rate("postgres_1"), rate("sqlite")),
        "portfolio_trials": len(both),
        "portfolio_fit_s_pg1": round(alone, 3),
        "portfolio_fit_s_pg2": round(shared, 3),
        "portfolio_slowdown_pg2_over_pg1": ratio(shared, alone),
    }


def run(
    budget: float,
    table_names: list[str],
    models: list[str],
    *,
    command: str,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The three cases on each table, one case at a time, one private PostgreSQL server."""
    tables = [search_tables.BY_NAME[n] for n in (table_names or DEFAULT_TABLES)]
    results: dict[str, Any] = {
        "budget_s": budget,
        "models": models,
        "seed": SEED,
        "cases": list(CASES),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "trials": "finished = complete + pruned; per minute over each process's wall time",
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
        "tables": {},
    }
    skipped, _ = search_tables.export(tables)
    results["skipped_tables"] = skipped
    with _postgres() as (pg_url, pg_missing):
        results["postgresql"] = "private server (tests/postgres.py)" if pg_url else pg_missing
        for table in (t for t in tables if t.name not in skipped):
            data, info = _table_csv(table)
            entry: dict[str, Any] = {"table": info, "cases": {}}
            results["tables"][table.name] = entry
            for case in CASES:
                workdir = DIST / "runs" / f"{budget:g}s" / table.name / case
                if case == "sqlite":
                    url = f"sqlite:///{workdir / 'study.db'}"
                elif pg_url is None:
                    entry["cases"][case] = _unavailable(case, pg_missing or "no PostgreSQL")
                    continue
                else:
                    url = pg_url
                got = run_case(case, url, table, data, budget, models, workdir)
                entry["cases"][case] = got
                print(f"  {table.name} {_progress(got)}", flush=True)
                entry["ratios"] = ratios(entry["cases"])
                if checkpoint is not None:
                    checkpoint(results)
            entry["ratios"] = ratios(entry["cases"])
    return results


def _progress(c: dict[str, Any]) -> str:
    head = f"{c['label']:<24}"
    if c.get("trials_per_min") is None:
        return f"{head} FAILED: {(c.get('error') or '')[:300]}"
    parts = ", ".join(
        f"{role} {e['finished_trials']} in {e['wall_s']:.0f} s"
        for role, e in c["processes"].items()
    )
    return (
        f"{head} {c['finished_trials']} trials ({parts}) → {c['trials_per_min']}/min, "
        f"cv {c['metric']} {_fmt(c['cv_score'])}, others {c['others_cores']} cores"
        + (f" ⚠ {c['error']}" if c.get("error") else "")
    )


# ---------------------------------------------------------------- reporting


def _rows(cases: dict[str, Any]) -> list[list[str]]:
    rows = []
    for case in CASES:
        c = cases.get(case)
        if c is None:
            continue
        if not c.get("processes"):
            rows.append([c["label"], "—", "—", "—", "—", "—", f"n/a: {c.get('error')}"])
            continue
        busy = (c.get("others_cores") or 0) > CONTENDED
        for role, e in c["processes"].items():
            rows.append(
                [
                    c["label"] if role == "search" else "",
                    f"`{role}`",
                    str(e.get("finished_trials", "—")),
                    f"{e['wall_s']:.1f}",
                    _fmt(e.get("trials_per_min")),
                    _fmt(e.get("cv_score")) if role == "search" else "",
                    f"{c['others_cores']}{' ⚠' if busy else ''}" if role == "search" else "",
                ]
            )
        if len(c["processes"]) > 1:
            rows.append(
                [
                    "",
                    "**both**",
                    f"**{c['finished_trials']}**",
                    f"{c['span_s']:.1f} (span)",
                    f"**{_fmt(c['trials_per_min'])}**",
                    "",
                    "",
                ]
            )
    return rows


def render(doc: dict[str, Any]) -> list[str]:
    """Markdown lines for the README section."""
    r = doc["results"]
    lines = [
        f"Budget **{r['budget_s']:g} s** per process; families {', '.join(r['models'])}; seed "
        f"{r['seed']}; one case at a time. {r['trials'].capitalize()} (start-up, prep and the "
        "final refit included, alike in every case); two processes' rates add up. PostgreSQL: "
        f"{r['postgresql']}, on this machine. In the 2-process case the worker starts once the "
        "search has created and seeded the study, with the budget the search has left.",
        "",
        "**This machine has 2 cores.** One process trains with 2 threads; when workers of "
        "one study share a machine, each trains with its share of the cores (here 1 thread "
        "each), because OpenMP threads of two processes spin against each other otherwise "
        "(measured before that split: 24× slower fits, 0.06× scaling). Two workers here "
        "compete for the same 2 cores, so the ratio says what sharing a study costs or "
        "gains on one machine; on two machines each worker has its own. OpenMP environment: "
        + (
            ", ".join(f"{k}={v}" for k, v in r.get("thread_env", {}).items() if v is not None)
            or "defaults (no OMP_*/GOMP_* variable set)"
        )
        + ".",
    ]
    for name, t in r["tables"].items():
        info, rt = t["table"], t.get("ratios", {})
        dropped = (
            f", without {', '.join(info['dropped_columns'])}" if info["dropped_columns"] else ""
        )
        lines += [
            "",
            f"**{name}** (`{info['source']}`{dropped}; {info['rows']:,} rows, target "
            f"`{info['target']}`, {info['task']}): scaling 2 / 1 PostgreSQL processes "
            f"**{_fmt(rt.get('scaling_pg2_over_pg1'))}×**; PostgreSQL / SQLite, 1 process "
            f"**{_fmt(rt.get('storage_pg1_over_sqlite1'))}×** (trials per minute).",
            "",
            *_md(
                [
                    "case",
                    "process",
                    "finished trials",
                    "wall s",
                    "trials / min",
                    "model cv score",
                    "others' cores",
                ],
                _rows(t["cases"]),
                right_from=2,
            ),
        ]
        if rt.get("portfolio_trials"):
            slow = rt["portfolio_slowdown_pg2_over_pg1"] or 0.0
            lines += [
                "",
                f"Same work: the {rt['portfolio_trials']} portfolio trials (identical "
                "configurations, queued first in every case) took "
                f"{_fmt(rt['portfolio_fit_s_pg1'])} s of fitting with one PostgreSQL process "
                f"and {_fmt(rt['portfolio_fit_s_pg2'])} s with two (**{_fmt(slow)}×**)"
                + (
                    "; far above the 2× of sharing 2 cores fairly, consistent with "
                    "oversubscribed OpenMP threads (2 processes × 2 on 2 cores) spin-waiting."
                    if slow > 2.5
                    else "."
                ),
            ]
        two = t["cases"].get("postgres_2", {})
        board = two.get("leaderboard")
        if board:
            used = board["by_process"].get("worker", {}).get("complete", 0)
            lines += [
                "",
                f"In the 2-process case the final model's leaderboard holds {board['rows']} "
                f"trials, {used} of them completed by the worker; the worker started "
                f"{_fmt(two.get('worker_started_after_s'))} s after the search, budget "
                f"{_fmt(two.get('worker_budget_s'))} s (its trials that finished after the "
                "search stopped searching count for the rate but are not in its model).",
            ]
        failed = [c for c in t["cases"].values() if c.get("error")]
        lines += [f"\n⚠ {c['label']}: `{c['error'][:300]}`" for c in failed]
    if r.get("skipped_tables"):
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in r["skipped_tables"].items())]
    return lines


def summary_text(r: dict[str, Any]) -> str:
    """One line per case and the two ratios, per table, for the terminal."""
    out = []
    for name, t in r["tables"].items():
        out += [f"distributed: {name} {_progress(c)}" for c in t["cases"].values()]
        rt = t.get("ratios", {})
        out.append(
            f"distributed: {name} scaling PG 2/1 {_fmt(rt.get('scaling_pg2_over_pg1'))}×, "
            f"PG/SQLite 1 process {_fmt(rt.get('storage_pg1_over_sqlite1'))}×, same portfolio "
            f"trials {_fmt(rt.get('portfolio_slowdown_pg2_over_pg1'))}× slower with 2 processes"
        )
    return "\n".join(out)
