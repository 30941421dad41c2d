"""The ydata-profiling baseline lives in its own venv, ``.bench-venvs/ydata``.

It pins its own pandas/numpy, which must never leak into automl's environment, so it gets a
separate interpreter. Any failure becomes a reason string: a broken baseline must not sink the
whole benchmark run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from _common import ROOT

VENV = ROOT / ".bench-venvs" / "ydata"
PYTHON = VENV / "bin" / "python"

_PROBE = (
    "import importlib.metadata as m, json, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "import ydata_profiling\n"
    "print(json.dumps({p: m.version(p) for p in ('ydata-profiling', 'pandas', 'numpy')}))\n"
)


def _run(cmd: list[str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _probe() -> subprocess.CompletedProcess[str]:
    """Import ydata once: proves it works and lets matplotlib/numba build their caches."""
    return _run([str(PYTHON), "-c", _PROBE], timeout=600)


def ensure() -> tuple[Path | None, dict[str, str], str | None]:
    """(python, versions, None) when the venv works, else (None, {}, reason)."""
    try:
        if not PYTHON.exists():
            base = shutil.which("python3.11")
            if base is None:
                return None, {}, "python3.11 not found on PATH"
            made = _run([base, "-m", "venv", str(VENV)])
            if made.returncode:
                return None, {}, f"venv creation failed: {made.stderr.strip()[-500:]}"
        probe = _probe()
        if probe.returncode and "No module named 'ydata_profiling'" in probe.stderr:
            pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            got = _run([*pip, "ydata-profiling"])
            if got.returncode:
                return None, {}, f"pip install ydata-profiling failed: {got.stderr.strip()[-800:]}"
            probe = _probe()
            if probe.returncode and any(m in probe.stderr for m in ("pkg_resources", "setuptools")):
                _run([*pip, "setuptools"])
                probe = _probe()
        if probe.returncode:
            return None, {}, f"import ydata_profiling failed: {probe.stderr.strip()[-800:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, {}, f"ydata venv setup failed: {exc!r}"
    versions: dict[str, str] = json.loads(probe.stdout.strip().splitlines()[-1])
    return PYTHON, versions, None
