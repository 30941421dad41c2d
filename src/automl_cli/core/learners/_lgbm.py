"""LightGBM through its native API: early stopping on the validation fold, text model files.

Reproducible by construction: ``deterministic=True`` with ``force_row_wise=True`` and one
``seed`` (LightGBM's own advice). Categorical features come from the pandas ``category``
dtype; the model file keeps the category lists, so a loaded booster maps codes the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._base import stop_fitting
from automl_cli.core.learners._common import (
    EARLY_STOPPING_ROUNDS,
    MAX_ESTIMATORS,
    BaseLearner,
    binary_columns,
    config,
    import_booster,
)
from automl_cli.core.learners._params import Boolean, Constraint, Interval

__all__ = ["LgbmLearner"]

MODEL_FILE = "model.txt"
LEAF_BYTES = 80  # a leaf and its parent split in LightGBM's in-memory trees, roughly


class LgbmLearner(BaseLearner):
    """Gradient-boosted trees (LightGBM); the strongest default on most tables."""

    family = "lgbm"
    variant = "native"
    supports_early_stopping = True
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_estimators": [Interval(int, 1, None)],
        "early_stopping_rounds": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, "neither")],
        "num_leaves": [Interval(int, 2, 131072)],
        "min_data_in_leaf": [Interval(int, 1, None)],
        "feature_fraction": [Interval(float, 0, 1, "right")],
        "bagging_fraction": [Interval(float, 0, 1, "right")],
        "lambda_l1": [Interval(float, 0, None)],
        "lambda_l2": [Interval(float, 0, None)],
        "extra_trees": [Boolean()],
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
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_data_in_leaf: int = 20,
        feature_fraction: float = 1.0,
        bagging_fraction: float = 1.0,
        lambda_l1: float = 0.0,
        lambda_l2: float = 0.0,
        extra_trees: bool = False,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l1 = lambda_l1
        self.lambda_l2 = lambda_l2
        self.extra_trees = extra_trees

    def _params(self) -> dict[str, Any]:
        objective = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}
        metric = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "l2"}
        params: dict[str, Any] = {
            "objective": objective[self.task],
            "metric": metric[self.task],
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_data_in_leaf),
            "feature_fraction": float(self.feature_fraction),
            "bagging_fraction": float(self.bagging_fraction),
            "bagging_freq": 1 if self.bagging_fraction < 1.0 else 0,
            "lambda_l1": float(self.lambda_l1),
            "lambda_l2": float(self.lambda_l2),
            "extra_trees": bool(self.extra_trees),
            "seed": int(self.seed),
            "num_threads": int(self.n_jobs),
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if self.task == "multiclass":
            params["num_class"] = int(self.n_classes)
        return params

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        import lightgbm as lgb

        params = self._params()
        train = lgb.Dataset(X, label=y, categorical_feature="auto", params=params)
        if X_val is None:
            booster = lgb.train(
                params, train, num_boost_round=int(self.n_estimators), callbacks=[_stop_at_deadline]
            )
            best = booster.current_iteration()
        else:
            valid = lgb.Dataset(X_val, label=y_val, reference=train)
            stop = lgb.early_stopping(
                int(self.early_stopping_rounds), first_metric_only=True, verbose=False
            )
            booster = lgb.train(
                params,
                train,
                num_boost_round=int(self.n_estimators),
                valid_sets=[valid],
                valid_names=["validation"],
                callbacks=[stop, _stop_at_deadline],
            )
            best = booster.best_iteration or booster.current_iteration()
        self.model_ = booster
        self.best_iteration_ = max(int(best), 1)

    def _output(self, X: pd.DataFrame) -> np.ndarray:
        out = np.asarray(
            self.model_.predict(
                X,
                num_iteration=self.best_iteration_,
                validate_features=True,
                num_threads=int(self.n_jobs),
            )
        )
        return binary_columns(out) if self.task == "binary" else np.asarray(out)

    def fitted_iterations(self) -> int | None:
        return getattr(self, "best_iteration_", None)

    def use_iterations(self, n: int) -> bool:
        self._check_fitted()
        self.best_iteration_ = max(1, min(int(n), int(self.model_.current_iteration())))
        return True

    def feature_importances(self) -> dict[str, float] | None:
        if not hasattr(self, "model_"):
            return None
        gains = self.model_.feature_importance("gain", iteration=self.best_iteration_)
        return {str(n): float(g) for n, g in zip(self.model_.feature_name(), gains, strict=True)}

    def model_bytes(self) -> int:
        """Trees (rounds × classes, the ones past the best iteration included) × leaves."""
        if not hasattr(self, "model_"):
            return 0
        return int(self.model_.num_trees()) * int(self.num_leaves) * LEAF_BYTES

    def save(self, directory: Path) -> list[str]:
        self._check_fitted()
        # only the trees up to the best iteration: the file predicts exactly like the model
        self.model_.save_model(Path(directory) / MODEL_FILE, num_iteration=self.best_iteration_)
        return [MODEL_FILE]

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> LgbmLearner:
        lgb = import_booster("lightgbm")

        learner: LgbmLearner = cls._restore(params)
        learner.model_ = lgb.Booster(model_file=str(Path(directory) / MODEL_FILE))
        learner.best_iteration_ = learner.model_.current_iteration()
        return learner

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("lgbm_learning_rate", 0.005, 0.3, log=True),
            "num_leaves": trial.suggest_int("lgbm_num_leaves", 4, 256, log=True),
            "min_data_in_leaf": trial.suggest_int("lgbm_min_data_in_leaf", 2, 100, log=True),
            "feature_fraction": trial.suggest_float("lgbm_feature_fraction", 0.4, 1.0),
            "bagging_fraction": trial.suggest_float("lgbm_bagging_fraction", 0.5, 1.0),
            "lambda_l1": trial.suggest_float("lgbm_lambda_l1", 1e-8, 10.0, log=True),
            "lambda_l2": trial.suggest_float("lgbm_lambda_l2", 1e-8, 10.0, log=True),
            "extra_trees": trial.suggest_categorical("lgbm_extra_trees", [False, True]),
        }

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """AutoGluon's three LightGBM defaults: GBM, GBMXT (extra trees) and GBMLarge."""
        base = {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_data_in_leaf": 20,
            "feature_fraction": 1.0,
            "bagging_fraction": 1.0,
            "lambda_l1": 1e-8,  # the search space's floor: no L1 in effect
            "lambda_l2": 1e-8,
            "extra_trees": False,
        }
        return [
            base,
            config(base, extra_trees=True),
            config(
                base, learning_rate=0.03, num_leaves=128, min_data_in_leaf=3, feature_fraction=0.9
            ),
        ]


def _stop_at_deadline(env: Any) -> None:
    """LightGBM callback: end training when the fit must stop (``stop_fitting``: the
    deadline, less the time kept to predict); keeps the rounds so far."""
    import lightgbm as lgb

    if stop_fitting():
        raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])
