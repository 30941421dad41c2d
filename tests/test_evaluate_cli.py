"""``automl evaluate`` through a real CLI process: with and without a table, gates, fairness,
comparison, the three tasks, and bad input that must leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_cli.errors import EXIT_BAD_DATA, EXIT_GATE, EXIT_USAGE

from .conftest import SAMPLE_DATA, automl, cli_env

CANCER = SAMPLE_DATA / "breast_cancer.csv"


def _ok(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model searched on 400 rows; 169 held-out rows with a group column and a skewed one."""
    root = tmp_path_factory.mktemp("evaluate")
    frame = pd.read_csv(CANCER).sample(frac=1.0, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    frame["clinic"] = rng.choice(["north", "south", "tiny"], len(frame), p=[0.55, 0.4, 0.05])
    train, holdout = frame.iloc[:400], frame.iloc[400:].copy()
    # a column the model never saw, tied to the diagnosis: its groups get very different
    # selection rates, which the fairness section must call out
    flip = rng.random(len(holdout)) < 0.15
    holdout["ward"] = np.where((holdout["diagnosis"] == "malignant") ^ flip, "oncology", "general")
    paths = {"root": root, "project": root / "p", "train": root / "train.csv"}
    paths["holdout"] = root / "holdout.csv"
    train.to_csv(paths["train"], index=False)
    holdout.to_csv(paths["holdout"], index=False)
    doc = _ok(
        automl(
            paths["project"],
            "--json",
            "search",
            str(paths["train"]),
            "--target",
            "diagnosis",
            "--trials",
            "4",
            "--models",
            "lgbm,linear",
            cwd=root,
        )
    )
    assert doc["artifact"] == "model@v1"
    paths["cv_score"] = doc["cv_score"]  # type: ignore[assignment]
    return paths


def test_evaluate_a_labelled_table_writes_metrics_plots_and_report(cancer: dict) -> None:
    project = cancer["project"]
    doc = _ok(
        automl(project, "--json", "evaluate", str(cancer["holdout"]), "--group", "clinic",
             "--group", "ward", cwd=cancer["root"])
    )  # fmt: skip
    assert doc["task"] == "binary" and doc["headline_metric"] == "auc"
    assert doc["data"]["kind"] == "table" and doc["data"]["rows"] == 169
    auc = doc["metrics"]["auc"]
    assert 0.9 < auc["value"] <= 1.0 and auc["ci_low"] <= auc["value"] <= auc["ci_high"]
    assert auc["baseline"] == pytest.approx(0.5)
    assert doc["passed"] and doc["gates"] == []
    assert any("'ward'" in m for m in doc["schema_messages"])  # extra column: one note
    assert doc["top_columns"] and set(doc["top_columns"]) <= set(pd.read_csv(CANCER).columns) | {
        "clinic"
    }
    fair = {f["column"]: f for f in doc["fairness"]}
    assert any("too small to judge" in w and "tiny" in w for w in fair["clinic"]["warnings"])
    assert fair["ward"]["gaps"]["demographic_parity_difference"] > 0.3
    assert any("different rates" in w for w in fair["ward"]["warnings"])

    version = project / "artifacts/evaluation/v0001"
    plots = {p.name for p in (version / "plots").iterdir()}
    assert {
        "confusion.png",
        "roc.png",
        "precision_recall.png",
        "calibration.png",
        "permutation_importance.png",
        "partial_dependence_1.png",
    } <= plots
    for name in plots:
        assert (version / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (version / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(plots)
    assert "Fairness" in html and "too small to judge" in html
    assert "http://" not in html and "https://" not in html  # opens offline
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["metrics"]["auc"]["value"] == auc["value"]
    assert {"confusion", "roc", "pr", "calibration", "threshold", "brier"} <= set(
        metrics["details"]
    )
    manifest = json.loads((version / "manifest.json").read_text())
    assert [p["ref"] for p in manifest["parents"]] == ["model@v1"]
    assert manifest["inputs"][0]["rows"] == 169


def test_evaluate_without_a_table_reports_the_cross_validated_figures(cancer: dict) -> None:
    doc = _ok(
        automl(cancer["project"], "--json", "evaluate", "--group", "clinic", cwd=cancer["root"])
    )
    assert doc["data"] == {"kind": "oof", "rows": 400}
    # the out-of-fold predictions of the saved model are what the search scored it by
    assert doc["metrics"]["auc"]["value"] == pytest.approx(cancer["cv_score"], abs=1e-6)
    assert doc["fairness"][0]["column"] == "clinic"
    assert doc["top_columns"] == []  # nothing to shuffle without rows


def test_quality_gates_pass_or_exit_5_after_saving(cancer: dict) -> None:
    project, root = cancer["project"], cancer["root"]
    holdout = str(cancer["holdout"])
    passed = _ok(automl(project, "--json", "evaluate", holdout, "--fail-under", "auc=0.8",
                      "--fail-under", "logloss=0.5", cwd=root))  # fmt: skip
    assert passed["passed"] and [g["passed"] for g in passed["gates"]] == [True, True]
    real = passed["metrics"]["accuracy"]["value"]
    before = len(list((project / "artifacts/evaluation").iterdir()))
    failed = automl(project, "evaluate", holdout, "--fail-under", f"accuracy={real + 0.001}",
                  cwd=root)  # fmt: skip
    assert failed.returncode == EXIT_GATE
    assert "quality gate failed: accuracy" in failed.stderr and "Traceback" not in failed.stderr
    # the failing evaluation is kept, so CI can publish its report
    assert len(list((project / "artifacts/evaluation").iterdir())) == before + 1
    as_json = automl(project, "--json", "evaluate", "--fail-under", "auc=1.01", cwd=root)
    assert as_json.returncode == EXIT_GATE
    err = json.loads(as_json.stdout)
    assert err["exit_code"] == EXIT_GATE and err["details"]["gates"][0]["passed"] is False


def test_compare_two_models_on_the_same_rows(cancer: dict) -> None:
    project, root = cancer["project"], cancer["root"]
    weaker = _ok(automl(project, "--json", "search", str(cancer["train"]), "--target", "diagnosis",
                      "--trials", "1", "--models", "knn", cwd=root))  # fmt: skip
    assert weaker["artifact"] == "model@v2"
    holdout = str(cancer["holdout"])
    one = _ok(automl(project, "--json", "evaluate", holdout, "--model", "model@v1", cwd=root))
    two = _ok(automl(project, "--json", "evaluate", holdout, "--model", "model@v2", cwd=root))
    both = _ok(automl(project, "--json", "evaluate", holdout, "--model", "model@v1",
                    "--compare", "model@v2", cwd=root))  # fmt: skip
    c = both["comparison"]
    assert c["model"] == one["metrics"]["auc"]["value"]
    assert c["other"] == two["metrics"]["auc"]["value"]
    assert c["difference"] == pytest.approx(c["model"] - c["other"])
    assert c["ci_low"] <= c["difference"] <= c["ci_high"]
    assert c["better"] == ("model" if c["difference"] > 0 else "other")
    assert "model@v2" in c["verdict"] or "this model" in c["verdict"]


def test_bad_input_is_one_clear_line_and_writes_nothing(cancer: dict, tmp_path: Path) -> None:
    project, root = cancer["project"], cancer["root"]
    evaluations = project / "artifacts/evaluation"
    before = sorted(p.name for p in evaluations.iterdir()) if evaluations.exists() else []
    holdout = pd.read_csv(cancer["holdout"])
    unlabelled = tmp_path / "unlabelled.csv"
    holdout.drop(columns=["diagnosis"]).to_csv(unlabelled, index=False)
    unknown = tmp_path / "unknown.csv"
    holdout.assign(diagnosis=["weird", *holdout["diagnosis"][1:]]).to_csv(unknown, index=False)
    cases = [
        ((str(unlabelled),), EXIT_BAD_DATA, "has no column 'diagnosis'"),
        ((str(unknown),), EXIT_BAD_DATA, "never saw: 'weird'"),
        ((str(cancer["holdout"]), "--group", "nope"), EXIT_BAD_DATA, "no column 'nope'"),
        ((str(cancer["holdout"]), "--fail-under", "auc"), EXIT_USAGE, "not METRIC=VALUE"),
        (("--fail-under", "rmse=3"), EXIT_USAGE, "does not apply to a binary task"),
        (("--model", "model@v9"), 4, "model@v9"),
    ]
    for args, code, text in cases:
        proc = automl(project, "evaluate", *args, cwd=root)
        assert proc.returncode == code, (args, proc.stderr)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and text in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
    no_threads = subprocess.run(
        [sys.executable, "-m", "automl_cli", "--project", str(project), "evaluate",
         str(cancer["holdout"])],
        capture_output=True, text=True, env=cli_env(AUTOML_JOBS="0"), cwd=root, timeout=300,
    )  # fmt: skip
    assert no_threads.returncode == EXIT_USAGE, no_threads.stderr
    assert "jobs must be a whole number of threads, at least 1, not '0'" in no_threads.stderr
    after = sorted(p.name for p in evaluations.iterdir()) if evaluations.exists() else []
    assert after == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("table", "target", "metric", "plots"),
    [
        ("diabetes.csv", "progression", "rmse", {"residuals.png", "error_by_decile.png"}),
        ("wine.csv", "cultivar", "logloss", {"confusion.png", "roc.png", "calibration.png"}),
    ],
)
def test_regression_and_multiclass_evaluations(
    tmp_path: Path, table: str, target: str, metric: str, plots: set[str]
) -> None:
    frame = pd.read_csv(SAMPLE_DATA / table).sample(frac=1.0, random_state=0)
    assert target in frame.columns
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[: len(frame) * 3 // 4].to_csv(train, index=False)
    frame.iloc[len(frame) * 3 // 4 :].to_csv(test, index=False)
    project = tmp_path / "p"
    _ok(automl(project, "--json", "search", str(train), "--target", target, "--trials", "3",
             "--models", "lgbm,linear", cwd=tmp_path))  # fmt: skip
    for args in ((str(test),), ()):
        doc = _ok(automl(project, "--json", "evaluate", *args, cwd=tmp_path))
        assert doc["headline_metric"] == metric
        m = doc["metrics"][metric]
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
        assert m["value"] < m["baseline"]  # a loss: the model beats predicting the mean/shares
        written = {p.name for p in Path(doc["path"], "plots").iterdir()}
        assert plots <= written
