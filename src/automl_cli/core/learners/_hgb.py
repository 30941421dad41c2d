"""scikit-learn's HistGradientBoosting: a third booster with native NaN and category support.

It early-stops on the given validation fold (``fit(X_val=…)``). Unlike LightGBM/XGBoost it
keeps the ``n_iter_no_change`` rounds after the best one, so ``fitted_iterations`` reports
the best round from ``validation_score_`` for the refit rather than the rounds it ran.

scikit-learn offers no callback, so the search deadline is checked where its loop asks
whether to stop early (``_should_stop``, once a round): folds stop on their validation loss,
and fits without a validation set on their training loss, which only ends a fit whose loss
no longer moves. Without that hook one fit on a stalled machine could run far past the
budget.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._base import stop_fitting
from automl_cli.core.learners._common import EARLY_STOPPING_ROUNDS, MAX_ESTIMATORS, config
from automl_cli.core.learners._params import Constraint, Interval
from automl_cli.core.learners._sklearn import SklearnLearner, limit_threads

__all__ = ["HgbLearner"]

MAX_BINS = 255


class HgbLearner(SklearnLearner):
    """HistGradientBoostingClassifier / Regressor on the native variant."""

    family = "hgb"
    variant = "native"
    supports_early_stopping = True
    # skops writes every round's tree predictor (one per class) as an object of its own
    save_per_object = 3e-3  # measured 0.8–1.6 ms each
    TRUSTED = (
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
    )
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_estimators": [Interval(int, 1, None)],
        "early_stopping_rounds": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, "neither")],
        "max_leaf_nodes": [Interval(int, 2, None)],
        "min_samples_leaf": [Interval(int, 1, None)],
        "l2_regularization": [Interval(float, 0, None)],
        "max_features": [Interval(float, 0, 1, "right")],
    }

    def __init__(
        self,
        *,
        task: str = "binary",
        n_classes: int = 2,
        seed: int = 0,
        n_jobs: int = 2,
        n_estimators: int = MAX_ESTIMATORS,
        early_stopping_rounds: int = EARLY_STOPPING_ROUNDS,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_features: float = 1.0,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features

    def _features(self, X: pd.DataFrame) -> pd.DataFrame:
        """Category columns with more levels than bins go in as ordered codes.

        HGB refuses a categorical with more than ``max_bins`` observed levels. The decision
        reads only the dtype's fixed level list, so fit and predict (and a loaded model)
        always agree without storing anything.
        """
        wide = [
            c
            for c, t in X.dtypes.items()
            if isinstance(t, pd.CategoricalDtype) and len(t.categories) > MAX_BINS
        ]
        if not wide:
            return X
        out = X.copy()
        for c in wide:
            codes = out[c].cat.codes.to_numpy(dtype="float64")
            out[c] = np.where(codes < 0, np.nan, codes)
        return out

    def _build(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = (
            HistGradientBoostingRegressor
            if self.task == "regression"
            else HistGradientBoostingClassifier
        )
        return cls(
            learning_rate=float(self.learning_rate),
            max_iter=int(self.n_estimators),
            max_leaf_nodes=int(self.max_leaf_nodes),
            min_samples_leaf=int(self.min_samples_leaf),
            l2_regularization=float(self.l2_regularization),
            max_features=float(self.max_features),
            max_bins=MAX_BINS,
            categorical_features="from_dtype",
            early_stopping=True,  # see the module docstring
            validation_fraction=None,  # the training loss, when no validation set is given
            scoring="loss",
            n_iter_no_change=int(self.early_stopping_rounds),
            random_state=int(self.seed),
        )

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        if X_val is not None and y_val is not None and self.task != "regression":
            # scikit-learn refuses a validation class the training rows lack (a rare class
            # in a small fold): such rows cannot guide early stopping anyway
            seen = np.isin(y_val, np.unique(y))
            if not seen.all():
                X_val, y_val = (X_val[seen], y_val[seen]) if seen.any() else (None, None)
        model = self._build(X, y)
        rule = type(model)._should_stop
        # on the instance for this fit only: nothing of it is left to persist
        model._should_stop = lambda scores: stop_fitting() or rule(model, scores)
        try:
            with limit_threads(int(self.n_jobs)):
                if X_val is None:
                    model.fit(self._features(X), y)
                else:
                    model.fit(self._features(X), y, X_val=self._features(X_val), y_val=y_val)
        finally:
            del model._should_stop
        self.model_ = model

    def fitted_iterations(self) -> int | None:
        if not hasattr(self, "model_"):
            return None
        scores = np.asarray(getattr(self.model_, "validation_score_", []))
        if scores.size:  # [0] is the score before the first round, so argmax counts rounds
            return max(int(np.argmax(scores)), 1)
        return int(self.model_.n_iter_)

    def model_bytes(self) -> int:
        """Every round's tree (one per class): node records and categorical bitsets."""
        if not hasattr(self, "model_"):
            return 0
        return sum(
            int(tree.nodes.nbytes)
            + int(tree.binned_left_cat_bitsets.nbytes)
            + int(tree.raw_left_cat_bitsets.nbytes)
            for round_trees in self.model_._predictors
            for tree in round_trees
        )

    def saved_bytes_floor(self) -> int:
        """The node records and value arrays that ``model_bytes`` counts are written as
        uncompressed arrays: the file holds them and more (2.3-5.4 times as much)."""
        return self.model_bytes()

    def stored_objects(self) -> int:
        if not hasattr(self, "model_"):
            return 0
        return sum(len(round_trees) for round_trees in self.model_._predictors)

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("hgb_learning_rate", 0.01, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int("hgb_max_leaf_nodes", 4, 256, log=True),
            "min_samples_leaf": trial.suggest_int("hgb_min_samples_leaf", 2, 100, log=True),
            "l2_regularization": trial.suggest_float("hgb_l2_regularization", 1e-8, 10.0, log=True),
            "max_features": trial.suggest_float("hgb_max_features", 0.4, 1.0),
        }

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """scikit-learn's defaults, then a slower, wider variant with feature subsampling."""
        base = {
            "learning_rate": 0.1,
            "max_leaf_nodes": 31,
            "min_samples_leaf": 20,
            "l2_regularization": 1e-8,  # the search space's floor: no penalty in effect
            "max_features": 1.0,
        }
        return [
            base,
            config(
                base, learning_rate=0.05, max_leaf_nodes=64, min_samples_leaf=10, max_features=0.8
            ),
        ]
