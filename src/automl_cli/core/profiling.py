"""Describe a table before anything is trained on it: column types, gaps, the target, and
the problems a newcomer would not spot (leakage, ID columns, constants, imbalance).

The result is a plain JSON-ready dict (``profile.json``) that ``prep`` reads to decide how
each column is encoded or dropped, and that the HTML report renders. Speed matters because
``search`` profiles every table first: each column is summarised from one ``value_counts``
plus small seeded samples, and the frame itself is never copied.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from automl_cli.core import cutoff
from automl_cli.errors import DataError

__all__ = ["SCHEMA_VERSION", "SEMANTIC_TYPES", "WARNING_CODES", "profile_frame"]

SCHEMA_VERSION = 1
SEMANTIC_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "id", "constant")
WARNING_CODES = (
    "leakage",
    "id_like",
    "constant",
    "high_cardinality",
    "heavy_missing",
    "class_imbalance",
    "duplicate_rows",
    "target_missing",
    "rare_classes",
    "datetime",
    "free_text",
)

TOP_VALUES = 10
MAX_BINS = 30
MAX_CLASSES = 50
STRING_SAMPLE = 2_000  # values inspected to tell dates, text and IDs apart
DATE_SHARE = 0.95
DATE_DISTINCT_LIMIT = 20_000  # beyond this, date stats come from the sample only
ID_SHARE = 0.95
ID_SHARE_NAMED = 0.5
ID_MIN_ROWS = 20
ID_MAX_LENGTH = 64
TEXT_WORDS = 4.0
TEXT_LENGTH = 30.0
LEAK_SAMPLE = 200_000
LEAK_BINS = 50
LEAK_MIN_GROUP = 5.0
LEAK_MIN_MINORITY = 10
LEAK_GAIN = 0.95
LEAK_CORR = 0.99
LEAK_ETA2 = 0.98
RARE_CLASS_ROWS = 10

_TRUE = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "0.0"})
_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "pk", "identifier"})
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def profile_frame(df: pd.DataFrame, target: str | None = None, *, seed: int = 0) -> dict[str, Any]:
    """Profile ``df`` (and ``target`` if given) into the ``profile.json`` document.

    Semantic types, decided per column in this order (shares are of non-missing values):

    - ``constant``: at most one distinct value (an all-missing column too).
    - ``boolean``: bool dtype, or two values once case, whitespace and the synonyms
      true/false, yes/no, y/n, t/f, 1/0 are folded (e.g. ``yes``/``No``/``Y``).
    - ``datetime``: a datetime dtype, or text of which ≥ 95 % of a sample of up to 2,000
      values parse as dates; plain numbers ("2021", "42") never count as dates.
    - ``text``: strings averaging ≥ 4 words or ≥ 30 characters with many distinct values
      (≥ 20 and ≥ 5 % of values, or ≥ 1,000): free text, not categories.
    - ``id``: whole numbers ≥ 0 or short space-free strings, ≥ 95 % distinct over ≥ 20 rows
      (≥ 50 % if the name says so: ``id``, ``uuid``, ``key``, ``customer_id``, ``userId``…).
      Floats with fractions are measurements, never IDs; the target is never an ID.
    - ``numeric``: any other number; ``categorical``: anything else.

    Leakage (a single column that predicts the target almost perfectly) is judged on a
    seeded sample of ≤ 200,000 labelled rows, skipping id/text/constant columns. For classes:
    the majority class per value (numbers: per quantile bin, or the best single cut-off for a
    binary target) must beat always guessing the most common class by a normalised gain
    ≥ 0.95, with groups of ≥ 5 rows on average. For numbers to predict: |Spearman| or
    |Pearson| ≥ 0.99, or category means explaining ≥ 98 % of the variance.

    Warnings are ordered high → medium → low severity; each has a plain message and the
    figures behind it. ``seed`` fixes every sample, so equal input gives an equal profile.
    """
    names = [str(c) for c in df.columns]
    if target is not None and target not in names:
        raise DataError(
            f"the target column '{target}' is not in the table",
            hint="check the spelling; column names are case-sensitive",
        )
    rows = len(df)
    columns: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        cutoff.check()  # a search's budget may end while a big table is profiled
        rng = np.random.default_rng([seed, i])
        columns.append(_describe_column(name, df.iloc[:, i], rows, rng, name == target))
    cutoff.check()
    dataset = _dataset_summary(df, rows)
    target_info: dict[str, Any] | None = None
    warns = _column_warnings(columns)
    if dataset["duplicate_rows"]:
        warns.append(_duplicate_warning(dataset))
    if target is not None:
        t_idx = names.index(target)
        target_info, target_warns = _target_summary(df.iloc[:, t_idx], columns[t_idx], rows)
        warns += target_warns
        if target_info["task"] is not None:
            rng = np.random.default_rng([seed, len(names), 1])
            warns += _leakage_warnings(df, columns, t_idx, target_info["task"], rng)
    warns.sort(key=lambda w: _SEVERITY_ORDER[w["severity"]])
    doc = {
        "schema_version": SCHEMA_VERSION,
        "dataset": dataset,
        "columns": columns,
        "target": target_info,
        "warnings": warns,
    }
    return _jsonable(doc)


# -- dataset ---------------------------------------------------------------------------------


def _dataset_summary(df: pd.DataFrame, rows: int) -> dict[str, Any]:
    """Row hashes instead of ``df.duplicated()``: one uint64 per row, no frame-sized copy."""
    duplicates: int | None = 0
    if rows and df.shape[1]:
        try:
            hashes = pd.util.hash_pandas_object(df, index=False)
            duplicates = int(hashes.duplicated().sum())
        except TypeError:  # unhashable cells (lists, dicts from JSON): compared as text
            text = {c: df[c].astype(str) for c in df.columns if df[c].dtype == object}
            hashes = pd.util.hash_pandas_object(df.assign(**text), index=False)
            duplicates = int(hashes.duplicated().sum())
    return {
        "rows": rows,
        "columns": int(df.shape[1]),
        "duplicate_rows": duplicates,
        "duplicate_share": duplicates / rows if rows and duplicates is not None else 0.0,
        "memory_bytes": int(df.memory_usage(deep=True, index=False).sum()),
    }


# -- one column ------------------------------------------------------------------------------


def _describe_column(
    name: str, s: pd.Series, rows: int, rng: np.random.Generator, is_target: bool
) -> dict[str, Any]:
    """Everything about one column, derived from a single ``value_counts``."""
    vc = _value_counts(s)
    distinct = len(vc)
    non_null = int(vc.sum())
    missing = rows - non_null
    semantic, extra = _semantic_type(name, s, vc, non_null, rng, is_target)
    numeric = histogram = None
    if semantic == "numeric":
        numeric, histogram = _numeric_summary(s, distinct)
    out: dict[str, Any] = {
        "name": name,
        "dtype": str(s.dtype),
        "semantic_type": semantic,
        "missing_count": missing,
        "missing_share": missing / rows if rows else 0.0,
        "distinct": distinct,
        "distinct_share": distinct / non_null if non_null else 0.0,
        "top_values": _top_values(vc, non_null, TOP_VALUES),
        "numeric": numeric,
        "histogram": histogram,
        "datetime": extra.get("datetime") if semantic == "datetime" else None,
        "text": extra.get("text") if semantic == "text" else None,
        "is_target": is_target,
    }
    # Private figures for the warnings; stripped before the profile is returned.
    out["_id_reason"] = extra.get("id_reason")
    out["_mixed"] = extra.get("mixed")
    return out


def _value_counts(s: pd.Series) -> pd.Series:
    """Counts of non-missing values, most frequent first; unhashable cells count as text."""
    try:
        vc = s.value_counts(dropna=True, sort=True)
    except TypeError:
        vc = s.dropna().astype(str).value_counts(sort=True)
    if isinstance(s.dtype, pd.CategoricalDtype):
        vc = vc[vc > 0]  # unused categories are listed with count 0
    return vc


def _top_values(vc: pd.Series, non_null: int, limit: int) -> list[dict[str, Any]]:
    head = vc.iloc[:limit]
    return [
        {"value": _label(v), "count": int(c), "share": int(c) / non_null if non_null else 0.0}
        for v, c in zip(head.index, head.to_numpy(), strict=True)
    ]


def _label(value: Any) -> str:
    """A value as people read it: 3 not 3.0 for whole floats, ISO dates."""
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number) and abs(number) < 1e15 and number == int(number):
            return str(int(number))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _semantic_type(
    name: str,
    s: pd.Series,
    vc: pd.Series,
    non_null: int,
    rng: np.random.Generator,
    is_target: bool,
) -> tuple[str, dict[str, Any]]:
    """The rules of :func:`profile_frame`'s docstring, cheapest test first."""
    distinct = len(vc)
    if distinct <= 1:
        return "constant", {}
    if pd.api.types.is_bool_dtype(s.dtype) or (distinct <= 12 and _boolean_values(vc.index)):
        return "boolean", {}
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime", {"datetime": _datetime_dtype_summary(s)}
    share = distinct / non_null
    named = _id_name(name)
    bar = ID_SHARE_NAMED if named else ID_SHARE
    if pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        if not is_target and non_null >= ID_MIN_ROWS and share >= bar and _whole_nonneg(vc):
            return "id", {"id_reason": _id_reason(distinct, non_null, named)}
        return "numeric", {}
    sample = _sample_strings(s, rng)
    stats = _string_stats(sample)
    if stats["digit_share"] >= DATE_SHARE and stats["mean_length"] <= ID_MAX_LENGTH:
        date_share, fmt = _date_share(sample)
        if date_share >= DATE_SHARE:
            return "datetime", {"datetime": _datetime_text_summary(vc, non_null, sample, fmt)}
    many = (distinct >= 20 and share >= 0.05) or distinct >= 1_000
    wordy = stats["mean_words"] >= TEXT_WORDS or stats["mean_length"] >= TEXT_LENGTH
    if wordy and many:
        text = {"mean_length": stats["mean_length"], "mean_words": stats["mean_words"]}
        return "text", {"text": text}
    if (
        not is_target
        and non_null >= ID_MIN_ROWS
        and share >= bar
        and stats["space_share"] <= 0.05
        and stats["mean_length"] <= ID_MAX_LENGTH
    ):
        return "id", {"id_reason": _id_reason(distinct, non_null, named), **_mixed(sample)}
    return "categorical", _mixed(sample)


