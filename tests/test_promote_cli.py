"""``automl promote``: the champion alias, and predict / evaluate using it by default."""

from __future__ import annotations

import json
from pathlib import Path

from automl_cli.errors import EXIT_ARTIFACT, EXIT_USAGE

from .conftest import SAMPLE_DATA, automl

WINE = SAMPLE_DATA / "wine.csv"


def _doc(project: Path, *args: str, cwd: Path) -> dict:
    proc = automl(project, "--json", *args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_promote_sets_the_champion_that_predict_and_evaluate_use(tmp_path: Path) -> None:
    project = tmp_path / "p"
    for family in ("linear", "knn"):
        _doc(project, "search", str(WINE), "--target", "cultivar", "--trials", "1",
             "--models", family, cwd=tmp_path)  # fmt: skip
    out = str(tmp_path / "out.csv")
    assert _doc(project, "predict", str(WINE), "-o", out, cwd=tmp_path)["model"] == "model@v2"
    first = _doc(project, "promote", "model@v1", cwd=tmp_path)
    assert first == {**first, "artifact": "model@v1", "alias": "model@champion", "previous": None}
    refs = json.loads((project / "refs.json").read_text())
    assert refs == {"model": {"champion": "v0001"}}
    # the newest model is v2, but the champion is what runs by default
    assert _doc(project, "predict", str(WINE), "-o", out, cwd=tmp_path)["model"] == "model@v1"
    assert _doc(project, "evaluate", str(WINE), cwd=tmp_path)["model"] == "model@v1"
    assert _doc(project, "predict", str(WINE), "-o", out, "--model", "model@latest",
                cwd=tmp_path)["model"] == "model@v2"  # fmt: skip
    again = _doc(project, "promote", "2", cwd=tmp_path)
    assert again["artifact"] == "model@v2" and again["previous"] == "model@v1"
    assert automl(project, "promote", "profile@v1", cwd=tmp_path).returncode == EXIT_USAGE
    missing = automl(project, "promote", "model@v9", cwd=tmp_path)
    assert missing.returncode == EXIT_ARTIFACT and "model@v9" in missing.stderr
    assert json.loads((project / "refs.json").read_text())["model"]["champion"] == "v0002"
