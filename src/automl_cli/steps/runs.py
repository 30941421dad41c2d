"""``automl runs``: what the project holds, read from the manifests (no ML imports)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections import deque
from itertools import zip_longest
from pathlib import Path
from typing import Any

from automl_cli.errors import ArtifactCorruptError, AutomlError, UsageError
from automl_cli.steps._common import open_step
from automl_cli.store import KINDS, Project

__all__ = [
    "CHAMPION",
    "DIFF_SECTIONS",
    "default_model_ref",
    "diff_runs",
    "gc",
    "list_runs",
    "promote",
    "show_run",
]


def _row(
    project: Project, kind: str, version: int, refs: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """One version's line; a version whose manifest cannot be read is listed with the reason
    (``error``) instead of hiding every other version behind one damaged folder."""
    aliases = [a for a, v in refs.get(kind, {}).items() if v == f"v{version:04d}"]
    row: dict[str, Any] = {
        "ref": f"{kind}@v{version}",
        "kind": kind,
        "version": version,
        "created_utc": None,
        "data": None,
        "data_label": None,
        "data_sha256": None,
        "metrics": {},
        "aliases": aliases,
        "parents": [],
        "error": None,
    }
    try:
        m = project.load(f"{kind}@{version}", verify=False).manifest
        inputs = m.get("inputs", [])
        row.update(
            created_utc=m.get("created_utc"),
            data=inputs[0]["path"] if inputs else None,
            data_label=_split_label(inputs[0]["path"]) if inputs else None,
            data_sha256=inputs[0]["sha256"] if inputs else None,
            metrics=dict(m.get("metrics", {})),
            parents=[p["ref"] for p in m.get("parents", [])],
        )
    except AutomlError as exc:
        row["error"] = exc.message
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        row["error"] = f"{kind}@v{version}: its manifest is not in the expected layout"
    return row


def _split_label(path: str) -> str | None:
    """``day3.csv (train part)`` for a table that retrain split off, else None."""
    p = Path(path)
    meta = p.parent / "split.json"
    if p.parent.parent.name != SPLITS_DIR or not meta.is_file():
        return None
    try:
        source = json.loads(meta.read_text("utf-8"))["source"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"{Path(str(source)).name} ({p.stem} part)"


def list_runs(project_dir: Path, kind: str | None = None) -> dict[str, Any]:
    """Every version of every kind (or of one kind), oldest first."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown artifact kind '{kind}'", hint=f"kinds are: {', '.join(KINDS)}")
    project = Project(project_dir)
    refs = project.refs()  # read once for the whole listing, not once per version
    rows = [
        _row(project, k, v, refs)
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


DIFF_SECTIONS = (
    "data",
    "parents",
    "config",
    "seed",
    "metrics",
    "libraries",
    "platform",
    "outputs",
)
_INPUT_FIELDS = ("path", "sha256", "rows", "size")


def _section(changes: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    return {"identical": not changes, **context, "changes": changes}


def _pairs(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """The keys whose values differ, each side's value (None when absent, so absent = None)."""
    return [
        {"name": key, "a": a.get(key), "b": b.get(key)}
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    ]


def _diff_data(ma: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    """Inputs paired by role (then order), field by field: a changed table shows its sha256."""

    def by_role(m: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for inp in m.get("inputs", []):
            groups.setdefault(str(inp.get("role", "data")), []).append(
                {f: inp.get(f) for f in _INPUT_FIELDS}
            )
        return groups

    ga, gb = by_role(ma), by_role(mb)
    changes = []
    for role in sorted(ga.keys() | gb.keys()):
        for i, (ia, ib) in enumerate(zip_longest(ga.get(role, []), gb.get(role, []))):
            label = role if i == 0 else f"{role}[{i + 1}]"
            for f in _INPUT_FIELDS:
                va, vb = (ia or {}).get(f), (ib or {}).get(f)
                if va != vb:
                    changes.append({"name": f"{label}.{f}", "a": va, "b": vb})
    return _section(
        changes,
        a=[inp for role in sorted(ga) for inp in ga[role]],
        b=[inp for role in sorted(gb) for inp in gb[role]],
    )


def _diff_parents(ma: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    """Parents grouped by kind; a kind differs when its refs (or their manifests) differ."""
    ra = {str(p.get("ref")): p.get("manifest_sha256") for p in ma.get("parents", [])}
    rb = {str(p.get("ref")): p.get("manifest_sha256") for p in mb.get("parents", [])}
    kinds = sorted({r.partition("@")[0] for r in ra.keys() | rb.keys()})
    changes = []
    for kind in kinds:
        sa = sorted(r for r in ra if r.partition("@")[0] == kind)
        sb = sorted(r for r in rb if r.partition("@")[0] == kind)
        if [(r, ra[r]) for r in sa] != [(r, rb[r]) for r in sb]:
            changes.append({"name": kind, "a": ", ".join(sa) or None, "b": ", ".join(sb) or None})
    return _section(changes, a=sorted(ra), b=sorted(rb))


def _diff_config(ma: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    """Only settings whose resolved value differs; each side's source says where it came from."""
    ca, cb = ma.get("config", {}), mb.get("config", {})
    changes = []
    for key in sorted(ca.keys() | cb.keys()):
        ea, eb = ca.get(key), cb.get(key)
        va, vb = (ea or {}).get("value"), (eb or {}).get("value")
        if va != vb:
            changes.append(
                {
                    "name": key,
                    "a": va,
                    "a_source": (ea or {}).get("source"),
                    "b": vb,
                    "b_source": (eb or {}).get("source"),
                }
            )
    return _section(changes)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _diff_metrics(ma: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    changes = _pairs(ma.get("metrics", {}), mb.get("metrics", {}))
    for c in changes:
        both = _is_number(c["a"]) and _is_number(c["b"])
        # 12 significant digits: drops float noise (0.57 - 0.55 = 0.0199999…) and nothing else
        c["difference"] = float(f"{c['b'] - c['a']:.12g}") if both else None
    return _section(changes)


def _versions(m: dict[str, Any]) -> dict[str, Any]:
    tool = m.get("tool") or {}
    return {str(tool.get("name", "automl")): tool.get("version"), **m.get("libraries", {})}


def _diff_outputs(ma: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    """Files whose sha256 differs or that exist on one side only; ``same`` counts the rest."""
    oa = {str(o.get("path")): o for o in ma.get("outputs", [])}
    ob = {str(o.get("path")): o for o in mb.get("outputs", [])}
    changes = []
    for path in sorted(oa.keys() | ob.keys()):
        xa, xb = oa.get(path), ob.get(path)
        if xa is not None and xb is not None and xa.get("sha256") == xb.get("sha256"):
            continue
        changes.append(
            {
                "name": path,
                "status": "only_a" if xb is None else "only_b" if xa is None else "changed",
                "a": (xa or {}).get("sha256"),
                "b": (xb or {}).get("sha256"),
                "a_size": (xa or {}).get("size"),
                "b_size": (xb or {}).get("size"),
            }
        )
    changed = sum(1 for c in changes if c["status"] == "changed")
    return _section(changes, same=len(oa.keys() & ob.keys()) - changed)


def diff_runs(project_dir: Path, ref_a: str, ref_b: str) -> dict[str, Any]:
    """What changed between two artifacts, read from their manifests (no lock, no file hashing).

    A bare selector as ``ref_b`` (``v3``, ``champion``) takes ``ref_a``'s kind, so
    ``runs diff model@v1 v3`` works. Different kinds are allowed and flagged with
    ``same_kind``; ``runs show`` is the command that verifies files.
    """
    project = Project(project_dir)
    a = project.load(ref_a, verify=False)
    bare = "@" not in ref_b and ref_b.strip() not in KINDS
    b = project.load(ref_b, default_kind=a.kind if bare else None, verify=False)
    ma, mb = a.manifest, b.manifest
    sections = {
        "data": _diff_data(ma, mb),
        "parents": _diff_parents(ma, mb),
        "config": _diff_config(ma, mb),
        "seed": _section(_pairs({"seed": ma.get("seed")}, {"seed": mb.get("seed")})),
        "metrics": _diff_metrics(ma, mb),
        "libraries": _section(_pairs(_versions(ma), _versions(mb))),
        "platform": _section(_pairs(ma.get("platform", {}), mb.get("platform", {}))),
        "outputs": _diff_outputs(ma, mb),
    }
    return {
        "command": "runs diff",
        "a": a.ref,
        "b": b.ref,
        "same_kind": a.kind == b.kind,
        "identical": all(s["identical"] for s in sections.values()),
        **sections,
    }


_PARENT_REF_RE = re.compile(r"^([a-z]+)@v(\d+)$")


def _order(key: tuple[str, int]) -> tuple[int, int]:
    return KINDS.index(key[0]), key[1]


def _gc_plan(
    project: Project, keep: int
) -> tuple[dict[tuple[str, int], list[str]], list[tuple[str, int]]]:
    """(kept version → why, removable versions): newest ``keep`` per kind, aliased, ancestors."""
    present = {(kind, v) for kind in KINDS for v in project.versions(kind)}
    reasons: dict[tuple[str, int], list[str]] = {}
    for kind in KINDS:
        for v in project.versions(kind)[-keep:]:
            reasons.setdefault((kind, v), []).append(f"newest {keep}")
    for kind, aliases in project.refs().items():
        if not isinstance(aliases, dict):
            raise ArtifactCorruptError(
                f"{project.refs_path} maps '{kind}' to {aliases!r}, not to aliases",
                hint="fix refs.json; gc removes nothing while it cannot tell what is aliased",
            )
        for alias in aliases:
            try:
                key = project.resolve(f"{kind}@{alias}")
            except AutomlError:
                continue  # an alias pointing at nothing protects nothing
            reasons.setdefault(key, []).append(f"alias {kind}@{alias}")
    # ancestors of anything kept, transitively: a kept model must still find its prep and profile
    queue = deque(sorted(reasons, key=_order))
    while queue:
        kind, version = queue.popleft()
        art = project.load(f"{kind}@{version}", verify=False)
        for parent in art.manifest.get("parents", []):
            m = _PARENT_REF_RE.match(str(parent.get("ref", "")))
            if m is None or (m.group(1), int(m.group(2))) not in present:
                continue  # a parent already gone (or unreadable ref) keeps nothing alive
            ancestor = (m.group(1), int(m.group(2)))
            if ancestor not in reasons:
                queue.append(ancestor)
            reasons.setdefault(ancestor, []).append(f"parent of {art.ref}")
    return reasons, sorted(present - reasons.keys(), key=_order)


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def gc(
    project_dir: Path, keep: int, *, dry_run: bool = False, lock_timeout: float | None = None
) -> dict[str, Any]:
    """Remove versions nobody needs, under the project lock (``dry_run``: only say which).

    Kept: the newest ``keep`` of each kind (so never the newest: numbers are not reused),
    every aliased version, and every ancestor of a kept one. A dry run takes no lock, since it
    only reads — and taking it would clear crashed runs' leftovers, a deletion.
    """
    if keep < 1:
        raise UsageError(
            f"--keep must be at least 1, got {keep}",
            hint="the newest version of each kind is always kept; try --keep 1",
        )
    project, _ = open_step(project_dir, "gc", {"lock_timeout": lock_timeout}, {})
    removed: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        if not dry_run and project.artifacts_dir.is_dir():
            stack.enter_context(project.locked())
        reasons, removable = _gc_plan(project, keep)
        for kind, version in removable:
            size = _tree_size(project.kind_dir(kind) / f"v{version:04d}")
            if not dry_run:
                project.remove_version(kind, version)
            removed.append({"ref": f"{kind}@v{version}", "size": size})
        kept_versions = {(k, v) for k in KINDS for v in project.versions(k)} - set(removable)
        for folder in _unused_splits(project, kept_versions):
            size = _tree_size(folder)
            if not dry_run:
                trash = folder.with_name(f".tmp-{uuid.uuid4().hex}")
                os.rename(folder, trash)
                shutil.rmtree(trash, ignore_errors=True)
            removed.append({"ref": f"{SPLITS_DIR}/{folder.name}", "size": size})
    return {
        "command": "gc",
        "project": str(project.root),
        "keep": keep,
        "dry_run": dry_run,
        "removed": removed,
        "bytes_freed": sum(r["size"] for r in removed),
        "kept": [
            {"ref": f"{kind}@v{version}", "reasons": reasons[(kind, version)]}
            for kind, version in sorted(reasons, key=_order)
        ],
    }


def _unused_splits(project: Project, kept: set[tuple[str, int]]) -> list[Path]:
    """retrain's split folders that no kept version reads from (they hold table copies)."""
    root = project.root / SPLITS_DIR
    if not root.is_dir():
        return []
    used: set[str] = set()
    for kind, version in kept:
        manifest = project.load(f"{kind}@{version}", verify=False).manifest
        for inp in manifest.get("inputs", []):
            path = Path(str(inp.get("path", "")))
            if path.parent.parent.name == SPLITS_DIR:  # by name: --project may be spelt otherwise
                used.add(path.parent.name)
    return sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and not d.name.startswith(".") and d.name not in used
    )


CHAMPION = "champion"
SPLITS_DIR = "splits"  # PROJECT/splits/<table sha256>-<share>/: retrain's train/holdout parts


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
