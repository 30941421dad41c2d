"""``automl evaluate``: how good a model is, how sure that figure is, where it fails, whether it
is fair, and why it decides as it does; written as an ``evaluation`` artifact.

With a labelled table the model scores those rows (the schema is enforced as for prediction).
Without one, the search's out-of-fold predictions are evaluated: every training row predicted
by a model that never saw it, the same figures the search chose by. Quality gates
(``--fail-under``) are checked after the artifact is written, so a failing CI job still leaves
the report to read, then the step exits 5.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli import __version__
from automl_cli.errors import DataError, QualityGateError, UsageError
from automl_cli.steps._common import config_doc, noop, open_step, threads_setting
from automl_cli.store import Artifact, Project

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from automl_cli.core.metrics import Metric
    from automl_cli.steps.search import FittedModel

__all__ = ["parse_gates", "run_evaluate_step"]

DEFAULTS: dict[str, Any] = {
    "model": None,  # model@champion once one is promoted, else model@latest
    "jobs": None,  # prediction threads (default 2), whatever the fit had: AUTOML_JOBS
    "group": [],
    "fail_under": [],
    "compare": None,
    "bootstrap": 200,
    "seed": 0,
}
PD_COLUMNS = 3  # partial dependence for this many of the most important columns
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"


def parse_gates(specs: list[str]) -> list[tuple[str, float]]:
    """``["auc=0.85", "f1=0.6"]`` → ``[("auc", 0.85), ("f1", 0.6)]``; refuses anything else."""
    gates = []
    for spec in specs:
        for part in str(spec).split(","):
            text = part.strip()
            if not text:
                continue
            name, sep, value = text.partition("=")
            try:
                if not sep or not name.strip():
                    raise ValueError
                gates.append((name.strip().lower().replace("-", "_"), float(value)))
            except ValueError:
                raise UsageError(
                    f"--fail-under {text!r} is not METRIC=VALUE",
                    hint="for example --fail-under auc=0.85 (repeat it for several metrics)",
                ) from None
    return gates


def run_evaluate_step(
    project_dir: Path,
    data: str | None,
    *,
    model: str | None = None,
    groups: list[str] | None = None,
    fail_under: list[str] | None = None,
    compare: str | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    lock_timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate a model on a labelled table (or its out-of-fold predictions); write the artifact."""
    from automl_cli.core.metrics import get_metric
    from automl_cli.core.schema import SchemaReport
    from automl_cli.steps.search import load_model

    say = progress or noop
    project, config = open_step(
        project_dir,
        "evaluate",
        {
            "model": model,
            "group": groups or None,
            "fail_under": fail_under or None,
            "compare": compare,
            "bootstrap": bootstrap,
            "seed": seed,
            "lock_timeout": lock_timeout,
        },
        DEFAULTS,
    )
    gates = parse_gates(list(config["fail_under"].value or []))
    group_cols = [g.strip() for g in config["group"].value or [] for g in str(g).split(",")]
    group_cols = [g for g in group_cols if g]
    resamples = int(config["bootstrap"].value)
    if resamples < 0:
        raise UsageError("--bootstrap must be 0 or more")
    seed_value = int(config["seed"].value)
    jobs = threads_setting(config["jobs"].value)

    from automl_cli.steps.runs import default_model_ref

    model_ref = str(config["model"].value or default_model_ref(project))
    model_art = project.load(model_ref, default_kind="model")
    if data is None:
        _require_oof(model_art)
    say(f"loading {model_art.ref}")
    fitted = load_model(project_dir, model_art.ref, n_jobs=jobs)
    task, classes = fitted.task, fitted.classes_
    metric = get_metric(fitted.metric, task)
    for name, _ in gates:
        get_metric(name, task)  # an unknown metric or one of another task is a usage error
    target = str(model_art.manifest.get("summary", {}).get("target", ""))
    n_classes = 0 if classes is None else len(classes)

    other_art = other = None
    if config["compare"].value:
        other_art = project.load(str(config["compare"].value), default_kind="model")
        if data is None:
            _require_oof(other_art)
        other = load_model(project_dir, other_art.ref, n_jobs=jobs)
        if other.task != task or other.classes_ != classes:
            raise UsageError(
                f"{other_art.ref} is a {other.task} model of other classes than {model_art.ref}",
                hint="compare models that predict the same target",
            )

    info = None
    explanations: dict[str, Any]
    schema_messages: list[str] = []
    if data is not None:
        from automl_cli.core.io import read_table

        say(f"reading {data}")
        frame, info = read_table(data)
        X, y, dropped = _labelled_rows(frame, target, info.path, task, classes)
        group_frame: pd.DataFrame | None = _group_columns(frame.loc[X.index], group_cols, info.path)
        del frame
        say(f"scoring {len(y):,} rows")
        report = SchemaReport()  # what enforcement did, filled while scoring
        output = fitted.predict_output(X, report, where=info.path)
        schema_messages = report.messages()
        other_output = None if other is None else other.predict_output(X)
        say("explaining: permutation importance and partial dependence")
        explanations = _explain(fitted, X, y, metric, n_classes, seed_value)
        data_doc: dict[str, Any] = {
            "kind": "table",
            "path": info.path,
            "sha256": info.sha256,
            "rows": len(y),
            "rows_without_target": dropped,
        }
    else:
        say("no table given: evaluating the search's out-of-fold predictions")
        y, output = _oof(model_art, task, n_classes)
        other_output = None
        if other_art is not None:
            if other_art.manifest.get("summary", {}).get("data_sha256") != model_art.manifest.get(
                "summary", {}
            ).get("data_sha256"):
                raise UsageError(
                    f"{model_art.ref} and {other_art.ref} were searched on different tables, "
                    "so their out-of-fold predictions cover different rows",
                    hint="pass a labelled table to compare both on the same rows",
                )
            y_other, other_output = _oof(other_art, task, n_classes)
            if len(y_other) != len(y):
                raise UsageError(
                    "the two models' out-of-fold predictions cover different rows",
                    hint="pass a labelled table to compare both on the same rows",
                )
        group_frame = (
            _training_groups(model_art, group_cols, target, len(y)) if group_cols else None
        )
        explanations = {
            "note": "Permutation importance and partial dependence need rows to shuffle: pass "
            "a labelled table (ideally rows the search did not see) to see them.",
            "model_importances": _model_importances(fitted),
        }
        data_doc = {"kind": "oof", "rows": len(y)}

    doc = _evaluate(task, classes, metric, y, output, resamples=resamples, seed=seed_value)
    doc |= {
        "model": model_art.ref,
        "target": target,
        "data": data_doc,
        "schema_messages": schema_messages,
        "explanations": explanations,
        "seed": seed_value,
        "bootstrap_resamples": resamples,
        "automl_version": __version__,
    }
    if group_frame is not None and len(group_frame.columns):
        from automl_cli.core.fairness import fairness_report

        doc["fairness"] = fairness_report(
            group_frame.reset_index(drop=True), y, output, task, classes, metric
        )
    if other is not None and other_output is not None and other_art is not None:
        doc["comparison"] = _comparison(
            metric, y, output, other_output, n_classes, other_art.ref, resamples, seed_value
        )
    doc["gates"] = _check_gates(gates, doc["metrics"], task)
    doc["passed"] = all(g["passed"] for g in doc["gates"])

    import numpy as np

    from automl_cli.core.eval_report import render_evaluation_html
    from automl_cli.core.plots import evaluation_plots

    say("drawing the figures")
    plots = evaluation_plots(doc, {"y": np.asarray(y, dtype=float), "output": output})
    html = render_evaluation_html(doc, plots)
    art = _write(project, config, doc, plots, html, model_art, other_art, info, seed_value)
    result = _result(doc, art, config_doc(config))
    failed = [g for g in doc["gates"] if not g["passed"]]
    if failed:
        say(doc["summary"])
        raise QualityGateError(
            "quality gate failed: "
            + "; ".join(f"{g['metric']} {_fmt(g['value'])} {g['broken']}" for g in failed),
            hint=f"the evaluation was saved as {art.ref}; its report.html shows where the "
            "model falls short",
            **result,
        )
    return result


