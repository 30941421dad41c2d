"""Has the data changed since training? Compare scored rows with the training profile.

Per column, counted batch by batch so any size of input is compared in bounded memory:

- the population stability index (PSI) between the training distribution and the scored
  one: numbers over the profile's histogram bins (merged so each holds ≥ 5 % of training
  rows; a skewed column uses bins between its 5/25/50/75/95 % quantiles), categories over the profile's most frequent values plus "other";
  PSI = Σ (now − train) · ln(now / train). Usual reading: < 0.1 stable, 0.1–0.25 moderate,
  > 0.25 large; on few rows only a PSI beyond what sampling alone gives is called drift
  (see :func:`_noise_floor`);
- the change in the share of missing values;
- for categories, the share of values that were not among the training's frequent values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LARGE_PSI", "DriftMonitor"]

LARGE_PSI = 0.25
MODERATE_PSI = 0.10
LARGE_MISSING_CHANGE = 0.10  # 10 points more (or fewer) missing values
MIN_BIN_SHARE = 0.05
MIN_BINS = 4  # fewer merged histogram bins than this: quantile bins instead
_EPS = 1e-4
Z_999 = 3.090232  # the standard normal's 99.9 % quantile


class DriftMonitor:
    """Accumulates counts per column with :meth:`update`; :meth:`report` gives the figures."""

    def __init__(self, profile: dict[str, Any], columns: list[str]) -> None:
        self.rows_train = int(profile.get("dataset", {}).get("rows") or 0)
        by_name = {c["name"]: c for c in profile.get("columns", [])}
        self.columns: dict[str, dict[str, Any]] = {}
        for name in columns:
            col = by_name.get(name)
            # dates move on by nature (and were parsed in training, are text here), and an
            # ID is new in every row: neither has a distribution to compare
            if col is None or col.get("semantic_type") in ("datetime", "id"):
                continue
            spec = _numeric_spec(col) if col.get("histogram") else _categorical_spec(col)
            if spec is not None:
                spec["missing_train"] = float(col.get("missing_share") or 0.0)
                spec["missing_now"] = 0
                self.columns[name] = spec
        self.rows = 0

    def update(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        for name, spec in self.columns.items():
            if name not in frame.columns:
                continue
            values = frame[name]
            if spec["kind"] == "numeric":
                num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
                present = num[np.isfinite(num)]
                spec["missing_now"] += int(len(num) - len(present))
                idx = np.clip(np.searchsorted(spec["edges"], present, side="right") - 1, 0, None)
                idx = np.minimum(idx, len(spec["expected"]) - 1)
                spec["counts"] += np.bincount(idx, minlength=len(spec["expected"]))
            else:
                # count the raw values first, then normalise only the distinct ones
                raw = values.value_counts(dropna=True)
                keys = _normalised(pd.Series(raw.index, dtype=object), spec["kind"])
                spec["missing_now"] += len(values) - int(raw.sum())
                for key, n in zip(keys, raw.to_numpy(), strict=True):
                    if pd.isna(key) or key == "":
                        spec["missing_now"] += int(n)
                    elif key in spec["index"]:
                        spec["counts"][spec["index"][key]] += int(n)
                    else:
                        spec["counts"][-1] += int(n)

    def report(self) -> dict[str, Any]:
        """Figures per column, the columns with large drift, and one-line warnings."""
        columns: dict[str, Any] = {}
        warnings: list[str] = []
        for name, spec in self.columns.items():
            counts = np.asarray(spec["counts"], dtype=float)
            present = counts.sum()
            entry: dict[str, Any] = {
                "kind": spec["kind"],
                "missing_share_train": round(spec["missing_train"], 4),
                "missing_share_now": round(spec["missing_now"] / self.rows, 4)
                if self.rows
                else None,
            }
            if present > 0:
                now = counts / present
                train = np.asarray(spec["expected"], dtype=float)
                entry["psi"] = round(_psi(train, now), 4)
                entry["psi_noise_floor"] = round(_noise_floor(len(train), present), 4)
                if spec["kind"] != "numeric":
                    entry["other_share_train"] = round(float(train[-1]), 4)
                    entry["other_share_now"] = round(float(now[-1]), 4)
            columns[name] = entry
            psi = entry.get("psi")
            entry["drifted"] = psi is not None and psi > max(LARGE_PSI, entry["psi_noise_floor"])
            if entry["drifted"]:
                warnings.append(
                    f"'{name}' is distributed very differently from training (PSI {psi:.2f})"
                )
            change = (entry["missing_share_now"] or 0.0) - entry["missing_share_train"]
            p = min(max(entry["missing_share_train"], 0.01), 0.99)
            noise = 3.29 * (p * (1 - p) / max(self.rows, 1)) ** 0.5  # 99.9 % two-sided
            if abs(change) > max(LARGE_MISSING_CHANGE, noise):
                warnings.append(
                    f"'{name}' is missing in {entry['missing_share_now']:.0%} of rows "
                    f"(training: {entry['missing_share_train']:.0%})"
                )
        drifted = sorted(
            (n for n, e in columns.items() if e["drifted"]),
            key=lambda n: -columns[n]["psi"],
        )
        return {
            "rows": self.rows,
            "columns": columns,
            "drifted_columns": drifted,
            "large": bool(warnings),
            "warnings": warnings,
            "thresholds": {"psi_large": LARGE_PSI, "psi_moderate": MODERATE_PSI},
        }


def _noise_floor(bins: int, rows: float) -> float:
    """The PSI that sampling alone exceeds once in a thousand times on ``rows`` rows.

    For small differences n·PSI is close to Pearson's χ² with bins − 1 degrees of freedom,
    so a few hundred rows from the training distribution itself can show a PSI of 0.2: such
    a figure is not called drift.
    """
    k = max(bins - 1, 1)
    # χ² quantile by Wilson–Hilferty (within 1 % here; scipy.stats costs 0.4 s to import)
    quantile = k * (1 - 2 / (9 * k) + Z_999 * (2 / (9 * k)) ** 0.5) ** 3
    return float(quantile / max(rows, 1.0))


def _psi(train: np.ndarray, now: np.ndarray) -> float:
    a = np.clip(train, _EPS, None)
    b = np.clip(now, _EPS, None)
    return float(np.sum((b - a) * np.log(b / a)))


def _numeric_spec(col: dict[str, Any]) -> dict[str, Any] | None:
    hist = col["histogram"]
    edges, counts = list(hist["edges"]), np.asarray(hist["counts"], dtype=float)
    total = counts.sum()
    if total <= 0 or len(edges) < 2:
        return None
    merged_edges, merged, run = [edges[0]], [], 0.0
    for i, c in enumerate(counts):
        run += c
        if run / total >= MIN_BIN_SHARE or i == len(counts) - 1:
            merged.append(run)
            merged_edges.append(edges[i + 1])
            run = 0.0
    if len(merged) > 1 and merged[-1] / total < MIN_BIN_SHARE:  # a thin last bin joins its left
        last = merged.pop()
        merged[-1] += last
        merged_edges.pop(-2)
    expected = np.asarray(merged) / total
    if len(expected) < MIN_BINS:
        return _quantile_spec(col) or None
    return {
        "kind": "numeric",
        "edges": np.asarray(merged_edges[:-1], dtype=float),  # left edges; outside → end bins
        "expected": expected,
        "counts": np.zeros(len(expected), dtype=np.int64),
    }


def _quantile_spec(col: dict[str, Any]) -> dict[str, Any] | None:
    """Bins between the training quantiles (5, 25, 50, 75, 95 %), for a skewed column whose
    equal-width histogram holds nearly every row in one bin. Needs distinct quantiles."""
    stats = col.get("numeric") or {}
    cuts = [stats.get(k) for k in ("q05", "q25", "median", "q75", "q95")]
    if any(c is None for c in cuts) or len(set(cuts)) < len(cuts):
        return None
    return {
        "kind": "numeric",
        "edges": np.asarray([-np.inf, *cuts], dtype=float),
        "expected": np.asarray([0.05, 0.20, 0.25, 0.25, 0.20, 0.05]),
        "counts": np.zeros(6, dtype=np.int64),
    }


def _normalised(values: pd.Series, kind: str) -> pd.Series:
    """Categories compared as prep reads them: trimmed and case-folded; booleans as 1 / 0
    (``True``, ``yes`` and ``1`` are one level)."""
    if kind == "boolean":
        from automl_cli.core.schema import coerce_boolean

        flags = coerce_boolean(values)
        return flags.map({1.0: "1", 0.0: "0"}).astype("string")
    from automl_cli.core.preprocessing import category_keys

    return category_keys(values)


def _categorical_spec(col: dict[str, Any]) -> dict[str, Any] | None:
    top = col.get("top_values") or []
    # shares are of the non-missing values: count / share is how many there were
    present = float(sum(t["count"] for t in top)) / max(sum(t["share"] for t in top), 1e-12)
    if not top or present <= 0:
        return None
    kind = "boolean" if col.get("semantic_type") == "boolean" else "categorical"
    shares: dict[str, float] = {}
    names = _normalised(pd.Series([str(t["value"]) for t in top]), kind)
    for name, t in zip(names, top, strict=True):
        if not pd.isna(name):  # variants of one level (case, spaces) add up
            shares[str(name)] = shares.get(str(name), 0.0) + t["count"] / present
    levels = list(shares)
    expected = list(shares.values())
    index = {level: i for i, level in enumerate(levels)}
    expected.append(max(0.0, 1.0 - sum(expected)))
    return {
        "kind": kind,
        "levels": levels,
        "index": index,
        "expected": np.asarray(expected),
        "counts": [0] * (len(levels) + 1),
    }