def _mixed(sample: pd.Series) -> dict[str, Any]:
    """Text that is mostly numbers: the share that are, and a value that is not."""
    if sample.empty:
        return {}
    not_number = _not_a_number(sample)
    share = 1.0 - float(not_number.mean())
    if share < 0.5 or share == 1.0:
        return {}
    return {"mixed": {"number_share": share, "example": str(sample[not_number].iloc[0]).strip()}}


def _boolean_values(values: pd.Index) -> bool:
    tokens = {str(v).strip().lower() for v in values}
    return tokens <= (_TRUE | _FALSE) and bool(tokens & _TRUE) and bool(tokens & _FALSE)


def _id_name(name: str) -> bool:
    """``id``, ``customer_id``, ``userId``, ``order-key``, ``uuid``… but not ``paid``/``valid``."""
    tokens = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)
    return any(t.lower() in _ID_TOKENS for t in tokens)


def _id_reason(distinct: int, non_null: int, named: bool) -> str:
    why = f"{distinct:,} distinct values in {non_null:,} non-missing rows ({_pct(distinct / non_null)})"
    return why + ("; the name suggests an identifier" if named else "")


def _whole_nonneg(vc: pd.Series) -> bool:
    """IDs are whole numbers ≥ 0; a float with a fraction is a measurement."""
    values = _as_float(vc.index.to_series())
    return bool(np.isfinite(values).all() and (values >= 0).all() and (values % 1 == 0).all())


