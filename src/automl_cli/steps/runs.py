"""``automl runs``: what the project holds, read from the manifests (no ML imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl_cli.errors import ArtifactCorruptError, UsageError
from automl_cli.store import KINDS, Project

__all__ = ["CHAMPION", "default_model_ref", "list_runs", "promote", "show_run"]


def _row(project: Project, kind: str, version: int) -> dict[str, Any]:
    art = project.load(f"{kind}@{version}", verify=False)
    m = art.manifest
    aliases = [a for a, v in project.refs().get(kind, {}).items() if v == art.name]
    inputs = m.get("inputs", [])
    return {
        "ref": art.ref,
        "kind": kind,
        "version": version,
        "created_utc": m.get("created_utc"),
        "data": inputs[0]["path"] if inputs else None,
        "data_sha256": inputs[0]["sha256"] if inputs else None,
        "metrics": m.get("metrics", {}),
        "aliases": aliases,
        "parents": [p["ref"] for p in m.get("parents", [])],
    }


def list_runs(project_dir: Path, kind: str | None = None) -> dict[str, Any]:
    """Every version of every kind (or of one kind), oldest first."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown artifact kind '{kind}'", hint=f"kinds are: {', '.join(KINDS)}")
    project = Project(project_dir)
    rows = [
        _row(project, k, v)
        for k in (KINDS if kind is None else (kind,))
        for v in project.versions(k)
    ]
    return {"command": "runs list", "project": str(project.root), "artifacts": rows}


def show_run(project_dir: Path, ref: str) -> dict[str, Any]:
    """One artifact's manifest, after checking every file's sha256 (exit 4 if any differs)."""
    project = Project(project_dir)
    art = project.load(ref, verify=False)
    try:
        art.verify()
    except ArtifactCorruptError as exc:
        raise ArtifactCorruptError(
            f"{exc.message} — {art.ref} must not be used",
            hint="re-create it with the step that made it; earlier versions are unaffected",
        ) from None
    return {
        "command": "runs show",
        "ref": art.ref,
        "path": str(art.path),
        "verified": True,
        "manifest": art.manifest,
    }


CHAMPION = "champion"


def default_model_ref(project: Project) -> str:
    """``model@champion`` once a model has been promoted, else ``model@latest``."""
    return f"model@{CHAMPION}" if CHAMPION in project.refs().get("model", {}) else "model@latest"


def promote(project_dir: Path, ref: str, alias: str = CHAMPION) -> dict[str, Any]:
    """Point ``model@ALIAS`` (default: champion) at the model ``ref``, after verifying it."""
    project = Project(project_dir)
    art = project.load(ref, default_kind="model")  # every file's sha256 checked
    if art.kind != "model":
        raise UsageError(
            f"only models are promoted; {art.ref} is a {art.kind}",
            hint="pass a model reference, e.g. model@v3",
        )
    before = project.refs().get("model", {}).get(alias)
    project.set_alias("model", alias, art.version)
    return {
        "command": "promote",
        "artifact": art.ref,
        "alias": f"model@{alias}",
        "previous": None if before is None else f"model@v{int(before.lstrip('v'))}",
        "metrics": art.manifest.get("metrics", {}),
    }