# -- the rows ---------------------------------------------------------------------------------


def _labelled_rows(
    frame: pd.DataFrame, target: str, path: str, task: str, classes: list[Any] | None
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Features, encoded target and how many rows had no target; refuses unknown classes."""
    from automl_cli.core.schema import coerce_numeric
    from automl_cli.steps.prep import rows_with_target

    if target not in frame.columns:
        raise DataError(
            f"{path} has no column '{target}', the target the model predicts",
            hint="evaluate needs labelled rows; without a table it reports the cross-validated "
            "figures of the search",
        )
    X, y_raw, dropped = rows_with_target(frame, target, path)
    if task == "regression":
        return X, coerce_numeric(y_raw, target, path).to_numpy(dtype="float64"), dropped
    assert classes is not None
    keys = y_raw.astype("string").str.strip()
    lookup = {str(c): i for i, c in enumerate(classes)}
    unknown = sorted(set(keys.dropna().unique()) - set(lookup))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise DataError(
            f"the target '{target}' in {path} has {len(unknown)} class(es) the model never saw: "
            f"{shown}{' …' if len(unknown) > 5 else ''}",
            hint=f"the model knows: {', '.join(map(str, classes[:10]))}",
        )
    return X, keys.map(lookup).to_numpy(dtype="int64"), dropped


def _group_columns(frame: pd.DataFrame, names: list[str], path: str) -> pd.DataFrame:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(
            f"{path} has no column {', '.join(repr(m) for m in missing)} to group by",
            hint=f"--group takes column names of the table, e.g. {', '.join(frame.columns[:5])}",
        )
    return frame[names]


def _require_oof(art: Artifact) -> None:
    """Without a table only out-of-fold predictions can be scored; a refit-only model has
    none (it was fitted once on all its rows, nothing was cross-validated), and scoring it
    on its own training rows would flatter it."""
    if art.manifest.get("metrics", {}).get("refit_only"):
        raise UsageError(
            f"{art.ref} was refit without cross-validation: pass a labelled table",
            hint=f"automl evaluate DATA --model {art.ref}, with rows it was not trained on "
            "(e.g. retrain's holdout part in PROJECT/splits/)",
        )


def _oof(art: Artifact, task: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The target and the model's out-of-fold output, as saved by the search."""
    import numpy as np
    import pandas as pd

    oof = pd.read_parquet(art.file("oof.parquet"))
    if "target" not in oof.columns:
        raise UsageError(
            f"{art.ref} was saved without its out-of-fold predictions of the whole model",
            hint="pass a labelled table to evaluate it, or search again to get a model that has "
            "them",
        )
    output: np.ndarray
    if task == "regression":
        output = oof["model"].to_numpy(dtype="float64")
        keep = np.isfinite(output)
    else:
        output = oof[[f"model_class_{j}" for j in range(n_classes)]].to_numpy(dtype="float64")
        keep = np.isfinite(output).all(axis=1)
    y = oof["target"].to_numpy()
    y = y.astype("float64") if task == "regression" else y.astype("int64")
    # a big table is validated on one holdout split: only those rows have a prediction
    return y[keep], output[keep]


def _training_groups(art: Artifact, names: list[str], target: str, rows: int) -> pd.DataFrame:
    """The ``--group`` columns of the rows the search used, read from its (unchanged) table."""
    from automl_cli.core.io import read_table
    from automl_cli.steps.prep import rows_with_target

    source = next((i for i in art.manifest.get("inputs", []) if i.get("role") == "data"), None)
    where = str(source["path"]) if source else "its recorded path"
    unavailable = DataError(
        f"--group without a table needs the table {art.ref} was searched on, unchanged, at {where}",
        hint="pass the labelled table to evaluate: automl evaluate DATA --group COLUMN",
    )
    if source is None or not Path(where).is_file():
        raise unavailable
    frame, info = read_table(where)
    if info.sha256 != source.get("sha256"):
        raise unavailable
    X, _, _ = rows_with_target(frame, target, info.path)
    groups = _group_columns(frame.loc[X.index], names, info.path)
    if len(groups) != rows:
        raise DataError(f"{info.path} no longer matches the rows {art.ref} was searched on")
    return groups


# -- the figures ------------------------------------------------------------------------------


def _evaluate(
    task: str,
    classes: list[Any] | None,
    metric: Metric,
    y: np.ndarray,
    output: np.ndarray,
    *,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    from automl_cli.core.evaluation import (
        classification_details,
        metric_table,
        regression_details,
    )

    n_classes = 0 if classes is None else len(classes)
    if len(y) == 0:
        raise DataError("no labelled rows to evaluate")
    metrics = metric_table(task, y, output, n_classes, resamples=resamples, seed=seed)
    if task == "regression":
        details = regression_details(y, output)
    else:
        assert classes is not None
        details = classification_details(y, output, [str(c) for c in classes], metric)
    head = metrics[metric.name]
    interval = (
        f" (95 % interval {_fmt(head['ci_low'])}–{_fmt(head['ci_high'])})"
        if head["ci_low"] is not None
        else ""
    )
    summary = (
        f"On {len(y):,} rows the model's {metric.name} is {_fmt(head['value'])}{interval}; a "
        f"baseline that ignores the features gets {_fmt(head['baseline'])}."
    )
    return {
        "task": task,
        "classes": classes,
        "headline_metric": metric.name,
        "metrics": metrics,
        "details": details,
        "summary": summary,
    }


def _explain(
    fitted: FittedModel,
    X: pd.DataFrame,
    y: np.ndarray,
    metric: Metric,
    n_classes: int,
    seed: int,
) -> dict[str, Any]:
    from automl_cli.core.explain import MAX_ROWS, partial_dependence, permutation_importance

    columns = [c for c in fitted.preprocessor.feature_columns_ if c in X.columns]
    perm = permutation_importance(
        fitted.predict_output, X, y, metric, n_classes, columns=columns, seed=seed
    )
    top = [r["column"] for r in perm if r["importance"] > 0][:PD_COLUMNS]
    pds = [
        pd_
        for col in top
        if (pd_ := partial_dependence(fitted.predict_output, X, col, fitted.task, _names(fitted)))
        is not None
    ]
    return {
        "rows": min(len(X), MAX_ROWS),
        "permutation_importance": perm,
        "model_importances": _model_importances(fitted),
        "partial_dependence": pds,
    }


def _names(fitted: FittedModel) -> list[str] | None:
    return None if fitted.classes_ is None else [str(c) for c in fitted.classes_]


def _model_importances(fitted: FittedModel) -> list[dict[str, Any]]:
    """Tree members' own importances, each normalised to shares, weighted by member weight."""
    total: dict[str, float] = {}
    weight_seen = 0.0
    for member in fitted.members:
        per_learner = [lrn.feature_importances() for lrn in member.learners]
        found = [p for p in per_learner if p]
        if not found:
            continue
        weight_seen += member.weight
        for imp in found:
            s = sum(imp.values()) or 1.0
            for name, value in imp.items():
                total[name] = total.get(name, 0.0) + member.weight * value / s / len(found)
    if not total:
        return []
    rows = [
        {"feature": k, "share": v / weight_seen}
        for k, v in sorted(total.items(), key=lambda kv: -kv[1])
    ]
    return rows


def _comparison(
    metric: Metric,
    y: np.ndarray,
    output: np.ndarray,
    other_output: np.ndarray,
    n_classes: int,
    other_ref: str,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    from automl_cli.core.evaluation import compare_outputs

    c = compare_outputs(metric, y, output, other_output, n_classes, resamples=resamples, seed=seed)
    if c["better"] == "tie":
        verdict = f"Both models have the same {metric.name} on these rows."
    else:
        winner = "this model" if c["better"] == "model" else other_ref
        sure = (
            "the difference is beyond the 95 % bootstrap interval, so it is unlikely to be chance"
            if c["beyond_interval"]
            else "but the 95 % bootstrap interval of the difference includes 0, so these rows "
            "cannot tell the two apart"
        )
        verdict = f"{winner} is better on {metric.name} by {_fmt(abs(c['difference']))}; {sure}."
    return {**c, "other_model": other_ref, "verdict": verdict}


def _check_gates(
    gates: list[tuple[str, float]], metrics: dict[str, dict[str, Any]], task: str
) -> list[dict[str, Any]]:
    """A gate passes when the metric is at least (higher-is-better) or at most (lower) VALUE."""
    from automl_cli.core.metrics import get_metric

    out = []
    for name, threshold in gates:
        m = get_metric(name, task)
        value = metrics[m.name]["value"]
        if m.greater_is_better:
            passed = value is not None and value >= threshold
            rule, broken = f"≥ {threshold:g}", f"is below {threshold:g}"
        else:
            passed = value is not None and value <= threshold
            rule, broken = f"≤ {threshold:g}", f"is above {threshold:g}"
        out.append(
            {
                "metric": m.name,
                "threshold": threshold,
                "rule": rule,
                "value": value,
                "passed": passed,
                "broken": broken,
            }
        )
    return out


# -- writing ----------------------------------------------------------------------------------


def _write(
    project: Project,
    config: dict[str, Any],
    doc: dict[str, Any],
    plots: dict[str, bytes],
    html: str,
    model_art: Artifact,
    other_art: Artifact | None,
    info: Any,
    seed: int,
) -> Artifact:
    with project.new_artifact("evaluation", seed=seed) as writer:
        if info is not None:
            writer.add_input(info.path, info.sha256, info.size, rows=info.rows, format=info.format)
        writer.add_parent(model_art)
        if other_art is not None:
            writer.add_parent(other_art)
        for name, value in config.items():
            writer.set_config(name, value.value, value.source)
        writer.write_json(METRICS_FILE, _jsonable(doc))
        for name, png in plots.items():
            writer.write_bytes(f"plots/{name}", png)
        writer.write_text(REPORT_FILE, html)
        writer.summary.update(
            {
                "model": model_art.ref,
                "target": doc["target"],
                "task": doc["task"],
                "data": doc["data"]["kind"],
                "data_sha256": doc["data"].get("sha256"),
            }
        )
        head = doc["headline_metric"]
        value = doc["metrics"][head]["value"]
        writer.metrics.update(
            {
                "metric": head,
                head: None if value is None else round(float(value), 6),
                "rows": doc["data"]["rows"],
                "gates_passed": doc["passed"],
            }
        )
    assert writer.result is not None
    return writer.result


def _result(doc: dict[str, Any], art: Artifact, config: dict[str, Any]) -> dict[str, Any]:
    """What the CLI prints: the headline figures, gates, warnings and where the report is."""
    return {
        "command": "evaluate",
        "artifact": art.ref,
        "path": str(art.path),
        "report": str(art.path / REPORT_FILE),
        "model": doc["model"],
        "data": doc["data"],
        "task": doc["task"],
        "headline_metric": doc["headline_metric"],
        "summary": doc["summary"],
        "metrics": {
            k: {kk: v[kk] for kk in ("value", "ci_low", "ci_high", "baseline")}
            for k, v in doc["metrics"].items()
        },
        "gates": [{k: g[k] for k in ("metric", "rule", "value", "passed")} for g in doc["gates"]],
        "passed": doc["passed"],
        "comparison": doc.get("comparison"),
        "fairness": [
            {"column": f["column"], "gaps": f["gaps"], "warnings": f["warnings"]}
            for f in doc.get("fairness") or []
        ],
        "top_columns": [
            r["column"] for r in (doc["explanations"].get("permutation_importance") or [])[:5]
        ],
        "schema_messages": doc["schema_messages"],
        "config": config,
    }


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values (json.dumps with allow_nan=False)."""
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.4g}"
