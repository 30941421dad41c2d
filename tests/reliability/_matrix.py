"""The reliability matrix: every case is a row, run through the real CLI as a subprocess.

Each test module in ``tests/reliability`` lists its cases as ``CASES: list[Case]`` and runs
them with ``pytest.mark.parametrize(..., ids=...)``. ``scripts/reliability_table.py`` reads
the same lists to write ``docs/reliability.md``, and ``test_table.py`` fails when that file
is out of date, so the documented behaviour is always the tested one.

``check_outcome`` is what every case asserts about a failing command: the documented exit
code, one readable ``error:`` line (plus its ``hint:``) and no traceback on stderr, and a
project that still verifies (``verify_project``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from automl_cli.store import KINDS, Project

from ..conftest import cli_env

__all__ = ["Case", "automl", "check_outcome", "copy_project", "snapshot", "verify_project"]


@dataclass(frozen=True)
class Case:
    """One row of docs/reliability.md."""

    id: str  # pytest id, unique within its area
    area: str  # "input" | "fault" | "hostile artifact" | "property"
    what: str  # the situation, in a user's words
    behaviour: str  # what automl does, in a user's words
    exit_code: int | str  # documented exit code (a string for e.g. "0 or 3")
    test: str  # module::function that proves it


def automl(
    project: Path | None,
    *args: str,
    cwd: Path,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """``automl [--project P] ARGS`` as a real process (text output, bytes stdin allowed)."""
    cmd = [sys.executable, "-m", "automl_cli"]
    if project is not None:
        cmd += ["--project", str(project)]
    proc = subprocess.run(
        [*cmd, *args],
        cwd=cwd,
        env=env or cli_env(),
        input=input,
        capture_output=True,
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def copy_project(template: Path, tmp_path: Path) -> Path:
    """A private copy of a module's template project, so a case can change it freely."""
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(template, copy)
    return copy


def snapshot(project: Path) -> dict[str, str]:
    """Every complete version and its manifest bytes' sha256: 'earlier versions untouched'."""
    import hashlib

    out: dict[str, str] = {}
    for manifest in sorted(project.glob("artifacts/*/v*/manifest.json")):
        out[str(manifest.parent.relative_to(project))] = hashlib.sha256(
            manifest.read_bytes()
        ).hexdigest()
    return out


def verify_project(project: Path, before: dict[str, str] | None = None) -> None:
    """The project is consistent: every version verifies, none half-written, no temp left,
    refs.json (if any) is valid JSON, and every version in ``before`` is unchanged."""
    if not project.exists():
        return
    store = Project(project)
    for kind in KINDS:
        folder = project / "artifacts" / kind
        if not folder.is_dir():
            continue
        leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]
        assert not leftovers, f"temporary folders left in {folder}: {leftovers}"
        for version in store.versions(kind):
            store.load(f"{kind}@{version}")  # raises on any sha256 mismatch
        half = [
            p.name
            for p in folder.iterdir()
            if p.name.startswith("v") and p.is_dir() and not (p / "manifest.json").is_file()
        ]
        assert not half, f"versions without a manifest in {folder}: {half}"
    refs = project / "refs.json"
    if refs.exists():
        json.loads(refs.read_text())
    if before:
        after = snapshot(project)
        for name, digest in before.items():
            assert after.get(name) == digest, f"{name} changed or vanished"


def check_outcome(
    proc: subprocess.CompletedProcess[str],
    exit_code: int,
    project: Path | None = None,
    before: dict[str, str] | None = None,
    *,
    error_line: bool = True,
) -> None:
    """The documented exit code, one readable error (with its hint), no traceback, and a
    project that still verifies. ``error_line=False`` for outcomes that are not errors in
    the user's sense (0, or 130 after Ctrl-C, which says 'interrupted')."""
    assert proc.returncode == exit_code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if exit_code != 0 and error_line:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, proc.stderr[-2000:]
        assert len(errors[0]) > len("error: ") + 10
    if project is not None:
        verify_project(project, before)
