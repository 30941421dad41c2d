"""The ``automl`` command line: parse, make one call into ``steps``, render.

Only typer and rich are imported here; each command imports its step inside its body, so
``automl --help`` never loads pandas, scikit-learn, the boosters or optuna.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from automl_cli import __version__
from automl_cli.cli.output import Output
from automl_cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    AutomlError,
    OutOfMemoryError,
    StorageError,
    Terminated,
    UsageError,
)

__all__ = ["app"]

app = typer.Typer(
    name="automl",
    help=(
        "Tabular AutoML: turn a table and a target column into a validated, versioned model.\n\n"
        "Every step writes an immutable, versioned artifact into the project directory. "
        "Human output goes to stderr; --json prints one JSON document on stdout.\n\n"
        "Exit codes: 0 ok · 1 internal error · 2 usage · 3 bad input data · "
        "4 artifact missing/corrupt · 5 quality gate · 6 project locked · 130 interrupted · "
        "143 terminated (SIGTERM)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Task(StrEnum):
    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"


class TextMode(StrEnum):
    tfidf = "tfidf"
    drop = "drop"


@dataclass
class State:
    project: Path
    lock_timeout: float | None
    out: Output


def _version(value: bool) -> None:
    if value:
        typer.echo(f"automl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    project: Annotated[
        Path,
        typer.Option(
            "--project",
            "-p",
            envvar="AUTOML_PROJECT",
            help="Project directory holding the artifacts (created if missing).",
        ),
    ] = Path("automl-project"),
    json_: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON document on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="More detail, including where each setting came from."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            min=0,
            help="Seconds to wait for another run holding the project (then exit 6). "
            "Default 60, or AUTOML_LOCK_TIMEOUT / automl.toml.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Global options apply to every command."""
    ctx.obj = State(
        project=project,
        lock_timeout=lock_timeout,
        out=Output(json_mode=json_, quiet=quiet, verbose=verbose, debug=debug),
    )


def _run(
    ctx: typer.Context,
    call: Callable[[Callable[[str], None]], dict[str, Any]],
    render: Callable[[Console, dict[str, Any]], None],
) -> None:
    """Run one step and map its outcome to the exit-code map of design.md."""
    state: State = ctx.obj
    out = state.out
    try:
        with out.progress() as progress:
            doc = call(progress)
    except AutomlError as exc:
        _report_broken_locks(out)
        out.error(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        # Ctrl-C or SIGTERM (see main): the cleanup on the way here removed any half-built
        # version; a search stopped by the first signal saved its best model and raised
        # Interrupted (an AutomlError) instead
        terminated = isinstance(exc, Terminated)
        out.err.print("interrupted (SIGTERM)" if terminated else "interrupted")
        raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # the reader of stdout went away (`automl predict big.csv | head`): stop quietly, as
        # Unix tools do, with the shell's code for a write to a closed pipe
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_PIPE_CLOSED) from None
    except MemoryError:
        # a table too big for the memory limit: a message and a documented code, no dump
        err = OutOfMemoryError("ran out of memory (the table or the work on it is too big for "
                               "the memory this process may use)")  # fmt: skip
        out.error(err)
        raise typer.Exit(err.exit_code) from None
    except Exception as exc:
        storage = _full_disk(exc)
        if storage is not None:  # a write that failed outside the store, e.g. a scratch file
            out.error(storage)
            raise typer.Exit(storage.exit_code) from None
        out.internal_error(exc)
        raise typer.Exit(1) from None
    _report_broken_locks(out)
    out.result(doc, render)


# sqlite's "database or disk is full" and its failed-write I/O error (what a file-size limit
# gives), as primary / extended result codes
_SQLITE_FULL, _SQLITE_IOERR_WRITE = 13, 778