def _sample_strings(s: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Up to STRING_SAMPLE non-missing values as ``str``, seeded, in row order."""
    positions = np.flatnonzero(s.notna().to_numpy())
    if positions.size > STRING_SAMPLE:
        positions = np.sort(rng.choice(positions, STRING_SAMPLE, replace=False))
    return s.iloc[positions].astype(str).reset_index(drop=True)


def _string_stats(sample: pd.Series) -> dict[str, float]:
    if sample.empty:
        return dict.fromkeys(("mean_length", "mean_words", "space_share", "digit_share"), 0.0)
    stripped = sample.str.strip()
    return {
        "mean_length": float(sample.str.len().mean()),
        "mean_words": float(sample.str.count(r"\S+").mean()),
        "space_share": float(stripped.str.contains(r"\s", regex=True).mean()),
        "digit_share": float(sample.str.contains(r"\d", regex=True).mean()),
    }


def _to_dates(values: pd.Series, fmt: str | None) -> pd.Series:
    """Parse text as UTC-naive timestamps; NaT where it is not a date. Never warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format=fmt or "mixed", utc=True)
    return parsed.dt.tz_convert(None)


def _not_a_number(values: pd.Series) -> np.ndarray:
    """Plain numbers parse as dates ("2021", "3.5" → 5 March); they must not count."""
    return pd.to_numeric(values.str.strip(), errors="coerce").isna().to_numpy()


