"""manifest.json: what an artifact is, what it was made from, and the sha256 of every file.

Lock-file style (sorted inputs and outputs with path, sha256 and size). ``cache_key`` is the
sha256 of the parts that decide the result (kind, inputs, parents, resolved config values,
seed), so a later run can tell an unchanged step from its manifest alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import sys
import uuid
from typing import Any

from automl_cli import __version__
from automl_cli.errors import ArtifactCorruptError, ArtifactError

__all__ = [
    "INVOCATION",
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "cache_key",
    "content_sha256",
    "dump_manifest",
    "environment",
    "load_manifest",
]

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1

_LIBRARIES = (
    "typer",
    "rich",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "xgboost",
    "xgboost-cpu",
    "lightgbm",
    "optuna",
    "skops",
)


def environment() -> dict[str, Any]:
    """Tool, library and platform versions, recorded so a result can be reproduced."""
    libs: dict[str, str] = {}
    for name in _LIBRARIES:
        try:
            libs[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "tool": {"name": "automl", "version": __version__},
        "libraries": libs,
        "platform": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
    }


# Settings that change how a step waits or talks, never what it produces.
_NOT_IN_KEY = frozenset({"lock_timeout"})


def cache_key(manifest: dict[str, Any]) -> str:
    """sha256 of what decides a step's result: kind, inputs, parents, config values, seed.

    Works on a written manifest or on a planned one (same keys, no outputs), so a step can
    tell before running whether an existing version already is its result.
    """
    config = {
        k: v.get("value")
        for k, v in sorted(manifest.get("config", {}).items())
        if k not in _NOT_IN_KEY
    }
    basis = {
        "kind": manifest.get("kind"),
        "inputs": sorted(
            (str(i.get("sha256")), str(i.get("role"))) for i in manifest.get("inputs", [])
        ),
        "parents": sorted(str(p.get("manifest_sha256")) for p in manifest.get("parents", [])),
        "config": config,
        "seed": manifest.get("seed"),
    }
    blob = json.dumps(basis, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def content_sha256(outputs: list[dict[str, Any]], volatile: list[str]) -> str:
    """sha256 over the outputs that a re-run with the same seed must reproduce byte for byte.

    ``volatile`` names the files expected to differ between identical runs (timings, the
    study database's timestamps); they are listed in the manifest and left out here.
    """
    kept = sorted(
        (str(o["path"]), str(o["sha256"])) for o in outputs if o["path"] not in set(volatile)
    )
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def load_manifest(raw: bytes, where: str) -> dict[str, Any]:
    """Parse and check a manifest; refuse ones written by a newer, incompatible schema."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactCorruptError(f"manifest of {where} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ArtifactCorruptError(f"manifest of {where} has no schema_version")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactCorruptError(
            f"manifest of {where} is malformed: schema_version {version!r} is not a number ≥ 1"
        )
    if version > SCHEMA_VERSION:
        raise ArtifactError(
            f"{where} was written by a newer automl (manifest schema {version}, "
            f"this automl reads up to {SCHEMA_VERSION})",
            hint="upgrade automl to read it",
        )
    # the shape the loader relies on: a list of {path, sha256, size} (checked, never trusted)
    outputs = data.get("outputs", [])
    if not isinstance(outputs, list):
        raise ArtifactCorruptError(f"manifest of {where} is malformed: 'outputs' is not a list")
    for out in outputs:
        if not (
            isinstance(out, dict)
            and isinstance(out.get("path"), str)
            and isinstance(out.get("sha256"), str)
            and isinstance(out.get("size"), int)
        ):
            raise ArtifactCorruptError(
                f"manifest of {where} is malformed: output {str(out)[:80]!r} needs a path, a "
                "sha256 and a size"
            )
    return data


INVOCATION = uuid.uuid4().hex  # one per process: which artifacts one command wrote together


def python_command_line() -> list[str]:
    """The command as the user typed it (program name shortened to 'automl')."""
    argv = list(sys.argv)
    if argv:
        argv[0] = "automl"
    return argv
