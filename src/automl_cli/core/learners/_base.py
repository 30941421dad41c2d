"""One learner contract that every model family keeps (conventions.md §1–2, §8).

A learner is a scikit-learn style estimator: ``__init__`` only stores parameters, ``fit``
returns ``self``, fitted attributes end in ``_``. It consumes one variant of the prepared
features (``variant``: "native" keeps NaN and pandas categories, "encoded" is all finite
floats) and predicts in one shape for every family:

- classification: ``predict_proba(X)`` → ``(n, n_classes)`` float array, rows sum to 1, class
  ``j`` is the target's ``j``-th sorted class (targets arrive as integer codes 0..k-1);
- regression: ``predict(X)`` → ``(n,)`` float array.

Persistence never pickles: ``save(directory)`` writes files (a booster's native text /
UBJSON format, or skops with a trusted-type list that lives in this code) and returns their
names; ``load(directory)`` reads them back. Callers verify sha256 before calling ``load``.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

__all__ = [
    "STOP_REQUESTED",
    "TASKS",
    "DeadlinePassed",
    "Learner",
    "fit_deadline",
    "past_deadline",
    "seconds_to_deadline",
    "seconds_to_stop_fitting",
    "stop_fitting",
]

TASKS = ("binary", "multiclass", "regression")

SAVE_OVERHEAD_S = 0.02  # a model's own files, however small: open, write, fsync, rename

# (deadline, when the block was entered, the share of a fit's time kept for predicting)
_DEADLINE: ContextVar[tuple[float, float, float] | None] = ContextVar(
    "automl_fit_deadline", default=None
)


class DeadlinePassed(Exception):
    """A prediction under :func:`fit_deadline` reached the deadline before it finished.

    Unlike a fit, which can stop early and still leave a model, a half-made prediction is
    of no use: the search gives up the trial instead of overrunning the budget.
    """


@contextmanager
def fit_deadline(deadline: float | None, predict_share: float = 0.0) -> Iterator[None]:
    """Within this block, fits stop once ``time.monotonic()`` passes it: boosters and forests
    keep the rounds and trees they have, an MLP its best weights so far; a slow prediction
    (k-NN) raises :class:`DeadlinePassed`.

    Search uses it so that one long fit on a big table cannot overrun the time budget.
    ``predict_share``: a fit also stops once the time left is no more than that share of
    the time it has taken so far, which keeps time for predicting the validation rows
    after it. That prediction grows with the model: a booster fitted for 48 s on 800,000
    rows, then cut by the deadline, took 6 s to predict 200,000 (:func:`stop_fitting`).
    """
    token = _DEADLINE.set(None if deadline is None else (deadline, time.monotonic(), predict_share))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


STOP_REQUESTED = threading.Event()  # set by a Ctrl-C handler: fits end as at the deadline


def seconds_to_deadline() -> float:
    """Seconds left before the fit deadline: infinite without one, 0 once it has passed."""
    if STOP_REQUESTED.is_set():
        return 0.0
    current = _DEADLINE.get()
    return float("inf") if current is None else max(0.0, current[0] - time.monotonic())


def past_deadline() -> bool:
    return seconds_to_deadline() == 0.0


def seconds_to_stop_fitting() -> float:
    """Seconds an iterative fit may go on: to the deadline, less the block's
    ``predict_share`` of the time since the block began (see :func:`fit_deadline`)."""
    left = seconds_to_deadline()
    current = _DEADLINE.get()
    if current is None or left == 0.0:
        return left
    _, entered, share = current
    return max(0.0, left - share * (time.monotonic() - entered))


def stop_fitting() -> bool:
    """Whether an iterative fit (a booster's rounds, a forest's trees, an MLP's epochs)
    should stop now and keep what it has."""
    return seconds_to_stop_fitting() == 0.0


class Learner(ABC):
    """Base of every model family. Subclasses declare their hyperparameters in ``__init__``."""

    family: ClassVar[str]  # short name used by --models and the leaderboard, e.g. "lgbm"
    variant: ClassVar[str]  # "native" or "encoded"
    supports_early_stopping: ClassVar[bool] = False
    saves_with_skops: ClassVar[bool] = False  # its save imports skops (over a second)
    # bytes of ``model_bytes`` that ``save`` writes per second on a slow, busy 2-core
    # machine (measured, then divided by about 3): the search reserves time to save its model
    save_rate: ClassVar[float] = 20e6
    # seconds per object ``save`` writes apart (skops: each tree), measured and doubled: for
    # a small forest this, not its bytes, is most of the save (300 trees: 0.8 s)
    save_per_object: ClassVar[float] = 0.0

    task: str
    n_classes: int
    seed: int
    n_jobs: int

    # -- the estimator contract ---------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (scikit-learn convention: ``__init__`` stores them as-is)."""
        import inspect

        names = [
            p
            for p in inspect.signature(type(self).__init__).parameters
            if p not in ("self", "args", "kwargs")
        ]
        return {name: getattr(self, name) for name in names}

    @abstractmethod
    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
    ) -> Learner:
        """Fit on (X, y); boosters early-stop on (X_val, y_val) when given. Returns self."""

    @abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Classification only: (n, n_classes) probabilities."""

    @abstractmethod
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Regression: values; classification: class codes (argmax of predict_proba)."""

    def predict_output(self, X: pd.DataFrame) -> np.ndarray:
        """What metrics and ensembles consume: probabilities or regression values."""
        return self.predict_proba(X) if self.task != "regression" else self.predict(X)

    # -- persistence --------------------------------------------------------------------------
    @abstractmethod
    def save(self, directory: Path) -> list[str]:
        """Write the fitted model into ``directory`` (no pickle); return the file names."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> Learner:
        """Rebuild a fitted learner from ``save``'s files and its constructor params."""

    # -- search -------------------------------------------------------------------------------
    @staticmethod
    @abstractmethod
    def search_space(trial: Any, task: str, n_rows: int, n_features: int) -> dict[str, Any]:
        """Hyperparameters for one Optuna trial (``trial.suggest_*``; names prefixed by family)."""

    @staticmethod
    @abstractmethod
    def portfolio(task: str, n_rows: int, n_features: int) -> list[dict[str, Any]]:
        """Configurations known to be good on many tables, cheapest first (zero-shot start)."""

    def fitted_iterations(self) -> int | None:
        """Boosters: the best iteration found by early stopping (reused at refit)."""
        return None

    def use_iterations(self, n: int) -> bool:
        """Boosters: predict (and save) with the first ``n`` rounds, at most those trained.

        The search sets every fold model of a trial to the folds' mean best round: what the
        refit on all rows will use. False when the family cannot (no rounds to choose)."""
        return False

    def feature_importances(self) -> dict[str, float] | None:
        """Tree models: their own importance of each feature (split gain or impurity
        decrease), as ``evaluate`` reports it next to permutation importance; else None."""
        return None

    def model_bytes(self) -> int:
        """Rough memory held by the fitted model; the search caps what it keeps by this.

        Families whose models can grow large (forests, boosters, k-NN) report it; the
        others stay well under a MB and count as 0.
        """
        return 0

    def saved_bytes_floor(self) -> int:
        """Bytes the saved files surely exceed (0: not known without saving). Lets the
        deployment limits skip writing a model that is over the size limit for certain."""
        return 0

    def stored_objects(self) -> int:
        """How many objects ``save`` writes one by one (trees, for skops); 0: one file."""
        return 0

    def save_seconds(self) -> float:
        """A generous estimate of how long ``save`` takes: its files, objects and bytes."""
        return (
            SAVE_OVERHEAD_S
            + self.stored_objects() * self.save_per_object
            + self.model_bytes() / self.save_rate
        )
