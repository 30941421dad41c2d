"""``automl predict`` through a real CLI process: files and pipes, formats, batches, schema
mismatches, bad rows, unseen categories, drift, and a tampered model."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_cli.errors import EXIT_ARTIFACT, EXIT_BAD_DATA, EXIT_USAGE

from .conftest import SAMPLE_DATA, automl, cli_env

MESSY = SAMPLE_DATA / "customers_messy.csv"
TARGET = "churned"


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model searched on the first 1,500 rows of the messy table; the rest to score."""
    root = tmp_path_factory.mktemp("predict")
    frame = pd.read_csv(MESSY, dtype=str, keep_default_na=False)
    paths = {"root": root, "project": root / "p", "train": root / "train.csv"}
    paths["new"] = root / "new.csv"
    frame.iloc[:1500].to_csv(paths["train"], index=False)
    frame.iloc[1500:].drop(columns=[TARGET]).to_csv(paths["new"], index=False)
    proc = automl(paths["project"], "--json", "search", str(paths["train"]), "--target", TARGET,
                "--trials", "3", "--models", "lgbm,linear", cwd=root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return paths


def _in_process(project: Path, table: Path) -> np.ndarray:
    """The model's own answer on the same rows, for comparison."""
    from automl_cli.core.io import read_table
    from automl_cli.steps.search import load_model

    model = load_model(project)
    frame, _ = read_table(table)
    return model.predict(frame)


def test_predict_streams_csv_to_stdout_in_input_order_with_the_id(messy: dict) -> None:
    proc = automl(messy["project"], "predict", str(messy["new"]), cwd=messy["root"])
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(io.StringIO(proc.stdout), dtype=str)
    new = pd.read_csv(messy["new"], dtype=str)
    assert list(out.columns) == ["customer_id", "prediction"]  # the ID column is the key
    assert out["customer_id"].tolist() == new["customer_id"].tolist()
    assert out["prediction"].tolist() == list(_in_process(messy["project"], messy["new"]))
    assert "scored" in proc.stderr and "Traceback" not in proc.stderr


def test_a_pipe_in_and_out_carries_nothing_but_csv(messy: dict) -> None:
    command = (
        f"cat {messy['new']} | {sys.executable} -m automl_cli --project {messy['project']} "
        "predict - --output - --proba | cat"
    )
    proc = subprocess.run(
        command, shell=True, capture_output=True, text=True, env=cli_env(), cwd=messy["root"]
    )
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(io.StringIO(proc.stdout))
    assert list(out.columns) == ["customer_id", "prediction", "proba_no", "proba_yes"]
    assert len(out) == len(pd.read_csv(messy["new"]))
    assert np.allclose(out[["proba_no", "proba_yes"]].sum(axis=1), 1.0)
    assert (out["prediction"] == np.where(out["proba_yes"] > out["proba_no"], "yes", "no")).all()


def test_batches_formats_and_files_give_the_same_predictions(messy: dict) -> None:
    project, root, new = messy["project"], messy["root"], str(messy["new"])
    whole = automl(project, "predict", new, "--proba", cwd=root)
    small = automl(project, "predict", new, "--proba", "--batch-size", "37", cwd=root)
    assert whole.returncode == small.returncode == 0
    expected = pd.read_csv(io.StringIO(whole.stdout))
    batched = pd.read_csv(io.StringIO(small.stdout))
    # streaming in batches changes nothing (beyond float rounding in the last digit)
    assert batched["customer_id"].tolist() == expected["customer_id"].tolist()
    assert batched["prediction"].tolist() == expected["prediction"].tolist()
    assert np.allclose(batched["proba_yes"], expected["proba_yes"], rtol=0, atol=1e-12)
    for name, read in (("out.parquet", pd.read_parquet), ("out.jsonl", _read_jsonl)):
        proc = automl(project, "--json", "predict", new, "--proba", "-o", name, cwd=root)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["rows_out"] == len(expected) and doc["output"]["path"] == name
        got = read(root / name)
        assert got["prediction"].tolist() == expected["prediction"].tolist()
        assert np.allclose(got["proba_yes"], expected["proba_yes"])
    assert not list(root.glob(".out*.tmp"))


def _read_jsonl(path: Path) -> pd.DataFrame:
    return pd.read_json(path, lines=True, dtype=False)


def test_a_missing_column_stops_before_any_output(messy: dict, tmp_path: Path) -> None:
    new = pd.read_csv(messy["new"], dtype=str)
    lacking = tmp_path / "lacking.csv"
    new.drop(columns=["monthly_spend"]).assign(extra_col=1).to_csv(lacking, index=False)
    out = tmp_path / "predictions.csv"
    proc = automl(messy["project"], "predict", str(lacking), "-o", str(out), cwd=messy["root"])
    assert proc.returncode == EXIT_BAD_DATA
    [error] = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "'monthly_spend'" in error and "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".predictions*"))


def test_extra_columns_and_unseen_categories_are_reported(messy: dict, tmp_path: Path) -> None:
    new = pd.read_csv(messy["new"], dtype=str, keep_default_na=False)
    new["extra_col"] = "x"
    new.loc[new.index[:7], "plan"] = "Platinum"
    odd = tmp_path / "odd.csv"
    new.to_csv(odd, index=False)
    proc = automl(messy["project"], "--json", "predict", str(odd), "-o", str(tmp_path / "o.csv"),
                cwd=messy["root"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"]["extra_columns"] == ["extra_col"]
    assert doc["schema"]["unseen_categories"]["plan"] == 7
    human = automl(messy["project"], "predict", str(odd), cwd=messy["root"])
    notes = [ln for ln in human.stderr.splitlines() if ln.startswith("note:")]
    assert any("extra_col" in n for n in notes) and any("7 value(s) of 'plan'" in n for n in notes)


def test_bad_numbers_are_an_error_or_skipped_or_blanked_with_their_rows(
    messy: dict, tmp_path: Path
) -> None:
    new = pd.read_csv(messy["new"], dtype=str, keep_default_na=False)
    new.loc[new.index[[2, 9]], "monthly_spend"] = "n/a-ish"
    bad = tmp_path / "bad.csv"
    new.to_csv(bad, index=False)
    project, root = messy["project"], messy["root"]
    out = tmp_path / "p.csv"
    proc = automl(project, "predict", str(bad), "-o", str(out), cwd=root)
    assert proc.returncode == EXIT_BAD_DATA
    [error] = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "'monthly_spend'" in error and "3, 10" in error and not out.exists()
    skipped = automl(project, "--json", "predict", str(bad), "--on-bad-rows", "skip", "-o", str(out),
                   cwd=root)  # fmt: skip
    doc = json.loads(skipped.stdout)
    assert doc["rows_out"] == len(new) - 2 and doc["bad_values"]["row_numbers"] == [3, 10]
    kept = pd.read_csv(out, dtype=str)
    assert "n/a-ish" not in kept.to_string()
    assert kept["customer_id"].tolist() == new["customer_id"].drop(new.index[[2, 9]]).tolist()
    blanked = automl(project, "predict", str(bad), "--on-bad-rows", "null", cwd=root)
    assert blanked.returncode == 0
    assert len(pd.read_csv(io.StringIO(blanked.stdout))) == len(new)
    assert "data row(s) 3, 10" in blanked.stderr


def test_drift_is_reported_when_a_column_shifts(messy: dict, tmp_path: Path) -> None:
    project, root = messy["project"], messy["root"]
    same = automl(project, "--json", "predict", str(messy["new"]), "-o", str(tmp_path / "a.csv"),
                cwd=root)  # fmt: skip
    assert json.loads(same.stdout)["drift"]["drifted_columns"] == []
    new = pd.read_csv(messy["new"], dtype=str, keep_default_na=False)
    spend = pd.to_numeric(new["monthly_spend"], errors="coerce")
    new["monthly_spend"] = (spend * 10).astype(str)
    shifted = tmp_path / "shifted.csv"
    new.to_csv(shifted, index=False)
    proc = automl(
        project, "--json", "predict", str(shifted), "-o", str(tmp_path / "b.csv"), cwd=root
    )
    drift = json.loads(proc.stdout)["drift"]
    assert drift["drifted_columns"] == ["monthly_spend"]
    assert drift["columns"]["monthly_spend"]["psi"] > 1.0
    human = automl(project, "predict", str(shifted), cwd=root)
    assert "drift:" in human.stderr and "'monthly_spend'" in human.stderr


def test_usage_errors_and_a_tampered_model(messy: dict, tmp_path: Path) -> None:
    project, root, new = messy["project"], messy["root"], str(messy["new"])
    mixed = automl(project, "--json", "predict", new, cwd=root)
    assert mixed.returncode == EXIT_USAGE and "mix" in mixed.stderr
    assert automl(project, "predict", new, "--format", "xml", cwd=root).returncode == EXIT_USAGE
    assert automl(project, "predict", new, "--id", "nope", cwd=root).returncode == EXIT_BAD_DATA
    copy = tmp_path / "p"
    subprocess.run(["cp", "-r", str(project), str(copy)], check=True)
    member = next((copy / "artifacts/model/v0001/members").rglob("*.*"))
    member.write_bytes(member.read_bytes() + b"\n")
    proc = automl(copy, "predict", new, cwd=root)
    assert proc.returncode == EXIT_ARTIFACT and proc.stdout == ""
    assert "sha256" in proc.stderr or "changed" in proc.stderr


def test_predictions_use_the_jobs_setting_not_the_threads_the_model_was_fitted_with(
    messy: dict, tmp_path: Path
) -> None:
    """The suite's models are fitted with 1 thread (AUTOML_JOBS=1), as a search on a busy
    machine may fit them. Where the model is loaded, ``jobs`` decides; the predictions stay."""
    from automl_cli.core.io import read_table
    from automl_cli.steps.search import load_model

    as_fitted = load_model(messy["project"])
    with_two = load_model(messy["project"], n_jobs=2)
    assert {lr.n_jobs for m in as_fitted.members for lr in m.learners} == {1}
    assert {lr.n_jobs for m in with_two.members for lr in m.learners} == {2}
    frame, _ = read_table(messy["new"])
    np.testing.assert_allclose(with_two.predict_proba(frame), as_fitted.predict_proba(frame))

    def predict(jobs: str) -> subprocess.CompletedProcess[str]:
        out = tmp_path / f"jobs{jobs}.csv"
        return subprocess.run(
            [sys.executable, "-m", "automl_cli", "--project", str(messy["project"]), "--json",
             "predict", str(messy["new"]), "--output", str(out)],
            capture_output=True, text=True, env=cli_env(AUTOML_JOBS=jobs), timeout=300,
        )  # fmt: skip

    one, two = predict("1"), predict("2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    setting = json.loads(two.stdout)["config"]["jobs"]
    # a number, as a flag or the default would give it, not the environment's text
    assert setting == {"value": 2, "source": "env:AUTOML_JOBS"}
    assert (tmp_path / "jobs1.csv").read_text() == (tmp_path / "jobs2.csv").read_text()
    for bad in ("0", "two"):
        refused = predict(bad)
        assert refused.returncode == EXIT_USAGE, refused.stderr
        assert f"jobs must be a whole number of threads, at least 1, not '{bad}'" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert not (tmp_path / f"jobs{bad}.csv").exists()


def test_a_reader_that_closes_early_ends_the_run_quietly(messy: dict, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    new = pd.read_csv(messy["new"], dtype=str, keep_default_na=False)
    pd.concat([new] * 100, ignore_index=True).to_csv(big, index=False)  # ~50k rows, MBs out
    command = (
        f"{sys.executable} -m automl_cli --project {messy['project']} predict {big} --proba "
        "--batch-size 5000 | head -n 2; "
        'exit "${PIPESTATUS[0]}"'
    )
    proc = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=cli_env(), cwd=messy["root"]
    )
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == "customer_id,prediction,proba_no,proba_yes"
    assert proc.returncode == 141  # as `cat` does when its reader goes away
    assert "error" not in proc.stderr and "Traceback" not in proc.stderr


def test_an_output_file_gets_the_umask_mode_or_keeps_the_one_it_had(
    messy: dict, tmp_path: Path
) -> None:
    """Written through a temp file and renamed, as `> file` would be: readable by whoever the
    umask lets read it, and a replaced file keeps its permissions."""
    import os
    import stat

    out, new = tmp_path / "predictions.csv", str(messy["new"])
    old = os.umask(0o022)  # the CLI subprocess inherits it
    try:
        proc = automl(messy["project"], "predict", new, "-o", str(out), cwd=messy["root"])
        assert proc.returncode == 0, proc.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        out.chmod(0o640)
        again = automl(
            messy["project"], "predict", new, "-o", str(out), "--format", "jsonl", cwd=messy["root"]
        )
        assert again.returncode == 0, again.stderr
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert len(_read_jsonl(out)) == len(pd.read_csv(messy["new"]))
