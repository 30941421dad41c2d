"""Linear models: logistic regression / ridge on standardised features.

The cheapest family and a sanity floor for the leaderboard; its smooth, additive errors
also blend well with trees in the ensemble.

Fitted with scikit-learn, then kept as plain arrays (scaler mean and scale, coefficients,
intercept) in :class:`LinearModel`, which predicts with numpy alone and is saved as JSON:
loading a linear member needs neither scikit-learn nor skops, which keeps ``automl predict``
quick to start, and predictions before and after saving come from the same code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._params import Constraint, Interval
from automl_cli.core.learners._sklearn import SklearnLearner

__all__ = ["LinearLearner", "LinearModel"]

MODEL_JSON = "linear.json"


class LinearModel:
    """A fitted standardise-then-linear model as arrays; predicts like the sklearn pipeline."""

    def __init__(
        self,
        task: str,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: np.ndarray | None,
        features: list[str],
    ) -> None:
        self.task = task
        self.mean = np.asarray(mean, dtype="float64")
        self.scale = np.asarray(scale, dtype="float64")
        self.coef = np.atleast_2d(np.asarray(coef, dtype="float64"))
        self.intercept = np.atleast_1d(np.asarray(intercept, dtype="float64"))
        self.classes_ = None if classes is None else np.asarray(classes, dtype="int64")
        self.features = list(features)

    @classmethod
    def from_pipeline(cls, task: str, pipeline: Any, features: list[str]) -> LinearModel:
        scaler, model = pipeline.named_steps["scale"], pipeline.named_steps["model"]
        return cls(
            task,
            scaler.mean_,
            scaler.scale_,
            model.coef_,
            model.intercept_,
            getattr(model, "classes_", None) if task != "regression" else None,
            features,
        )

    def _decision(self, X: pd.DataFrame) -> np.ndarray:
        if list(X.columns) != self.features:
            raise ValueError("the features differ from those the linear model was fitted on")
        z = (X.to_numpy(dtype="float64") - self.mean) / self.scale
        return np.asarray(z @ self.coef.T + self.intercept)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._decision(X)[:, 0]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        d = self._decision(X)
        if d.shape[1] == 1:  # binary: the logistic of one decision value
            p1 = 1.0 / (1.0 + np.exp(-d[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        d = d - d.max(axis=1, keepdims=True)  # multinomial: softmax
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "classes": None if self.classes_ is None else self.classes_.tolist(),
            "features": self.features,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearModel:
        return cls(
            d["task"], np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["coef"]),
            np.asarray(d["intercept"]), None if d["classes"] is None else np.asarray(d["classes"]),
            list(d["features"]),
        )  # fmt: skip


class LinearLearner(SklearnLearner):
    """LogisticRegression (``C``) for classes, Ridge (``alpha``) for regression."""

    family = "linear"
    variant = "encoded"
    TRUSTED = ()  # Pipeline, StandardScaler and both models are in skops' default set
    saves_with_skops = False  # its coefficients are saved as JSON (older versions: skops)
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "C": [Interval(float, 0, None, "neither")],
        "alpha": [Interval(float, 0, None)],
        "max_iter": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        *,
        task: str = "binary",
        n_classes: int = 2,
        seed: int = 0,
        n_jobs: int = 2,
        C: float = 1.0,
        alpha: float = 1.0,
        max_iter: int = 1000,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter

    def _build(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        if self.task == "regression":
            model: Any = Ridge(alpha=float(self.alpha), random_state=int(self.seed))
        else:
            model = LogisticRegression(
                C=float(self.C), max_iter=int(self.max_iter), random_state=int(self.seed)
            )
        return Pipeline([("scale", StandardScaler()), ("model", model)])

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        super()._fit(X, y, X_val, y_val)
        features = [str(c) for c in self._features(X).columns]
        self.model_ = LinearModel.from_pipeline(self.task, self.model_, features)

    def save(self, directory: Path) -> list[str]:
        self._check_fitted()
        text = json.dumps(self.model_.to_dict(), allow_nan=False)
        (Path(directory) / MODEL_JSON).write_text(text, encoding="utf-8")
        return [MODEL_JSON]

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> LinearLearner:
        path = Path(directory) / MODEL_JSON
        if not path.exists():  # saved by an earlier automl: a skops pipeline
            loaded: LinearLearner = super().load(directory, params)  # type: ignore[assignment]
            return loaded
        learner: LinearLearner = cls._restore(params)
        learner.model_ = LinearModel.from_dict(json.loads(path.read_text("utf-8")))
        return learner

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        if task == "regression":
            return {"alpha": trial.suggest_float("linear_alpha", 1e-3, 1e3, log=True)}
        return {"C": trial.suggest_float("linear_C", 1e-4, 1e2, log=True)}

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """scikit-learn's default strength; a stronger penalty helps on wide one-hot tables."""
        if task == "regression":
            return [{"alpha": 1.0}, {"alpha": 30.0}]
        return [{"C": 1.0}, {"C": 0.05}]
