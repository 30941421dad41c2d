"""``automl runs reproduce REF``: re-run the command that made an artifact and compare bytes.

The recorded command runs again in a scratch project, in the directory it first ran in,
with the settings that came from ``AUTOML_*`` variables restored from the manifest. The
scratch project holds copies of the artifact's ancestors that an earlier command made
(so ``latest`` and aliases resolve as they did), but none of those the same command made:
those must be re-made, not found. Then every output of the new artifact is compared with
the original's by sha256; files the manifest lists as volatile (timings, timestamps) may
differ, any other difference fails (exit 5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl_cli.errors import AutomlError, DataError, QualityGateError, UsageError
from automl_cli.hashing import sha256_file
from automl_cli.steps._common import noop
from automl_cli.store import Artifact, Project

__all__ = ["reproduce"]

# Manifests written before outputs were split into stable and volatile ones.
_DEFAULT_VOLATILE = {"model": ["leaderboard.csv", "study.db"]}
_GLOBAL_WITH_VALUE = {"--project", "-p", "--lock-timeout"}
_GLOBAL_FLAGS = {"--json", "--quiet", "-q", "--verbose", "-v", "--debug"}


def _lineage(project: Project, art: Artifact) -> list[Artifact]:
    """The artifact and all its ancestors (each once), following the manifests' parents."""
    seen: dict[str, Artifact] = {}
    todo = [art]
    while todo:
        current = todo.pop()
        if current.ref in seen:
            continue
        seen[current.ref] = current
        for parent in current.manifest.get("parents", []):
            todo.append(project.load(parent["ref"], verify=False))
    return list(seen.values())


def _command_args(argv: list[str]) -> list[str]:
    """The recorded argv without the program name and the global output/project options."""
    out: list[str] = []
    args = list(argv[1:])
    i = 0
    while i < len(args):
        token = args[i]
        name = token.split("=", 1)[0]
        if not out and name in _GLOBAL_WITH_VALUE:
            i += 1 if "=" in token else 2
            continue
        if not out and token in _GLOBAL_FLAGS:
            i += 1
            continue
        out.append(token)
        i += 1
    return out


