"""``automl runs diff`` and ``automl gc``: what changed between two versions, and removing
the ones nobody needs without breaking an alias, an ancestor or the version numbering."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import pytest

from automl_cli.errors import EXIT_ARTIFACT, EXIT_LOCKED, EXIT_USAGE, UsageError
from automl_cli.steps.runs import DIFF_SECTIONS
from automl_cli.store import Project

from .conftest import automl, project_lock_held


def _write_csv(path: Path, rows: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = ["a,b,c,y"]
    for _ in range(rows):
        lines.append(
            f"{rng.random():.3f},{rng.choice('xyz')},{rng.randint(0, 9)},{rng.choice((0, 1))}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _ok(project: Path, *args: str, cwd: Path) -> dict:
    proc = automl(project, "--json", *args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """profile@v1 prep@v1 model@v1 (table a, 2 folds) · profile@v2 prep@v2 (table b) ·
    profile@v3 prep@v3 model@v2 (table c, 3 folds). Read-only: tests that write copy it."""
    root = tmp_path_factory.mktemp("diffgc")
    a = _write_csv(root / "a.csv", 60, seed=1)
    b = _write_csv(root / "b.csv", 80, seed=2)
    c = _write_csv(root / "c.csv", 60, seed=3)
    project = root / "project"
    search = ("--target", "y", "--trials", "1", "--models", "linear", "--seed", "0")
    assert _ok(project, "search", str(a), *search, "--cv", "2", cwd=root)["artifact"] == "model@v1"
    _ok(project, "profile", str(b), "--target", "y", cwd=root)
    assert _ok(project, "prep", str(b), "--target", "y", cwd=root)["artifact"] == "prep@v2"
    assert _ok(project, "search", str(c), *search, "--cv", "3", cwd=root)["artifact"] == "model@v2"
    return project


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(template, copy)
    return copy


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(project: Path) -> dict[str, int]:
    return {
        p.relative_to(project).as_posix(): p.stat().st_size
        for p in (project / "artifacts").rglob("*")
        if p.is_file()
    }


# -- runs diff ----------------------------------------------------------------------------


def test_diff_of_profiles_shows_the_data_and_metrics_that_changed(
    template: Path, tmp_path: Path
) -> None:
    doc = _ok(template, "runs", "diff", "profile@v1", "profile@v2", cwd=tmp_path)
    assert doc["command"] == "runs diff" and doc["same_kind"] is True
    assert (doc["a"], doc["b"]) == ("profile@v1", "profile@v2")
    data = {c["name"]: (c["a"], c["b"]) for c in doc["data"]["changes"]}
    assert data["data.sha256"] == (_sha(template.parent / "a.csv"), _sha(template.parent / "b.csv"))
    assert data["data.rows"] == (60, 80)
    rows = next(c for c in doc["metrics"]["changes"] if c["name"] == "rows")
    assert (rows["a"], rows["b"], rows["difference"]) == (60, 80, 20)
    assert doc["libraries"]["identical"] and doc["platform"]["identical"]
    assert doc["outputs"]["changes"] and not doc["identical"]
    # a bare selector takes the first reference's kind
    assert _ok(template, "runs", "diff", "profile@1", "v2", cwd=tmp_path)["b"] == "profile@v2"


def test_diff_of_models_lists_only_the_changed_settings(template: Path, tmp_path: Path) -> None:
    doc = _ok(template, "runs", "diff", "model@v1", "model@latest", cwd=tmp_path)
    assert doc["config"]["changes"] == [
        {"name": "cv", "a": 2, "a_source": "cli", "b": 3, "b_source": "cli"}
    ]
    assert doc["seed"]["identical"]
    parents = {c["name"]: (c["a"], c["b"]) for c in doc["parents"]["changes"]}
    assert parents == {"prep": ("prep@v1", "prep@v3"), "profile": ("profile@v1", "profile@v3")}
    same = _ok(template, "runs", "diff", "model@v2", "model@latest", cwd=tmp_path)
    assert same["identical"] and all(same[s]["changes"] == [] for s in DIFF_SECTIONS)


def test_diff_json_structure_and_human_tables(template: Path, tmp_path: Path) -> None:
    doc = _ok(template, "runs", "diff", "model@v2", "prep@v3", cwd=tmp_path)
    assert doc["ok"] is True and doc["same_kind"] is False
    assert set(DIFF_SECTIONS) <= doc.keys()
    for name in DIFF_SECTIONS:
        assert isinstance(doc[name]["identical"], bool)
        for change in doc[name]["changes"]:
            assert {"name", "a", "b"} <= change.keys()
    only = {c["name"]: c["status"] for c in doc["outputs"]["changes"]}
    assert only["model.json"] == "only_a" and only["schema.json"] == "only_b"
    assert "preprocessor.json" not in only  # the same bytes in both

    human = automl(template, "runs", "diff", "profile@v1", "profile@v2", cwd=tmp_path)
    assert human.returncode == 0 and human.stdout == ""
    assert "config: identical" in human.stderr and "seed: identical" in human.stderr
    assert "data.sha256" in human.stderr and _sha(template.parent / "a.csv")[:12] in human.stderr
    cross = automl(template, "runs", "diff", "model@v2", "prep@v3", cwd=tmp_path)
    assert cross.returncode == 0 and "different kinds" in cross.stderr


def test_diff_of_an_unknown_reference_exits_4(template: Path, tmp_path: Path) -> None:
    proc = automl(template, "--json", "runs", "diff", "model@v1", "model@v9", cwd=tmp_path)
    assert proc.returncode == EXIT_ARTIFACT
    assert json.loads(proc.stdout)["error"] == "ArtifactNotFoundError"
    assert automl(
        template, "runs", "diff", "model@v1", "model@nobody", cwd=tmp_path
    ).returncode == (EXIT_ARTIFACT)


@pytest.mark.parametrize(
    "damage",
    [
        "not json {",
        '{"kind": "prep", "version": 1}',
        '{"kind": "model", "version": 2, "inputs": 7}',
    ],
)
def test_runs_list_names_a_damaged_manifest_and_lists_the_rest(
    project: Path, tmp_path: Path, damage: str
) -> None:
    before = _ok(project, "runs", "list", cwd=tmp_path)["artifacts"]
    (project / "artifacts/model/v0002/manifest.json").write_text(damage)
    after = _ok(project, "runs", "list", cwd=tmp_path)["artifacts"]
    assert [r["ref"] for r in after] == [r["ref"] for r in before]
    [bad] = [r for r in after if r["error"]]
    assert bad["ref"] == "model@v2" and "model@v2" in bad["error"] and bad["metrics"] == {}
    assert [r for r in after if r["ref"] != "model@v2"] == [
        r for r in before if r["ref"] != "model@v2"
    ]
    human = automl(project, "runs", "list", cwd=tmp_path)
    assert human.returncode == 0 and "unreadable" in human.stderr
    assert "Traceback" not in human.stderr
    shown = automl(project, "runs", "show", "model@v2", cwd=tmp_path)
    assert shown.returncode == EXIT_ARTIFACT  # reading the damaged one itself still fails


# -- gc -----------------------------------------------------------------------------------


def test_gc_keeps_aliases_their_ancestors_and_the_newest(project: Path, tmp_path: Path) -> None:
    _ok(project, "promote", "model@v1", cwd=tmp_path)
    before = _files(project)
    doc = _ok(project, "gc", "--keep", "1", cwd=tmp_path)
    assert doc["dry_run"] is False
    assert [r["ref"] for r in doc["removed"]] == ["profile@v2", "prep@v2"]
    why = {k["ref"]: k["reasons"] for k in doc["kept"]}
    assert why["model@v1"] == ["alias model@champion"]
    assert why["prep@v1"] == ["parent of model@v1"]
    assert "parent of prep@v1" in why["profile@v1"]
    assert why["model@v2"] == ["newest 1"] and why["profile@v3"][0] == "newest 1"
    after = _files(project)
    assert doc["bytes_freed"] == sum(before.values()) - sum(after.values()) > 0
    assert sum(r["size"] for r in doc["removed"]) == doc["bytes_freed"]
    for kind in ("profile", "prep"):
        names = sorted(p.name for p in (project / "artifacts" / kind).iterdir())
        assert names == ["v0001", "v0003"]  # nothing half-deleted, no .tmp-* left behind
    # what is kept still loads with every file verified, and the alias still resolves
    for ref in ("model@champion", "prep@v1", "profile@v1", "model@latest"):
        assert _ok(project, "runs", "show", ref, cwd=tmp_path)["verified"] is True


def test_gc_without_aliases_removes_all_but_the_newest_n(project: Path, tmp_path: Path) -> None:
    two = _ok(project, "gc", "--keep", "2", "--dry-run", cwd=tmp_path)
    assert two["removed"] == []  # model@v1 is among the newest 2, and keeps its parents
    doc = _ok(project, "gc", "--keep", "1", cwd=tmp_path)
    assert [r["ref"] for r in doc["removed"]] == [
        "profile@v1",
        "profile@v2",
        "prep@v1",
        "prep@v2",
        "model@v1",
    ]
    listed = _ok(project, "runs", "list", cwd=tmp_path)["artifacts"]
    assert [r["ref"] for r in listed] == ["profile@v3", "prep@v3", "model@v2"]
    again = _ok(project, "gc", "--keep", "1", cwd=tmp_path)
    assert again["removed"] == [] and again["bytes_freed"] == 0


def test_gc_dry_run_removes_nothing_and_plans_what_gc_does(project: Path, tmp_path: Path) -> None:
    before = _files(project)
    dry = _ok(project, "gc", "--keep", "1", "--dry-run", cwd=tmp_path)
    assert dry["dry_run"] is True and len(dry["removed"]) == 5 and dry["bytes_freed"] > 0
    assert _files(project) == before
    human = automl(project, "gc", "--keep", "1", "--dry-run", cwd=tmp_path)
    assert "would remove 5 versions" in human.stderr and "nothing was deleted" in human.stderr
    real = _ok(project, "gc", "--keep", "1", cwd=tmp_path)
    assert real["removed"] == dry["removed"] and real["bytes_freed"] == dry["bytes_freed"]


def test_after_gc_the_next_version_number_is_never_reused(project: Path, tmp_path: Path) -> None:
    _ok(project, "gc", "--keep", "1", cwd=tmp_path)
    data = str(_write_csv(tmp_path / "d.csv", 50, seed=4))
    assert _ok(project, "profile", data, "--target", "y", cwd=tmp_path)["artifact"] == "profile@v4"
    assert _ok(project, "prep", data, "--target", "y", cwd=tmp_path)["artifact"] == "prep@v4"


@pytest.mark.parametrize("keep", ["0", "-1"])
def test_gc_keep_below_one_is_a_usage_error(project: Path, tmp_path: Path, keep: str) -> None:
    before = _files(project)
    proc = automl(project, "--json", "gc", "--keep", keep, cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE and "--keep" in json.loads(proc.stdout)["message"]
    assert automl(project, "gc", cwd=tmp_path).returncode == EXIT_USAGE  # --keep is required
    assert _files(project) == before


def test_gc_waits_for_the_project_lock_then_exits_6(project: Path, tmp_path: Path) -> None:
    before = _files(project)
    with project_lock_held(project):
        proc = automl(project, "--lock-timeout", "0.3", "gc", "--keep", "1", cwd=tmp_path)
        assert proc.returncode == EXIT_LOCKED and "locked" in proc.stderr
        assert _files(project) == before
        # a dry run only reads, so it needs no lock
        dry = automl(project, "--json", "gc", "--keep", "1", "--dry-run", cwd=tmp_path)
        assert dry.returncode == 0 and json.loads(dry.stdout)["removed"]
    assert _ok(project, "gc", "--keep", "1", cwd=tmp_path)["removed"]


def test_store_refuses_to_remove_the_newest_or_an_aliased_version(project: Path) -> None:
    store = Project(project)
    store.set_alias("prep", "golden", 2)
    with pytest.raises(UsageError, match="newest"):
        store.remove_version("prep", 3)
    with pytest.raises(UsageError, match="prep@golden"):
        store.remove_version("prep", 2)
    store.remove_version("prep", 1)
    assert store.versions("prep") == [2, 3]
