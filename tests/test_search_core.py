"""The search loop's bookkeeping: which fold models it keeps and how it predicts fold times."""

from __future__ import annotations

import numpy as np

from automl_cli.core.learners import make_learner
from automl_cli.core.search import TrialRecord, _keep_best_models, _TimeModel


def _record(number: int, loss: float, nbytes: int) -> TrialRecord:
    r = TrialRecord(number, "rf", {}, "complete", False, fold_losses=[loss])
    r.models = [make_learner("linear", task="binary", n_classes=2)]
    r.model_bytes = nbytes
    return r


def test_kept_fold_models_respect_count_and_memory_caps() -> None:
    records = [
        _record(i, loss, nbytes)
        for i, (loss, nbytes) in enumerate(
            [(0.5, 300), (0.1, 900), (0.2, 200), (0.3, 200), (0.4, 50)]
        )
    ]
    _keep_best_models(records, keep=4, keep_bytes=1000)
    kept = sorted(r.number for r in records if r.models is not None)
    # the best (900 B); 0.2 and 0.3 (200 B each) would pass 1000 B; 0.4 (50 B) fits; 0.5 is 5th
    assert kept == [1, 4]


def test_the_best_trial_keeps_its_models_whatever_their_size() -> None:
    records = [_record(0, 0.1, 10**12), _record(1, 0.2, 1)]
    _keep_best_models(records, keep=10, keep_bytes=100)
    assert records[0].models is not None and records[1].models is None


def test_a_new_family_is_predicted_from_the_others_by_relative_cost() -> None:
    timer = _TimeModel()
    assert timer.fold_estimate("rf", []) == 0.0  # nothing measured: no basis to refuse
    timer.record("lgbm", 1.0)
    timer.record("lgbm", 3.0)
    rf = timer.fold_estimate("rf", [])
    assert rf > timer.fold_estimate("lgbm", []) == 2.0  # forests cost more than boosters
    assert timer.fold_estimate("rf", [0.5]) == np.float64(0.5) * 1.1  # own folds win


def test_local_workers_of_a_shared_study_split_the_cores() -> None:
    """Two workers on one machine each get half the threads; dead or remote ones do not count."""
    import os
    import socket
    import subprocess
    import sys

    import optuna

    from automl_cli.core.search import _threads_beside_local_workers

    host = socket.gethostname()
    me = f"{host}:{os.getpid()}"
    study = optuna.create_study()
    assert _threads_beside_local_workers(study, me, 2) == 2
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for worker in (f"{host}:{sleeper.pid}", "elsewhere.example:1", f"{host}:999999999"):
            trial = study.ask()
            trial.set_user_attr("worker", worker)
        assert _threads_beside_local_workers(study, me, 2) == 1
        assert _threads_beside_local_workers(study, me, 8) == 4
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _threads_beside_local_workers(study, me, 2) == 2  # that worker has gone