def _date_share(sample: pd.Series) -> tuple[float, str | None]:
    """Share of the sample that are dates, and a strftime format if one fits them all."""
    from pandas.tseries.api import guess_datetime_format

    wordy = _not_a_number(sample)
    fmt = guess_datetime_format(str(sample.iloc[0]).strip())
    if fmt is not None:
        share = float((_to_dates(sample.str.strip(), fmt).notna().to_numpy() & wordy).mean())
        if share == 1.0:
            return share, fmt
    share = float((_to_dates(sample.str.strip(), None).notna().to_numpy() & wordy).mean())
    return share, None


def _datetime_text_summary(
    vc: pd.Series, non_null: int, sample: pd.Series, fmt: str | None
) -> dict[str, Any]:
    """Parse each distinct value once (dates repeat a lot), weighting by its count."""
    if fmt is not None or len(vc) <= DATE_DISTINCT_LIMIT:
        values = vc.index.to_series().astype(str).str.strip().reset_index(drop=True)
        weights = vc.to_numpy()
    else:
        values, weights = sample.str.strip(), np.ones(len(sample), dtype=np.int64)
    parsed = _to_dates(values, fmt)
    ok = parsed.notna().to_numpy() & _not_a_number(values)
    good = parsed[ok]
    total = int(weights.sum())
    return {
        "min": good.min().isoformat() if len(good) else None,
        "max": good.max().isoformat() if len(good) else None,
        "parse_share": float(weights[ok].sum()) / total if total else 0.0,
    }


def _datetime_dtype_summary(s: pd.Series) -> dict[str, Any]:
    lo, hi = s.min(), s.max()
    return {
        "min": None if pd.isna(lo) else pd.Timestamp(lo).isoformat(),
        "max": None if pd.isna(hi) else pd.Timestamp(hi).isoformat(),
        "parse_share": 1.0,
    }


def _as_float(s: pd.Series) -> np.ndarray:
    """float64 values with NaN for missing, for numbers, nullable numbers and datetimes."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert(None)
        stamps = s.to_numpy(dtype="datetime64[ns]")
        out = stamps.view("int64").astype("float64")
        out[np.isnat(stamps)] = np.nan
        return out
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _numeric_summary(s: pd.Series, distinct: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Moments and quantiles over finite values (±inf are only counted); ≤ 30 equal bins."""
    values = _as_float(s)
    finite_mask = np.isfinite(values)
    inf_count = int(np.isinf(values).sum())
    finite = values[finite_mask]
    del values, finite_mask
    n = finite.size
    summary: dict[str, Any] = dict.fromkeys(
        ("min", "max", "mean", "std", "q05", "q25", "median", "q75", "q95", "skew")
    )
    summary.update({"zeros_share": 0.0, "negative_share": 0.0, "inf_count": inf_count})
    if n == 0:
        return summary, None
    q05, q25, med, q75, q95 = np.quantile(finite, [0.05, 0.25, 0.5, 0.75, 0.95])
    lo, hi = float(finite.min()), float(finite.max())
    mean = float(finite.mean())
    dev = finite - mean
    m2 = float(np.mean(dev * dev))
    m3 = float(np.mean(dev * dev * dev))
    del dev
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else None
    skew = None
    if n > 2 and m2**1.5 > 0:  # adjusted Fisher-Pearson, as pandas' Series.skew (m2 > 0
        # alone is not enough: 1e-272 ** 1.5 underflows to 0.0)
        skew = math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    summary.update(
        {
            "min": lo,
            "max": hi,
            "mean": mean,
            "std": std,
            "q05": float(q05),
            "q25": float(q25),
            "median": float(med),
            "q75": float(q75),
            "q95": float(q95),
            "zeros_share": float(np.count_nonzero(finite == 0)) / n,
            "negative_share": float(np.count_nonzero(finite < 0)) / n,
            "skew": skew,
        }
    )
    bins = min(MAX_BINS, distinct) if hi > lo else 1
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi) if hi > lo else None)
    return summary, {"edges": edges.tolist(), "counts": counts.tolist()}


