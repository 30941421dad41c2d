"""The CLI as users and scripts meet it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automl_cli.errors import EXIT_BAD_DATA, EXIT_LOCKED, EXIT_USAGE

from .conftest import SAMPLE_DATA, RunCli, cli_env, project_lock_held

SMALL_CSV = "id,age,city,y\n1,30,Oslo,yes\n2,41,Rome,no\n3,,Oslo,yes\n4,25,Lima,no\n"


def _one_error(stderr: str) -> str:
    """The 'error:' line; also checks there is a hint and never a traceback."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert any(line.startswith("hint:") for line in stderr.splitlines()), stderr
    return errors[0]


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    path.write_text(SMALL_CSV)
    return path


def test_profile_writes_an_artifact_and_reports_on_stderr(
    run_cli: RunCli, small_csv: Path, project_dir: Path
) -> None:
    proc = run_cli("profile", str(small_csv), "--target", "y")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # human output goes to stderr only
    assert "profile@v1" in proc.stderr
    version = project_dir / "artifacts/profile/v0001"
    assert {p.name for p in version.iterdir()} == {"manifest.json", "profile.json", "report.html"}
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["config"]["target"] == {"value": "y", "source": "cli"}
    assert manifest["inputs"][0]["rows"] == 4
    assert "\x1b[" not in proc.stderr  # NO_COLOR and a pipe: no escape codes


def test_json_mode_prints_one_document_on_stdout(
    run_cli: RunCli, small_csv: Path, project_dir: Path
) -> None:
    proc = run_cli("--json", "profile", str(small_csv), "--target", "y")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and doc["artifact"] == "profile@v1"
    assert doc["dataset"]["rows"] == 4
    assert doc["target"]["task"] == "binary"
    assert Path(doc["report"]).is_file()


def test_stdin_dash_reads_csv(run_cli: RunCli, project_dir: Path) -> None:
    proc = run_cli("--json", "--quiet", "profile", "-", "--target", "y", input=SMALL_CSV)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["data"]["path"] == "-" and doc["dataset"]["rows"] == 4
    assert proc.stderr == ""  # --quiet


def test_versions_accumulate_and_settings_sources_are_recorded(
    run_cli: RunCli, small_csv: Path, project_dir: Path
) -> None:
    project_dir.mkdir()
    (project_dir / "automl.toml").write_text('[profile]\ntarget = "y"\nseed = 5\n')
    first = run_cli("--verbose", "profile", str(small_csv))
    assert first.returncode == 0, first.stderr
    assert "from automl.toml" in first.stderr
    env = cli_env(AUTOML_SEED="9")
    second = run_cli("profile", str(small_csv), env=env)
    assert second.returncode == 0, second.stderr
    m1 = json.loads((project_dir / "artifacts/profile/v0001/manifest.json").read_text())
    m2 = json.loads((project_dir / "artifacts/profile/v0002/manifest.json").read_text())
    assert m1["config"]["target"] == {"value": "y", "source": "automl.toml"}
    assert m1["seed"] == 5
    assert m2["config"]["seed"] == {"value": 9, "source": "env:AUTOML_SEED"}


