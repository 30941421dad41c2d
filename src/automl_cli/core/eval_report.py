"""Render an evaluation (``metrics.json`` + its PNG figures) as one self-contained HTML page.

Like the profile report it opens anywhere, offline: the figures are embedded as ``data:``
URIs, there is no script, font or stylesheet from elsewhere, and every value that comes from
user data (column names, group labels, class names) is escaped.
"""

from __future__ import annotations

import base64
from typing import Any

from automl_cli.core.report import _CSS, _e

__all__ = ["render_evaluation_html"]

_EXTRA_CSS = """
.figs{margin-top:14px;display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:14px}
.figs figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:10px;padding:8px}
.figs img{max-width:100%;height:auto;display:block}
.figs figcaption{color:var(--muted);font-size:.8rem;margin-top:4px}
.pass{color:#217a43;font-weight:600}.fail{color:#c0362c;font-weight:600}
.lead{font-size:1.05rem;background:#fff;border:1px solid var(--line);border-radius:10px;
 padding:12px 16px}
td.small{color:#b7770a}
"""

CAPTIONS = {
    "confusion.png": "Rows by actual (down) and predicted (across) class; colour: share of "
    "the actual class.",
    "roc.png": "How well the scores separate the classes; the dashed line is guessing.",
    "precision_recall.png": "Precision against recall as the threshold moves.",
    "calibration.png": "Do predicted probabilities match observed rates? Close to the "
    "dashed line is good.",
    "residuals.png": "Errors against the predicted value; a pattern means systematic error.",
    "predicted_vs_actual.png": "Each row's prediction against its true value.",
    "error_by_decile.png": "Where in the target's range the model errs most.",
    "permutation_importance.png": "How much worse the model gets when a column is shuffled.",
}


