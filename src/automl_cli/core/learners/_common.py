"""What every family shares: parameter checks, input checks and the output shape.

Families implement ``_fit`` and ``_output`` (probabilities ``(n, k)`` or values ``(n,)``);
``fit``/``predict``/``predict_proba`` here make the contract hold the same way for all.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._base import TASKS, Learner
from automl_cli.core.learners._params import Constraint, Interval, Options, fail, validate

__all__ = ["BaseLearner", "config"]

EARLY_STOPPING_ROUNDS = 50
MAX_ESTIMATORS = 5000  # boosters: an upper bound that early stopping cuts short

_COMMON: dict[str, list[Constraint]] = {
    "task": [Options(TASKS)],
    "n_classes": [Interval(int, 0, None)],
    "seed": [Interval(int, 0, 2**31 - 1)],
    "n_jobs": [Interval(int, 1, None)],
}


def config(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A portfolio entry: a complete configuration (every searched key), so an enqueued
    portfolio trial never gets randomly sampled values for the keys it left out."""
    return {**base, **changes}


class BaseLearner(Learner):
    """Shared implementation of :class:`Learner`; subclasses add hyperparameters."""

    constraints: ClassVar[dict[str, list[Constraint]]] = {}

    # -- checks -----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        owner = type(self).__name__
        params = self.get_params()
        validate(owner, params, {**_COMMON, **self.constraints})
        if self.task == "binary" and self.n_classes != 2:
            raise fail(owner, "n_classes", "2 for a binary task", self.n_classes)
        if self.task == "multiclass" and self.n_classes < 2:
            raise fail(owner, "n_classes", "an int ≥ 2 for a multiclass task", self.n_classes)

    def _check_X(self, X: pd.DataFrame) -> None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} takes a pandas DataFrame, not {type(X)}")
        if self.variant == "encoded":
            bad = [str(c) for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
            if not bad:  # some scikit-learn models accept NaN, others fail deep inside: say why
                finite = np.isfinite(X.to_numpy(dtype="float64")).all(axis=0)
                bad = [f"{c} (NaN/inf)" for c, ok in zip(X.columns, finite, strict=True) if not ok]
            if bad:
                raise ValueError(
                    f"{type(self).__name__} takes the 'encoded' feature variant (all finite "
                    f"numbers); column(s) {', '.join(bad[:5])} are not"
                )

    def _check_y(self, X: pd.DataFrame, y: np.ndarray, what: str) -> np.ndarray:
        """Targets as int codes 0..k-1 (classification) or floats; same length as ``X``."""
        self._check_X(X)
        arr = np.asarray(y, dtype="float64").reshape(-1)
        if len(arr) != len(X):
            raise ValueError(f"{what}: {len(X)} rows of features but {len(arr)} targets")
        if len(arr) == 0:
            raise ValueError(f"{what}: no rows to fit on")
        if not np.isfinite(arr).all():
            raise ValueError(f"{what}: the target has missing or infinite values")
        if self.task == "regression":
            return arr
        codes = arr.astype("int64")
        if (codes != arr).any() or codes.min() < 0 or codes.max() >= self.n_classes:
            raise ValueError(f"{what}: class codes must be integers in 0..{self.n_classes - 1}")
        return codes

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit first")

    # -- the contract -----------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
    ) -> BaseLearner:
        self._validate_params()
        yy = self._check_y(X, y, "fit")
        if (X_val is None) != (y_val is None):
            raise ValueError("fit: pass both X_val and y_val, or neither")
        yv = None
        if X_val is not None and y_val is not None:
            yv = self._check_y(X_val, y_val, "validation")
        self._fit(X, yy, X_val, yv)
        return self

    @abstractmethod
    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        """Set ``model_`` (and any other fitted attribute) from checked inputs."""

    @abstractmethod
    def _output(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` or regression values ``(n,)``."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            raise ValueError(f"{type(self).__name__} is a regressor; predict_proba is undefined")
        self._check_fitted()
        self._check_X(X)
        proba = np.asarray(self._output(X), dtype="float64")
        proba = np.clip(proba, 0.0, None)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.task != "regression":
            return np.argmax(self.predict_proba(X), axis=1)
        self._check_fitted()
        self._check_X(X)
        return np.asarray(self._output(X), dtype="float64").reshape(-1)

    @classmethod
    def _restore(cls, params: dict[str, Any]) -> Any:
        """A learner built from saved params (checked, as at fit) before its model is read."""
        learner = cls(**params)
        learner._validate_params()
        return learner


def binary_columns(p1: np.ndarray) -> np.ndarray:
    """Two probability columns from a booster's P(class 1)."""
    p1 = np.asarray(p1, dtype="float64").reshape(-1)
    return np.column_stack([1.0 - p1, p1])


def import_booster(name: str) -> Any:
    """Import ``lightgbm`` or ``xgboost`` for loading a saved model, without scikit-learn.

    Both import scikit-learn (about a second) only to offer their scikit-learn-style
    classes, which automl never uses: it trains and predicts through their native APIs. When
    neither the booster nor scikit-learn is loaded yet, scikit-learn is hidden for the
    duration of the import (the booster then skips its optional wrappers) and restored at
    once, so later imports of scikit-learn work as usual.
    """
    import importlib
    import sys

    if name in sys.modules or "sklearn" in sys.modules:
        return importlib.import_module(name)
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` fail
    try:
        return importlib.import_module(name)
    finally:
        del sys.modules["sklearn"]