def _full_disk(exc: BaseException) -> StorageError | None:
    """A full disk (or a file-size/quota limit) behind ``exc``, however a library wrapped it
    (SQLAlchemy and Optuna wrap sqlite's error): the environment's fault, not a bug."""
    import errno

    hint = (
        "free disk space where the project and the temp folder ($TMPDIR) live, or raise the "
        "file-size/quota limit; nothing was saved half-way"
    )
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            where = f" {e.filename}" if e.filename else " a file"
            return StorageError(f"could not write{where}: {e.strerror}", hint=hint)
        code = getattr(e, "sqlite_errorcode", None)
        if type(e).__module__ == "sqlite3" and code in (_SQLITE_FULL, _SQLITE_IOERR_WRITE):
            return StorageError(f"could not write the search's study database: {e}", hint=hint)
        orig = getattr(e, "orig", None)  # SQLAlchemy's DBAPIError keeps the driver's error
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return None


def _report_broken_locks(out: Output) -> None:
    """Say when this run broke a stale project lock: an operator wants to know it happened."""
    from automl_cli.steps._common import broken_locks

    for b in broken_locks():
        out.warn(
            f"broke a stale project lock held by pid {b.get('pid')} on {b.get('host')} "
            f"({b.get('reason')})"
        )


@app.command()
def profile(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Argument(
            help="Table to profile: CSV/TSV, Parquet, Feather/Arrow or JSON Lines; '-' reads CSV "
            "from stdin.",
            show_default=False,
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Column to predict: adds the task guess and leakage checks."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for the sampled checks (default 0).")
    ] = None,
) -> None:
    """Profile a table: column types, missing values, target, and warnings (leakage, IDs…)."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.profile import run_profile

        state: State = ctx.obj
        return run_profile(
            state.project,
            data,
            target=target,
            seed=seed,
            lock_timeout=state.lock_timeout,
            progress=progress,
        )

    from automl_cli.cli.render import render_profile

    _run(ctx, call, lambda console, doc: render_profile(console, doc, ctx.obj.out.verbose))


@app.command()
def prep(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Argument(
            help="Training table ('-' for stdin). Default: the table of the newest profile.",
            show_default=False,
        ),
    ] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Column to predict.")] = None,
    task: Annotated[
        Task | None,
        typer.Option(help="Override the task guessed from the target."),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="Column to leave out (repeatable).")
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep", help="Keep a column prep would drop (ID-like, constant, leak); repeatable."
        ),
    ] = None,
    max_categories: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Categoricals with at most this many levels are one-hot encoded for linear, "
            "k-NN and MLP models; larger ones get target + frequency encoding (default 20).",
        ),
    ] = None,
    text: Annotated[
        TextMode | None,
        typer.Option(help="Free-text columns: TF-IDF features or drop them (default tfidf)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default 0).")] = None,
) -> None:
    """Fit the preprocessing (encodings, imputation, dates, text) and the input schema."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.prep import run_prep

        state: State = ctx.obj
        return run_prep(
            state.project,
            data,
            target=target,
            task=task.value if task else None,
            drop=drop,
            keep=keep,
            max_categories=max_categories,
            text=text.value if text else None,
            seed=seed,
            lock_timeout=state.lock_timeout,
            progress=progress,
        )

    from automl_cli.cli.render import render_prep

    _run(ctx, call, lambda console, doc: render_prep(console, doc, ctx.obj.out.verbose))


TargetOpt = Annotated[str | None, typer.Option("--target", "-t", help="Column to predict.")]
BudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--time-budget",
        min=0,
        help="Limit in seconds on profile + prep + search, saving included "
        "(default 60 unless --trials is given).",
    ),
]
TrialsOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Stop after this many trials (with --seed: reproducible)."),
]
MetricOpt = Annotated[
    str | None, typer.Option(help="Metric to optimise (see automl search --help).")
]
TaskOpt = Annotated[Task | None, typer.Option(help="Override the guessed task.")]
SeedOpt = Annotated[int | None, typer.Option(help="Seed (default 0).")]
CvOpt = Annotated[int | None, typer.Option(min=2, help="Cross-validation folds (default 5).")]
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option("--models", help="Families to search, comma-separated or repeated."),
]
_LIMITS_PANEL = "Deployment limits (exit 5 if no model keeps to them)"
MaxLatencyOpt = Annotated[
    float | None,
    typer.Option(
        "--max-latency-ms",
        help="The saved model must score one row within this many milliseconds "
        "(median, measured on this machine through automl predict's own path).",
        rich_help_panel=_LIMITS_PANEL,
    ),
]
MaxBatchOpt = Annotated[
    float | None,
    typer.Option(
        "--max-batch-ms-per-1k",
        help="... and score 1,000 rows at once within this many milliseconds.",
        rich_help_panel=_LIMITS_PANEL,
    ),
]
MaxModelMbOpt = Annotated[
    float | None,
    typer.Option(
        "--max-model-mb",
        help="The saved model artifact (all its files) must take at most this many MB.",
        rich_help_panel=_LIMITS_PANEL,
    ),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        help="Share the study with other processes: postgresql://USER:PASS@HOST/DB (many "
        "machines), journal:PATH (one machine), sqlite:///PATH (one process). "
        "Default: a private study saved in the model artifact.",
    ),
]
StudyOpt = Annotated[
    str | None, typer.Option(help="Name of the shared study (default automl-search).")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Run every step, even those whose inputs are unchanged.")
]


