"""Model families behind one :class:`Learner` contract, and how search picks and builds them.

Importing this package is cheap: every family imports its library (LightGBM, XGBoost,
scikit-learn, skops) inside the methods that need it.
"""

from __future__ import annotations

import inspect
from typing import Any

from automl_cli.core.learners._base import TASKS, Learner
from automl_cli.core.learners._et import EtLearner
from automl_cli.core.learners._hgb import HgbLearner
from automl_cli.core.learners._knn import KnnLearner
from automl_cli.core.learners._lgbm import LgbmLearner
from automl_cli.core.learners._linear import LinearLearner
from automl_cli.core.learners._mlp import MlpLearner
from automl_cli.core.learners._params import InvalidParameterError
from automl_cli.core.learners._rf import RfLearner
from automl_cli.core.learners._xgb import XgbLearner
from automl_cli.errors import UsageError

__all__ = [
    "FAMILIES",
    "TASKS",
    "EtLearner",
    "HgbLearner",
    "InvalidParameterError",
    "KnnLearner",
    "Learner",
    "LgbmLearner",
    "LinearLearner",
    "MlpLearner",
    "RfLearner",
    "XgbLearner",
    "default_families",
    "make_learner",
]

FAMILIES: dict[str, type[Learner]] = {
    cls.family: cls
    for cls in (
        LgbmLearner,
        XgbLearner,
        HgbLearner,
        RfLearner,
        EtLearner,
        LinearLearner,
        KnnLearner,
        MlpLearner,
    )
}

KNN_MAX_ROWS = 50_000  # beyond this k-NN predictions (distances to every row) get slow
MLP_MAX_ROWS = 500_000  # scikit-learn's MLP is CPU-only and single-core


def make_learner(
    family: str, *, task: str, n_classes: int, seed: int = 0, n_jobs: int = 2, **params: Any
) -> Learner:
    """An unfitted learner of ``family``; unknown names fail here with the valid ones listed."""
    if family not in FAMILIES:
        raise UsageError(
            f"unknown model family {family!r}",
            hint=f"choose from {', '.join(FAMILIES)}",
        )
    cls = FAMILIES[family]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise InvalidParameterError(
            f"{cls.__name__} has no parameter(s) {', '.join(map(repr, unknown))}",
            hint=f"valid: {', '.join(sorted(accepted))}",
        )
    return cls(task=task, n_classes=n_classes, seed=seed, n_jobs=n_jobs, **params)  # type: ignore[call-arg]


def default_families(task: str, n_rows: int) -> list[str]:
    """Families worth searching on a table of ``n_rows``, cheapest first."""
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}", hint=f"choose from {', '.join(TASKS)}")
    order = ["linear", "knn", "lgbm", "hgb", "xgb", "et", "rf", "mlp"]
    if n_rows > KNN_MAX_ROWS:
        order.remove("knn")
    if n_rows > MLP_MAX_ROWS:
        order.remove("mlp")
    return order