# -- warnings about columns ------------------------------------------------------------------


def _warning(
    code: str, column: str | None, severity: str, message: str, reason: str
) -> dict[str, Any]:
    return {
        "code": code,
        "column": column,
        "severity": severity,
        "message": message,
        "reason": reason,
    }


def _column_warnings(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for col in columns:
        name, sem, is_target = col["name"], col["semantic_type"], col["is_target"]
        id_reason = col.pop("_id_reason")
        mixed = col.pop("_mixed")
        if mixed and not is_target:
            out.append(
                _warning(
                    "mixed_types",
                    name,
                    "medium",
                    f"'{name}' is mostly numbers but also holds text such as "
                    f"'{_short(mixed['example'])}', so it is treated as categories; fix or "
                    "blank those values to use it as a number",
                    f"{_pct(mixed['number_share'])} of sampled values are numbers",
                )
            )
        inf_count = (col.get("numeric") or {}).get("inf_count") or 0
        if inf_count:
            out.append(
                _warning(
                    "infinite_values",
                    name,
                    "low",
                    f"'{name}' has {inf_count:,} infinite value(s) (inf or -inf); they will be "
                    "treated as missing",
                    f"{inf_count:,} values are ±inf; the statistics use the finite values only",
                )
            )
        if sem == "constant":
            out.append(_constant_warning(col))
        elif sem == "id":
            out.append(
                _warning(
                    "id_like",
                    name,
                    "low",
                    f"'{name}' looks like an ID (a label unique to each row), not something "
                    "that describes the row; it will be dropped before training",
                    id_reason or "",
                )
            )
        elif sem == "datetime" and not is_target:
            dt = col.get("datetime") or {}
            out.append(
                _warning(
                    "datetime",
                    name,
                    "low",
                    f"'{name}' holds dates; models cannot use raw dates, so it will be turned "
                    "into year, month, weekday and elapsed-time features",
                    f"dates from {dt.get('min')} to {dt.get('max')}",
                )
            )
        elif sem == "text" and not is_target:
            txt = col.get("text") or {}
            out.append(
                _warning(
                    "free_text",
                    name,
                    "low",
                    f"'{name}' is free text; only its most frequent words will be used "
                    "(TF-IDF), or drop it with --text drop",
                    f"{txt.get('mean_words', 0):.1f} words per value on average",
                )
            )
        elif sem == "categorical" and not is_target:
            d, share = col["distinct"], col["distinct_share"]
            if d > 50 or (share > 0.5 and d >= 10):
                out.append(
                    _warning(
                        "high_cardinality",
                        name,
                        "medium" if share > 0.5 else "low",
                        f"'{name}' has many different categories ({d:,}); rare ones will be "
                        "grouped together",
                        f"{d:,} distinct values, {_pct(share)} of non-missing rows",
                    )
                )
        share = col["missing_share"]
        if not is_target and sem != "constant" and share > 0.4:
            out.append(
                _warning(
                    "heavy_missing",
                    name,
                    "high" if share > 0.8 else "medium",
                    f"'{name}' is empty in {_pct(share)} of rows; what is there may not be "
                    "enough to learn from",
                    f"{col['missing_count']:,} missing values (more than "
                    f"{'80' if share > 0.8 else '40'} %)",
                )
            )
    return out


def _constant_warning(col: dict[str, Any]) -> dict[str, Any]:
    name = col["name"]
    if col["is_target"]:
        return _warning(
            "constant",
            name,
            "high",
            f"the target '{name}' has {'no values' if not col['distinct'] else 'one value only'}:"
            " there is nothing to predict",
            f"{col['distinct']} distinct value(s), {col['missing_count']:,} missing",
        )
    if not col["distinct"]:
        message = f"'{name}' is empty in every row; it will be dropped before training"
    else:
        value = col["top_values"][0]["value"]
        message = (
            f"'{name}' has the same value ('{_short(value)}') in every row that has one, so it "
            "carries no information; it will be dropped before training"
        )
    return _warning(
        "constant",
        name,
        "low",
        message,
        f"{col['distinct']} distinct value(s), {col['missing_count']:,} missing",
    )


def _duplicate_warning(dataset: dict[str, Any]) -> dict[str, Any]:
    n, share = dataset["duplicate_rows"], dataset["duplicate_share"]
    return _warning(
        "duplicate_rows",
        None,
        "medium" if share >= 0.01 else "low",
        f"{n:,} rows are exact copies of an earlier row; copies split across validation folds "
        "make scores look better than they are",
        f"{n:,} of {dataset['rows']:,} rows ({_pct(share)}) repeat an earlier row",
    )


# -- target ----------------------------------------------------------------------------------


def _target_summary(
    y: pd.Series, col: dict[str, Any], rows: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Guess the task and check the class balance; the caller can override the task."""
    name = col["name"]
    vc = _value_counts(y)
    non_null = int(vc.sum())
    task, reason = _guess_task(y, vc, col["semantic_type"])
    info: dict[str, Any] = {
        "name": name,
        "task": task,
        "missing_count": col["missing_count"],
        "classes": None,
        "numeric": None,
        "reason": reason,
    }
    warns: list[dict[str, Any]] = []
    missing = col["missing_count"]
    if missing:
        warns.append(
            _warning(
                "target_missing",
                name,
                "high" if missing == rows else "medium",
                f"{missing:,} rows have no value for the target '{name}'; they cannot be used "
                "for training and will be left out",
                f"{missing:,} of {rows:,} rows ({_pct(missing / rows)}) have an empty target",
            )
        )
    if task in ("binary", "multiclass"):
        info["classes"] = _top_values(vc, non_null, MAX_CLASSES)
        warns += _class_warnings(name, vc, non_null)
    elif task == "regression":
        info["numeric"], _ = _numeric_summary(y, len(vc))
    return info, warns


def _guess_task(y: pd.Series, vc: pd.Series, semantic: str) -> tuple[str | None, str]:
    k = len(vc)
    shown = ", ".join(f"'{_short(_label(v))}'" for v in vc.index[:3]) + (", …" if k > 3 else "")
    if k == 0:
        return None, "the target has no values"
    if k == 1:
        return None, f"the target has a single value ({shown}): there is nothing to predict"
    if semantic == "boolean" or k == 2:
        return "binary", f"two distinct values ({shown})"
    if pd.api.types.is_datetime64_any_dtype(y.dtype):
        return None, "the target holds dates; pass --task to say what to predict"
    numeric = pd.api.types.is_numeric_dtype(y.dtype) and not isinstance(
        y.dtype, pd.CategoricalDtype
    )
    if numeric:
        values = _as_float(vc.index.to_series())
        whole = bool(np.all(values[np.isfinite(values)] % 1 == 0))
        if whole and k <= 20:
            return "multiclass", (
                f"whole numbers with only {k} distinct values ({shown}), read as class "
                "labels (pass --task regression if they are amounts)"
            )
        return "regression", f"numbers with {k:,} distinct values"
    return "multiclass", f"{k:,} distinct labels ({shown})"


def _class_warnings(name: str, vc: pd.Series, non_null: int) -> list[dict[str, Any]]:
    """Imbalance relative to a fair split, so ten equal classes are not called imbalanced."""
    out: list[dict[str, Any]] = []
    k = len(vc)
    rarest, rarest_n = _label(vc.index[-1]), int(vc.iloc[-1])
    share = rarest_n / non_null
    if share < 0.10 and share < 0.5 / k:
        out.append(
            _warning(
                "class_imbalance",
                name,
                "high" if share < 0.02 else "medium",
                f"the target '{name}' is imbalanced: the rarest class '{_short(rarest)}' is only "
                f"{_pct(share)} of rows, so accuracy looks good even for a useless model; "
                "judge it by balanced metrics",
                f"{rarest_n:,} of {non_null:,} labelled rows; the most common class has "
                f"{int(vc.iloc[0]):,}",
            )
        )
    rare = vc[vc < RARE_CLASS_ROWS]
    if len(rare):
        listed = ", ".join(f"'{_short(_label(v))}' ({int(c)})" for v, c in rare.iloc[:5].items())
        more = f" and {len(rare) - 5} more" if len(rare) > 5 else ""
        out.append(
            _warning(
                "rare_classes",
                name,
                "medium",
                f"{len(rare)} class(es) of '{name}' have fewer than {RARE_CLASS_ROWS} rows, too "
                "few to cross-validate well; merge them or collect more examples",
                f"rows per rare class: {listed}{more}",
            )
        )
    return out


# -- leakage ---------------------------------------------------------------------------------


def _leakage_warnings(
    df: pd.DataFrame,
    columns: list[dict[str, Any]],
    t_idx: int,
    task: str,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Columns that alone predict the target almost perfectly, on a seeded row sample."""
    y_full = df.iloc[:, t_idx]
    positions = np.flatnonzero(y_full.notna().to_numpy())
    if positions.size > LEAK_SAMPLE:
        positions = np.sort(rng.choice(positions, LEAK_SAMPLE, replace=False))
    whole = positions.size == len(df)
    y = y_full if whole else y_full.iloc[positions]
    target = columns[t_idx]["name"]
    check: Callable[[pd.Series, str], tuple[str, str] | None]
    if task == "regression":
        check = _regression_leak(_as_float(y))
    else:
        check = _classification_leak(pd.factorize(y)[0])
    out: list[dict[str, Any]] = []
    for j, col in enumerate(columns):
        if j == t_idx or col["semantic_type"] in ("id", "text", "constant"):
            continue
        cutoff.check()
        x = df.iloc[:, j] if whole else df.iloc[positions, j]
        found = check(x, col["semantic_type"])
        if found is not None:
            figure, reason = found
            name = col["name"]
            out.append(
                _warning(
                    "leakage",
                    name,
                    "high",
                    f"'{name}' predicts '{target}' almost perfectly ({figure}) — it is probably "
                    "the target in another form; it will be dropped before training",
                    reason,
                )
            )
    return out


def _is_number(x: pd.Series, semantic: str) -> bool:
    return semantic == "numeric" or pd.api.types.is_datetime64_any_dtype(x.dtype)


def _group_codes(x: pd.Series, semantic: str) -> np.ndarray:
    """Group ids: one per value, or ≤ LEAK_BINS quantile bins for numbers; missing is a group."""
    if _is_number(x, semantic):
        values = _as_float(x)
        finite = values[np.isfinite(values)]
        bins = min(LEAK_BINS, max(2, values.size // 20))
        if len(np.unique(finite)) > bins:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
            codes = np.searchsorted(edges[1:-1], values, side="right")
            codes[~np.isfinite(values)] = len(edges)
            return codes.astype(np.int64)
    try:
        codes = pd.factorize(x, use_na_sentinel=False)[0]
    except TypeError:
        codes = pd.factorize(x.astype(str), use_na_sentinel=False)[0]
    return np.asarray(codes, dtype=np.int64)


def _stump_hits(values: np.ndarray, y: np.ndarray) -> int:
    """Rows a single best threshold gets right (binary y; missing rows get their majority).

    Quantile bins cannot see a perfect cut that falls inside a bin, which hides exactly the
    leaks that matter on imbalanced targets; one sort finds the best cut exactly.
    """
    ok = np.isfinite(values)
    order = np.argsort(values[ok], kind="stable")
    xs, ys = values[ok][order], y[ok][order]
    hits = int(np.bincount(y[~ok]).max()) if (~ok).any() else 0
    if xs.size == 0:
        return hits
    left_n = np.arange(1, xs.size + 1)
    left_pos = np.cumsum(ys == 1)
    right_pos = left_pos[-1] - left_pos
    right_neg = (xs.size - left_n) - right_pos
    cut = np.r_[xs[1:] != xs[:-1], True]  # only between distinct values (or no cut at all)
    low_neg = (left_n - left_pos) + right_pos
    low_pos = left_pos + right_neg
    return hits + int(max(low_neg[cut].max(), low_pos[cut].max()))


def _classification_leak(
    y: np.ndarray,
) -> Callable[[pd.Series, str], tuple[str, str] | None]:
    n = y.size
    k = int(y.max()) + 1 if n else 1
    majority = int(np.bincount(y).max()) if n else 0
    baseline = majority / n if n else 1.0

    def check(x: pd.Series, semantic: str) -> tuple[str, str] | None:
        if n - majority < LEAK_MIN_MINORITY:  # a handful of minority rows proves nothing
            return None
        codes = _group_codes(x, semantic)
        keys, counts = np.unique(codes * k + y, return_counts=True)
        groups = keys // k
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        if n / starts.size < LEAK_MIN_GROUP:  # unique-per-row columns are trivially "pure"
            return None
        hits = int(np.maximum.reduceat(counts, starts).sum())
        how = f"the most common class within each of its {starts.size:,} values/ranges"
        if k == 2 and _is_number(x, semantic):
            stump = _stump_hits(_as_float(x), y)
            if stump > hits:
                hits, how = stump, "a single cut-off value"
        purity = hits / n
        gain = (purity - baseline) / (1.0 - baseline)
        if gain < LEAK_GAIN:
            return None
        return f"{_pct(purity)} of rows", (
            f"{how} gives the right class for {_pct(purity)} of {n:,} sampled rows, against "
            f"{_pct(baseline)} by always guessing the most common class (normalised gain "
            f"{gain:.3f} ≥ {LEAK_GAIN})"
        )

    return check


def _regression_leak(y: np.ndarray) -> Callable[[pd.Series, str], tuple[str, str] | None]:
    y_ok = np.isfinite(y)

    def check(x: pd.Series, semantic: str) -> tuple[str, str] | None:
        if semantic == "numeric" or pd.api.types.is_datetime64_any_dtype(x.dtype):
            return _correlation_leak(_as_float(x), y, y_ok)
        codes = _group_codes(x if y_ok.all() else x.iloc[np.flatnonzero(y_ok)], semantic)
        return _variance_leak(codes, y[y_ok])

    return check


def _correlation_leak(x: np.ndarray, y: np.ndarray, y_ok: np.ndarray) -> tuple[str, str] | None:
    ok = y_ok & np.isfinite(x)
    if ok.sum() < 10:
        return None
    xs, ys = x[ok], y[ok]
    if xs.std() == 0 or ys.std() == 0:
        return None
    pearson = float(np.corrcoef(xs, ys)[0, 1])
    xr = pd.Series(xs).rank().to_numpy()
    yr = pd.Series(ys).rank().to_numpy()
    spearman = float(np.corrcoef(xr, yr)[0, 1])
    label, best = max(("Spearman", spearman), ("Pearson", pearson), key=lambda t: abs(t[1]))
    if abs(best) < LEAK_CORR:
        return None
    return f"{label} correlation {best:.3f}", (
        f"on {int(ok.sum()):,} sampled rows: Spearman {spearman:.4f}, Pearson {pearson:.4f} "
        f"(|r| ≥ {LEAK_CORR})"
    )


def _variance_leak(codes: np.ndarray, y: np.ndarray) -> tuple[str, str] | None:
    n = y.size
    if n < 10:
        return None
    counts = np.bincount(codes)
    used = counts > 0
    if n / used.sum() < LEAK_MIN_GROUP:
        return None
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return None
    means = np.bincount(codes, weights=y)[used] / counts[used]
    between = float((counts[used] * (means - y.mean()) ** 2).sum())
    eta2 = between / total
    if eta2 < LEAK_ETA2:
        return None
    return f"explains {_pct(eta2)} of its variance", (
        f"the mean of the target within each of its {int(used.sum()):,} values explains "
        f"{_pct(eta2)} of the target's variance on {n:,} sampled rows (≥ {_pct(LEAK_ETA2)})"
    )


# -- helpers ---------------------------------------------------------------------------------


def _pct(share: float) -> str:
    """A share as people read it; never rounds a near-miss up to 100 % or down to 0 %."""
    value = 100.0 * share
    if 0 < value < 0.1:
        return "< 0.1 %"
    if 99.9 < value < 100:
        return "> 99.9 %"
    return f"{value:.1f} %"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _jsonable(value: Any) -> Any:
    """Only str/int/float/bool/None/list/dict; NaN and ±inf become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
