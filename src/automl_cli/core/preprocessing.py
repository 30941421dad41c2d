"""Learned, serialisable preprocessing shared by every model family.

:class:`Preprocessor` is fitted once per table. It keeps one *base* state (which columns are
used and why, medians, category levels, boolean maps, date origins, TF-IDF vocabularies,
target encodings) and produces several *variants* of the same rows without refitting:

- ``"native"`` for LightGBM / XGBoost / HistGradientBoosting: numbers keep their NaN,
  categoricals become pandas ``category`` columns with fixed levels.
- ``"encoded"`` for linear / k-NN / MLP models: every value numeric and finite — medians
  imputed with missing indicators, one-hot for low-cardinality categoricals, smoothed
  target encoding (out-of-fold on training rows) plus frequency for high cardinality.

The fitted state is plain JSON (:meth:`Preprocessor.to_dict`), so loading a saved
preprocessor never executes code from the artifact.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl_cli.core import cutoff
from automl_cli.core.schema import SchemaReport, coerce_boolean, coerce_numeric, enforce_schema
from automl_cli.errors import DataError, UsageError

__all__ = [
    "FORMAT_VERSION",
    "VARIANTS",
    "ColumnDecision",
    "Preprocessor",
    "category_keys",
    "encode_target",
]

FORMAT_VERSION = 1
VARIANTS = ("native", "encoded")
RARE = "__rare__"
UNKNOWN = "__unknown__"
TE_FOLDS = 5
TE_SMOOTHING = 10.0
_MAX_RARE_KEYS = 5000
_MAX_ENC_LEVELS = 20000
_SAFE_NAME = re.compile(r"[^0-9A-Za-z_]+")


@dataclass(frozen=True)
class ColumnDecision:
    """What prep does with one input column, and why (shown to users and saved)."""

    name: str
    action: str  # numeric | boolean | categorical | datetime | text | drop
    reason: str
    detail: dict[str, Any]


def _safe(name: str) -> str:
    return _SAFE_NAME.sub("_", str(name)).strip("_") or "col"


def category_keys(values: pd.Series) -> pd.Series:
    """Category keys: text stripped and case-folded, so 'Gold ' and 'gold' are one level.

    The string work is done once per distinct value, not per row (a million rows of a
    column hold a few hundred distinct values), then spread back by the factorised codes.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if values.dtype == object and len(uniques):
        # factorize merges values Python calls equal (0, 0.0 and False): which one came
        # first would name them all, so a row's key would depend on the other rows
        kinds, _ = pd.factorize(values.map(type, na_action="ignore"), use_na_sentinel=True)
        if kinds.max() > 0:
            pair = np.where(codes >= 0, codes.astype("int64") * (int(kinds.max()) + 1) + kinds, -1)
            codes, first = _factorize_with_first(pair)
            uniques = values.to_numpy(dtype=object)[first]
    text = pd.Series(uniques, dtype="object").astype("string").str.strip().str.casefold()
    keys = np.array([None if pd.isna(k) or k == "" else k for k in text], dtype=object)
    out = np.full(len(codes), None, dtype=object)
    hit = codes >= 0
    out[hit] = keys[codes[hit]]
    return pd.Series(out, index=values.index, dtype="string")


def _factorize_with_first(pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes for the non-negative ``pair`` values (-1 stays -1) and each code's first row."""
    codes, uniques = pd.factorize(pair)
    codes = np.where(pair >= 0, codes, -1)
    keep = uniques >= 0
    remap = np.full(len(uniques), -1)
    remap[keep] = np.arange(int(keep.sum()))
    codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    first = np.full(int(keep.sum()), -1)
    rows = np.flatnonzero(codes >= 0)
    first_seen = np.unique(codes[rows], return_index=True)[1]
    first[np.unique(codes[rows])] = rows[first_seen]
    return codes, first


def _informative_missing(missing: np.ndarray, y: np.ndarray | None, task: str) -> bool:
    """Does missingness carry signal about the target? (|z| > 3 on the target mean gap)."""
    n_miss = int(missing.sum())
    if y is None or n_miss < 5 or n_miss > len(missing) - 5:
        return n_miss > 0 and y is None
    yy = y.astype("float64") if task != "multiclass" else (y == _mode(y)).astype("float64")
    a, b = yy[missing], yy[~missing]
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b) + 1e-12)
    return bool(abs(a.mean() - b.mean()) / se > 3.0)


