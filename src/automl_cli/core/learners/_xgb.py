"""XGBoost through its native API: ``hist`` trees, native categoricals, UBJSON model files.

After early stopping the booster is cut to its best round, so the saved file and the
in-memory model predict identically. The model stores the training categories and
re-codes a frame whose category order differs, so a loaded booster reads codes the same way.
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
from automl_cli.core.learners._params import Constraint, Interval

__all__ = ["XgbLearner"]

MODEL_FILE = "model.ubj"


class XgbLearner(BaseLearner):
    """Gradient-boosted trees (XGBoost), depth-wise growth: a different bias from LightGBM."""

    family = "xgb"
    variant = "native"
    # model_bytes is four times the binary model, which xgboost writes in one call
    save_rate = 150e6
    supports_early_stopping = True
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_estimators": [Interval(int, 1, None)],
        "early_stopping_rounds": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, "neither")],
        "max_depth": [Interval(int, 0, None)],
        "min_child_weight": [Interval(float, 0, None)],
        "subsample": [Interval(float, 0, 1, "right")],
        "colsample_bytree": [Interval(float, 0, 1, "right")],
        "reg_lambda": [Interval(float, 0, None)],
        "reg_alpha": [Interval(float, 0, None)],
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
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha

    def _params(self) -> dict[str, Any]:
        objective = {
            "binary": "binary:logistic",
            "multiclass": "multi:softprob",
            "regression": "reg:squarederror",
        }
        metric = {"binary": "logloss", "multiclass": "mlogloss", "regression": "rmse"}
        params: dict[str, Any] = {
            "objective": objective[self.task],
            "eval_metric": metric[self.task],
            "tree_method": "hist",
            "learning_rate": float(self.learning_rate),
            "max_depth": int(self.max_depth),
            "min_child_weight": float(self.min_child_weight),
            "subsample": float(self.subsample),
            "colsample_bytree": float(self.colsample_bytree),
            "reg_lambda": float(self.reg_lambda),
            "reg_alpha": float(self.reg_alpha),
            "seed": int(self.seed),
            "nthread": int(self.n_jobs),
            "verbosity": 0,
        }
        if self.task == "multiclass":
            params["num_class"] = int(self.n_classes)
        return params

    def _matrix(self, X: pd.DataFrame, y: np.ndarray | None = None) -> Any:
        import xgboost as xgb

        return xgb.DMatrix(X, label=y, enable_categorical=True, nthread=int(self.n_jobs))

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        import xgboost as xgb

        params = self._params()
        train = self._matrix(X, y)
        if X_val is None:
            booster = xgb.train(
                params, train, num_boost_round=int(self.n_estimators), callbacks=[_deadline_cb()]
            )
            best = booster.num_boosted_rounds()
        else:
            booster = xgb.train(
                params,
                train,
                num_boost_round=int(self.n_estimators),
                evals=[(self._matrix(X_val, y_val), "validation")],
                early_stopping_rounds=int(self.early_stopping_rounds),
                verbose_eval=False,
                callbacks=[_deadline_cb()],
            )
            # the rounds after the best stay (until saved): ``use_iterations`` may pick more.
            # No best round is recorded when the deadline ends the first round (xgboost stops
            # asking the callbacks after the first that says stop): keep what was trained.
            recorded = booster.attr("best_iteration")
            best = int(recorded) + 1 if recorded is not None else booster.num_boosted_rounds()
        self.model_ = booster
        self.best_iteration_ = max(int(best), 1)

    def _output(self, X: pd.DataFrame) -> np.ndarray:
        out = self.model_.predict(self._matrix(X), iteration_range=(0, self.best_iteration_))
        return binary_columns(out) if self.task == "binary" else np.asarray(out)

    def fitted_iterations(self) -> int | None:
        return getattr(self, "best_iteration_", None)

    def use_iterations(self, n: int) -> bool:
        self._check_fitted()
        self.best_iteration_ = max(1, min(int(n), int(self.model_.num_boosted_rounds())))
        return True

    def feature_importances(self) -> dict[str, float] | None:
        if not hasattr(self, "model_"):
            return None
        gains = self.model_[: self.best_iteration_].get_score(importance_type="total_gain")
        names = self.model_.feature_names or list(gains)
        return {str(n): float(np.sum(gains.get(n, 0.0))) for n in names}

    def model_bytes(self) -> int:
        """Deep trees times classes times rounds add up. In memory a booster takes about
        four times its binary model (76 MiB for an 18 MiB model, depth 10, 600 rounds)."""
        return 4 * len(self.model_.save_raw("ubj")) if hasattr(self, "model_") else 0

    def save(self, directory: Path) -> list[str]:
        self._check_fitted()
        # only the rounds it predicts with: the file predicts exactly like the model
        self.model_[: self.best_iteration_].save_model(str(Path(directory) / MODEL_FILE))
        return [MODEL_FILE]

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> XgbLearner:
        xgb = import_booster("xgboost")

        learner: XgbLearner = cls._restore(params)
        booster = xgb.Booster(model_file=str(Path(directory) / MODEL_FILE))
        booster.set_param({"nthread": int(learner.n_jobs)})
        learner.model_ = booster
        learner.best_iteration_ = booster.num_boosted_rounds()
        return learner

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("xgb_learning_rate", 0.005, 0.3, log=True),
            "max_depth": trial.suggest_int("xgb_max_depth", 2, 12),
            "min_child_weight": trial.suggest_float("xgb_min_child_weight", 0.1, 20.0, log=True),
            "subsample": trial.suggest_float("xgb_subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("xgb_colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("xgb_reg_lambda", 1e-3, 10.0, log=True),
            "reg_alpha": trial.suggest_float("xgb_reg_alpha", 1e-8, 10.0, log=True),
        }

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """XGBoost's defaults (AutoGluon's XGB), then AutoGluon's deep zero-shot XGB_r33 with
        a learning rate of 0.05 instead of 0.018: the original ran 1,500+ rounds of depth-10
        trees on a 5k-row table (16 s and ~300 MiB for one fold)."""
        base = {
            "learning_rate": 0.1,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 1.0,
            "reg_alpha": 1e-8,  # the search space's floor: no L1 in effect
        }
        return [
            base,
            config(
                base, learning_rate=0.05, max_depth=10, min_child_weight=0.6, colsample_bytree=0.69
            ),
        ]


def _deadline_cb() -> Any:
    """XGBoost callback: end training when the fit must stop (``stop_fitting``: the
    deadline, less the time kept to predict); keeps the rounds so far."""
    import xgboost as xgb

    class _Deadline(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return stop_fitting()

    return _Deadline()
