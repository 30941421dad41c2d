"""Linear models: logistic regression / ridge on standardised features.

The cheapest family and a sanity floor for the leaderboard; its smooth, additive errors
also blend well with trees in the ensemble.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._params import Constraint, Interval
from automl_cli.core.learners._sklearn import SklearnLearner

__all__ = ["LinearLearner"]


class LinearLearner(SklearnLearner):
    """LogisticRegression (``C``) for classes, Ridge (``alpha``) for regression."""

    family = "linear"
    variant = "encoded"
    TRUSTED = ()  # Pipeline, StandardScaler and both models are in skops' default set
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
