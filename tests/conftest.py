"""Shared fixtures: a fresh project directory and a real subprocess of the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with slow tests first: under ``--dist loadfile`` a long file handed out last
    keeps the run going while the other processes sit idle. The sort is stable, so each
    file's tests stay together and in their order."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def cli_env(**extra: str) -> dict[str, str]:
    """A stable environment for the CLI: no colour, a fixed width, no inherited project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOML_")}
    # one thread per fit: the suite runs two test processes at once (pytest -n 2), and two
    # processes' OpenMP threads spinning on two cores slow fits down twentyfold
    env.update({"NO_COLOR": "1", "COLUMNS": "100", "PYTHONWARNINGS": "ignore", "AUTOML_JOBS": "1"})
    env.update(extra)
    return env


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "project"


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(project_dir: Path, tmp_path: Path) -> RunCli:
    """Run ``automl --project <tmp> ARGS`` as a real process; returns the CompletedProcess."""

    def run(
        *args: str,
        input: str | bytes | None = None,
        project: Path | None = project_dir,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "automl_cli"]
        if project is not None:
            cmd += ["--project", str(project)]
        cmd += list(args)
        if isinstance(input, bytes):
            proc = subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                env=env or cli_env(),
                timeout=timeout,
                cwd=tmp_path,
            )
            return subprocess.CompletedProcess(
                proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
            )
        return subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            env=env or cli_env(),
            timeout=timeout,
            cwd=tmp_path,
        )

    return run


def automl(project: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``automl --project PROJECT ARGS`` as a real process, for module-scoped fixtures (which
    cannot use the function-scoped ``run_cli``)."""
    return subprocess.run(
        [sys.executable, "-m", "automl_cli", "--project", str(project), *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
        cwd=cwd,
    )


@contextlib.contextmanager
def project_lock_held(project: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``project``'s lock for the duration of the block."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from automl_cli.store import Project
                with Project(sys.argv[1]).locked():
                    print("LOCKED", flush=True)
                    time.sleep(60)
                """
            ),
            str(project),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "LOCKED"
        yield holder
    finally:
        holder.kill()
        holder.wait()