@app.command()
def search(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Argument(
            help="Training table ('-' for stdin). Profile and prep are made first if missing.",
            show_default=False,
        ),
    ],
    target: TargetOpt = None,
    time_budget: Annotated[
        float | None,
        typer.Option(
            "--time-budget",
            min=0,
            help="Hard limit in seconds on the whole command, saving included "
            "(default 60 unless --trials is given).",
        ),
    ] = None,
    trials: TrialsOpt = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="auc, logloss, accuracy, balanced_accuracy, f1 (classification); rmse, mae, r2 "
            "(regression). Default: auc (binary), logloss (multiclass), rmse (regression)."
        ),
    ] = None,
    task: TaskOpt = None,
    seed: SeedOpt = None,
    cv: CvOpt = None,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            help="Families to search, comma-separated or repeated: lgbm, xgb, hgb, rf, et, "
            "linear, knn, mlp (default: all that suit the table).",
        ),
    ] = None,
    storage: StorageOpt = None,
    study: StudyOpt = None,
    finalize: Annotated[
        bool,
        typer.Option(
            "--finalize",
            help="Run no trial: build the model from the shared study's finished trials.",
        ),
    ] = False,
    max_latency_ms: MaxLatencyOpt = None,
    max_batch_ms_per_1k: MaxBatchOpt = None,
    max_model_mb: MaxModelMbOpt = None,
) -> None:
    """Search models and hyperparameters, ensemble the best, and save a model artifact."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.search import run_search_step

        state: State = ctx.obj
        return run_search_step(
            state.project,
            data,
            target=target,
            time_budget=time_budget,
            trials=trials,
            metric=metric,
            task=task.value if task else None,
            seed=seed,
            cv=cv,
            models=models,
            lock_timeout=state.lock_timeout,
            storage=storage,
            study=study,
            max_latency_ms=max_latency_ms,
            max_batch_ms_per_1k=max_batch_ms_per_1k,
            max_model_mb=max_model_mb,
            finalize=finalize,
            progress=progress,
        )

    from automl_cli.cli.render import render_search

    _run(ctx, call, lambda console, doc: render_search(console, doc, ctx.obj.out.verbose))


@app.command()
def evaluate(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Argument(
            help="Labelled table to score ('-' for stdin). Without it: the search's "
            "cross-validated (out-of-fold) figures.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model to evaluate (default model@champion, else @latest)."
        ),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            "-g",
            help="Column whose groups get per-group metrics and fairness gaps (repeatable).",
        ),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            help="Quality gate METRIC=VALUE, e.g. auc=0.85 (repeatable): exit 5 when a metric "
            "is worse (below it, or above it for losses such as rmse and logloss).",
        ),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            help="Another model (e.g. model@v2) to evaluate on the same rows: which is better, "
            "and is the difference beyond chance?"
        ),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(min=0, help="Bootstrap resamples for the intervals (default 200)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default 0).")] = None,
) -> None:
    """Evaluate a model: metrics with intervals, plots, explanations, fairness, report.html."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.evaluate import run_evaluate_step

        state: State = ctx.obj
        return run_evaluate_step(
            state.project,
            data,
            model=model,
            groups=group,
            fail_under=fail_under,
            compare=compare,
            bootstrap=bootstrap,
            seed=seed,
            lock_timeout=state.lock_timeout,
            progress=progress,
        )

    from automl_cli.cli.render import render_evaluate

    _run(ctx, call, render_evaluate)


