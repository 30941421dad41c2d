"""A small multilayer perceptron whose depth (1–3 layers) and widths are searched.

Inputs are standardised; for regression the target is too (``TransformedTargetRegressor``,
saved with the model), because Adam with default step sizes fits unit-scale targets far
better than raw ones. Early stopping holds out 10 % of the training rows when there are
enough of them; a classifier's hold-out is judged by log loss, not scikit-learn's accuracy.
Under the search's deadline training ends between two mini-batches (a 256-128 network
took 48 s on 270,000 rows, far past a 60 s budget's share).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._base import stop_fitting
from automl_cli.core.learners._common import config
from automl_cli.core.learners._params import Boolean, Constraint, Interval
from automl_cli.core.learners._sklearn import SklearnLearner

__all__ = ["MlpLearner"]

MAX_LAYERS = 3
VALIDATION_FRACTION = 0.1
MIN_ROWS_FOR_EARLY_STOPPING = 100  # regression: fewer rows leave too small a hold-out
# A classifier's hold-out is judged by log loss. Under 500 rows it is under 50 rows, too few
# to tell one epoch's loss from the next, and a tenth of a small table is worth more as
# training rows: CV log loss of the default MLP without it 0.086 against 0.100 (wine),
# 0.027 against 0.035 (penguins). Regression showed no such pattern (better without it on
# mpg and tips, worse on diabetes), so it keeps the lower bar.
MIN_ROWS_FOR_EARLY_STOPPING_CLASSIFIER = 500


_STOPPING: dict[type, type] = {}  # scikit-learn class -> its deadline-aware subclass


def _stopping_at_deadline(cls: type) -> type:
    """``cls`` whose training ends before the next mini-batch once the deadline has passed,
    and, for a classifier, whose early stopping keeps the epoch of least validation log loss.

    scikit-learn's MLP has no callback, but it ends training on ``KeyboardInterrupt`` raised
    inside its epoch loop, keeping (with early stopping) the best weights validated so far:
    the path a Ctrl-C takes. Its classifier validates by accuracy, which stops improving
    within a few epochs on most tables, long before the probabilities are good: CV log loss
    0.63 against 0.10 on wine, 0.94 against 0.55 on planets. The fitted model's class is set
    back to ``cls`` afterwards, so what is saved and loaded is a plain scikit-learn MLP.
    """
    if cls not in _STOPPING:
        from sklearn.base import ClassifierMixin

        base: Any = cls
        methods: dict[str, Any] = {}

        def _backprop(self: Any, *args: Any, **kwargs: Any) -> Any:
            if stop_fitting():
                raise KeyboardInterrupt
            return base._backprop(self, *args, **kwargs)

        def _score(self: Any, X: Any, y: Any, sample_weight: Any = None) -> float:
            from sklearn.metrics import log_loss

            proba = self._forward_pass_fast(X, check_input=False)
            if proba.shape[1] == 1:
                proba = np.hstack([1.0 - proba, proba])
            if not np.isfinite(proba).all():
                return float("nan")  # as scikit-learn's own score does for diverged weights
            return -float(log_loss(y, proba, labels=self.classes_, sample_weight=sample_weight))

        methods["_backprop"] = _backprop
        if issubclass(cls, ClassifierMixin):
            methods["_score"] = _score
        _STOPPING[cls] = type(cls.__name__, (cls,), methods)
    return _STOPPING[cls]


def _plain_classes(model: Any) -> None:
    """Set the deadline-aware MLPs inside ``model`` (pipeline, target transformer, the
    fitted clone of its regressor) back to their scikit-learn class."""
    plain = {aware: cls for cls, aware in _STOPPING.items()}
    for est in (model, getattr(model, "regressor", None), getattr(model, "regressor_", None)):
        mlp = getattr(est, "named_steps", {}).get("model")
        if type(mlp) in plain:
            mlp.__class__ = plain[type(mlp)]


class MlpLearner(SklearnLearner):
    """MLPClassifier / MLPRegressor; ``width_i`` is used for layers ``i ≤ n_layers``."""

    family = "mlp"
    variant = "encoded"
    TRUSTED = ("sklearn.neural_network._stochastic_optimizers.AdamOptimizer",)
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_layers": [Interval(int, 1, MAX_LAYERS)],
        "width_1": [Interval(int, 1, None)],
        "width_2": [Interval(int, 1, None)],
        "width_3": [Interval(int, 1, None)],
        "alpha": [Interval(float, 0, None)],
        "learning_rate_init": [Interval(float, 0, None, "neither")],
        "max_iter": [Interval(int, 1, None)],
        "early_stopping": [Boolean()],
    }

    def __init__(
        self,
        *,
        task: str = "binary",
        n_classes: int = 2,
        seed: int = 0,
        n_jobs: int = 2,
        n_layers: int = 1,
        width_1: int = 128,
        width_2: int = 64,
        width_3: int = 32,
        alpha: float = 1e-4,
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        early_stopping: bool = True,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_layers = n_layers
        self.width_1 = width_1
        self.width_2 = width_2
        self.width_3 = width_3
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping

    def hidden_layer_sizes(self) -> tuple[int, ...]:
        widths = (self.width_1, self.width_2, self.width_3)
        return tuple(int(w) for w in widths[: int(self.n_layers)])

    def _can_stop_early(self, y: np.ndarray) -> bool:
        """scikit-learn's held-out split needs rows to spare and (classes) ≥ 2 per class."""
        n = len(y)
        if self.task == "regression":
            return self.early_stopping and n >= MIN_ROWS_FOR_EARLY_STOPPING
        if not self.early_stopping or n < MIN_ROWS_FOR_EARLY_STOPPING_CLASSIFIER:
            return False
        counts = np.bincount(y.astype("int64"))
        present = counts[counts > 0]
        return bool(present.min() >= 2 and math.ceil(VALIDATION_FRACTION * n) >= len(present))

    def _build(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        regression = self.task == "regression"
        cls = _stopping_at_deadline(MLPRegressor if regression else MLPClassifier)
        mlp = cls(
            hidden_layer_sizes=self.hidden_layer_sizes(),
            alpha=float(self.alpha),
            learning_rate_init=float(self.learning_rate_init),
            max_iter=int(self.max_iter),
            early_stopping=self._can_stop_early(y),
            validation_fraction=VALIDATION_FRACTION,
            random_state=int(self.seed),
        )
        model = Pipeline([("scale", StandardScaler()), ("model", mlp)])
        if not regression:
            return model
        return TransformedTargetRegressor(
            regressor=model, transformer=StandardScaler(), check_inverse=False
        )

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        try:
            with warnings.catch_warnings():
                # what scikit-learn says when a deadline, not a person, ends the training
                warnings.filterwarnings("ignore", "Training interrupted by user")
                super()._fit(X, y, X_val, y_val)
        finally:
            _plain_classes(getattr(self, "model_", None))

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        n_layers = trial.suggest_int("mlp_n_layers", 1, MAX_LAYERS)
        params: dict[str, Any] = {"n_layers": n_layers}
        for i in range(1, n_layers + 1):  # only the layers that exist: no inert parameters
            params[f"width_{i}"] = trial.suggest_int(f"mlp_width_{i}", 16, 512, log=True)
        params["alpha"] = trial.suggest_float("mlp_alpha", 1e-6, 1e-1, log=True)
        params["learning_rate_init"] = trial.suggest_float(
            "mlp_learning_rate_init", 1e-4, 1e-2, log=True
        )
        return params

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """One layer of 128 (close to scikit-learn's default), then a 256-128 funnel with
        more weight decay (the shape tabular MLP baselines usually land on)."""
        base = {"n_layers": 1, "width_1": 128, "alpha": 1e-4, "learning_rate_init": 1e-3}
        return [base, config(base, n_layers=2, width_1=256, width_2=128, alpha=1e-3)]
