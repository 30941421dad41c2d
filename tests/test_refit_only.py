"""``automl retrain DATA --refit-only [--from REF]``: a model's pipeline fitted again, no search.

Real CLI processes on small seeded tables: the new version's lineage and pipeline, its
predictions, skipping when nothing changed, ``--from``, refused requests, promotion and
refusal, and the round-count rule for members kept as fold models.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_cli.errors import EXIT_ARTIFACT, EXIT_BAD_DATA, EXIT_GATE, EXIT_USAGE
from automl_cli.steps.refit import refit_params
from automl_cli.store import Project, cache_key

from .conftest import SAMPLE_DATA, automl
from .test_pipeline_cli import churn_table

SEARCH = ("--target", "churned", "--trials", "3", "--models", "linear,lgbm", "--cv", "3",
          "--seed", "1")  # fmt: skip


def _json(proc: Any) -> dict[str, Any]:
    assert proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc.get("details", doc)  # a refusal (exit 5) carries the result as details


def _versions(project: Path) -> list[str]:
    return sorted(
        f"{p.parent.name}/{p.name}" for p in (project / "artifacts").glob("*/v*") if p.is_dir()
    )


def _spec(project: Path, ref: str) -> dict[str, Any]:
    art = Project(project).load(ref)
    spec: dict[str, Any] = json.loads(art.file("model.json").read_text("utf-8"))
    return spec


def _champion(project: Path) -> str | None:
    refs = project / "refs.json"
    if not refs.is_file():
        return None
    return json.loads(refs.read_text()).get("model", {}).get("champion")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("refit")
    day1 = churn_table(300, 0)
    day1.to_csv(root / "day1.csv", index=False)
    day2 = pd.concat([day1, churn_table(200, 7)], ignore_index=True)
    day2.to_csv(root / "day2.csv", index=False)
    pd.concat([day2, churn_table(150, 8)], ignore_index=True).to_csv(root / "day3.csv", index=False)
    return root


@pytest.fixture(scope="module")
def refit_project(workdir: Path) -> tuple[Path, dict[str, Any]]:
    """model@v1 searched on day 1 (never promoted); model@v2 its refit on day 2, promoted
    because there was no champion yet."""
    project = workdir / "p"
    searched = automl(project, "search", "day1.csv", *SEARCH, cwd=workdir)
    assert searched.returncode == 0, searched.stderr
    proc = automl(project, "--json", "retrain", "day2.csv", "--refit-only",
                  "--promote-if-better", cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return project, _json(proc)


def test_a_refit_links_to_its_source_and_keeps_its_pipeline(
    refit_project: tuple[Path, dict[str, Any]],
) -> None:
    project, doc = refit_project
    assert [(s["step"], s["status"]) for s in doc["steps"]] == [
        ("profile", "created"),
        ("prep", "created"),
        ("refit", "created"),
        ("evaluate", "created"),
    ]
    assert doc["model"] == doc["challenger"] == "model@v2" and doc["refit_only"] is True
    assert doc["refit"]["from"] == "model@v1" and doc["refit"]["refit_s"] > 0
    # no champion yet: the first retrain promotes, whatever it scores
    assert doc["decision"]["action"] == "promote" and doc["decision"]["promoted"] is True
    assert _champion(project) == "v0002"

    store = Project(project)
    source, refit = store.load("model@v1"), store.load("model@v2")
    m = refit.manifest
    assert {"ref": "model@v1", "manifest_sha256": source.manifest_sha256} in m["parents"]
    assert {p["ref"].partition("@")[0] for p in m["parents"]} == {"model", "prep", "profile"}
    assert m["summary"]["refit_of"] == "model@v1"
    assert m["summary"]["target"] == "churned" and m["summary"]["task"] == "binary"
    assert m["summary"]["data_sha256"] != source.manifest["summary"]["data_sha256"]
    assert m["config"]["refit_only"]["value"] is True and m["config"]["from"]["value"] == "model@v1"
    for made in (source.manifest, m):  # the suite's AUTOML_JOBS=1, kept as a number
        assert made["config"]["jobs"] == {"value": 1, "source": "env:AUTOML_JOBS"}
    assert m["seed"] == source.manifest["seed"] == 1
    assert m["metrics"]["refit_only"] is True and m["metrics"]["metric"] == "auc"
    assert m["metrics"]["refit_s"] > 0 and m["metrics"]["latency_ms"] > 0
    assert m["metrics"]["rows_used"] > source.manifest["metrics"]["rows_used"]
    assert cache_key(m) == m["cache_key"]
    outputs = {o["path"] for o in m["outputs"]}
    assert not outputs & {"leaderboard.csv", "oof.parquet", "study.db"}  # nothing searched
    # the preprocessing is the new prep's, fitted on the new rows
    prep = next(p["ref"] for p in m["parents"] if p["ref"].startswith("prep@"))
    assert (
        refit.file("preprocessor.json").read_bytes()
        == store.load(prep).file("preprocessor.json").read_bytes()
    )

    # same families, weights and hyperparameters; only the fitted state is new
    old, new = _spec(project, "model@v1"), _spec(project, "model@v2")
    assert all(member["fit"] == "refit" for member in old["members"])
    assert {k: new[k] for k in ("format_version", "task", "classes", "metric")} == {
        k: old[k] for k in ("format_version", "task", "classes", "metric")
    }
    assert [(a["family"], a["weight"], a["params"], a["trial"]) for a in new["members"]] == [
        (b["family"], b["weight"], b["params"], b["trial"]) for b in old["members"]
    ]
    assert all(member["fit"] == "refit" for member in new["members"])
    before = {o["path"]: o["sha256"] for o in source.manifest["outputs"]}
    after = {o["path"]: o["sha256"] for o in m["outputs"] if o["path"].startswith("members/")}
    assert after and any(before.get(path) != sha for path, sha in after.items())


def test_a_refit_model_predicts_and_says_why_it_has_no_cv_figures(
    refit_project: tuple[Path, dict[str, Any]], workdir: Path
) -> None:
    project, _ = refit_project
    out = workdir / "pred-v2.csv"
    proc = automl(project, "--json", "predict", "day3.csv", "--model", "model@v2", "--proba",
                  "-o", str(out), cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["prediction", "proba_no", "proba_yes"]
    assert len(scored) == len(pd.read_csv(workdir / "day3.csv"))
    assert np.allclose(scored[["proba_no", "proba_yes"]].sum(axis=1), 1.0)

    # evaluate without a table has no out-of-fold predictions to score: a clear usage error
    plain = automl(project, "evaluate", "--model", "model@v2", cwd=workdir)
    assert plain.returncode == EXIT_USAGE, plain.stderr
    assert "model@v2 was refit without cross-validation: pass a labelled table" in plain.stderr
    assert "Traceback" not in plain.stderr
    labelled = automl(project, "evaluate", "day3.csv", "--model", "model@v2", cwd=workdir)
    assert labelled.returncode == 0, labelled.stderr

    listed = automl(project, "--json", "runs", "list", "model", cwd=workdir)
    rows = {r["ref"]: r for r in json.loads(listed.stdout)["artifacts"]}
    assert rows["model@v2"]["parents"] and "model@v1" in rows["model@v2"]["parents"]
    diff = json.loads(automl(project, "--json", "runs", "diff", "model@v1", "v2",
                             cwd=workdir).stdout)  # fmt: skip
    assert {c["name"] for c in diff["parents"]["changes"]} >= {"model", "prep", "profile"}


def test_the_same_refit_again_changes_nothing(
    refit_project: tuple[Path, dict[str, Any]], workdir: Path
) -> None:
    project, _ = refit_project
    before = _versions(project)
    # the champion is now the refit itself: refitting it on the same rows is the same model
    again = automl(project, "--json", "retrain", "day2.csv", "--refit-only",
                   "--promote-if-better", cwd=workdir)  # fmt: skip
    assert again.returncode == 0, again.stderr
    doc = _json(again)
    assert {s["status"] for s in doc["steps"]} == {"unchanged"} and doc["changed"] is False
    assert doc["model"] == "model@v2" and doc["decision"]["action"] == "unchanged"
    assert doc["refit"]["from"] == "model@v1" and doc["refit"]["status"] == "unchanged"
    # naming the source itself finds the same version by its cache key
    named = _json(automl(project, "--json", "retrain", "day2.csv", "--refit-only", "--from",
                         "model@v1", cwd=workdir))  # fmt: skip
    assert {s["status"] for s in named["steps"]} == {"unchanged"} and named["model"] == "model@v2"
    assert _versions(project) == before and _champion(project) == "v0002"


def test_refit_from_a_named_model_and_a_refused_challenger(
    refit_project: tuple[Path, dict[str, Any]], workdir: Path
) -> None:
    project, _ = refit_project
    proc = automl(project, "--json", "retrain", "day3.csv", "--refit-only", "--from", "model@v1",
                  "--promote-if-better", "--min-improvement", "1", cwd=workdir)  # fmt: skip
    assert proc.returncode == EXIT_GATE, proc.stderr
    assert "not promoted" in proc.stderr
    doc = _json(proc)
    assert doc["decision"]["action"] == "refuse" and doc["decision"]["min_improvement"] == 1
    assert doc["champion"] == "model@v2" and doc["refit"]["from"] == "model@v1"
    assert _champion(project) == "v0002"  # the champion stays
    made = Project(project).load(doc["challenger"]).manifest
    assert made["summary"]["refit_of"] == "model@v1"
    assert "model@v1" in {p["ref"] for p in made["parents"]}
    assert made["config"]["from"] == {"value": "model@v1", "source": "cli"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--from", "model@v99"), EXIT_ARTIFACT, "model@v99 does not exist"),
        (("--from", "nosuch"), EXIT_ARTIFACT, "no model version is called 'nosuch'"),
        (("--from", "prep@v1"), EXIT_USAGE, "only a model can be refit"),
        (("--trials", "5"), EXIT_USAGE, "--trials cannot be used with --refit-only: it searches"),
        (("--time-budget", "30", "--models", "lgbm"), EXIT_USAGE, "--time-budget, --models"),
        (("--target", "plan"), EXIT_USAGE, "--target plan differs from the target 'churned'"),
        (("--seed", "7"), EXIT_USAGE, "--seed 7 differs from the seed 1"),
    ],
)
def test_refit_refuses_bad_requests_before_writing(
    refit_project: tuple[Path, dict[str, Any]],
    workdir: Path,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    project, _ = refit_project
    before = _versions(project)
    proc = automl(project, "retrain", "day3.csv", "--refit-only", *args, cwd=workdir)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _versions(project) == before


def test_from_needs_refit_only_and_an_empty_project_has_nothing_to_refit(workdir: Path) -> None:
    project = workdir / "empty"
    lone = automl(project, "retrain", "day1.csv", "--target", "churned", "--from", "v1",
                  cwd=workdir)  # fmt: skip
    assert lone.returncode == EXIT_USAGE and "--refit-only" in lone.stderr
    empty = automl(project, "retrain", "day1.csv", "--refit-only", cwd=workdir)
    assert empty.returncode == EXIT_ARTIFACT, empty.stderr
    assert "no model artifact" in empty.stderr and "without --refit-only" in empty.stderr
    assert not project.exists() or not list((project / "artifacts").glob("*/v*"))


def test_a_refit_keeps_its_sources_classes(
    refit_project: tuple[Path, dict[str, Any]], workdir: Path
) -> None:
    project, _ = refit_project
    three = churn_table(300, 11)
    three.loc[three.index[::7], "churned"] = "maybe"
    three.to_csv(workdir / "three.csv", index=False)
    before = _versions(project)
    proc = automl(project, "retrain", "three.csv", "--refit-only", "--from", "v1", cwd=workdir)
    assert proc.returncode == EXIT_BAD_DATA, proc.stderr
    assert "other classes than model@v1 (new: 'maybe')" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _versions(project) == before  # refused before profile and prep were written


# -- the round-count rule -------------------------------------------------------------------


def test_refit_params_grow_fold_rounds_once() -> None:
    saved = {"task": "binary", "n_classes": 2, "seed": 1, "n_jobs": 2, "n_estimators": 2000,
             "learning_rate": 0.1}  # fmt: skip
    # fold models early-stopped at 10, 20 and 31 rounds: all rows get their mean × 1.1
    folds = refit_params("folds", saved, [10, 20, 31])
    assert folds == {"n_estimators": int(np.mean([10, 20, 31]) * 1.1), "learning_rate": 0.1}
    # a fold that reports no round count (a forest, an MLP): the saved params as they are
    assert refit_params("folds", saved, [10, None, 31])["n_estimators"] == 2000
    assert refit_params("folds", saved, [])["n_estimators"] == 2000
    # a member already refit on all rows carries its count: never multiplied again
    assert refit_params("refit", {**saved, "n_estimators": 22}, [22]) == {
        "n_estimators": 22,
        "learning_rate": 0.1,
    }
    assert saved["n_estimators"] == 2000  # the saved params are not mutated


def test_a_source_kept_as_fold_models_is_refit_with_their_mean_rounds(tmp_path: Path) -> None:
    """A search that ran out of time keeps its members' CV fold models. Such a model is built
    here through the store (as search's _save would write it), then refit by the CLI."""
    from automl_cli.core.learners import make_learner
    from automl_cli.core.preprocessing import encode_target
    from automl_cli.steps.prep import load_preprocessor

    churn_table(300, 0).to_csv(tmp_path / "day1.csv", index=False)
    pd.concat([churn_table(300, 0), churn_table(200, 7)], ignore_index=True).to_csv(
        tmp_path / "day2.csv", index=False
    )
    project = tmp_path / "p"
    proc = automl(project, "search", "day1.csv", "--target", "churned", "--trials", "1",
                  "--models", "lgbm", "--cv", "3", "--seed", "1", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    store = Project(project)
    searched = store.load("model@v1")
    prep_ref = next(p["ref"] for p in searched.manifest["parents"] if "prep@" in p["ref"])
    prep_art = store.load(prep_ref)
    profile_art = store.load(next(p["ref"] for p in searched.manifest["parents"]
                                  if "profile@" in p["ref"]))  # fmt: skip
    prep = load_preprocessor(prep_art)
    table = pd.read_csv(tmp_path / "day1.csv")
    X = prep.transform(table.drop(columns=["churned"]), variant="native")
    y = encode_target(table["churned"], "binary")[0].astype(int)
    folds = np.arange(len(y)) % 3
    learners = []
    for k in range(3):
        train, val = folds != k, folds == k
        lrn = make_learner("lgbm", task="binary", n_classes=2, seed=1, n_jobs=1,
                           learning_rate=0.1, early_stopping_rounds=5)  # fmt: skip
        learners.append(lrn.fit(X[train], y[train], X[val], y[val]))
    rounds = [lrn.fitted_iterations() for lrn in learners]
    assert all(rounds)
    with store.new_artifact("model", seed=1) as writer:
        for inp in searched.manifest["inputs"]:
            writer.add_input(inp["path"], inp["sha256"], inp["size"], rows=inp["rows"])
        writer.add_parent(prep_art)
        writer.add_parent(profile_art)
        for name, entry in searched.manifest["config"].items():
            writer.set_config(name, entry["value"], entry["source"])
        paths = []
        for j, lrn in enumerate(learners):
            lrn.save(writer.dir_path(f"members/0/{j}"))
            paths.append(f"members/0/{j}")
        writer.write_json("model.json", {
            "format_version": 1, "task": "binary", "classes": ["no", "yes"], "metric": "auc",
            "members": [{"family": "lgbm", "variant": "native", "weight": 1.0, "trial": 0,
                         "fit": "folds", "params": learners[0].get_params(), "paths": paths}],
        })  # fmt: skip
        shutil.copyfile(prep_art.file("preprocessor.json"), writer.file_path("preprocessor.json"))
        writer.summary.update(searched.manifest["summary"])
        writer.metrics.update({"metric": "auc"})
    assert writer.result is not None and writer.result.ref == "model@v2"

    first = _json(automl(project, "--json", "retrain", "day2.csv", "--refit-only", "--from",
                         "model@v2", cwd=tmp_path))  # fmt: skip
    assert first["model"] == "model@v3"
    (member,) = _spec(project, "model@v3")["members"]
    assert member["fit"] == "refit" and len(member["paths"]) == 1
    assert member["params"]["n_estimators"] == int(np.mean(rounds) * 1.1)
    assert member["params"]["learning_rate"] == 0.1

    # refit again (forced, same rows): the round count stays, and so does every byte
    again = _json(automl(project, "--json", "retrain", "day2.csv", "--refit-only", "--from",
                         "model@v3", "--force", cwd=tmp_path))  # fmt: skip
    assert again["model"] == "model@v4"
    (kept,) = _spec(project, "model@v4")["members"]
    assert kept["params"] == member["params"]
    v3, v4 = store.load("model@v3").manifest, store.load("model@v4").manifest
    assert v3["content_sha256"] == v4["content_sha256"]


def test_a_refit_keeps_its_sources_temperature_and_floors_by_its_own_rows(
    tmp_path: Path,
) -> None:
    """The temperature was fitted to the source's out-of-fold probabilities; a refit on more
    rows of the same table keeps it (it has no out-of-fold rows to fit another). The floor
    is measured in the rows a model learnt from: the refit's."""
    wine = pd.read_csv(SAMPLE_DATA / "wine.csv")
    wine.iloc[:150].to_csv(tmp_path / "day1.csv", index=False)
    wine.to_csv(tmp_path / "day2.csv", index=False)
    project = tmp_path / "p"
    args = ("--target", "cultivar", "--trials", "4", "--models", "linear", "--seed", "0")
    searched = automl(project, "search", "day1.csv", *args, cwd=tmp_path)
    assert searched.returncode == 0, searched.stderr
    source = _spec(project, "model@v1")["temperature"]
    assert source != 1.0
    proc = automl(project, "retrain", "day2.csv", "--refit-only", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _spec(project, "model@v2")["temperature"] == source
    # retrain holds out a share of day 2's 178 rows to judge the refit on
    refit_rows = Project(project).load("model@v2").manifest["metrics"]["rows_used"]
    assert 100 < refit_rows < 178
    assert _spec(project, "model@v1")["floor_rows"] == 150
    assert _spec(project, "model@v2")["floor_rows"] == refit_rows
