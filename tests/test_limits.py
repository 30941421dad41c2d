"""Deployment limits: ``search --max-latency-ms / --max-batch-ms-per-1k / --max-model-mb``.

Every test runs the real CLI. Limits are set from what a first, unconstrained-in-effect run
measured on the same table, seed and trials (sizes are byte-for-byte reproducible; times are
only compared within one run, where the code itself guarantees the chosen model keeps to
the limit or exits 5).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.ensemble import NoCandidateFits, greedy_ensemble
from automl_cli.core.metrics import get_metric
from automl_cli.errors import EXIT_GATE, EXIT_USAGE, ArtifactTooLarge
from automl_cli.store import MANIFEST_NAME, Project

from .conftest import SAMPLE_DATA, RunCli, automl

CANCER = SAMPLE_DATA / "breast_cancer.csv"
SEARCH = ("--target", "diagnosis", "--models", "linear,lgbm,et", "--trials", "5", "--seed", "0")
LOOSE = ("--max-latency-ms", "100000", "--max-batch-ms-per-1k", "1000000", "--max-model-mb", "1e4")


def _model_dir(doc: dict) -> Path:
    return Path(doc["path"])


def _leaderboard(doc: dict) -> pd.DataFrame:
    return pd.read_csv(_model_dir(doc) / "leaderboard.csv")


def _manifest(doc: dict) -> dict:
    return json.loads((_model_dir(doc) / MANIFEST_NAME).read_text())


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One search whose limits every candidate keeps: all of them measured."""
    root = tmp_path_factory.mktemp("limits")
    proc = automl(root / "project", "--json", "search", str(CANCER), *SEARCH, *LOOSE, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_candidate_is_measured_and_the_manifest_records_size_and_speed(
    measured: dict,
) -> None:
    board = _leaderboard(measured)
    done = board[board["state"] == "complete"]
    assert len(done) >= 3
    for column in ("latency_ms", "batch_ms_per_1k", "size_mb"):
        assert done[column].notna().all() and (done[column] > 0).all(), column
    assert done["within_limits"].astype(bool).all()
    manifest = _manifest(measured)
    files = sum(int(o["size"]) for o in manifest["outputs"])
    own = (_model_dir(measured) / MANIFEST_NAME).stat().st_size
    assert manifest["size_bytes"] == files + own  # every file, the manifest itself included
    assert manifest["metrics"]["latency_ms"] > 0 and manifest["metrics"]["batch_ms_per_1k"] > 0
    assert measured["size_mb"] == pytest.approx(manifest["size_bytes"] / 1e6, abs=1e-3)
    assert manifest["config"]["max_model_mb"]["value"] == 1e4
    # the candidates differ enough for the limits below to cut between them
    assert done["size_mb"].max() > 5 * done["size_mb"].min()


def test_a_size_limit_excludes_big_candidates_and_the_saved_model_fits(
    run_cli: RunCli, measured: dict
) -> None:
    sizes = _leaderboard(measured).dropna(subset=["size_mb"])["size_mb"]
    limit = math.sqrt(sizes.min() * sizes.max())  # between the smallest and the biggest
    proc = run_cli("--json", "search", str(CANCER), *SEARCH, "--max-model-mb", f"{limit:.4f}")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    manifest = _manifest(doc)
    assert manifest["size_bytes"] <= limit * 1e6
    assert sum(p.stat().st_size for p in _model_dir(doc).rglob("*") if p.is_file()) <= limit * 1e6
    board = _leaderboard(doc).dropna(subset=["size_mb"])
    too_big = board[board["size_mb"] > limit]
    assert len(too_big) >= 1
    assert not too_big["within_limits"].astype(bool).any()
    assert (too_big["ensemble_weight"] == 0).all()
    members = board[board["ensemble_weight"] > 0]
    assert len(members) >= 1 and members["within_limits"].astype(bool).all()
    assert "latency_ms" not in manifest["metrics"] or manifest["metrics"]["latency_ms"] > 0


def test_a_latency_limit_is_kept_by_the_refit_model(
    run_cli: RunCli, project_dir: Path, tmp_path: Path, measured: dict
) -> None:
    fastest = float(_leaderboard(measured)["latency_ms"].min())
    limit = 3 * fastest
    proc = run_cli("--json", "search", str(CANCER), *SEARCH, "--max-latency-ms", f"{limit:.3f}")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["latency_ms"] is not None and doc["latency_ms"] <= limit
    assert _manifest(doc)["metrics"]["latency_ms"] <= limit
    board = _leaderboard(doc)
    slow = board[board["latency_ms"] > limit]
    assert (slow["ensemble_weight"] == 0).all()
    assert not slow["within_limits"].astype(bool).any()
    assert board.loc[board["ensemble_weight"] > 0, "within_limits"].astype(bool).all()
    # the model serves: predict reads it back and scores every row
    out = tmp_path / "pred.csv"
    pred = run_cli("predict", str(CANCER), "-o", str(out), "--model", doc["artifact"])
    assert pred.returncode == 0, pred.stderr
    assert len(pd.read_csv(out)) == len(pd.read_csv(CANCER))


def test_a_limit_no_model_can_keep_exits_5_and_saves_no_model(
    run_cli: RunCli, project_dir: Path
) -> None:
    small = ("--target", "diagnosis", "--models", "linear,lgbm", "--trials", "2")
    proc = run_cli("--json", "search", str(CANCER), *small, "--max-model-mb", "0.001")
    assert proc.returncode == EXIT_GATE, proc.stderr
    err = json.loads(proc.stdout)
    assert err["error"] == "LimitError"
    assert "smallest found is" in err["message"] and "MB" in err["message"]
    assert not (project_dir / "artifacts" / "model").exists() or not any(
        p.name.startswith("v") for p in (project_dir / "artifacts" / "model").iterdir()
    )
    proc = run_cli("search", str(CANCER), *small, "--max-latency-ms", "0.0001")
    assert proc.returncode == EXIT_GATE
    assert "ms per row" in proc.stderr and "Traceback" not in proc.stderr
    listed = run_cli("--json", "runs", "list")
    assert listed.returncode == 0
    assert not [r for r in json.loads(listed.stdout)["artifacts"] if r["kind"] == "model"]


@pytest.mark.parametrize("flag,value", [("--max-latency-ms", "0"), ("--max-model-mb", "-1"),
                                        ("--max-batch-ms-per-1k", "nan")])  # fmt: skip
def test_limit_values_must_be_positive_numbers(run_cli: RunCli, flag: str, value: str) -> None:
    proc = run_cli("search", str(CANCER), "--target", "diagnosis", "--trials", "1", flag, value)
    assert proc.returncode == EXIT_USAGE
    assert flag in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "table,target",
    [("breast_cancer", "diagnosis"), ("wine", "cultivar"), ("diabetes", "progression"),
     ("customers_messy", "churned")],
)  # fmt: skip
def test_limits_hold_on_every_sample_table(run_cli: RunCli, table: str, target: str) -> None:
    """Default families, latency and size limits together: the saved model keeps to both.
    (3 folds: the limits are what is tested, and each family's first trial still runs.)"""
    proc = run_cli(
        "--json", "search", str(SAMPLE_DATA / f"{table}.csv"), "--target", target,
        "--trials", "8", "--cv", "3", "--max-latency-ms", "80", "--max-model-mb", "1",
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    manifest = _manifest(doc)
    assert manifest["size_bytes"] <= 1e6
    assert manifest["metrics"]["latency_ms"] <= 80
    board = _leaderboard(doc)
    assert board.loc[board["ensemble_weight"] > 0, "within_limits"].astype(bool).all()


# -- the parts ------------------------------------------------------------------------------


def test_greedy_ensemble_only_adds_members_that_keep_the_set_within_limits() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    outputs = [np.clip(y + rng.normal(0, s, 400), 0, 1) for s in (0.4, 0.45, 0.5, 0.55)]
    outputs = [np.column_stack([1 - o, o]) for o in outputs]
    metric = get_metric("auc", "binary")
    free = greedy_ensemble(outputs, y, metric, 2)
    assert len(free.weights) > 1  # unconstrained, several members help
    cost = {0: 5.0, 1: 4.0, 2: 1.0, 3: 1.0}

    def fits(members: frozenset[int]) -> bool:
        return sum(cost[i] for i in members) <= 5.0

    kept = greedy_ensemble(outputs, y, metric, 2, fits=fits)
    assert fits(frozenset(kept.weights))
    assert sum(kept.weights.values()) == pytest.approx(1.0)
    with pytest.raises(NoCandidateFits):
        greedy_ensemble(outputs, y, metric, 2, fits=lambda members: False)


def test_a_version_over_its_size_limit_is_never_committed(tmp_path: Path) -> None:
    project = Project(tmp_path / "p")
    with project.new_artifact("profile") as writer:
        writer.write_bytes("a.bin", b"x" * 1000)
    first = writer.result
    assert first is not None and first.manifest["size_bytes"] > 1000
    with pytest.raises(ArtifactTooLarge) as caught, project.new_artifact("profile") as writer:
        writer.max_bytes = 1500
        writer.write_bytes("a.bin", b"x" * 2000)
    assert caught.value.details["size_bytes"] > 2000
    assert project.versions("profile") == [1]  # the big one left nothing behind
    assert not [p for p in project.kind_dir("profile").iterdir() if p.name != "v0001"]
    project.load("profile@v1").verify()


def test_refit_only_keeps_its_sources_limits_and_run_passes_them_on(
    run_cli: RunCli, project_dir: Path
) -> None:
    small = ("--target", "diagnosis", "--models", "linear,lgbm", "--trials", "3")
    proc = run_cli("--json", "run", str(CANCER), *small, "--max-model-mb", "2")
    assert proc.returncode == 0, proc.stderr
    source = json.loads(proc.stdout)["model"]
    source_manifest = Project(project_dir).load(source).manifest
    assert source_manifest["config"]["max_model_mb"]["value"] == 2
    assert source_manifest["size_bytes"] <= 2e6

    proc = run_cli("--json", "retrain", str(CANCER), "--refit-only", "--from", source)
    assert proc.returncode == 0, proc.stderr
    refit = Project(project_dir).load(json.loads(proc.stdout)["model"])
    assert refit.manifest["summary"]["refit_of"] == source
    assert refit.manifest["config"]["max_model_mb"] == {"value": 2, "source": source}
    assert refit.manifest["size_bytes"] <= 2e6
    models_before = Project(project_dir).versions("model")

    # a limit the refit cannot keep: exit 5, and no model version is written
    proc = run_cli(
        "--json", "retrain", str(CANCER), "--refit-only", "--from", source,
        "--max-latency-ms", "0.0001",
    )  # fmt: skip
    assert proc.returncode == EXIT_GATE, proc.stderr
    err = json.loads(proc.stdout)
    assert err["error"] == "LimitError" and "ms per row" in err["message"]
    assert Project(project_dir).versions("model") == models_before


@pytest.mark.parametrize("family", ["rf", "et", "hgb"])
def test_trees_that_alone_pass_the_size_limit_are_not_saved_or_timed(family: str) -> None:
    """The floor a forest or HGB model reports is below what its saved files really take,
    so a candidate over the limit by its floor is over it for certain."""
    from automl_cli.core.learners import make_learner
    from automl_cli.core.search import TrialRecord
    from automl_cli.steps._limits import REFIT_GROWTH, Assessor, Limits, saved_bytes

    frame = pd.read_csv(CANCER)
    X = frame.drop(columns=["diagnosis"])
    y = (frame["diagnosis"] == frame["diagnosis"].iloc[0]).to_numpy().astype(int)
    model = make_learner(family, task="binary", n_classes=2, seed=0, n_jobs=1).fit(X, y)
    floor = model.saved_bytes_floor()
    assert 0 < floor <= saved_bytes(model)

    def never(*args: object) -> None:
        raise AssertionError("a candidate over the size limit for certain was timed")

    limits = Limits(latency_ms=50.0, model_mb=floor / 2 / 1e6)
    record = TrialRecord(0, family, {}, "complete", False, models=[model])
    Assessor(limits, never, X.head(5), {}, lambda: 1000)(record, 60.0)  # type: ignore[arg-type]
    assert record.size_bytes == int(floor * REFIT_GROWTH)
    assert record.artifact_bytes == record.size_bytes + 1000
    assert record.latency_ms is None and not record.feasible