def render_evaluation_html(doc: dict[str, Any], plots: dict[str, bytes]) -> str:
    """The whole page for the evaluation ``doc`` with ``plots`` (file name → PNG bytes)."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>automl evaluation · {_e(doc['model'])}</title>",
        f"<style>{_CSS}{_EXTRA_CSS}</style></head><body><main>",
        f"<h1>Evaluation of {_e(doc['model'])}</h1>",
        f"<p class='sub'>{_e(_source(doc))}</p>",
        f"<p class='lead'>{_e(doc['summary'])}</p>",
        _gates(doc),
        _comparison(doc),
        _schema(doc),
        _metrics(doc),
        _figures(plots, [n for n in plots if not n.startswith(("permutation", "partial"))]),
        _details(doc),
        _explanations(doc, plots),
        _fairness(doc),
        f"<footer>automl {_e(doc.get('automl_version', ''))} · seed {_e(doc.get('seed'))} · "
        f"{_e(doc.get('bootstrap_resamples'))} bootstrap resamples for the intervals</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _source(doc: dict[str, Any]) -> str:
    data = doc["data"]
    if data["kind"] == "oof":
        return (
            f"Cross-validated: out-of-fold predictions of the search on {data['rows']:,} "
            "training rows (no separate table was given)."
        )
    extra = (
        f"; {data['rows_without_target']} rows without a target left out"
        if data.get("rows_without_target")
        else ""
    )
    return f"Table {data['path']} (sha256 {data['sha256'][:12]}…), {data['rows']:,} rows{extra}."


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _gates(doc: dict[str, Any]) -> str:
    gates = doc.get("gates") or []
    if not gates:
        return ""
    rows = "".join(
        f"<tr><td>{_e(g['metric'])}</td><td>{_e(g['rule'])}</td><td class='n'>"
        f"{_fmt(g['value'])}</td><td class='{'pass' if g['passed'] else 'fail'}'>"
        f"{'pass' if g['passed'] else 'FAIL'}</td></tr>"
        for g in gates
    )
    return (
        "<h2>Quality gates</h2><div class='panel'><table><tr><th>metric</th><th>rule</th>"
        f"<th>value</th><th>result</th></tr>{rows}</table></div>"
    )


def _comparison(doc: dict[str, Any]) -> str:
    c = doc.get("comparison")
    if not c:
        return ""
    return (
        f"<h2>Comparison with {_e(c['other_model'])}</h2><div class='panel'>"
        f"<p>{_e(c['verdict'])}</p><table><tr><th>metric</th><th>this model</th><th>other</th>"
        f"<th>difference</th><th>95 % interval of the difference</th></tr><tr>"
        f"<td>{_e(c['metric'])}</td><td class='n'>{_fmt(c['model'])}</td><td class='n'>"
        f"{_fmt(c['other'])}</td><td class='n'>{_fmt(c['difference'])}</td><td class='n'>"
        f"{_fmt(c['ci_low'])} … {_fmt(c['ci_high'])}</td></tr></table></div>"
    )


def _schema(doc: dict[str, Any]) -> str:
    notes = doc.get("schema_messages") or []
    if not notes:
        return ""
    items = "".join(f"<li class='warn medium'>{_e(n)}</li>" for n in notes)
    return f"<h2>Input notes</h2><ul class='warnings'>{items}</ul>"


def _metrics(doc: dict[str, Any]) -> str:
    rows = []
    for name, m in doc["metrics"].items():
        head = " <strong>(headline)</strong>" if name == doc["headline_metric"] else ""
        direction = "higher is better" if m["greater_is_better"] else "lower is better"
        rows.append(
            f"<tr><td>{_e(name)}{head}<br><small>{_e(m['description'])}</small></td>"
            f"<td class='n'>{_fmt(m['value'])}</td><td class='n'>{_fmt(m['ci_low'])} … "
            f"{_fmt(m['ci_high'])}</td><td class='n'>{_fmt(m['baseline'])}</td>"
            f"<td>{direction}</td></tr>"
        )
    baseline = (
        "predicts the mean of the target"
        if doc["task"] == "regression"
        else "predicts each class at its share of the rows"
    )
    return (
        "<h2>Metrics</h2><div class='panel'><table><tr><th>metric</th><th>value</th>"
        "<th>95 % interval</th><th>baseline</th><th></th></tr>"
        + "".join(rows)
        + f"</table><p class='meta'>The baseline ignores the features and {baseline}; the "
        "interval is how far the figure could move on another sample of this size.</p></div>"
    )


def _figures(plots: dict[str, bytes], names: list[str]) -> str:
    if not names:
        return ""
    items = []
    for name in names:
        data = base64.b64encode(plots[name]).decode("ascii")
        caption = CAPTIONS.get(name, name.removesuffix(".png").replace("_", " "))
        items.append(
            f"<figure><img src='data:image/png;base64,{data}' alt='{_e(name)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    return "<div class='figs'>" + "".join(items) + "</div>"


def _details(doc: dict[str, Any]) -> str:
    d = doc.get("details") or {}
    out = []
    if "threshold" in d:
        t = d["threshold"]
        out.append(
            f"<p>Threshold: predicting the positive class when its probability is at least "
            f"<strong>{t['threshold']}</strong> gives the best {_e(t['metric'])} on these rows "
            f"({_fmt(t['value'])}; at 0.5 it is {_fmt(t['value_at_0_5'])}). Choose it on rows "
            "you did not report on, or it flatters the model.</p>"
        )
    if "brier" in d:
        out.append(f"<p>Brier score (lower is better): {_fmt(d['brier'])}.</p>")
    if d.get("by_target_decile"):
        rows = "".join(
            f"<tr><td>{_fmt(r['from'])} … {_fmt(r['to'])}</td><td class='n'>{r['rows']}</td>"
            f"<td class='n'>{_fmt(r['mae'])}</td><td class='n'>{_fmt(r['rmse'])}</td>"
            f"<td class='n'>{_fmt(r['bias'])}</td></tr>"
            for r in d["by_target_decile"]
        )
        out.append(
            "<table><tr><th>actual value</th><th>rows</th><th>MAE</th><th>RMSE</th>"
            f"<th>mean error</th></tr>{rows}</table>"
        )
    if not out:
        return ""
    return "<h2>Details</h2><div class='panel'>" + "".join(out) + "</div>"


def _explanations(doc: dict[str, Any], plots: dict[str, bytes]) -> str:
    ex = doc.get("explanations") or {}
    out = ["<h2>What the model relies on</h2>"]
    if ex.get("note"):
        out.append(f"<p class='meta'>{_e(ex['note'])}</p>")
    perm = ex.get("permutation_importance") or []
    if perm:
        rows = "".join(
            f"<tr><td>{_e(r['column'])}</td><td class='n'>{_fmt(r['importance'])}</td>"
            f"<td class='n'>{_fmt(r['ci_low'])} … {_fmt(r['ci_high'])}</td></tr>"
            for r in perm[:25]
        )
        out.append(
            f"<div class='panel'><p>Permutation importance on {ex.get('rows', 0):,} rows: the "
            f"loss in {_e(doc['headline_metric'])} when a column's values are shuffled. An "
            "interval that holds 0 means the model does not measurably use the column.</p>"
            "<table><tr><th>column</th><th>importance</th><th>95 % interval</th></tr>"
            f"{rows}</table></div>"
        )
    own = ex.get("model_importances") or []
    if own:
        rows = "".join(
            f"<tr><td>{_e(r['feature'])}</td><td class='n'>{_fmt(r['share'])}</td></tr>"
            for r in own[:20]
        )
        out.append(
            "<div class='panel'><p>The tree models' own importances (share of split gain, "
            "weighted by ensemble weight), per feature as the models see them.</p>"
            f"<table><tr><th>feature</th><th>share</th></tr>{rows}</table></div>"
        )
    names = [n for n in plots if n.startswith(("permutation", "partial"))]
    out.append(_figures(plots, names))
    return "".join(out) if len(out) > 1 else ""


def _fairness(doc: dict[str, Any]) -> str:
    sections = doc.get("fairness") or []
    if not sections:
        return ""
    out = ["<h2>Fairness</h2>"]
    for sec in sections:
        out.append(f"<h3>By {_e(sec['column'])}</h3>")
        if sec["warnings"]:
            out.append(
                "<ul class='warnings'>"
                + "".join(f"<li class='warn high'>{_e(w)}</li>" for w in sec["warnings"])
                + "</ul>"
            )
        else:
            out.append("<p class='ok'>No large gap between the groups that can be judged.</p>")
        if sec["gaps"]:
            out.append(
                "<p>"
                + "; ".join(f"{_e(k.replace('_', ' '))}: {_fmt(v)}" for k, v in sec["gaps"].items())
                + "</p>"
            )
        out.append(_group_table(sec, doc))
    return "".join(out)


def _group_table(sec: dict[str, Any], doc: dict[str, Any]) -> str:
    metric = doc["headline_metric"]
    regression = doc["task"] == "regression"
    head = ["group", "rows", metric] + (
        ["MAE", "mean error"] if regression else ["accuracy", "selection rate", "TPR", "FPR"]
    )
    rows = []
    for g in sec["groups"]:
        cells = [_e(g["group"]) + (" <em>(too small to judge)</em>" if g["too_small"] else "")]
        cells += [str(g["rows"]), _fmt(g.get(metric))]
        if regression:
            cells += [_fmt(g["mae"]), _fmt(g["mean_error"])]
        else:
            cells += [
                _fmt(g["accuracy"]),
                _rates(g["selection_rate"]),
                _rates(g["tpr"]),
                _rates(g["fpr"]),
            ]
        cls = " class='small'" if g["too_small"] else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        "<div class='panel'><table><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table></div>"
    )


def _rates(values: dict[str, Any]) -> str:
    if len(values) == 1:
        return _fmt(next(iter(values.values())), 3)
    return ", ".join(f"{_e(k)}: {_fmt(v, 3)}" for k, v in values.items())
