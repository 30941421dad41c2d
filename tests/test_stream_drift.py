"""Batch reading gives the same table as reading it whole; drift is zero on the training
distribution and large on a shifted one."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.drift import DriftMonitor
from automl_cli.core.io import read_table
from automl_cli.core.profiling import profile_frame
from automl_cli.core.stream import iter_table
from automl_cli.errors import DataError


def _frame(n: int = 250) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "x": rng.normal(10, 2, n).round(3),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "note": ["line one\nline two" if i % 50 == 0 else "plain" for i in range(n)],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl", ".feather"])
def test_batches_concatenate_to_the_whole_table(tmp_path: Path, suffix: str) -> None:
    frame = _frame()
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_feather(path)
    info, batches = iter_table(str(path), 40, numeric=["x"])
    parts = list(batches)
    assert info.columns == list(frame.columns)
    assert all(len(p) <= 40 for p in parts) and sum(map(len, parts)) == len(frame)
    got = pd.concat(parts, ignore_index=True)
    assert got["id"].tolist() == frame["id"].tolist()
    assert np.allclose(got["x"].astype(float), frame["x"])
    assert got["note"].tolist() == frame["note"].tolist()  # quoted newlines survive


def test_stdin_is_parsed_as_it_arrives_and_a_bad_number_stays_text(tmp_path: Path) -> None:
    frame = _frame(30)
    frame["x"] = frame["x"].astype(str)
    frame.loc[7, "x"] = "oops"
    stream = io.BytesIO(frame.to_csv(index=False).encode())
    info, batches = iter_table("-", 1000, numeric=["x"], stdin=stream)
    [batch] = list(batches)
    assert info.path == "stdin" and len(batch) == 30
    assert batch["x"].iloc[7] == "oops"  # left for the caller to report by row


def test_unreadable_inputs_fail_before_the_first_batch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        iter_table(str(tmp_path / "nope.csv"), 10)
    with pytest.raises(DataError, match="directory"):
        iter_table(str(tmp_path), 10)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        iter_table(str(tmp_path / "empty.csv"), 10)


def test_drift_is_zero_on_training_rows_and_large_on_shifted_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 4000
    train = pd.DataFrame(
        {
            "spend": rng.lognormal(3, 1, n),  # skewed: quantile bins
            "age": rng.normal(40, 10, n),
            "plan": rng.choice(["basic", "pro"], n, p=[0.7, 0.3]),
            "y": rng.integers(0, 2, n),
        }
    )
    path = tmp_path / "train.csv"
    train.to_csv(path, index=False)
    frame, _ = read_table(path)
    profile = profile_frame(frame, target="y")
    columns = ["spend", "age", "plan"]
    same = DriftMonitor(profile, columns)
    same.update(frame)
    report = same.report()
    assert report["drifted_columns"] == [] and not report["large"]
    assert all(c["psi"] < 0.01 for c in report["columns"].values())
    shifted = frame.assign(
        spend=frame["spend"] * 5,
        plan=np.where(rng.random(n) < 0.8, "PRO ", "basic"),  # case and spaces do not count
        age=np.where(rng.random(n) < 0.3, np.nan, frame["age"]),
    )
    moved = DriftMonitor(profile, columns)
    moved.update(shifted)
    report = moved.report()
    assert set(report["drifted_columns"]) == {"spend", "plan"}
    assert any("'age' is missing in 30%" in w for w in report["warnings"])


def test_dates_and_ids_are_not_reported_as_drift() -> None:
    """Scoring the training table itself must not flag its date or ID columns."""
    import pandas as pd

    from automl_cli.core.drift import DriftMonitor
    from automl_cli.core.profiling import profile_frame

    n = 300
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2021-01-01", periods=n, freq="D"),
            "customer": [f"C{i:05d}" for i in range(n)],
            "x": [float(i % 17) for i in range(n)],
            "y": [i % 2 for i in range(n)],
        }
    )
    profile = profile_frame(frame, "y", seed=0)
    monitor = DriftMonitor(profile, ["when", "customer", "x"])
    as_text = frame.assign(when=frame["when"].dt.strftime("%Y-%m-%d"))  # as predict reads it
    monitor.update(as_text)
    report = monitor.report()
    assert set(report["columns"]) == {"x"}
    assert not report["warnings"]
