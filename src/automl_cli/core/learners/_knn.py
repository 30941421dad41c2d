"""k-nearest neighbours on standardised features: local, assumption-free, cheap to fit.

Useful on small tables and as a diverse ensemble member; prediction cost grows with the
training rows, so :func:`default_families` leaves it out of large tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._base import DeadlinePassed, past_deadline
from automl_cli.core.learners._params import Constraint, Interval, Options
from automl_cli.core.learners._sklearn import SklearnLearner

__all__ = ["KnnLearner"]

PSEUDO_NEIGHBOURS = 1.0
# rows predicted between deadline checks: k-NN's cost is its prediction (each row against every
# training row), and one validation fold of 60,000 rows against 240,000 took 25 s
PREDICT_CHUNK = 2_048


class KnnLearner(SklearnLearner):
    """KNeighborsClassifier / Regressor; ``n_neighbors`` is capped at the training rows."""

    family = "knn"
    variant = "encoded"
    # model_bytes counts the matrix twice; skops writes it once, as one array
    save_rate = 60e6
    # the neighbour index ("auto" picks a KD/ball tree or brute force) and its metric
    TRUSTED = (
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._kd_tree.KDTree",
    )
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_neighbors": [Interval(int, 1, None)],
        "weights": [Options(("uniform", "distance"))],
        "p": [Options((1, 2))],
    }

    def __init__(
        self,
        *,
        task: str = "binary",
        n_classes: int = 2,
        seed: int = 0,
        n_jobs: int = 2,
        n_neighbors: int = 5,
        weights: str = "uniform",
        p: int = 2,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.p = p

    def _build(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        cls = KNeighborsRegressor if self.task == "regression" else KNeighborsClassifier
        model = cls(
            n_neighbors=min(int(self.n_neighbors), len(X)),
            weights=self.weights,
            p=int(self.p),
            n_jobs=int(self.n_jobs),
        )
        return Pipeline([("scale", StandardScaler()), ("model", model)])

    def _output(self, X: pd.DataFrame) -> np.ndarray:
        """Class shares among the neighbours plus one pseudo-neighbour spread over the
        training classes: a vote of 0 is not certainty, and a probability of exactly 0 on a class
        that occurs costs log loss its maximum on that row."""
        out = self._neighbour_output(X)
        if self.task == "regression":
            return out
        fitted = self.model_.named_steps["model"]
        k = min(int(self.n_neighbors), int(fitted.n_samples_fit_))
        prior = np.zeros(self.n_classes)
        prior[np.asarray(fitted.classes_, dtype="int64")] = 1.0 / len(fitted.classes_)
        return (out * k + PSEUDO_NEIGHBOURS * prior) / (k + PSEUDO_NEIGHBOURS)

    def _neighbour_output(self, X: pd.DataFrame) -> np.ndarray:
        """The estimator's output, in chunks of rows with a deadline check before each one
        after the first (rows are independent, so the result is that of a single call)."""
        if len(X) <= PREDICT_CHUNK:
            return super()._output(X)
        parts = []
        for start in range(0, len(X), PREDICT_CHUNK):
            if start and past_deadline():
                raise DeadlinePassed(f"k-NN predicted {start:,} of {len(X):,} rows in time")
            parts.append(super()._output(X.iloc[start : start + PREDICT_CHUNK]))
        return np.concatenate(parts)

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> KnnLearner:
        """The neighbour search runs on the threads given where the model is loaded."""
        learner = super().load(directory, params)
        assert isinstance(learner, KnnLearner)
        learner.model_.named_steps["model"].set_params(n_jobs=int(learner.n_jobs))
        return learner

    def model_bytes(self) -> int:
        """k-NN keeps the whole (scaled) training matrix."""
        if not hasattr(self, "model_"):
            return 0
        fitted = self.model_.named_steps["model"]
        return int(fitted.n_samples_fit_) * int(fitted.n_features_in_) * 8 * 2

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        return {
            "n_neighbors": trial.suggest_int("knn_n_neighbors", 1, 100, log=True),
            "weights": trial.suggest_categorical("knn_weights", ["uniform", "distance"]),
            "p": trial.suggest_categorical("knn_p", [1, 2]),
        }

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """Uniform and distance weights (AutoGluon's KNeighborsUnif / KNeighborsDist pair);
        the second uses more neighbours so its class probabilities are less jumpy."""
        return [
            {"n_neighbors": 5, "weights": "uniform", "p": 2},
            {"n_neighbors": 15, "weights": "distance", "p": 2},
        ]
