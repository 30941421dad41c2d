"""Is the model fair to the groups it affects: per-group metrics, rates and their gaps.

For classification, a group's *selection rate* is the share of its rows predicted positive
(binary: the second class, or the class given), its *TPR*/*FPR* the rates among rows that are /
are not positive. Demographic-parity difference is the largest gap in selection rate between
groups; the equalised-odds differences are the largest gaps in TPR and in FPR (the definitions
of Fairlearn and of Hardt et al., 2016). For multiclass, each class is taken in turn as the
positive one and the largest gap is reported. For regression, the gaps are in mean absolute
error and in mean error (bias).

Groups with too few rows are shown and flagged, never dropped silently, and left out of the
gaps: a rate from 12 rows moves by 8 points with one row, so its gap would be noise. For the
same reason a TPR or FPR over fewer than ``MIN_CLASS_ROWS`` rows is left out (binary: the
group is then too small to judge; multiclass: only that class's rate is left out, since a
class absent from a group is common, e.g. a species that lives on one island only).
"""

from __future__ import annotations

from typing import Any
from warnings import catch_warnings, simplefilter

import numpy as np
import pandas as pd

from automl_cli.core.metrics import Metric

__all__ = ["LARGE_GAP", "MIN_GROUP_ROWS", "fairness_report"]

MIN_GROUP_ROWS = 30  # fewer rows than this: too small to judge
MIN_CLASS_ROWS = 5  # ... or fewer positives / negatives than this for TPR / FPR
LARGE_GAP = 0.10  # a rate gap above 10 points gets a plain-words warning
LARGE_ERROR_RATIO = 1.25  # regression: one group's MAE 25 % above another's
MISSING = "(missing)"


def fairness_report(
    groups: pd.DataFrame,
    y: np.ndarray,
    output: np.ndarray,
    task: str,
    classes: list[str] | None,
    metric: Metric,
    *,
    threshold: float = 0.5,
) -> list[dict[str, Any]]:
    """One entry per column of ``groups``: rows per group, metrics, gaps, warnings."""
    return [
        _one_column(str(col), groups[col], y, output, task, classes, metric, threshold)
        for col in groups.columns
    ]


def _labels(values: pd.Series) -> np.ndarray:
    """Group labels as prep reads categories: spaces trimmed and case variants merged (shown
    in their most frequent spelling), so ``"Basic "`` and ``"basic"`` are one group."""
    text = values.astype("string").str.strip()
    key = text.str.casefold()
    spelling = (
        pd.DataFrame({"key": key, "text": text})
        .dropna()
        .groupby("key")["text"]
        .agg(lambda s: s.value_counts().index[0])
    )
    return key.map(spelling).fillna(MISSING).to_numpy(dtype=object)


