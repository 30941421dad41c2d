"""``automl prep`` end to end: a real CLI process, real files, the saved preprocessor reloaded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from automl_cli.errors import EXIT_ARTIFACT, EXIT_BAD_DATA, EXIT_USAGE

from .conftest import SAMPLE_DATA, SHARED_DATA, RunCli

MESSY = SAMPLE_DATA / "customers_messy.csv"


def _prep(run_cli: RunCli, *args: str) -> dict:
    proc = run_cli("--json", "prep", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_prep_profiles_first_and_drops_the_leak_with_its_reason(
    run_cli: RunCli, project_dir: Path
) -> None:
    doc = _prep(run_cli, str(MESSY), "--target", "churned")
    assert doc["artifact"] == "prep@v1" and doc["profile"] == "profile@v1"
    actions = {d["name"]: d for d in doc["decisions"]}
    assert actions["account_status"]["action"] == "drop"
    assert "leakage" in actions["account_status"]["reason"]
    assert actions["customer_id"]["action"] == "drop"
    assert actions["country"]["action"] == "drop"
    assert actions["signup_date"]["action"] == "datetime"
    assert actions["support_notes"]["action"] == "text"
    version = project_dir / "artifacts/prep/v0001"
    assert {p.name for p in version.iterdir()} == {
        "manifest.json",
        "preprocessor.json",
        "schema.json",
        "decisions.md",
    }
    schema = json.loads((version / "schema.json").read_text())
    dropped = {c["name"]: c for c in schema["columns"] if not c["required"]}
    assert "leakage" in dropped["account_status"]["dropped"]
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["parents"][0]["ref"] == "profile@v1"
    # a second prep of the same bytes reuses that profile instead of profiling again
    again = _prep(run_cli, str(MESSY), "--target", "churned", "--keep", "account_status")
    assert again["profile"] == "profile@v1" and again["artifact"] == "prep@v2"
    kept = {d["name"]: d for d in again["decisions"]}["account_status"]
    assert kept["action"] == "categorical" and "--keep" in kept["reason"]
    assert again["config"]["keep"] == {"value": ["account_status"], "source": "cli"}


def test_prep_artifact_loads_in_a_fresh_process_and_gives_the_same_features(
    run_cli: RunCli, project_dir: Path, tmp_path: Path
) -> None:
    _prep(run_cli, str(MESSY), "--target", "churned")
    code = textwrap.dedent(
        """
        import sys
        from automl_cli.core.io import read_table
        from automl_cli.steps.prep import load_preprocessor
        from automl_cli.store import Project
        prep = load_preprocessor(Project(sys.argv[1]).load("prep@latest"))
        frame, _ = read_table(sys.argv[2])
        prep.transform(frame, variant=sys.argv[3]).to_csv(sys.argv[4], index=False)
        """
    )
    outputs = []
    for i in range(2):
        out = tmp_path / f"features{i}.csv"
        subprocess.run(
            [sys.executable, "-c", code, str(project_dir), str(MESSY), "encoded", str(out)],
            check=True,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 2007


def test_tampered_preprocessor_is_refused_with_exit_4(run_cli: RunCli, project_dir: Path) -> None:
    _prep(run_cli, str(MESSY), "--target", "churned")
    assert run_cli("runs", "show", "prep@latest").returncode == 0
    path = project_dir / "artifacts/prep/v0001/preprocessor.json"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte
    path.write_bytes(bytes(data))
    proc = run_cli("runs", "show", "prep@latest")
    assert proc.returncode == EXIT_ARTIFACT
    assert "preprocessor.json" in proc.stderr and "Traceback" not in proc.stderr


def test_prep_without_data_reuses_the_profiled_table(run_cli: RunCli) -> None:
    assert run_cli("profile", str(MESSY), "--target", "churned").returncode == 0
    doc = _prep(run_cli, "--target", "churned")
    assert doc["profile"] == "profile@v1" and doc["rows_used"] == 2006


def test_prep_errors(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("prep", str(MESSY)).returncode == EXIT_USAGE  # no target
    proc = run_cli("prep", str(MESSY), "--target", "churn")
    assert proc.returncode == EXIT_BAD_DATA and "churned" in proc.stderr
    proc = run_cli("prep", str(MESSY), "--target", "churned", "--drop", "nope")
    assert proc.returncode == EXIT_USAGE and "nope" in proc.stderr
    proc = run_cli("prep", str(MESSY), "--target", "churned", "--text", "bert")
    assert proc.returncode == EXIT_USAGE


def test_rows_without_target_are_dropped_and_counted(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    lines = ["x,g,y"] + [f"{i},{'ab'[i % 2]},{'' if i % 10 == 0 else i % 3}" for i in range(100)]
    path.write_text("\n".join(lines) + "\n")
    doc = _prep(run_cli, str(path), "--target", "y")
    assert doc["rows_without_target"] == 10 and doc["rows_used"] == 90
    assert doc["task"] == "multiclass"


SHARED_TABLES = [
    ("titanic", "survived"),
    ("penguins", "species"),
    ("taxis", "fare"),
    ("mpg", "mpg"),
    ("tips", "tip"),
    ("planets", "method"),
]
SAMPLE_TABLES = [
    ("breast_cancer", "diagnosis"),
    ("wine", "cultivar"),
    ("diabetes", "progression"),
    ("customers_messy", "churned"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("table", "target"), SAMPLE_TABLES)
def test_prep_runs_on_every_sample_table(run_cli: RunCli, table: str, target: str) -> None:
    doc = _prep(run_cli, str(SAMPLE_DATA / f"{table}.csv"), "--target", target)
    assert doc["features"]["native"] > 0 and doc["features"]["encoded"] > 0


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared tables are not beside the repo")
@pytest.mark.parametrize(("table", "target"), SHARED_TABLES)
def test_prep_runs_on_the_shared_tables(run_cli: RunCli, table: str, target: str) -> None:
    doc = _prep(run_cli, str(SHARED_DATA / f"{table}.csv"), "--target", target)
    assert doc["features"]["native"] > 0
    if table == "titanic":
        assert {d["name"]: d["action"] for d in doc["decisions"]}["alive"] == "drop"
