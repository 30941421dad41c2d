"""Extra trees: random split thresholds, no bootstrap; cheaper and smoother than a forest."""

from __future__ import annotations

from typing import Any

from automl_cli.core.learners._forest import ForestLearner

__all__ = ["EtLearner"]


class EtLearner(ForestLearner):
    """ExtraTreesClassifier / Regressor (encoded variant)."""

    family = "et"
    classifier = "ExtraTreesClassifier"
    regressor = "ExtraTreesRegressor"

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        return EtLearner._space(trial, task)

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        return ForestLearner._portfolio(task)