def _one_column(
    name: str,
    values: pd.Series,
    y: np.ndarray,
    output: np.ndarray,
    task: str,
    classes: list[str] | None,
    metric: Metric,
    threshold: float,
) -> dict[str, Any]:
    labels = _labels(values)
    levels = sorted(set(labels), key=lambda v: (-(labels == v).sum(), str(v)))
    n_classes = 0 if classes is None else len(classes)
    if task == "binary":
        predicted = (output[:, 1] >= threshold).astype(int)
    elif task == "multiclass":
        predicted = output.argmax(axis=1)
    else:
        predicted = np.asarray(output, dtype=float)
    rows = []
    for level in levels:
        mask = labels == level
        yg, og, pg = y[mask], output[mask], predicted[mask]
        entry: dict[str, Any] = {"group": str(level), "rows": int(mask.sum())}
        try:
            with catch_warnings():  # a group with one class has no AUC: None
                simplefilter("ignore")
                entry[metric.name] = _float(metric.score(yg, og, n_classes))
        except ValueError:
            entry[metric.name] = None
        small = entry["rows"] < MIN_GROUP_ROWS
        if task == "regression":
            err = pg - yg
            entry["mae"] = float(np.mean(np.abs(err)))
            entry["mean_error"] = float(np.mean(err))
        else:
            entry["accuracy"] = float(np.mean(pg == yg.astype(int)))
            entry["selection_rate"] = {}
            entry["tpr"], entry["fpr"] = {}, {}
            for j in _positive_classes(task, n_classes):
                key = str(classes[j]) if classes else str(j)
                pos, neg = yg.astype(int) == j, yg.astype(int) != j
                entry["selection_rate"][key] = float(np.mean(pg == j))
                # a rate over fewer than MIN_CLASS_ROWS rows is not shown as a figure to judge
                enough_pos, enough_neg = pos.sum() >= MIN_CLASS_ROWS, neg.sum() >= MIN_CLASS_ROWS
                entry["tpr"][key] = _float(np.mean(pg[pos] == j)) if enough_pos else None
                entry["fpr"][key] = _float(np.mean(pg[neg] == j)) if enough_neg else None
                if task == "binary":  # multiclass: a class absent from a group is common
                    small = small or not (enough_pos and enough_neg)
        entry["too_small"] = bool(small)
        rows.append(entry)
    judged = [r for r in rows if not r["too_small"]]
    gaps, warnings = _gaps(name, judged, task, classes, n_classes)
    small_groups = [r["group"] for r in rows if r["too_small"]]
    if small_groups:
        warnings.append(
            f"{len(small_groups)} group(s) of '{name}' are too small to judge "
            f"(under {MIN_GROUP_ROWS} rows"
            + (f", or under {MIN_CLASS_ROWS} rows of a class" if task == "binary" else "")
            + "): "
            f"{', '.join(small_groups[:8])}{' …' if len(small_groups) > 8 else ''}; "
            "their figures are shown but not compared"
        )
    if len(judged) < 2:
        warnings.append(
            f"fewer than two groups of '{name}' are large enough to compare; no gap is computed"
        )
    return {
        "column": name,
        "groups": rows,
        "gaps": gaps,
        "warnings": warnings,
        "threshold": threshold if task == "binary" else None,
    }


def _positive_classes(task: str, n_classes: int) -> list[int]:
    return [1] if task == "binary" else list(range(n_classes))


def _gaps(
    name: str,
    judged: list[dict[str, Any]],
    task: str,
    classes: list[str] | None,
    n_classes: int,
) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    if len(judged) < 2:
        return {}, warnings
    if task == "regression":
        maes = [r["mae"] for r in judged]
        bias = [r["mean_error"] for r in judged]
        gaps: dict[str, Any] = {
            "mae_difference": float(max(maes) - min(maes)),
            "mae_ratio": float(max(maes) / min(maes)) if min(maes) > 0 else None,
            "mean_error_difference": float(max(bias) - min(bias)),
        }
        worst = judged[int(np.argmax(maes))]["group"]
        best = judged[int(np.argmin(maes))]["group"]
        ratio = gaps["mae_ratio"]
        if ratio is not None and ratio > LARGE_ERROR_RATIO:
            warnings.append(
                f"errors differ between groups of '{name}': the typical error for '{worst}' is "
                f"{ratio:.2f}× that for '{best}'"
            )
        return gaps, warnings
    parity, tpr_gap, fpr_gap = 0.0, 0.0, 0.0
    for j in _positive_classes(task, n_classes):
        key = str(classes[j]) if classes else str(j)
        sel = [r["selection_rate"][key] for r in judged]
        tprs = [r["tpr"][key] for r in judged if r["tpr"][key] is not None]
        fprs = [r["fpr"][key] for r in judged if r["fpr"][key] is not None]
        parity = max(parity, max(sel) - min(sel))
        if len(tprs) > 1:
            tpr_gap = max(tpr_gap, max(tprs) - min(tprs))
        if len(fprs) > 1:
            fpr_gap = max(fpr_gap, max(fprs) - min(fprs))
    gaps = {
        "demographic_parity_difference": float(parity),
        "equalized_odds_tpr_difference": float(tpr_gap),
        "equalized_odds_fpr_difference": float(fpr_gap),
    }
    if parity > LARGE_GAP:
        warnings.append(
            f"the model selects groups of '{name}' at different rates: up to "
            f"{parity * 100:.0f} points apart (demographic parity difference {parity:.2f})"
        )
    if max(tpr_gap, fpr_gap) > LARGE_GAP:
        warnings.append(
            f"the model's mistakes fall unevenly on groups of '{name}': true-positive rates "
            f"differ by up to {tpr_gap * 100:.0f} points and false-positive rates by "
            f"{fpr_gap * 100:.0f} (equalised odds)"
        )
    return gaps, warnings


def _float(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None
