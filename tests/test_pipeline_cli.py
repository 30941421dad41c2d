"""``automl run`` (skip-unchanged chain), ``runs reproduce`` and the retrain holdout split."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_cli.errors import EXIT_BAD_DATA, EXIT_GATE, EXIT_USAGE
from automl_cli.steps.pipeline import row_hashes
from automl_cli.store import Project, cache_key

from .conftest import automl

FAST = ("--trials", "3", "--models", "linear,rf", "--cv", "3", "--seed", "1")


def churn_table(n: int, seed: int) -> pd.DataFrame:
    """A small binary table with signal in a number and a category, and some noise columns."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    spend = rng.gamma(2.0, 20.0, size=n).round(2)
    age = rng.integers(18, 80, size=n)
    logit = -1.0 + 0.04 * (spend - 40) + np.where(plan == "basic", 0.8, -0.4)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {"plan": plan, "spend": spend, "age": age, "churned": np.where(churn, "yes", "no")}
    )


def _json(proc) -> dict:  # type: ignore[no-untyped-def]
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def _statuses(doc: dict) -> dict[str, str]:
    return {s["step"]: s["status"] for s in doc["steps"]}


def _version_dirs(project: Path) -> list[str]:
    return sorted(
        f"{p.parent.name}/{p.name}" for p in (project / "artifacts").glob("*/v*") if p.is_dir()
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    churn_table(300, 0).to_csv(root / "train.csv", index=False)
    churn_table(120, 1).to_csv(root / "holdout.csv", index=False)
    return root


@pytest.fixture(scope="module")
def first_run(workdir: Path) -> tuple[Path, dict]:
    project = workdir / "p"
    proc = automl(project, "--json", "run", "train.csv", "--target", "churned", *FAST,
                  cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return project, json.loads(proc.stdout)


def test_run_makes_every_step_then_skips_what_is_unchanged(
    first_run: tuple[Path, dict], workdir: Path
) -> None:
    project, doc = first_run
    assert _statuses(doc) == dict.fromkeys(("profile", "prep", "search", "evaluate"), "created")
    assert doc["changed"] is True and doc["model"] == "model@v1"
    assert doc["evaluation"]["artifact"] == "evaluation@v1"
    before = _version_dirs(project)

    # same data, same settings (a different lock timeout does not change any result)
    again = _json(automl(project, "--json", "--lock-timeout", "5", "run", "train.csv",
                         "--target", "churned", *FAST, cwd=workdir))  # fmt: skip
    assert set(_statuses(again).values()) == {"unchanged"}
    assert again["changed"] is False and again["model"] == "model@v1"
    assert again["evaluation"]["metrics"] == doc["evaluation"]["metrics"]
    assert _version_dirs(project) == before

    # the decision is the manifests' cache key, not the file's time stamp
    (workdir / "train.csv").touch()
    touched = _json(automl(project, "--json", "run", "train.csv", "--target", "churned", *FAST,
                           cwd=workdir))  # fmt: skip
    assert touched["changed"] is False


def test_a_changed_setting_reruns_only_the_steps_it_reaches(first_run: tuple[Path, dict],
                                                             workdir: Path) -> None:  # fmt: skip
    project, _ = first_run
    fast_cv4 = [a if a != "3" or i != 5 else "4" for i, a in enumerate(FAST)]
    assert fast_cv4[4:6] == ["--cv", "4"]
    doc = _json(automl(project, "--json", "run", "train.csv", "--target", "churned", *fast_cv4,
                       cwd=workdir))  # fmt: skip
    assert _statuses(doc) == {
        "profile": "unchanged",
        "prep": "unchanged",
        "search": "created",
        "evaluate": "created",
    }
    # every planned key equals the key recomputed from the manifest written afterwards
    store = Project(project)
    for kind in ("profile", "prep", "model", "evaluation"):
        for v in store.versions(kind):
            manifest = store.load(f"{kind}@{v}").manifest
            assert cache_key(manifest) == manifest["cache_key"]


def test_force_reruns_everything_and_same_seed_gives_identical_bytes(
    first_run: tuple[Path, dict], workdir: Path
) -> None:
    project, doc = first_run
    forced = _json(automl(project, "--json", "run", "train.csv", "--target", "churned", *FAST,
                          "--force", cwd=workdir))  # fmt: skip
    assert set(_statuses(forced).values()) == {"created"}
    store = Project(project)
    old, new = store.load(doc["model"]), store.load(forced["model"])
    assert old.version != new.version
    # every model file is byte-identical; only the listed volatile files may differ
    assert old.manifest["content_sha256"] == new.manifest["content_sha256"]
    assert set(new.manifest["volatile"]) == {"leaderboard.csv", "study.db"}
    members = [o["path"] for o in new.manifest["outputs"] if o["path"].startswith("members/")]
    assert any(p.endswith(".skops") for p in members)  # the forest goes through skops
    outputs = []
    for model in (old, new):
        out = workdir / f"pred-{model.version}.csv"
        proc = automl(project, "predict", "holdout.csv", "--model", model.ref, "--proba",
                      "-o", str(out), cwd=workdir)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outputs.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert outputs[0] == outputs[1]


def test_runs_reproduce_re_makes_a_model_and_checks_its_bytes(
    first_run: tuple[Path, dict], workdir: Path
) -> None:
    project, doc = first_run
    proc = automl(project, "--json", "runs", "reproduce", doc["model"], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["reproduced"] is True and result["rerun"] == doc["model"]
    stable = [f for f in result["files"] if not f["volatile"]]
    assert stable and all(f["same"] and f["original"] == f["rerun"] for f in stable)
    assert "run train.csv --target churned" in result["command_line"]


def test_runs_reproduce_refuses_what_cannot_match(workdir: Path) -> None:
    project = workdir / "budget"
    shutil.copyfile(workdir / "train.csv", workdir / "moving.csv")
    proc = automl(project, "search", "moving.csv", "--target", "churned", "--time-budget", "12",
                  "--models", "linear", cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    timed = automl(project, "runs", "reproduce", "model@latest", cwd=workdir)
    assert timed.returncode == EXIT_USAGE and "--trials" in timed.stderr
    # the profile is deterministic, but its table has changed since
    with open(workdir / "moving.csv", "a") as fh:
        fh.write("basic,10.0,30,yes\n")
    changed = automl(project, "runs", "reproduce", "profile@v1", cwd=workdir)
    assert changed.returncode == EXIT_BAD_DATA and "moving.csv" in changed.stderr
    assert "Traceback" not in changed.stderr


def test_a_failing_gate_keeps_failing_while_nothing_changes(workdir: Path) -> None:
    project = workdir / "gate"
    args = ("run", "train.csv", "--target", "churned", *FAST, "--fail-under", "auc=0.999")
    first = automl(project, "--json", *args, cwd=workdir)
    assert first.returncode == EXIT_GATE, first.stderr
    assert "auc" in first.stderr and "evaluation@v1" in first.stdout
    second = automl(project, "--json", *args, cwd=workdir)
    assert second.returncode == EXIT_GATE and "unchanged" in second.stderr
    assert Project(project).versions("evaluation") == [1]


def test_run_and_retrain_refuse_bad_requests(workdir: Path) -> None:
    project = workdir / "bad"
    for args in (
        ("run", "-", "--target", "churned"),
        ("retrain", "train.csv", "--target", "churned", "--holdout-share", "0.9"),
        ("retrain", "train.csv", "--target", "churned", "--min-improvement", "-1"),
        ("run", "train.csv"),
    ):
        proc = automl(project, *args, cwd=workdir)
        assert proc.returncode == EXIT_USAGE, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "error:" in proc.stderr
    churn_table(30, 3).to_csv(workdir / "tiny.csv", index=False)
    tiny = automl(project, "retrain", "tiny.csv", "--target", "churned", cwd=workdir)
    assert tiny.returncode == EXIT_BAD_DATA and "--holdout FILE" in tiny.stderr
    assert not (project / "artifacts" / "model").exists() or not Project(project).versions("model")


def test_row_hashes_ignore_how_types_were_read_and_keep_each_rows_side() -> None:
    frame = churn_table(200, 5)
    as_float = frame.assign(age=frame["age"].astype(float))
    assert (row_hashes(frame) == row_hashes(as_float)).all()
    reordered = frame[["churned", "age", "spend", "plan"]]
    assert (row_hashes(frame) == row_hashes(reordered)).all()
    more = pd.concat([frame, churn_table(100, 6)], ignore_index=True)
    held_before = row_hashes(frame) % 10_000 < 2_000
    held_after = row_hashes(more)[: len(frame)] % 10_000 < 2_000
    assert (held_before == held_after).all()
    assert 0.1 < held_before.mean() < 0.3
