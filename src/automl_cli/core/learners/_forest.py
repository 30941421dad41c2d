"""Shared base of the random forest and extra-trees families (encoded variant).

Bagged deep trees make errors unlike boosting's, which is what the ensemble step needs.
``max_leaf_nodes`` bounds tree size (AutoGluon uses 15000) so big tables stay in memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl_cli.core.learners._base import seconds_to_stop_fitting, stop_fitting
from automl_cli.core.learners._common import config
from automl_cli.core.learners._params import Constraint, Interval, Options, fail
from automl_cli.core.learners._sklearn import SklearnLearner, limit_threads

__all__ = ["ForestLearner"]

CLASSIFICATION_CRITERIA = ("gini", "entropy", "log_loss")
REGRESSION_CRITERIA = ("squared_error", "friedman_mse", "absolute_error", "poisson")
MAX_FEATURES = ("sqrt", "log2", 0.25, 0.5, 0.75, 1.0)
ONE_GO_CELLS = 50_000  # up to this many rows × features a forest is grown in one fit
# growing time between two deadline (and size) checks, once a tree's time is known: on
# 800,000 rows a tree takes over a second, and 50 trees at once overran a 60 s budget by 30 s
CHUNK_SECONDS = 1.0
FIRST_TREES = 2  # grown first, to learn a tree's size and time
MIN_TREE_SHARE = 6  # the size cap stops growth no earlier than n_estimators / 6 trees
NODE_BYTES = 64  # scikit-learn's tree node record, before the per-node value array
MAX_FOREST_BYTES = 16 * 2**20  # one fitted forest; the search keeps one per CV fold


class ForestLearner(SklearnLearner):
    """Random forest / extra trees; subclasses name the two scikit-learn classes."""

    variant = "encoded"
    save_rate = 40e6
    save_per_object = 6e-3  # skops writes each tree as an object of its own: 3 ms a tree
    TRUSTED = ("sklearn.tree._tree.Tree",)
    constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_estimators": [Interval(int, 1, None)],
        "criterion": [Options((*CLASSIFICATION_CRITERIA, *REGRESSION_CRITERIA)), Options((None,))],
        "max_features": [
            Interval(float, 0, 1, "right"),
            Options(("sqrt", "log2")),
            Options((None,)),
        ],
        "min_samples_leaf": [Interval(int, 1, None)],
        "max_leaf_nodes": [Interval(int, 2, None), Options((None,))],
    }
    classifier: ClassVar[str]
    regressor: ClassVar[str]

    def __init__(
        self,
        *,
        task: str = "binary",
        n_classes: int = 2,
        seed: int = 0,
        n_jobs: int = 2,
        n_estimators: int = 300,
        criterion: str | None = None,
        max_features: float | str | None = None,
        min_samples_leaf: int = 1,
        max_leaf_nodes: int | None = 15000,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_leaf_nodes = max_leaf_nodes

    def _validate_params(self) -> None:
        super()._validate_params()
        allowed = REGRESSION_CRITERIA if self.task == "regression" else CLASSIFICATION_CRITERIA
        if self.criterion is not None and self.criterion not in allowed:
            raise fail(type(self).__name__, "criterion", str(Options(allowed)), self.criterion)

    def _build(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        import sklearn.ensemble as ensemble

        regression = self.task == "regression"
        cls = getattr(ensemble, self.regressor if regression else self.classifier)
        # None: scikit-learn's per-task defaults
        criterion = self.criterion or ("squared_error" if regression else "gini")
        max_features = self.max_features or (1.0 if regression else "sqrt")
        # a tree has at most rows / min_samples_leaf leaves; where that is within the cap,
        # the cap cannot bind, and without it scikit-learn grows depth-first, about twice
        # as fast as its best-first builder (most of a small table's fit time)
        max_leaf_nodes = self.max_leaf_nodes
        if max_leaf_nodes is not None and len(X) // int(self.min_samples_leaf) <= max_leaf_nodes:
            max_leaf_nodes = None
        return cls(
            n_estimators=int(self.n_estimators),
            criterion=criterion,
            max_features=max_features,
            min_samples_leaf=int(self.min_samples_leaf),
            max_leaf_nodes=max_leaf_nodes,
            n_jobs=int(self.n_jobs),
            random_state=int(self.seed),
        )

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
    ) -> None:
        """Grow the trees in chunks and stop at the search deadline with the trees so far.

        The first two trees set how many the forest can hold within ``MAX_FOREST_BYTES``
        (at least a sixth of ``n_estimators``: 50 of 300, whatever their size);
        each later chunk is as many trees as grow in ``CHUNK_SECONDS`` by the last chunk's
        pace (fewer when the deadline is nearer, at least one per thread).
        ``warm_start`` draws each new tree's seed from the same stream as one big fit, so
        the forest is identical to fitting all trees at once when nothing stops it.
        """
        model = self._build(X, y)
        total = int(self.n_estimators)
        features = self._features(X)
        with limit_threads(int(self.n_jobs)):
            if features.shape[0] * features.shape[1] <= ONE_GO_CELLS:
                # a small table's forest grows in about a second: one go, without checks
                self.model_ = model.fit(features, y)
                self._predict_in_order()
                return
            threads = max(1, int(self.n_jobs))
            chunk, grown, most = min(total, FIRST_TREES), 0, total
            while grown < most:
                started = time.monotonic()
                model.set_params(n_estimators=grown + chunk, warm_start=True)
                model.fit(features, y)
                self.model_ = model
                if not grown:
                    # deep trees on many rows: as many as keep the forest under the cap, by
                    # the first trees' size (not by timing: the same forest on any machine),
                    # but never fewer than a sixth of them: fewer trees are no forest
                    per_tree = max(self.model_bytes() / chunk, 1.0)
                    least = min(total, -(-total // MIN_TREE_SHARE))
                    most = max(least, min(total, int(MAX_FOREST_BYTES // per_tree)))
                grown += chunk
                if stop_fitting():
                    break
                per_tree_s = max(time.monotonic() - started, 1e-6) / chunk
                room = min(CHUNK_SECONDS, seconds_to_stop_fitting())
                chunk = max(threads, int(room / per_tree_s) // threads * threads)
                chunk = min(chunk, most - grown)
        model.set_params(warm_start=False)
        self._predict_in_order()

    def feature_importances(self) -> dict[str, float] | None:
        model = getattr(self, "model_", None)
        names = getattr(model, "feature_names_in_", None)
        if model is None or names is None:
            return None
        return {str(n): float(v) for n, v in zip(names, model.feature_importances_, strict=True)}

    def model_bytes(self) -> int:
        if not hasattr(self, "model_"):
            return 0
        # each tree's node records, plus its value array (a view: reading it copies nothing)
        return sum(
            int(tree.tree_.node_count) * NODE_BYTES + int(tree.tree_.value.nbytes)
            for tree in self.model_.estimators_
        )

    def saved_bytes_floor(self) -> int:
        """The node records and value arrays that ``model_bytes`` counts are written as
        uncompressed arrays: the file holds them and more (1.1-5.7 times as much)."""
        return self.model_bytes()

    def stored_objects(self) -> int:
        model = getattr(self, "model_", None)
        return 0 if model is None else len(model.estimators_)

    def _predict_in_order(self) -> None:
        """Trees are fitted in parallel but summed in one thread: parallel prediction adds
        the trees in whatever order threads finish, so the last bits of the result vary."""
        self.model_.set_params(n_jobs=1)

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> ForestLearner:
        learner = super().load(directory, params)
        assert isinstance(learner, ForestLearner)
        learner._predict_in_order()
        return learner

    @classmethod
    def _space(cls, trial: Any, task: str) -> dict[str, Any]:
        p = cls.family
        params = {
            "max_features": trial.suggest_categorical(f"{p}_max_features", list(MAX_FEATURES)),
            "min_samples_leaf": trial.suggest_int(f"{p}_min_samples_leaf", 1, 32, log=True),
        }
        if task != "regression":
            params["criterion"] = trial.suggest_categorical(f"{p}_criterion", ["gini", "entropy"])
        return params

    @staticmethod
    def _portfolio(task: str) -> list[dict[str, Any]]:
        """AutoGluon's forests: 300 trees; Gini and entropy for classes, all features for
        regression (scikit-learn's regression default)."""
        if task == "regression":
            return [{"max_features": 1.0, "min_samples_leaf": 1}]
        base = {"max_features": "sqrt", "min_samples_leaf": 1, "criterion": "gini"}
        return [base, config(base, criterion="entropy")]