# -- every bad-input case of the data readers: one line, exit 3, nothing written ----------


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "header.csv").write_text("a,b,c\n")
    (tmp / "binary.csv").write_bytes(bytes(range(256)) * 40)
    (tmp / "dupes.csv").write_text("a,b,a\n1,2,3\n4,5,6\n")
    (tmp / "broken.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 50)
    return {
        "missing": (tmp / "nope.csv", "not found"),
        "empty": (tmp / "empty.csv", "empty"),
        "header only": (tmp / "header.csv", "no data rows"),
        "unreadable": (tmp / "binary.csv", "binary.csv"),
        "duplicate columns": (tmp / "dupes.csv", "'a'"),
        "corrupt parquet": (tmp / "broken.parquet", "broken.parquet"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "header only", "unreadable", "duplicate columns", "corrupt parquet"],
)
def test_bad_input_is_one_clear_line_and_exit_3(
    run_cli: RunCli, tmp_path: Path, project_dir: Path, case: str
) -> None:
    path, expected = _bad_inputs(tmp_path)[case]
    proc = run_cli("profile", str(path))
    assert proc.returncode == EXIT_BAD_DATA, proc.stderr
    assert expected in _one_error(proc.stderr)
    assert not list(project_dir.glob("artifacts/profile/v*"))  # nothing half-written


def test_unknown_target_suggests_the_closest_column(run_cli: RunCli, small_csv: Path) -> None:
    proc = run_cli("profile", str(small_csv), "--target", "agee")
    assert proc.returncode == EXIT_BAD_DATA
    line = _one_error(proc.stderr)
    assert "'agee'" in line
    assert "age" in proc.stderr.split("hint:")[1]


def test_json_errors_are_machine_readable(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_cli("--json", "profile", str(tmp_path / "nope.csv"))
    assert proc.returncode == EXIT_BAD_DATA
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["exit_code"] == EXIT_BAD_DATA and doc["hint"]


def test_debug_shows_the_traceback(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_cli("--debug", "profile", str(tmp_path / "nope.csv"))
    assert proc.returncode == EXIT_BAD_DATA
    assert "Traceback" in proc.stderr


def test_usage_errors_exit_2(run_cli: RunCli, small_csv: Path) -> None:
    assert run_cli("profile").returncode == EXIT_USAGE
    assert run_cli("profile", str(small_csv), "--no-such-flag").returncode == EXIT_USAGE
    assert run_cli("--lock-timeout", "-1", "profile", str(small_csv)).returncode == EXIT_USAGE


def test_bad_project_config_is_a_usage_error(
    run_cli: RunCli, small_csv: Path, project_dir: Path
) -> None:
    project_dir.mkdir()
    (project_dir / "automl.toml").write_text("[profile\n")
    proc = run_cli("profile", str(small_csv))
    assert proc.returncode == EXIT_USAGE
    assert "automl.toml" in _one_error(proc.stderr)


def test_project_that_is_a_file_is_refused(
    run_cli: RunCli, small_csv: Path, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    proc = run_cli("profile", str(small_csv), project=not_a_dir)
    assert proc.returncode == EXIT_USAGE
    assert "not a directory" in _one_error(proc.stderr)


def test_locked_project_exits_6(run_cli: RunCli, small_csv: Path, project_dir: Path) -> None:
    with project_lock_held(project_dir):
        proc = run_cli("--lock-timeout", "0.3", "profile", str(small_csv))
        assert proc.returncode == EXIT_LOCKED
        assert "locked" in _one_error(proc.stderr)
    assert run_cli("profile", str(small_csv)).returncode == 0


def test_version_and_completion(run_cli: RunCli) -> None:
    proc = run_cli("--version", project=None)
    assert proc.returncode == 0 and proc.stdout.startswith("automl ")
    # Typer's own switch: take the shell named here instead of detecting the parent process
    # (a test runner started without a shell above it has none to detect)
    env = cli_env(SHELL="/bin/bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    comp = run_cli("--show-completion", "bash", project=None, env=env)
    assert comp.returncode == 0 and "complete" in comp.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("table", "target", "task"),
    [
        ("breast_cancer", "diagnosis", "binary"),
        ("wine", "cultivar", "multiclass"),
        ("diabetes", "progression", "regression"),
        ("customers_messy", "churned", "binary"),
    ],
)
def test_every_sample_table_profiles(run_cli: RunCli, table: str, target: str, task: str) -> None:
    proc = run_cli("--json", "profile", str(SAMPLE_DATA / f"{table}.csv"), "--target", target)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target"]["task"] == task


def test_messy_table_warnings_name_the_problem_columns(run_cli: RunCli) -> None:
    proc = run_cli(
        "--json", "profile", str(SAMPLE_DATA / "customers_messy.csv"), "--target", "churned"
    )
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["warnings"]
    by_code = {(w["code"], w["column"]) for w in warnings}
    assert ("leakage", "account_status") in by_code
    assert ("id_like", "customer_id") in by_code
    assert ("constant", "country") in by_code
    assert ("datetime", "signup_date") in by_code
    columns = {c["name"]: c["semantic_type"] for c in json.loads(proc.stdout)["columns"]}
    assert columns["signup_date"] == "datetime"
    leak = next(w for w in warnings if w["code"] == "leakage")
    assert leak["severity"] == "high" and "account_status" in leak["message"]


def test_a_wide_table_shows_its_first_columns_and_says_where_the_rest_are(
    run_cli: RunCli, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.csv"
    names = [f"col{j:03d}" for j in range(60)]
    rows = [",".join(names) + ",y"] + [
        ",".join(str((i * 7 + j) % 11) for j in range(60)) + f",{i % 2}" for i in range(30)
    ]
    wide.write_text("\n".join(rows) + "\n")
    short = run_cli("profile", str(wide), "--target", "y")
    assert short.returncode == 0, short.stderr
    assert "col039" in short.stderr and "col040" not in short.stderr
    assert "21 more columns in the report" in short.stderr  # 60 features and the target
    full = run_cli("--verbose", "profile", str(wide), "--target", "y")
    assert "col059" in full.stderr and "more columns" not in full.stderr
    prep = run_cli("prep", str(wide), "--target", "y")
    assert prep.returncode == 0, prep.stderr
    assert "more columns in --verbose or --json" in prep.stderr
