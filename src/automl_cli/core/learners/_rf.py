"""Random forest: bootstrapped trees with the best split per sampled feature set."""

from __future__ import annotations

from typing import Any

from automl_cli.core.learners._forest import ForestLearner

__all__ = ["RfLearner"]


class RfLearner(ForestLearner):
    """RandomForestClassifier / Regressor (encoded variant)."""

    family = "rf"
    classifier = "RandomForestClassifier"
    regressor = "RandomForestRegressor"

    @staticmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        return RfLearner._space(trial, task)

    @staticmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        return ForestLearner._portfolio(task)