def _environment(lineage: list[Artifact]) -> dict[str, str]:
    """The current environment, with AUTOML_* settings as the original run had them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOML_")}
    for art in lineage:
        for config in art.manifest.get("config", {}).values():
            source = str(config.get("source", ""))
            if source.startswith("env:"):
                value = config.get("value")
                text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
                env[source.removeprefix("env:")] = text
    return env


def reproduce(
    project_dir: Path,
    ref: str,
    *,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Re-make ``ref`` from its recorded command; raise QualityGateError if it differs."""
    say = progress or noop
    project = Project(project_dir)
    art = project.load(ref)  # every file's sha256 checked first
    manifest = art.manifest
    argv = manifest.get("command") or []
    if len(argv) < 2:
        raise UsageError(f"{art.ref} records no command to re-run")
    invocation = manifest.get("invocation")
    lineage = _lineage(project, art)
    made_together = [
        a for a in lineage if invocation and a.manifest.get("invocation") == invocation
    ]
    made_before = [a for a in lineage if a not in made_together and a is not art]
    for a in [art, *made_together]:
        config = a.manifest.get("config", {})
        if (
            a.kind == "model"
            and not config.get("refit_only", {}).get("value")  # no search: deterministic
            and config.get("trials", {}).get("value") is None
        ):
            raise UsageError(
                f"{a.ref} was searched for a time budget, not a number of trials, so a re-run "
                "cannot be expected to give the same model",
                hint="make reproducible models with --trials N --seed S",
            )
    cwd = Path(str(manifest.get("cwd") or os.getcwd()))
    if not cwd.is_dir():
        raise DataError(f"{art.ref} was made in {cwd}, which no longer exists")
    for a in [art, *made_together]:
        for inp in a.manifest.get("inputs", []):
            path = Path(str(inp["path"]))
            path = path if path.is_absolute() else cwd / path
            if project.root in path.resolve().parents:
                continue  # made by the command itself (the retrain holdout split)
            if str(inp["path"]) == "-":
                raise DataError(f"{a.ref} read its table from stdin; it cannot be re-read")
            if not path.is_file() or sha256_file(path) != inp["sha256"]:
                raise DataError(
                    f"{a.ref} was made from {inp['path']}, which is missing or has changed "
                    "since (sha256 differs)",
                    hint="restore that exact file to reproduce the artifact",
                )

    scratch = Path(tempfile.mkdtemp(prefix="automl-reproduce-"))
    try:
        _seed_project(project, scratch, made_before, [art, *made_together])
        args = _command_args([str(a) for a in argv])
        refit_of = manifest.get("config", {}).get("from", {}).get("value")
        if (
            art.kind == "model"
            and refit_of
            and not any(a == "--from" or a.startswith("--from=") for a in args)
        ):
            # the source was the champion then, which need not be copied here: name it
            args += ["--from", str(refit_of)]
        command = [sys.executable, "-m", "automl_cli", "--project", str(scratch), "--quiet"]
        say(f"re-running: automl {' '.join(args)}")
        proc = subprocess.run(
            [*command, *args],
            cwd=cwd,
            env=_environment(lineage),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 5):
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise AutomlError(
                f"re-running the command of {art.ref} failed (exit {proc.returncode}): {tail}",
                hint="run the command yourself to see why",
            )
        again = Project(scratch)
        versions = again.versions(art.kind)
        if not versions:
            raise AutomlError(f"the re-run made no {art.kind} artifact")
        redo = again.load(f"{art.kind}@{versions[-1]}")
        doc = _compare(art, redo)
        doc |= {
            "command": "runs reproduce",
            "ref": art.ref,
            "rerun": redo.ref,
            "rerun_exit_code": proc.returncode,
            "scratch": str(scratch) if keep else None,
            "command_line": " ".join(["automl", *args]),
        }
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    if not doc["reproduced"]:
        differ = [r["path"] for r in doc["files"] if not r["same"] and not r["volatile"]]
        raise QualityGateError(
            f"{art.ref} was not reproduced: {len(differ)} file(s) differ "
            f"({', '.join(differ[:4])}{', …' if len(differ) > 4 else ''})",
            hint="a library version, the platform or unseeded randomness changed the result; "
            "compare with 'automl runs show'",
            **doc,
        )
    return doc


def _seed_project(
    project: Project, scratch: Path, artifacts: list[Artifact], to_make: list[Artifact]
) -> None:
    """Copy the ancestors made earlier, the aliases that point at them, and automl.toml.

    Empty folders take the version numbers below those the re-run must make (the store
    never reuses a folder's number), so the re-made artifacts get the original numbers and
    the references written inside them (``model@v3``) read the same.
    """
    Project(scratch).ensure()
    for a in artifacts:
        shutil.copytree(a.path, scratch / "artifacts" / a.kind / a.name)
    for a in to_make:
        for number in range(1, a.version):
            (scratch / "artifacts" / a.kind / f"v{number:04d}").mkdir(exist_ok=True)
    copied = {(a.kind, a.name) for a in artifacts}
    refs = {
        kind: {alias: v for alias, v in aliases.items() if (kind, v) in copied}
        for kind, aliases in project.refs().items()
    }
    refs = {k: v for k, v in refs.items() if v}
    if refs:
        (scratch / "refs.json").write_text(json.dumps(refs, indent=2) + "\n", "utf-8")
    if project.config_path.is_file():
        shutil.copyfile(project.config_path, scratch / project.config_path.name)


def _compare(original: Artifact, redo: Artifact) -> dict[str, Any]:
    volatile = set(original.manifest.get("volatile", _DEFAULT_VOLATILE.get(original.kind, [])))
    first = {o["path"]: o["sha256"] for o in original.manifest.get("outputs", [])}
    second = {o["path"]: o["sha256"] for o in redo.manifest.get("outputs", [])}
    files = [
        {
            "path": path,
            "same": first.get(path) == second.get(path),
            "volatile": path in volatile,
            "original": first.get(path),
            "rerun": second.get(path),
        }
        for path in sorted(first.keys() | second.keys())
    ]
    reproduced = all(f["same"] for f in files if not f["volatile"])
    return {"reproduced": reproduced, "files": files, "volatile": sorted(volatile)}