def _mode(y: np.ndarray) -> Any:
    values, counts = np.unique(y, return_counts=True)
    return values[np.argmax(counts)]


def encode_target(y: pd.Series, task: str) -> tuple[np.ndarray, list[Any] | None]:
    """Target as numbers: class indices (sorted classes) for classification, floats otherwise."""
    if task == "regression":
        values = coerce_numeric(y, str(y.name), "the target")
        return values.to_numpy(dtype="float64"), None
    keys = y.astype("string").str.strip()
    classes = sorted(keys.dropna().unique().tolist())
    lookup = {c: i for i, c in enumerate(classes)}
    return keys.map(lookup).to_numpy(dtype="float64"), classes


class _Params:
    """``get_params`` / ``set_params`` from ``__init__``'s keywords: scikit-learn's estimator
    contract without importing scikit-learn, which costs a second of start-up that
    ``automl predict`` on a model of boosters and linear members never needs."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            n for n, p in signature.parameters.items() if n != "self" and p.kind == p.KEYWORD_ONLY
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Preprocessor(_Params):
    """Turns a raw table into model-ready features; see the module docstring for variants.

    Parameters are only stored here (scikit-learn's estimator contract); everything learned
    is set in :meth:`fit` and ends in ``_``.
    """

    def __init__(
        self,
        *,
        profile: dict[str, Any] | None = None,
        target: str | None = None,
        task: str | None = None,
        drop: tuple[str, ...] = (),
        keep: tuple[str, ...] = (),
        max_categories: int = 20,
        text: str = "tfidf",
        text_max_features: int = 50,
        rare_min_count: int = 10,
        max_levels: int = 255,
        seed: int = 0,
    ) -> None:
        self.profile = profile
        self.target = target
        self.task = task
        self.drop = drop
        self.keep = keep
        self.max_categories = max_categories
        self.text = text
        self.text_max_features = text_max_features
        self.rare_min_count = rare_min_count
        self.max_levels = max_levels
        self.seed = seed

    # -- fitting ----------------------------------------------------------------------------
    def _check_params(self, columns: list[str]) -> None:
        if self.text not in ("tfidf", "drop"):
            raise UsageError(
                f"The 'text' parameter of Preprocessor must be 'tfidf' or 'drop'. "
                f"Got {self.text!r} instead."
            )
        if self.task not in (None, "binary", "multiclass", "regression"):
            raise UsageError(
                "The 'task' parameter of Preprocessor must be binary, multiclass or regression. "
                f"Got {self.task!r} instead."
            )
        if self.max_categories < 1:
            raise UsageError(
                "The 'max_categories' parameter of Preprocessor must be ≥ 1. "
                f"Got {self.max_categories!r} instead."
            )
        unknown = [c for c in (*self.drop, *self.keep) if c not in columns]
        if unknown:
            raise UsageError(
                f"--drop/--keep name column(s) not in the table: {', '.join(unknown)}",
                hint="check the spelling against 'automl profile' output",
            )
        both = set(self.drop) & set(self.keep)
        if both:
            raise UsageError(f"column(s) {', '.join(sorted(both))} are both dropped and kept")

    def _plan(self, frame: pd.DataFrame) -> list[tuple[str, str, str]]:
        """(column, action, reason) from the profile's semantic types and warnings."""
        profile = self.profile or {}
        types = {c["name"]: c for c in profile.get("columns", [])}
        leaks = {
            w["column"]: w.get("reason") or w.get("message", "")
            for w in profile.get("warnings", [])
            if w.get("code") == "leakage" and w.get("column")
        }
        plan = []
        for col in map(str, frame.columns):
            if col == self.target:
                continue
            info = types.get(col, {})
            sem = info.get("semantic_type") or _fallback_type(frame[col])
            kept = col in self.keep
            if col in self.drop:
                plan.append((col, "drop", "dropped on request (--drop)"))
            elif col in leaks and not kept:
                plan.append(
                    (
                        col,
                        "drop",
                        f"target leakage: it alone predicts the target almost perfectly "
                        f"({leaks[col]}); --keep {col} to use it",
                    )
                )
            elif sem == "constant" and not kept:
                plan.append((col, "drop", "constant: one value only, carries no information"))
            elif sem == "id" and not kept:
                plan.append(
                    (
                        col,
                        "drop",
                        "ID-like: almost every value is unique, so it cannot "
                        f"generalise (--keep {col} to use it)",
                    )
                )
            elif sem == "text" and self.text == "drop" and not kept:
                plan.append((col, "drop", "free text, dropped (--text drop)"))
            else:
                action = {"id": "categorical", "constant": "categorical"}.get(sem, sem)
                if action == "id" or action not in (
                    "numeric",
                    "boolean",
                    "categorical",
                    "datetime",
                    "text",
                ):
                    action = "categorical"
                if action in ("id", "categorical") and pd.api.types.is_numeric_dtype(frame[col]):
                    action = "numeric" if sem == "id" else action
                reason = {
                    "numeric": "numeric",
                    "boolean": "boolean: mapped to 1/0",
                    "categorical": "categorical",
                    "datetime": "date/time: expanded into calendar and elapsed-time features",
                    "text": "free text: TF-IDF of the most frequent words",
                }[action]
                if kept and col in leaks:
                    reason += " — kept despite a leakage warning (--keep)"
                plan.append((col, action, reason))
        return plan

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> Preprocessor:
        self._fit(X, y)
        return self

    def fit_transform(
        self, X: pd.DataFrame, y: pd.Series | None = None, variant: str = "native", **_: Any
    ) -> pd.DataFrame:
        """Fit, then transform the training rows; target encodings are out-of-fold here."""
        self._fit(X, y)
        return self.transform(X, variant=variant, y=y)

    def _fit(self, X: pd.DataFrame, y: pd.Series | None) -> None:
        self.__dict__.pop("_runtime_cache", None)  # built from the state this fit replaces
        columns = list(map(str, X.columns))
        if len(set(columns)) != len(columns):
            raise DataError("the table has duplicate column names")
        self._check_params(columns)
        task = self.task or ((self.profile or {}).get("target") or {}).get("task")
        if y is not None:
            _check_target_values(y)
        if y is not None and task is None:
            raise UsageError("the task is unknown", hint="pass --task binary|multiclass|regression")
        self.task_: str | None = task
        y_num: np.ndarray | None = None
        if y is not None and task is not None:
            y_num, self.classes_ = encode_target(y, task)
            if np.isnan(y_num).any():
                raise DataError(
                    f"the target '{y.name}' has {int(np.isnan(y_num).sum()):,} missing value(s)",
                    hint="drop the rows without a target before fitting",
                )
        else:
            self.classes_ = None
        n = len(X)
        self.n_rows_ = n
        decisions: list[ColumnDecision] = []
        self.state_: dict[str, dict[str, Any]] = {}
        for col, action, reason in self._plan(X):
            cutoff.check()  # a search's budget may end while a big table is prepared
            detail: dict[str, Any] = {}
            values = X[col]
            if action == "numeric":
                detail = self._fit_numeric(values, y_num, col)
            elif action == "boolean":
                detail = self._fit_numeric(coerce_boolean(values), y_num, col, boolean=True)
            elif action == "categorical":
                detail = self._fit_categorical(values, y_num)
            elif action == "datetime":
                detail = self._fit_datetime(values)
                if detail.get("unparsed_share", 0) > 0.5:
                    action, detail = "categorical", self._fit_categorical(values, y_num)
                    reason = "categorical (most values did not parse as dates)"
            elif action == "text":
                detail = self._fit_text(values)
                if not detail.get("vocabulary"):
                    action, reason, detail = "drop", "free text without recurring words", {}
            if action != "drop":
                self.state_[col] = {"action": action, **detail}
            decisions.append(ColumnDecision(col, action, reason, _summary(action, detail)))
        if not self.state_:
            raise DataError(
                "no usable feature columns are left after dropping IDs, constants and leaks",
                hint="check the profile's warnings; --keep COL keeps a dropped column",
            )
        self.decisions_ = decisions
        self.feature_columns_ = [d.name for d in decisions if d.action != "drop"]
        self.schema_ = self._schema(X)

    def _fit_numeric(
        self, values: pd.Series, y: np.ndarray | None, col: str, boolean: bool = False
    ) -> dict[str, Any]:
        num = values if boolean else coerce_numeric(values, col, "the training table")
        arr = num.to_numpy(dtype="float64")
        missing = np.isnan(arr)
        median = float(np.nanmedian(arr)) if (~missing).any() else 0.0
        indicator = bool(missing.any()) and _informative_missing(missing, y, self.task_ or "")
        return {
            "boolean": boolean,
            "median": median,
            "indicator": indicator,
            "missing_share": float(missing.mean()),
        }

    def _fit_categorical(self, values: pd.Series, y: np.ndarray | None) -> dict[str, Any]:
        """Levels seen at least ``min_count`` times are kept; the rest pool into RARE.

        Low cardinality (≤ max_categories distinct values) is one-hot encoded in the
        ``encoded`` variant; high cardinality gets frequency and smoothed target encoding,
        computed on levels seen at least twice (smoothing handles the small ones).
        """
        keys = category_keys(values)
        counts = keys.value_counts(dropna=True)
        # order by count, then key: the same table in any row order gives the same levels
        counts = counts.iloc[np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))]
        min_count = min(self.rare_min_count, max(3, len(values) // 50))
        levels = [str(v) for v in counts.index[counts.to_numpy() >= min_count][: self.max_levels]]
        rare = [str(v) for v in counts.index if str(v) not in set(levels)]
        onehot = len(counts) <= self.max_categories
        detail: dict[str, Any] = {
            "levels": levels,
            "pooled_levels": len(rare),
            # levels too rare to keep are remembered (up to a cap) so that at predict time
            # "rare in training" and "never seen" can be told apart and counted
            "rare_keys": rare[:_MAX_RARE_KEYS],
            "rare_keys_complete": len(rare) <= _MAX_RARE_KEYS,
            "onehot": onehot,
        }
        if not onehot:
            enc_levels = [str(v) for v in counts.index[counts.to_numpy() >= 2][:_MAX_ENC_LEVELS]]
            detail["encoding_levels"] = enc_levels
            enc_keys = _levelled(keys, enc_levels)
            n = max(len(values), 1)
            freq = enc_keys.value_counts(dropna=True) / n
            detail["frequency"] = {str(k): float(v) for k, v in freq.items()}
            if y is not None:
                detail["target_encoding"] = _fit_target_encoding(
                    enc_keys, y, self.task_ or "regression", len(self.classes_ or [])
                )
        return detail

    def _fit_datetime(self, values: pd.Series) -> dict[str, Any]:
        parsed = _parse_dates(values)
        ok = parsed.notna()
        present = values.notna() & (values.astype("string").str.strip() != "")
        unparsed = float((present & ~ok).sum()) / max(int(present.sum()), 1)
        if not ok.any():
            return {"unparsed_share": 1.0}
        has_time = bool((parsed[ok].dt.hour != 0).any() or (parsed[ok].dt.minute != 0).any())
        origin = parsed[ok].min()
        return {
            "origin": origin.isoformat(),
            "has_time": has_time,
            "unparsed_share": unparsed,
            "medians": {
                k: float(v.median()) for k, v in _date_parts(parsed, origin, has_time).items()
            },
        }

    def _fit_text(self, values: pd.Series) -> dict[str, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = values.astype("string").fillna("").tolist()
        vec = TfidfVectorizer(
            max_features=self.text_max_features,
            min_df=min(3, max(1, len(docs) // 100)),
            stop_words="english",
            lowercase=True,
            dtype=np.float64,
        )
        try:
            vec.fit(docs)
        except ValueError:  # empty vocabulary
            return {}
        vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
        return {"vocabulary": vocab, "idf": [float(v) for v in vec.idf_]}

    def _schema(self, X: pd.DataFrame) -> dict[str, Any]:
        dropped = {d.name: d.reason for d in self.decisions_ if d.action == "drop"}
        columns = []
        for col in map(str, X.columns):
            if col == self.target:
                continue
            entry: dict[str, Any] = {
                "name": col,
                "dtype": str(X[col].dtype),
                "required": col not in dropped,
            }
            if col in dropped:
                entry["dropped"] = dropped[col]
            state = self.state_.get(col)
            if state:
                entry["kind"] = state["action"]
                if state["action"] == "categorical":
                    entry["categories"] = state["levels"]
            columns.append(entry)
        return {
            "format_version": FORMAT_VERSION,
            "columns": columns,
            "target": {"name": self.target, "task": self.task_, "classes": self.classes_}
            if self.target
            else None,
        }

    # -- transforming -----------------------------------------------------------------------
    def transform(
        self, X: pd.DataFrame, variant: str = "native", y: pd.Series | None = None
    ) -> pd.DataFrame:
        """Model-ready features. Pass ``y`` only for the training rows (out-of-fold encodings)."""
        out, _report = self.transform_with_report(X, variant=variant, y=y)
        return out

    def transform_with_report(
        self,
        X: pd.DataFrame,
        variant: str = "native",
        y: pd.Series | None = None,
        where: str = "the input",
    ) -> tuple[pd.DataFrame, SchemaReport]:
        if variant not in VARIANTS:
            raise UsageError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        frame, report = enforce_schema(X, self.schema_, where=where)
        y_num = encode_target(y, self.task_)[0] if y is not None and self.task_ else None
        parts: dict[str, Any] = {}
        for col in self.feature_columns_:
            cutoff.check()  # a search's budget may end while a big table is encoded
            state = self.state_[col]
            action = state["action"]
            if action in ("numeric", "boolean"):
                self._numeric(frame[col], col, state, variant, parts, where, report)
            elif action == "categorical":
                self._categorical(frame[col], col, state, variant, parts, y_num, report)
            elif action == "datetime":
                self._datetime(frame[col], col, state, variant, parts)
            elif action == "text":
                self._text(frame[col], col, state, parts)
        out = pd.DataFrame(parts, index=frame.index)
        return out, report

    def _numeric(
        self,
        values: pd.Series,
        col: str,
        state: dict[str, Any],
        variant: str,
        parts: dict[str, Any],
        where: str,
        report: SchemaReport,
    ) -> None:
        if state["boolean"]:
            num = coerce_boolean(values)
        else:
            if not pd.api.types.is_numeric_dtype(values):
                report.coerced_columns.append(col)
            num = coerce_numeric(values, col, where)
        name = _safe(col)
        if variant == "native":
            parts[name] = num.to_numpy(dtype="float64")
            return
        arr = num.to_numpy(dtype="float64")
        missing = np.isnan(arr)
        parts[name] = np.where(missing, state["median"], arr)
        if state["indicator"]:
            parts[f"{name}__missing"] = missing.astype("float64")

    def _categorical(
        self,
        values: pd.Series,
        col: str,
        state: dict[str, Any],
        variant: str,
        parts: dict[str, Any],
        y: np.ndarray | None,
        report: SchemaReport,
    ) -> None:
        keys = category_keys(values)
        levels: list[str] = state["levels"]
        present = keys.notna().to_numpy()
        seen = keys.isin(levels) | keys.isin(state["rare_keys"])
        unseen = present & ~seen.to_numpy(dtype=bool)
        if unseen.any() and state["rare_keys_complete"]:
            report.unseen_categories[col] = int(unseen.sum())
            keys = keys.mask(unseen, UNKNOWN)
        levelled = _levelled(keys, [*levels, UNKNOWN])
        name = _safe(col)
        if variant == "native":
            parts[name] = pd.Categorical(levelled, categories=[*levels, RARE, UNKNOWN])
            return
        if state["onehot"]:
            for level in [*levels, RARE]:
                hit = (levelled == level).fillna(False)  # a missing value matches no level
                parts[f"{name}__{_safe(level)}"] = hit.to_numpy(dtype="float64")
            parts[f"{name}__missing"] = (~present).astype("float64")
            return
        enc_keys = _levelled(keys, state["encoding_levels"])  # unseen → RARE
        parts[f"{name}__freq"] = enc_keys.map(state["frequency"]).astype("float64").fillna(0.0)
        parts[f"{name}__freq"] = parts[f"{name}__freq"].to_numpy()
        te = state.get("target_encoding")
        if te is not None:
            table = self._cached(("te", col), lambda: _te_table(te))
            encoded = _apply_target_encoding(enc_keys, te, y, self.task_ or "", self.seed, table)
            for j in range(encoded.shape[1]):
                parts[f"{name}__te{j}" if encoded.shape[1] > 1 else f"{name}__te"] = encoded[:, j]

    def _datetime(
        self,
        values: pd.Series,
        col: str,
        state: dict[str, Any],
        variant: str,
        parts: dict[str, Any],
    ) -> None:
        parsed = _parse_dates(values)
        origin = pd.Timestamp(state["origin"])
        name = _safe(col)
        for part, series in _date_parts(parsed, origin, state["has_time"]).items():
            arr = series.to_numpy(dtype="float64")
            if variant == "encoded":
                missing = np.isnan(arr)
                arr = np.where(missing, state["medians"][part], arr)
                if part == "elapsed_days":
                    parts[f"{name}__missing"] = missing.astype("float64")
            parts[f"{name}__{part}"] = arr

    def _text(
        self, values: pd.Series, col: str, state: dict[str, Any], parts: dict[str, Any]
    ) -> None:
        vocab = state["vocabulary"]
        vec = self._cached(("tfidf", col), lambda: _vectorizer(vocab, state["idf"]))
        matrix = vec.transform(values.astype("string").fillna("").tolist()).toarray()
        name = _safe(col)
        for j, term in enumerate(vocab):
            parts[f"{name}__w_{_safe(term)}"] = matrix[:, j]

    def _cached(self, key: tuple[str, str], build: Callable[[], Any]) -> Any:
        """Objects rebuilt from the fitted state (a vectorizer, a lookup table), built once
        per loaded preprocessor: rebuilding them per call was most of a one-row predict."""
        cache: dict[tuple[str, str], Any] = self.__dict__.setdefault("_runtime_cache", {})
        if key not in cache:
            cache[key] = build()
        return cache[key]

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-ready data (no code, no pickle)."""
        return {
            "format_version": FORMAT_VERSION,
            "params": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in self.get_params().items()
                if k != "profile"
            },
            "task": self.task_,
            "classes": self.classes_,
            "n_rows": self.n_rows_,
            "decisions": [asdict(d) for d in self.decisions_],
            "feature_columns": self.feature_columns_,
            "state": self.state_,
            "schema": self.schema_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported preprocessor format {data.get('format_version')!r}")
        params = dict(data["params"])
        for key in ("drop", "keep"):
            params[key] = tuple(params.get(key, ()))
        obj = cls(**params)
        obj.task_ = data["task"]
        obj.classes_ = data["classes"]
        obj.n_rows_ = data["n_rows"]
        obj.decisions_ = [ColumnDecision(**d) for d in data["decisions"]]
        obj.feature_columns_ = list(data["feature_columns"])
        obj.state_ = data["state"]
        obj.schema_ = data["schema"]
        return obj


# -- helpers -------------------------------------------------------------------------------


def _check_target_values(y: pd.Series) -> None:
    """A target with fewer than two different values gives nothing to learn (bad data, exit 3)."""
    keys = y.astype("string").str.strip()
    values = keys[keys.notna() & (keys != "")].unique()
    if len(values) >= 2:
        return
    name = str(y.name)
    if not len(values):
        raise DataError(
            f"the target '{name}' has no values",
            hint="fill in the target column, or choose another column with --target",
        )
    rows = int(keys.notna().sum())
    raise DataError(
        f"the target '{name}' has one value only ({values[0]!r} in all {rows:,} labelled "
        "row(s)): there is nothing to predict",
        hint="check that --target names the right column, or add rows with other values",
    )


def _fallback_type(values: pd.Series) -> str:
    """Used only for columns the profile does not describe."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    return "categorical"


def _levelled(keys: pd.Series, levels: list[str]) -> pd.Series:
    """Canonical keys with every level outside ``levels`` mapped to RARE; NaN stays NaN."""
    return keys.where(keys.isin(levels) | keys.isna(), RARE)


def _parse_dates(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(values.astype("string"), errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _date_parts(parsed: pd.Series, origin: pd.Timestamp, has_time: bool) -> dict[str, pd.Series]:
    parts = {
        "year": parsed.dt.year.astype("float64"),
        "month": parsed.dt.month.astype("float64"),
        "dayofweek": parsed.dt.day_of_week.astype("float64"),
        "elapsed_days": (parsed - origin).dt.total_seconds() / 86400.0,
    }
    if has_time:
        parts["hour"] = parsed.dt.hour.astype("float64")
    return parts


def _target_matrix(y: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """Columns to average per level: the value (regression/binary) or one-hot classes."""
    if task == "multiclass":
        return np.eye(n_classes)[y.astype(int)]
    return y.reshape(-1, 1).astype("float64")


def _fit_target_encoding(
    levelled: pd.Series, y: np.ndarray, task: str, n_classes: int
) -> dict[str, Any]:
    """Smoothed per-level target means (m-estimate), shrunk towards the prior for small levels."""
    mat = _target_matrix(y, task, n_classes)
    prior = mat.mean(axis=0)
    frame = pd.DataFrame(mat).assign(_key=levelled.fillna("__missing__").to_numpy())
    grouped = frame.groupby("_key")
    sums, counts = grouped.sum(), grouped.size()
    enc = (sums.to_numpy() + TE_SMOOTHING * prior) / (counts.to_numpy()[:, None] + TE_SMOOTHING)
    return {
        "prior": [float(p) for p in prior],
        "values": {str(k): [float(v) for v in row] for k, row in zip(sums.index, enc, strict=True)},
    }


def _vectorizer(vocab: list[str], idf: list[float]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(vocabulary=vocab, stop_words="english", lowercase=True, dtype=np.float64)
    vec.fit(["".join(vocab[:1])])  # builds the analyzer; idf is set below
    vec.idf_ = np.asarray(idf, dtype="float64")
    return vec


def _te_table(te: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(te["values"], orient="index", dtype="float64")


def _lookup(keys: pd.Series, te: dict[str, Any], table: pd.DataFrame | None = None) -> np.ndarray:
    prior = np.asarray(te["prior"], dtype="float64")
    if table is None:
        table = _te_table(te)
    if table.empty:
        return np.tile(prior, (len(keys), 1))
    out = np.array(table.reindex(keys.to_numpy()).to_numpy(dtype="float64"), copy=True)
    missing = np.isnan(out[:, 0])
    out[missing] = prior
    return out


def _apply_target_encoding(
    levelled: pd.Series,
    te: dict[str, Any],
    y: np.ndarray | None,
    task: str,
    seed: int,
    table: pd.DataFrame | None = None,
) -> np.ndarray:
    """Encoded columns; with ``y`` (training rows) each row's value comes from other folds."""
    keys = levelled.fillna("__missing__").astype("object").reset_index(drop=True)
    if y is None:
        return _lookup(keys, te, table)
    n_classes = len(te["prior"])
    folds = np.random.default_rng(seed).permutation(len(keys)) % TE_FOLDS
    out = np.empty((len(keys), len(te["prior"])), dtype="float64")
    for k in range(TE_FOLDS):
        fit_rows, apply_rows = folds != k, folds == k
        if not apply_rows.any():
            continue
        fold_te = _fit_target_encoding(keys[fit_rows], y[fit_rows], task, n_classes)
        out[apply_rows] = _lookup(keys[apply_rows], fold_te)
    return out


def _summary(action: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The part of a column's state worth showing to a person."""
    if action in ("numeric", "boolean"):
        return {
            "median": detail.get("median"),
            "missing_indicator": detail.get("indicator"),
        }
    if action == "categorical":
        return {
            "levels": len(detail.get("levels", [])),
            "pooled_rare_levels": detail.get("pooled_levels"),
            "encoding": "one-hot" if detail.get("onehot") else "target + frequency (out-of-fold)",
        }
    if action == "datetime":
        return {"origin": detail.get("origin"), "has_time": detail.get("has_time")}
    if action == "text":
        return {"terms": len(detail.get("vocabulary", []))}
    return {}
