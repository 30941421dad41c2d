"""Families backed by one scikit-learn estimator, persisted with skops (no pickle).

Each family lists the exact type names its fitted estimator needs beyond skops' defaults in
``TRUSTED``. That list ships with the code and is never read from the artifact (the hole in
MLflow's skops flavour, GHSA-w582-9x45-8mpx); a file that needs anything else is refused.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._common import BaseLearner
from automl_cli.core.learners._skops_canonical import write_canonical_skops

__all__ = ["MODEL_FILE", "SklearnLearner", "limit_threads"]

MODEL_FILE = "model.skops"


def limit_threads(n_jobs: int) -> Any:
    """Cap BLAS and OpenMP pools at ``n_jobs`` around a fit or predict.

    scikit-learn's ``n_jobs`` does not reach them, and their idle threads spin: on a busy
    machine an uncapped pool made a small MLP fit ten times slower.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        # finding the loaded pools scans every shared library (3 ms): once per process,
        # not once per call, or it is most of a single-row prediction's time
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=n_jobs)


_CONTROLLER: Any = None


class SklearnLearner(BaseLearner):
    """A learner whose fitted state is one scikit-learn estimator in ``model_``."""

    TRUSTED: ClassVar[tuple[str, ...]] = ()
    saves_with_skops = True
    model_: Any

    @abstractmethod
    def _build(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        """The unfitted estimator for these training rows."""

    def _features(self, X: pd.DataFrame) -> pd.DataFrame:
        """Hook: what the estimator sees (the frame itself unless a family adapts it)."""
        return X

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        from sklearn.exceptions import ConvergenceWarning

        model = self._build(X, y)
        with warnings.catch_warnings(), limit_threads(int(self.n_jobs)):
            # an iteration cap reached is a search outcome, not something to print per fold
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(self._features(X), y)
        self.model_ = model

    def _output(self, X: pd.DataFrame) -> np.ndarray:
        features = self._features(X)
        with limit_threads(int(self.n_jobs)):
            if self.task == "regression":
                return np.asarray(self.model_.predict(features), dtype="float64")
            proba = np.asarray(self.model_.predict_proba(features), dtype="float64")
        classes = np.asarray(self.model_.classes_, dtype="int64")
        if len(classes) == self.n_classes:
            return proba
        # a training fold that lacked some class: those columns get probability 0
        full = np.zeros((len(X), self.n_classes))
        full[:, classes] = proba
        return full

    def save(self, directory: Path) -> list[str]:
        """Write the estimator in canonical skops form: the same model gives the same bytes.

        Plain ``sio.dump`` names members after ``id()`` and stamps the time, so two equal
        models would differ; the file is replaced atomically, never left half-written.
        """
        import skops.io as sio

        self._check_fitted()
        write_canonical_skops(sio.dumps(self.model_), Path(directory) / MODEL_FILE)
        return [MODEL_FILE]

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> SklearnLearner:
        import skops.io as sio

        learner = cls._restore(params)
        learner.model_ = sio.load(Path(directory) / MODEL_FILE, trusted=list(cls.TRUSTED))
        return learner
