"""The sample tables: reproducible byte for byte, and messy in the ways the README promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from automl_cli.core.profiling import profile_frame

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make_sample_data.py"
FILES = ("breast_cancer.csv", "wine.csv", "diabetes.csv", "customers_messy.csv", "README.md")


def _generate(out: Path) -> dict[str, bytes]:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=REPO)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_data")
    _generate(out)
    return out


@pytest.mark.slow
def test_script_is_deterministic(generated: Path, tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in sorted(generated.iterdir())}
    assert sorted(first) == sorted(FILES)
    assert _generate(tmp_path / "again") == first
    assert sum(len(b) for b in first.values()) < 1_000_000


def test_committed_sample_data_matches_the_script(generated: Path) -> None:
    committed = REPO / "sample_data"
    for name in FILES:
        assert (committed / name).read_bytes() == (generated / name).read_bytes(), (
            f"sample_data/{name} is stale: run 'python scripts/make_sample_data.py'"
        )


@pytest.mark.parametrize(
    ("name", "target", "task", "rows"),
    [
        ("breast_cancer.csv", "diagnosis", "binary", 569),
        ("wine.csv", "cultivar", "multiclass", 178),
        ("diabetes.csv", "progression", "regression", 442),
        ("customers_messy.csv", "churned", "binary", 2006),
    ],
)
def test_tables_have_the_documented_target(
    generated: Path, name: str, target: str, task: str, rows: int
) -> None:
    profile = profile_frame(pd.read_csv(generated / name), target)
    assert profile["dataset"]["rows"] == rows
    assert profile["target"]["task"] == task
    if name != "customers_messy.csv":  # the clean tables must not raise false alarms
        assert [w["code"] for w in profile["warnings"] if w["code"] == "leakage"] == []


def _by_column(profile: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for w in profile["warnings"]:
        found.setdefault(str(w["column"]), set()).add(w["code"])
    return found


def test_customers_messy_problems_are_found(generated: Path) -> None:
    frame = pd.read_csv(generated / "customers_messy.csv")
    profile = profile_frame(frame, "churned")
    types = {c["name"]: c["semantic_type"] for c in profile["columns"]}
    warnings = _by_column(profile)
    assert types["customer_id"] == "id" and "id_like" in warnings["customer_id"]
    assert "leakage" in warnings["account_status"]
    assert types["country"] == "constant" and "constant" in warnings["country"]
    assert types["signup_date"] == "datetime"
    assert types["support_notes"] == "text"
    assert types["is_premium"] == "boolean"
    assert types["plan"] == "categorical" and types["monthly_spend"] == "numeric"
    assert "high_cardinality" in warnings["region"]
    assert "duplicate_rows" in warnings["None"]
    leaks = {c for c, codes in warnings.items() if "leakage" in codes}
    assert leaks == {"account_status"}  # the genuinely predictive features are not leakage
    share = profile["target"]["classes"][1]["share"]
    assert 0.15 < share < 0.25 and profile["target"]["classes"][1]["value"] == "yes"
