"""``automl retrain --refit-only``: a model's exact pipeline, fitted again on new rows.

A full search spends its whole time budget and may pick other families and
hyperparameters from one day to the next. A refit keeps what was chosen and validated —
the preprocessing settings, every member's family, hyperparameters and ensemble weight,
the seed — and only lets the fitted state (encodings, trees, coefficients) learn from the
new rows, in seconds. The new ``model`` version names its source as a parent and in
``summary.refit_of``; it has no leaderboard, study or out-of-fold predictions, because
nothing was searched or cross-validated.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from automl_cli.config import Resolved
from automl_cli.errors import ArtifactNotFoundError, DataError, LimitError, UsageError
from automl_cli.steps._common import noop, threads_setting
from automl_cli.steps._limits import LIMIT_KEYS, Limits, measured_text, time_model
from automl_cli.steps.prep import DEFAULTS as PREP_DEFAULTS
from automl_cli.steps.prep import PREPROCESSOR_FILE
from automl_cli.steps.search import (
    MODEL_FILE,
    TIMING_ROWS,
    FittedModel,
    Member,
    load_model,
    model_spec,
    refit_params,
)
from automl_cli.store import Artifact, Project

if TYPE_CHECKING:
    import pandas as pd

    from automl_cli.core.io import TableInfo
    from automl_cli.core.preprocessing import Preprocessor

__all__ = [
    "SEARCH_OPTIONS",
    "check_classes",
    "check_refit_options",
    "refit_params",
    "refit_settings",
    "source_model",
    "write_refit",
]

# retrain's options that only steer a search: meaningless (so refused) with --refit-only
SEARCH_OPTIONS = {
    "time_budget": "--time-budget",
    "trials": "--trials",
    "models": "--models",
    "metric": "--metric",
    "cv": "--cv",
    "task": "--task",
}


def check_refit_options(options: dict[str, Any]) -> None:
    """Refuse search options given on the command line: a refit-only run searches nothing."""
    given = [flag for key, flag in SEARCH_OPTIONS.items() if options.get(key) not in (None, [])]
    if given:
        raise UsageError(
            f"{', '.join(given)} cannot be used with --refit-only: it searches nothing",
            hint="--refit-only reuses the source model's families and hyperparameters; drop "
            f"{'that option' if len(given) == 1 else 'those options'}, or leave out "
            "--refit-only to search anew",
        )


def source_model(
    project: Project, ref: str | None, options: dict[str, Any], *, verify: bool = True
) -> Artifact:
    """The model to refit (``ref``, else the champion, else the newest); with ``verify``
    every file's sha256 is checked, so a corrupt source stops the run before it writes.

    ``--target`` and ``--seed`` on the command line are optional, since both come from the
    source model, but a value that differs from the source's is a mistake worth stopping on.
    """
    from automl_cli.steps.runs import default_model_ref

    wanted = ref if ref is not None else default_model_ref(project)
    try:
        art = project.load(wanted, default_kind="model", verify=False)
    except ArtifactNotFoundError as exc:
        if ref is not None:
            raise
        raise ArtifactNotFoundError(
            exc.message,
            hint="--refit-only refits an existing model: train one first with 'automl retrain "
            "DATA --target COLUMN' (without --refit-only)",
        ) from None
    if art.kind != "model":
        raise UsageError(
            f"--from {ref}: {art.ref} is a {art.kind}, and only a model can be refit",
            hint="name a model, e.g. --from model@v2, --from v2 or --from champion",
        )
    if verify:
        art.verify()
    summary = art.manifest.get("summary", {})
    target = summary.get("target")
    if options.get("target") is not None and options["target"] != target:
        raise UsageError(
            f"--target {options['target']} differs from the target '{target}' of {art.ref}, "
            "the model to refit",
            hint="a refit predicts what its source predicts: leave out --target, or pick the "
            "model with --from",
        )
    seed = art.manifest.get("seed")
    if options.get("seed") is not None and options["seed"] != seed:
        raise UsageError(
            f"--seed {options['seed']} differs from the seed {seed} of {art.ref}, the model to "
            "refit",
            hint="a refit keeps its source's seed: leave out --seed",
        )
    return art


def refit_settings(
    project: Project,
    source: Artifact,
    run_config: dict[str, Resolved],
    *,
    from_given: bool,
) -> dict[str, Resolved]:
    """The refit's resolved settings: its source's prep settings (read from the manifest of
    the source's prep), the source's target, task and seed, which model it came from, and
    the threads per fit (``jobs``, recorded because the saved params record it).

    The task is pinned to the source's even when its prep guessed it: a refit never turns
    a binary model into a multiclass one because today's table happens to look like one.
    The deployment limits the source was searched under hold for its refit too (a refit on
    more rows may grow), unless the command line gives others.
    """
    prep_ref = next(
        (str(p["ref"]) for p in source.manifest.get("parents", []) if "prep@" in str(p["ref"])),
        None,
    )
    if prep_ref is None:
        raise ArtifactNotFoundError(
            f"{source.ref} names no prep artifact, so its preprocessing settings are unknown",
            hint="refit a model made by 'automl search' or 'automl retrain'",
        )
    try:
        prep = project.load(prep_ref, verify=False)
    except ArtifactNotFoundError:
        raise ArtifactNotFoundError(
            f"{prep_ref}, the prep of {source.ref}, is missing, so its preprocessing settings "
            "are unknown",
            hint="refit another model (--from), or retrain without --refit-only",
        ) from None
    used = prep.manifest.get("config", {})
    summary = source.manifest.get("summary", {})
    origin = f"{prep.ref} of {source.ref}"
    settings = {
        key: Resolved(used.get(key, {}).get("value", default), origin)
        for key, default in PREP_DEFAULTS.items()
    }
    settings["target"] = Resolved(summary.get("target"), source.ref)
    settings["task"] = Resolved(summary.get("task"), source.ref)
    settings["seed"] = Resolved(int(source.manifest.get("seed") or 0), source.ref)
    settings["refit_only"] = Resolved(True, "cli")
    settings["from"] = Resolved(source.ref, "cli" if from_given else "default")
    settings["jobs"] = run_config["jobs"]
    settings["lock_timeout"] = run_config["lock_timeout"]
    recorded = source.manifest.get("config", {})
    for key in LIMIT_KEYS:  # deployment limits: as given now, else as the source kept them
        given = run_config.get(key)
        if given is not None and given.value is not None:
            settings[key] = given
        else:
            settings[key] = Resolved(recorded.get(key, {}).get("value"), source.ref)
    return settings


def check_classes(y_raw: pd.Series, source: Artifact, where: str) -> None:
    """Refuse (exit 3) a target whose classes differ from the source model's, before any
    step writes: the source's members and ensemble weights only make sense for the classes
    it knows, so a new or a vanished class needs a full retrain."""
    from automl_cli.core.preprocessing import encode_target

    spec = json.loads(source.file(MODEL_FILE).read_text("utf-8"))
    task, known = spec.get("task"), spec.get("classes")
    _, classes = encode_target(y_raw, str(task))  # a regression target must be numeric
    if task == "regression" or classes == known:
        return
    old, now = set(known or []), set(classes or [])
    parts = []
    if now - old:
        parts.append(f"new: {', '.join(map(repr, sorted(now - old)))}")
    if old - now:
        parts.append(f"missing: {', '.join(map(repr, sorted(old - now)))}")
    raise DataError(
        f"the target '{y_raw.name}' in {where} has other classes than {source.ref} "
        f"({'; '.join(parts)})",
        hint="a refit keeps its source's classes: retrain without --refit-only",
    )


def write_refit(
    project: Project,
    source: Artifact,
    X: pd.DataFrame,
    y_raw: pd.Series,
    dropped_rows: int,
    info: TableInfo,
    prep: tuple[Artifact, Preprocessor],
    profile_art: Artifact,
    settings: dict[str, Resolved],
    say: Callable[[str], None] = noop,
) -> tuple[Artifact, float]:
    """Refit every member of ``source`` on (X, y_raw) and save a new ``model`` version.

    Returns the artifact and the seconds spent fitting. Nothing is written unless every
    member fits.
    """
    from automl_cli.core.learners import make_learner
    from automl_cli.core.preprocessing import encode_target

    prep_art, preprocessor = prep
    fitted = load_model(project.root, source.ref)  # every file's sha256 checked first
    spec = json.loads(source.file(MODEL_FILE).read_text("utf-8"))
    task = fitted.task
    if preprocessor.task_ != task:
        raise DataError(
            f"{info.path} gives a {preprocessor.task_} target, but {source.ref} is a {task} model",
            hint="a refit keeps its source's task: retrain without --refit-only",
        )
    check_classes(y_raw, source, info.path)
    y, classes = encode_target(y_raw, task)
    if task != "regression":
        y = y.astype(int)
    n_classes = len(classes) if classes else 0
    seed = int(settings["seed"].value)
    jobs = threads_setting(settings["jobs"].value)

    say("encoding features")
    variants = sorted({m.learners[0].variant for m in fitted.members})
    features = {
        v: preprocessor.transform(X, variant=v, y=y_raw if v == "encoded" else None)
        for v in variants
    }
    started = time.monotonic()
    learners = []
    for i, member in enumerate(fitted.members):
        params = refit_params(
            member.fit, member.params, [lrn.fitted_iterations() for lrn in member.learners]
        )
        rounds = f" (n_estimators {params['n_estimators']})" if "n_estimators" in params else ""
        say(
            f"refitting {member.family}{rounds} on all {len(y):,} rows ({i + 1}/{len(fitted.members)})"
        )
        learner = make_learner(
            member.family, task=task, n_classes=n_classes, seed=seed, n_jobs=jobs, **params
        )
        learner.fit(features[learner.variant], y)
        learners.append(learner)
    seconds = time.monotonic() - started
    del features
    refit_model = FittedModel(
        task,
        classes,
        preprocessor,
        [
            Member(m.family, m.weight, lrn.get_params(), [lrn], "refit")
            for m, lrn in zip(fitted.members, learners, strict=True)
        ],
        fitted.metric,
        temperature=fitted.temperature,
        floor_rows=len(y) if fitted.floor_rows else 0,  # as many rows as this refit learnt from
    )
    limits = Limits.from_config(settings)
    say("timing a single-row prediction")
    latency = _latency(refit_model, X, seed, limits)
    over = limits.excess(latency.get("latency_ms"), latency.get("batch_ms_per_1k"), None)
    if over > 0:
        raise LimitError(
            f"{source.ref} refit on these rows breaks its deployment limits "
            f"({limits.describe()}): it takes {measured_text(latency)}; nothing was saved",
            hint="run a full retrain (without --refit-only) to choose a model that keeps to "
            "them, or give other limits (--max-latency-ms, --max-batch-ms-per-1k)",
            **latency,
        )

    say("saving the model artifact")
    with project.new_artifact("model", seed=seed) as writer:
        writer.max_bytes = limits.max_bytes  # over it, nothing is committed (exit 5)
        writer.add_input(info.path, info.sha256, info.size, rows=info.rows, format=info.format)
        writer.add_parent(prep_art)
        writer.add_parent(profile_art)
        writer.add_parent(source)
        for name, value in settings.items():
            writer.set_config(name, value.value, value.source)
        members = []
        for i, (member, learner, saved) in enumerate(
            zip(fitted.members, learners, spec["members"], strict=True)
        ):
            rel = f"members/{i}/0"
            learner.save(writer.dir_path(rel))
            members.append(
                {
                    "family": member.family,
                    "variant": learner.variant,
                    "weight": member.weight,
                    "trial": saved.get("trial", -1),  # the source search's trial, for lineage
                    "fit": "refit",
                    "params": learner.get_params(),
                    "paths": [rel],
                }
            )
        writer.write_json(
            MODEL_FILE,
            model_spec(
                task,
                classes,
                fitted.metric,
                members,
                refit_model.temperature,
                refit_model.floor_rows,
            ),
        )
        shutil.copyfile(prep_art.file(PREPROCESSOR_FILE), writer.file_path(PREPROCESSOR_FILE))
        writer.summary.update(
            {
                "data_sha256": info.sha256,
                "target": preprocessor.target,
                "task": task,
                "refit_of": source.ref,
            }
        )
        writer.metrics.update(
            {
                "metric": fitted.metric,
                "refit_only": True,
                "rows_used": len(y),
                "rows_without_target": dropped_rows,
                "refit_s": round(seconds, 3),
                **latency,
            }
        )
    assert writer.result is not None
    return writer.result, seconds


def _latency(model: FittedModel, X: pd.DataFrame, seed: int, limits: Limits) -> dict[str, Any]:
    """The single-row latency through ``automl predict``'s own path, which search records
    for every model it saves (``metrics.latency_ms``): a refit grown on more rows may be
    slower than its source, and this is where that shows. Under a latency or batch limit
    it is timed as search times its chosen model (more calls; 1,000-row batches too)."""
    from automl_cli.core.latency import sample_rows

    rows = sample_rows(X, min(len(X), TIMING_ROWS), seed)
    return dict(time_model(model, rows, limits, 2.0 if limits.timed else 0.5).metrics())
