"""The evaluation's figures as PNG bytes (matplotlib, no screen needed).

Each function takes the plain data that :mod:`automl_cli.core.evaluation`, ``explain`` and
``fairness`` computed, so the figures show exactly the numbers in ``metrics.json``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

__all__ = ["evaluation_plots"]

WIDTH, HEIGHT, DPI = 5.6, 4.2, 100
BLUE, ORANGE, GREY = "#1f6fb4", "#d9822b", "#888888"


def _figure(width: float = WIDTH, height: float = HEIGHT) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI)
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    # no timestamp or software tag in the file: the same figure gives the same bytes
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def evaluation_plots(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """Every figure that applies to the evaluation ``doc``: file name → PNG bytes.

    ``arrays`` holds ``y`` and ``output`` for the plots that need every row (residuals).
    """
    task = doc["task"]
    details = doc.get("details", {})
    plots: dict[str, bytes] = {}
    if task in ("binary", "multiclass"):
        plots["confusion.png"] = confusion_png(details["confusion"], details["classes"])
        if task == "binary":
            plots["roc.png"] = roc_png({"": details["roc"]}, doc["metrics"]["auc"]["value"])
            plots["precision_recall.png"] = pr_png(details["pr"])
        else:
            plots["roc.png"] = roc_png(details["roc_per_class"], doc["metrics"]["auc"]["value"])
        plots["calibration.png"] = calibration_png(details["calibration"], task)
    else:
        plots["residuals.png"] = residuals_png(arrays["y"], arrays["output"])
        plots["predicted_vs_actual.png"] = predicted_vs_actual_png(arrays["y"], arrays["output"])
        plots["error_by_decile.png"] = deciles_png(details["by_target_decile"])
    explain = doc.get("explanations") or {}
    if explain.get("permutation_importance"):
        plots["permutation_importance.png"] = importance_png(
            explain["permutation_importance"], doc["headline_metric"]
        )
    for i, pd_ in enumerate(explain.get("partial_dependence") or []):
        plots[f"partial_dependence_{i + 1}.png"] = partial_dependence_png(pd_)
    return plots


def confusion_png(matrix: list[list[int]], classes: list[str]) -> bytes:
    m = np.asarray(matrix)
    k = len(classes)
    size = min(3.2 + 0.45 * k, 9.0)
    fig, ax = _figure(size + 0.8, size)
    ax.grid(False)
    shares = m / np.clip(m.sum(axis=1, keepdims=True), 1, None)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    labels = [_short(c) for c in classes]
    ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                color = "white" if shares[i, j] > 0.6 else "black"
                ax.text(j, i, f"{m[i, j]}", ha="center", va="center", color=color, fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("actual class")
    ax.set_title("Confusion matrix")
    return _png(fig)


def roc_png(curves: dict[str, dict[str, Any]], auc: float | None) -> bytes:
    fig, ax = _figure()
    for name, c in list(curves.items())[:12]:
        if c.get("fpr"):
            ax.plot(c["fpr"], c["tpr"], linewidth=1.8, label=_short(name) if name else None)
    ax.plot([0, 1], [0, 1], linestyle="--", color=GREY, linewidth=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve" + (f" (AUC {auc:.3f})" if auc is not None else ""))
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def pr_png(pr: dict[str, Any]) -> bytes:
    fig, ax = _figure()
    if pr.get("recall"):
        ax.plot(pr["recall"], pr["precision"], color=BLUE, linewidth=1.8, label="model")
        ax.axhline(pr["positive_share"], linestyle="--", color=GREY, label="chance")
    ap = pr.get("average_precision")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall" + (f" (average precision {ap:.3f})" if ap else ""))
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def calibration_png(cal: dict[str, Any], task: str) -> bytes:
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color=GREY, linewidth=1, label="perfectly calibrated")
    ax.plot(cal["predicted"], cal["observed"], marker="o", color=BLUE, label="model")
    if task == "binary":
        ax.set_xlabel("predicted probability of the positive class")
        ax.set_ylabel("observed share positive")
    else:
        ax.set_xlabel("confidence (highest predicted probability)")
        ax.set_ylabel("observed share correct")
    ax.set_title("Calibration (equal-count bins)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _sample(n: int, limit: int = 5000) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def residuals_png(y: np.ndarray, pred: np.ndarray) -> bytes:
    idx = _sample(len(y))
    fig, ax = _figure()
    ax.scatter(pred[idx], (pred - y)[idx], s=8, alpha=0.5, color=BLUE, linewidths=0)
    ax.axhline(0, color=GREY, linestyle="--", linewidth=1)
    ax.set_xlabel("predicted value")
    ax.set_ylabel("residual (predicted − actual)")
    ax.set_title("Residuals")
    return _png(fig)


def predicted_vs_actual_png(y: np.ndarray, pred: np.ndarray) -> bytes:
    idx = _sample(len(y))
    fig, ax = _figure()
    ax.scatter(y[idx], pred[idx], s=8, alpha=0.5, color=BLUE, linewidths=0)
    low = float(min(np.min(y), np.min(pred))) if len(y) else 0.0
    high = float(max(np.max(y), np.max(pred))) if len(y) else 1.0
    ax.plot([low, high], [low, high], linestyle="--", color=GREY, linewidth=1, label="perfect")
    ax.set_xlabel("actual value")
    ax.set_ylabel("predicted value")
    ax.set_title("Predicted vs actual")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def deciles_png(deciles: list[dict[str, Any]]) -> bytes:
    fig, ax = _figure()
    x = np.arange(len(deciles))
    ax.bar(x - 0.2, [d["mae"] for d in deciles], width=0.4, color=BLUE, label="mean abs. error")
    ax.bar(x + 0.2, [d["bias"] for d in deciles], width=0.4, color=ORANGE, label="mean error")
    ax.axhline(0, color=GREY, linewidth=1)
    ax.set_xticks(x, [f"{d['from']:.3g}–{d['to']:.3g}" for d in deciles], rotation=45, ha="right")
    ax.set_xlabel("actual value (decile range)")
    ax.set_title("Error by target decile")
    ax.legend(fontsize=8)
    return _png(fig)


def importance_png(rows: list[dict[str, Any]], metric: str, top: int = 15) -> bytes:
    shown = rows[:top][::-1]
    fig, ax = _figure(WIDTH + 0.6, max(2.5, 0.32 * len(shown) + 1.2))
    y = np.arange(len(shown))
    values = [r["importance"] for r in shown]
    errors = [
        [r["importance"] - r["ci_low"] for r in shown],
        [r["ci_high"] - r["importance"] for r in shown],
    ]
    ax.barh(y, values, xerr=errors, color=BLUE, ecolor="#333333", capsize=2)
    ax.set_yticks(y, [_short(r["column"]) for r in shown])
    ax.axvline(0, color=GREY, linewidth=1)
    ax.set_xlabel(f"{metric} worsening when the column is shuffled")
    ax.set_title("Permutation importance (95 % interval)")
    return _png(fig)


def partial_dependence_png(pd_: dict[str, Any]) -> bytes:
    fig, ax = _figure()
    grid = pd_["grid"]
    numeric = pd_["kind"] == "numeric"
    x = grid if numeric else list(range(len(grid)))
    for name, values in list(pd_["series"].items())[:8]:
        ax.plot(x, values, marker="o" if not numeric else None, linewidth=1.8, label=name)
    if not numeric:
        ax.set_xticks(x, [_short(str(g)) for g in grid], rotation=45, ha="right")
    ax.set_xlabel(_short(pd_["column"], 40))
    ax.set_ylabel("average model output")
    ax.set_title(f"Partial dependence on {_short(pd_['column'], 30)}")
    ax.legend(fontsize=8)
    return _png(fig)


def _short(text: Any, limit: int = 18) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"