@app.command()
def predict(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Argument(
            help="Table to score: CSV/TSV, Parquet, Feather or JSON Lines; '-' reads CSV or JSON "
            "Lines from stdin.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model to use (default model@champion, else @latest)."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Where predictions go: a file, or '-' for stdout."),
    ] = None,
    proba: Annotated[
        bool | None,
        typer.Option("--proba", help="Add one proba_<class> column per class."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv, parquet or jsonl (default: from --output's extension, else csv)."
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Rows read and scored at a time: bounds memory (100000)."),
    ] = None,
    id_columns: Annotated[
        list[str] | None,
        typer.Option(
            "--id", help="Key column(s) to copy into the output (default: the input's ID columns)."
        ),
    ] = None,
    on_bad_rows: Annotated[
        str | None,
        typer.Option(
            help="A value that is not a number in a numeric column: error (default), skip "
            "(leave the row out) or null (score it with the value missing). Rows are reported."
        ),
    ] = None,
) -> None:
    """Score new rows with a model, streaming: predictions in input order to a file or stdout."""
    state: State = ctx.obj
    if state.out.json_mode and (output is None or output == "-"):
        state.out.error(
            UsageError(
                "--json and predictions on stdout would mix in one stream",
                hint="write predictions to a file with --output FILE, or drop --json",
            )
        )
        raise typer.Exit(EXIT_USAGE)

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.predict import run_predict_step

        return run_predict_step(
            state.project,
            data,
            model=model,
            output=output,
            proba=proba,
            fmt=fmt,
            batch_size=batch_size,
            id_columns=id_columns,
            on_bad_rows=on_bad_rows,
            lock_timeout=state.lock_timeout,
            progress=progress,
        )

    from automl_cli.cli.render import render_predict

    _run(ctx, call, render_predict)


runs_app = typer.Typer(
    help="What the project holds: list artifacts, show one manifest (verified), diff two.",
    no_args_is_help=True,
)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    kind: Annotated[
        str | None,
        typer.Argument(
            help="Only this kind: profile, prep, model or evaluation.", show_default=False
        ),
    ] = None,
) -> None:
    """List artifacts: kind, version, created, data, headline metrics, aliases."""

    def call(_progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.runs import list_runs

        return list_runs(ctx.obj.project, kind)

    from automl_cli.cli.render import render_runs_list

    _run(ctx, call, render_runs_list)


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="KIND@VERSION, e.g. prep@latest, model@v3.", show_default=False)
    ],
) -> None:
    """Show one artifact's manifest after checking every file's sha256 (exit 4 if changed)."""

    def call(_progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.runs import show_run

        return show_run(ctx.obj.project, ref)

    from automl_cli.cli.render import render_runs_show

    _run(ctx, call, render_runs_show)


@runs_app.command("diff")
def runs_diff(
    ctx: typer.Context,
    ref_a: Annotated[
        str,
        typer.Argument(
            metavar="REF_A", help="The earlier artifact, e.g. model@v1.", show_default=False
        ),
    ],
    ref_b: Annotated[
        str,
        typer.Argument(
            metavar="REF_B",
            help="The later one, e.g. model@v3 (or just v3 / champion: same kind as REF_A).",
            show_default=False,
        ),
    ],
) -> None:
    """What changed between two artifacts: data, parents, settings, metrics, versions, files."""

    def call(_progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.runs import diff_runs

        return diff_runs(ctx.obj.project, ref_a, ref_b)

    from automl_cli.cli.render import render_runs_diff

    _run(ctx, call, render_runs_diff)


@app.command()
def gc(
    ctx: typer.Context,
    keep: Annotated[
        int,
        typer.Option(
            "--keep",
            help="Versions to keep per kind, newest first (at least 1). Aliased versions and "
            "the parents of anything kept are kept too.",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be removed.")
    ] = False,
) -> None:
    """Remove old versions nobody needs (not newest, not aliased, no kept child); frees space."""

    def call(_progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.runs import gc as run_gc

        state: State = ctx.obj
        return run_gc(state.project, keep, dry_run=dry_run, lock_timeout=state.lock_timeout)

    from automl_cli.cli.render import render_gc

    _run(ctx, call, render_gc)


@app.command()
def promote(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="The model to promote, e.g. model@v3.", show_default=False)
    ],
    alias: Annotated[
        str, typer.Option(help="The alias to set; predict and evaluate default to champion.")
    ] = "champion",
) -> None:
    """Make a model the champion: 'predict' and 'evaluate' then use it by default."""

    def call(_progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.runs import promote as run_promote

        return run_promote(ctx.obj.project, ref, alias)

    from automl_cli.cli.render import render_promote

    _run(ctx, call, render_promote)


# -- the chain, for CI and cron ---------------------------------------------------------------


def _chain_options(
    ctx: typer.Context,
    target: str | None,
    time_budget: float | None,
    trials: int | None,
    metric: str | None,
    task: Task | None,
    seed: int | None,
    cv: int | None,
    models: list[str] | None,
    limits: tuple[float | None, float | None, float | None] = (None, None, None),
) -> dict[str, Any]:
    return {
        "max_latency_ms": limits[0],
        "max_batch_ms_per_1k": limits[1],
        "max_model_mb": limits[2],
        "target": target,
        "time_budget": time_budget,
        "trials": trials,
        "metric": metric,
        "task": task.value if task else None,
        "seed": seed,
        "cv": cv,
        "models": models,
        "lock_timeout": ctx.obj.lock_timeout,
    }


@app.command("run")
def run_chain(
    ctx: typer.Context,
    data: Annotated[str, typer.Argument(help="Training table (a file).", show_default=False)],
    target: TargetOpt = None,
    time_budget: BudgetOpt = None,
    trials: TrialsOpt = None,
    metric: MetricOpt = None,
    task: TaskOpt = None,
    seed: SeedOpt = None,
    cv: CvOpt = None,
    models: ModelsOpt = None,
    max_latency_ms: MaxLatencyOpt = None,
    max_batch_ms_per_1k: MaxBatchOpt = None,
    max_model_mb: MaxModelMbOpt = None,
    holdout: Annotated[
        str | None,
        typer.Option(
            help="Labelled table to evaluate on (default: the search's cross-validated figures)."
        ),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Column for per-group (fairness) metrics."),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option("--fail-under", help="Quality gate METRIC=VALUE: exit 5 when worse."),
    ] = None,
    force: ForceOpt = False,
) -> None:
    """profile → prep → search → evaluate in one command; unchanged steps are skipped."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.pipeline import run_pipeline

        return run_pipeline(
            ctx.obj.project,
            data,
            holdout=holdout,
            force=force,
            progress=progress,
            groups=group,
            fail_under=fail_under,
            **_chain_options(
                ctx,
                target,
                time_budget,
                trials,
                metric,
                task,
                seed,
                cv,
                models,
                (max_latency_ms, max_batch_ms_per_1k, max_model_mb),
            ),
        )

    from automl_cli.cli.render import render_chain

    _run(ctx, call, render_chain)


@app.command()
def retrain(
    ctx: typer.Context,
    data: Annotated[str, typer.Argument(help="Today's training table.", show_default=False)],
    target: TargetOpt = None,
    promote_if_better: Annotated[
        bool,
        typer.Option(
            "--promote-if-better",
            help="Make the new model the champion if it wins; exit 5 if it does not.",
        ),
    ] = False,
    holdout: Annotated[
        str | None,
        typer.Option(
            help="Labelled table both models are judged on (default: a fixed share of DATA "
            "chosen by row hash, never trained on)."
        ),
    ] = None,
    holdout_share: Annotated[
        float, typer.Option(help="Share of DATA held out when --holdout is not given.")
    ] = 0.2,
    min_improvement: Annotated[
        float,
        typer.Option(
            help="How much better (in the model's metric) the challenger must score to win."
        ),
    ] = 0.0,
    refit_only: Annotated[
        bool,
        typer.Option(
            "--refit-only",
            help="Search nothing: train the existing model again on DATA, with the same "
            "preprocessing settings, model types, hyperparameters and ensemble weights. "
            "Takes seconds instead of a search; --time-budget, --trials, --metric, --task, "
            "--cv and --models are then refused.",
        ),
    ] = False,
    from_ref: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="With --refit-only: the model to train again, e.g. model@v2, v2 or champion "
            "(default: the champion, else the newest model).",
            show_default=False,
        ),
    ] = None,
    time_budget: BudgetOpt = None,
    trials: TrialsOpt = None,
    metric: MetricOpt = None,
    task: TaskOpt = None,
    seed: SeedOpt = None,
    cv: CvOpt = None,
    models: ModelsOpt = None,
    max_latency_ms: MaxLatencyOpt = None,
    max_batch_ms_per_1k: MaxBatchOpt = None,
    max_model_mb: MaxModelMbOpt = None,
    force: ForceOpt = False,
) -> None:
    """Train a challenger and replace the champion only if it scores better on a holdout.

    With --refit-only the challenger is an existing model (--from, default the champion)
    trained again on DATA without searching; --target is then optional.
    """

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.pipeline import run_retrain

        return run_retrain(
            ctx.obj.project,
            data,
            holdout=holdout,
            holdout_share=holdout_share,
            min_improvement=min_improvement,
            promote_if_better=promote_if_better,
            refit_only=refit_only,
            from_ref=from_ref,
            force=force,
            progress=progress,
            **_chain_options(
                ctx,
                target,
                time_budget,
                trials,
                metric,
                task,
                seed,
                cv,
                models,
                (max_latency_ms, max_batch_ms_per_1k, max_model_mb),
            ),
        )

    from automl_cli.cli.render import render_chain

    _run(ctx, call, render_chain)


@app.command()
def worker(
    ctx: typer.Context,
    storage: Annotated[
        str, typer.Option(help="The shared study's storage URL.", show_default=False)
    ],
    study: Annotated[str, typer.Option(help="The shared study's name.")] = "automl-search",
    data: Annotated[
        str | None,
        typer.Option(help="A local copy of the study's table (checked by sha256)."),
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option("--time-budget", min=0, help="Seconds this worker runs (default 60)."),
    ] = None,
    trials: TrialsOpt = None,
) -> None:
    """Add trials to a shared study started by 'automl search --storage URL --study NAME'."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.worker import run_worker

        return run_worker(
            ctx.obj.project,
            storage=storage,
            study=study,
            data=data,
            time_budget=time_budget,
            trials=trials,
            lock_timeout=ctx.obj.lock_timeout,
            progress=progress,
        )

    from automl_cli.cli.render import render_worker

    _run(ctx, call, render_worker)


@runs_app.command("reproduce")
def runs_reproduce(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="The artifact to re-make, e.g. model@v3.", show_default=False)
    ],
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the scratch project the re-run wrote.")
    ] = False,
) -> None:
    """Re-run the command that made REF in a scratch project; exit 5 if the result differs."""

    def call(progress: Callable[[str], None]) -> dict[str, Any]:
        from automl_cli.steps.reproduce import reproduce

        return reproduce(ctx.obj.project, ref, keep=keep, progress=progress)

    from automl_cli.cli.render import render_reproduce

    _run(ctx, call, render_reproduce)


def main() -> None:
    """Console-script entry point."""
    # Rich reads the terminal size itself; keep piped output readable at a sane width.
    if "COLUMNS" not in os.environ and not os.isatty(2):
        os.environ["COLUMNS"] = "120"
    # SIGTERM (`kill`, a container or CI job being stopped) unwinds like Ctrl-C instead of
    # killing Python on the spot: temp folders are removed, a search saves its best model
    # (it installs its own handler while it searches), and the process exits 143.
    terminated: list[int] = []

    def on_sigterm(signum: int, frame: Any) -> None:
        terminated.append(signum)
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        app(prog_name="automl")
    except SystemExit as exc:
        # a SIGTERM outside a step (while parsing, or while printing the result) ends in
        # click's "Aborted!" with code 1; it is still a termination
        if terminated and exc.code == 1:
            raise SystemExit(EXIT_TERMINATED) from None
        raise
