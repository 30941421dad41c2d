"""Architecture rules of design.md: imports point one way, and the CLI starts light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "automl_cli"
HEAVY = ("pandas", "numpy", "pyarrow", "sklearn", "xgboost", "lightgbm", "optuna", "skops")

# layer -> packages of ours it must never import
FORBIDDEN = {
    "core": ("automl_cli.store", "automl_cli.steps", "automl_cli.cli"),
    "store": ("automl_cli.core", "automl_cli.cli", "automl_cli.steps"),
    "steps": ("automl_cli.cli",),
}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_top_level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_one_way(layer: str) -> None:
    violations = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in (PACKAGE / layer).rglob("*.py")
        for module, _ in _imports(path)
        if module.startswith(FORBIDDEN[layer])
    ]
    assert not violations


def test_cli_modules_import_no_heavy_library_at_top_level() -> None:
    files = [*(PACKAGE / "cli").rglob("*.py"), *PACKAGE.glob("*.py")]
    violations = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files
        for module, top in _imports(path)
        if top and module.split(".")[0] in HEAVY
    ]
    assert not violations


def test_help_does_not_load_the_heavy_stack() -> None:
    code = (
        "import sys, json\n"
        "sys.argv = ['automl', '--help']\n"
        "from automl_cli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    assert "profile" in proc.stdout
