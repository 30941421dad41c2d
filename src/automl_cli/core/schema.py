"""The input schema a fitted preprocessor expects, and its enforcement on new tables.

Predict and evaluate see tomorrow's data: columns may be missing, extra, reordered, typed
differently or hold categories never seen in training. Enforcement never imputes silently:
what it changed is counted in a :class:`SchemaReport` for the caller to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl_cli.errors import DataError

__all__ = [
    "SchemaReport",
    "coerce_boolean",
    "coerce_numeric",
    "enforce_schema",
    "split_numbers",
]

_TRUE = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "0", "0.0"}
_MAX_SHOWN = 5


@dataclass
class SchemaReport:
    """What enforcement did to a table, for warnings and ``--json``."""

    extra_columns: list[str] = field(default_factory=list)
    coerced_columns: list[str] = field(default_factory=list)
    unseen_categories: dict[str, int] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "extra_columns": self.extra_columns,
            "coerced_columns": self.coerced_columns,
            "unseen_categories": self.unseen_categories,
            "missing_optional": self.missing_optional,
        }

    def merge(self, other: SchemaReport) -> None:
        """Add what enforcement did to another batch of the same table."""
        for name in ("extra_columns", "coerced_columns", "missing_optional"):
            mine = getattr(self, name)
            mine.extend(c for c in getattr(other, name) if c not in mine)
        for col, n in other.unseen_categories.items():
            self.unseen_categories[col] = self.unseen_categories.get(col, 0) + n

    def messages(self) -> list[str]:
        out = []
        if self.extra_columns:
            out.append(
                f"ignored {len(self.extra_columns)} column(s) the model does not use: "
                f"{_names(self.extra_columns)}"
            )
        if self.missing_optional:
            out.append(
                f"column(s) {_names(self.missing_optional)} are absent; they were dropped in "
                "training, so this is fine"
            )
        for col, n in self.unseen_categories.items():
            out.append(
                f"{n:,} value(s) of '{col}' were never seen in training (treated as unknown)"
            )
        return out


def _names(cols: list[str]) -> str:
    shown = ", ".join(f"'{c}'" for c in cols[:_MAX_SHOWN])
    return shown + (f" and {len(cols) - _MAX_SHOWN} more" if len(cols) > _MAX_SHOWN else "")


def split_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Text read as numbers: (float64 values with NaN where none, the mask of non-empty
    values that are not numbers, the stripped text), for callers that report those rows."""
    text = values.astype("string").str.strip()
    out = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = out.isna() & text.notna() & (text != "")
    return out, bad, text


def coerce_numeric(values: pd.Series, name: str, where: str) -> pd.Series:
    """Numbers as float64 with inf → NaN; text that is not a number is an error naming rows."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        out = values.astype("float64")
    else:
        out, bad, text = split_numbers(values)
        if bad.any():
            rows = list(np.flatnonzero(bad.to_numpy())[:_MAX_SHOWN] + 1)
            sample = text[bad].iloc[0]
            raise DataError(
                f"column '{name}' in {where} must be numeric but has {int(bad.sum()):,} "
                f"non-numeric value(s), e.g. {sample!r} (data row(s) {', '.join(map(str, rows))})",
                hint=f"fix or blank those values in '{name}'",
            )
    return out.replace([np.inf, -np.inf], np.nan)


def coerce_boolean(values: pd.Series) -> pd.Series:
    """Map true/false, yes/no, y/n, t/f, 1/0 (any case) to 1.0/0.0; anything else → NaN."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip().str.lower()
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    out[text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)] = 1.0
    out[text.isin(_FALSE).fillna(False).to_numpy(dtype=bool)] = 0.0
    return out


def enforce_schema(
    frame: pd.DataFrame, schema: dict[str, Any], *, where: str = "the input"
) -> tuple[pd.DataFrame, SchemaReport]:
    """Select and order the columns a fitted preprocessor needs; fail clearly when it cannot.

    A required column that is absent is an error (exit 3) naming every such column; extra
    columns are dropped and reported; column order does not matter.
    """
    report = SchemaReport()
    required = [c["name"] for c in schema["columns"] if c.get("required")]
    optional = [c["name"] for c in schema["columns"] if not c.get("required")]
    present = set(map(str, frame.columns))
    missing = [c for c in required if c not in present]
    if missing:
        raise DataError(
            f"{where} lacks {len(missing)} column(s) the model needs: {_names(missing)}",
            hint="add those columns (empty values are allowed), or retrain without them",
            missing_columns=missing,
        )
    known = set(required) | set(optional)
    target = (schema.get("target") or {}).get("name")
    report.extra_columns = [c for c in map(str, frame.columns) if c not in known and c != target]
    report.missing_optional = []
    return frame.loc[:, required], report
