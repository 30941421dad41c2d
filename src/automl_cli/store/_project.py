"""The project directory: versioned, immutable artifacts written atomically under a lock.

Layout (design.md)::

    PROJECT/automl.toml   PROJECT/refs.json   PROJECT/.lock
    PROJECT/artifacts/<kind>/v0001/manifest.json ...

A version is built in ``artifacts/<kind>/.tmp-<uuid>/``, every file is fsynced, the manifest
(with each file's sha256) is written last, and the directory is renamed into place. A crash
therefore leaves either nothing or a complete version; leftover ``.tmp-*`` directories are
removed the next time the lock is taken (no other writer can be running then).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automl_cli.errors import (
    ArtifactCorruptError,
    ArtifactNotFoundError,
    ArtifactTooLarge,
    AutomlError,
    DataError,
    StorageError,
    UsageError,
)
from automl_cli.hashing import sha256_bytes, sha256_file
from automl_cli.store._lock import ProjectLock
from automl_cli.store._manifest import (
    INVOCATION,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    cache_key,
    content_sha256,
    dump_manifest,
    environment,
    load_manifest,
    python_command_line,
)

__all__ = ["KINDS", "Artifact", "ArtifactWriter", "Project", "parse_ref"]

KINDS = ("profile", "prep", "model", "evaluation")
_VERSION_RE = re.compile(r"^v(\d{4,})$")
_REF_VERSION_RE = re.compile(r"^v?(\d+)$")
_ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_TMP_PREFIX = ".tmp-"
DEFAULT_LOCK_TIMEOUT = 60.0
_LOCKS: dict[Path, ProjectLock] = {}
# Stale locks this process broke, for the command to report (the store prints nothing).
BROKEN_LOCKS: list[dict[str, Any]] = []


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# A write that failed because of where it went, not because of a bug: disk full, quota,
# file-size limit (RLIMIT_FSIZE), read-only file system, no permission.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL_TEXT = ("No space left on device", "File too large", "Disk quota exceeded")


def _storage_error(exc: BaseException, what: str, root: Path) -> StorageError | None:
    """``exc`` as a clear StorageError when it is a failed write into the project (or a full
    disk anywhere, e.g. a library's scratch file); None for anything else, which stays a bug."""
    if not isinstance(exc, OSError):
        return None
    reason = exc.strerror or str(exc)
    if exc.errno in _FULL or (exc.errno is None and any(t in str(exc) for t in _FULL_TEXT)):
        full = next((t for t in _FULL_TEXT if t in str(exc)), reason)
        return StorageError(f"could not write {what}: {exc.strerror or full}")
    filename = str(exc.filename or "")
    if exc.errno in _DENIED and filename.startswith(str(root)):
        return StorageError(
            f"could not write {what}: {reason} ({filename})",
            hint="point --project at a directory you can write, or fix its permissions; "
            "earlier versions are untouched and nothing was saved half-way",
        )
    return None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new bytes, never a mix (temp + fsync + replace)."""
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        err = _storage_error(exc, str(path), path.parent)
        if err is None:
            raise
        raise err from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def parse_ref(ref: str, default_kind: str | None = None) -> tuple[str, str]:
    """Split ``kind@selector`` (or a bare selector when ``default_kind`` is given)."""
    text = ref.strip()
    if "@" in text:
        kind, _, selector = text.partition("@")
    else:
        kind, selector = (default_kind or text), ("latest" if default_kind is None else text)
        if default_kind is None and text not in KINDS:
            raise UsageError(
                f"reference '{ref}' names no artifact kind",
                hint="write it as KIND@VERSION, e.g. model@latest, model@v3 or model@champion",
            )
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        raise UsageError(
            f"unknown artifact kind '{kind}' in reference '{ref}'",
            hint=f"did you mean '{close[0]}'?" if close else f"kinds are: {', '.join(KINDS)}",
        )
    return kind, (selector or "latest")


@dataclass(frozen=True)
class Artifact:
    """A complete version on disk. Files are handed out only after their sha256 checks out."""

    kind: str
    version: int
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    @property
    def ref(self) -> str:
        return f"{self.kind}@v{self.version}"

    @property
    def name(self) -> str:
        return f"v{self.version:04d}"

    def verify(self) -> None:
        """Check every output's size and sha256 against the manifest; raise on any mismatch."""
        for out in self.manifest.get("outputs", []):
            self._check(out)

    def file(self, relpath: str) -> Path:
        """Path of one output, after checking its bytes against the manifest."""
        for out in self.manifest.get("outputs", []):
            if out.get("path") == relpath:
                self._check(out)
                return self.path / relpath
        raise ArtifactCorruptError(
            f"{self.ref} has no file '{relpath}' in its manifest",
            hint="the artifact is incomplete or from another tool; re-create it",
        )

    def _check(self, out: dict[str, Any]) -> None:
        """Refuse, before reading a byte: paths that leave the folder, symbolic links (even
        to a file with the right hash), missing files, and any size or sha256 mismatch."""
        rel = str(out.get("path", ""))
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            raise ArtifactCorruptError(f"{self.ref} lists a file outside its folder: '{rel}'")
        step = self.path
        for part in parts:
            step = step / part
            if step.is_symlink():
                raise ArtifactCorruptError(
                    f"{self.ref}: '{rel}' is a symbolic link; an artifact holds regular files only"
                )
        target = (self.path / rel).resolve()
        if not str(target).startswith(str(self.path.resolve()) + os.sep):
            raise ArtifactCorruptError(f"{self.ref} lists a file outside its folder: '{rel}'")
        if not target.is_file():
            raise ArtifactCorruptError(f"{self.ref} is missing its file '{rel}'")
        try:
            size, sha256 = out.get("size"), out.get("sha256")
            same = target.stat().st_size == size and sha256_file(target) == sha256
        except OSError as exc:
            raise ArtifactCorruptError(
                f"{self.ref}: cannot read its file '{rel}' ({exc.strerror or exc})",
                hint="check the permissions of the project directory",
            ) from None
        if not same:
            raise ArtifactCorruptError(
                f"{self.ref}: '{rel}' does not match the sha256 in its manifest",
            )


@dataclass
class ArtifactWriter:
    """Collects what a step records while it writes files into ``path`` (a temp directory)."""

    project: Project
    kind: str
    path: Path
    seed: int | None = None
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    parents: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    volatile: set[str] = field(default_factory=set)  # outputs a same-seed re-run may change
    max_bytes: int | None = None  # refuse to commit a version bigger than this (all files)
    started: float = field(default_factory=time.monotonic)
    result: Artifact | None = None  # set once the version is committed

    def add_input(
        self,
        path: str,
        sha256: str,
        size: int,
        *,
        rows: int | None = None,
        role: str = "data",
        **extra: Any,
    ) -> None:
        self.inputs.append(
            {"path": path, "sha256": sha256, "size": size, "rows": rows, "role": role, **extra}
        )

    def add_parent(self, artifact: Artifact) -> None:
        self.parents.append({"ref": artifact.ref, "manifest_sha256": artifact.manifest_sha256})

    def set_config(self, name: str, value: Any, source: str) -> None:
        self.config[name] = {"value": value, "source": source}

    def write_bytes(self, relpath: str, data: bytes) -> Path:
        dest = self._dest(relpath)
        dest.write_bytes(data)
        return dest

    def write_text(self, relpath: str, text: str) -> Path:
        return self.write_bytes(relpath, text.encode("utf-8"))

    def write_json(self, relpath: str, data: Any) -> Path:
        blob = json.dumps(data, indent=2, sort_keys=False, allow_nan=False, default=str)
        return self.write_text(relpath, blob + "\n")

    def file_path(self, relpath: str) -> Path:
        """A path inside the version for libraries that write files themselves."""
        return self._dest(relpath)

    def dir_path(self, relpath: str) -> Path:
        """A folder inside the version (created) for writers that save several files."""
        dest = self._dest(relpath)
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def _dest(self, relpath: str) -> Path:
        if relpath == MANIFEST_NAME or Path(relpath).is_absolute() or ".." in Path(relpath).parts:
            raise ValueError(f"cannot write '{relpath}' into an artifact")
        dest = self.path / relpath
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    def _outputs(self) -> list[dict[str, Any]]:
        outs = []
        for p in sorted(self.path.rglob("*")):
            if p.is_file() and p.name != MANIFEST_NAME:
                with open(p, "rb") as fh:
                    os.fsync(fh.fileno())
                outs.append(
                    {
                        "path": p.relative_to(self.path).as_posix(),
                        "sha256": sha256_file(p),
                        "size": p.stat().st_size,
                    }
                )
        return outs

    def build_manifest(self, version: int) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "version": version,
            "uuid": uuid.uuid4().hex,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": python_command_line(),
            "cwd": os.getcwd(),
            "invocation": INVOCATION,
            "config": dict(sorted(self.config.items())),
            "seed": self.seed,
            **environment(),
            "inputs": sorted(self.inputs, key=lambda i: (i["role"], i["path"])),
            "parents": sorted(self.parents, key=lambda p: p["ref"]),
            "outputs": self._outputs(),
            "volatile": sorted(self.volatile),
            "metrics": self.metrics,
            "summary": self.summary,
            "wall_time_s": round(time.monotonic() - self.started, 3),
        }
        manifest["cache_key"] = cache_key(manifest)
        manifest["content_sha256"] = content_sha256(manifest["outputs"], manifest["volatile"])
        _settle_size(manifest)
        return manifest


def _settle_size(manifest: dict[str, Any]) -> None:
    """``size_bytes``: every file of the version, the manifest itself included.

    The manifest holds its own size, so its length is settled by rewriting the figure until
    it no longer changes (a digit more or less at most, so two rounds).
    """
    outputs = sum(int(o["size"]) for o in manifest["outputs"])
    manifest["size_bytes"] = outputs
    for _ in range(4):
        total = outputs + len(dump_manifest(manifest))
        if total == manifest["size_bytes"]:
            return
        manifest["size_bytes"] = total


class Project:
    """A project directory. Reads need no lock; every write happens under the project lock."""

    def __init__(self, root: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        self.root = Path(root).absolute()
        self.lock_timeout = lock_timeout
        # One lock object per project per process: a command that chains steps holds the
        # lock across all of them, and a second flock on a new fd would wait on itself.
        lock_path = Path(os.path.realpath(self.root / ".lock"))
        self._lock = _LOCKS.setdefault(lock_path, ProjectLock(lock_path))

    # -- layout -----------------------------------------------------------------------------
    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def refs_path(self) -> Path:
        return self.root / "refs.json"

    @property
    def config_path(self) -> Path:
        return self.root / "automl.toml"

    def kind_dir(self, kind: str) -> Path:
        if kind not in KINDS:
            raise ValueError(f"unknown artifact kind {kind!r}")
        return self.artifacts_dir / kind

    def ensure(self) -> None:
        """Create the project directory (idempotent); explain clearly when that is impossible."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(
                f"--project {self.root} is a file, not a directory",
                hint="point --project at a directory (it is created if missing)",
            )
        try:
            for kind in KINDS:
                self.kind_dir(kind).mkdir(parents=True, exist_ok=True)
        except PermissionError:
            raise DataError(
                f"cannot create or write the project directory {self.root}: permission denied",
                hint="choose a writable place with --project DIR",
            ) from None
        except OSError as exc:
            raise DataError(
                f"cannot create the project directory {self.root}: {exc.strerror}",
                hint="choose another place with --project DIR",
            ) from None
        # an existing project on a read-only mount, or one whose folders are not ours: say so
        # before taking the lock or computing anything (access(2) also reports EROFS)
        for folder in (self.root, *(self.kind_dir(kind) for kind in KINDS)):
            if not os.access(folder, os.W_OK | os.X_OK):
                inner = "" if folder == self.root else f" (its folder {folder.name})"
                raise StorageError(
                    f"the project directory {self.root} is read-only or not writable by this "
                    f"user{inner}",
                    hint="point --project at a directory you can write, or fix its permissions "
                    "or mount; nothing was changed",
                )

    # -- locking ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[Project]:
        """Hold the project lock; the first holder also clears what crashed runs left behind."""
        self.ensure()
        first = not self._lock.held
        self._lock.acquire(self.lock_timeout if timeout is None else timeout)
        if first and self._lock.broken_stale is not None:
            BROKEN_LOCKS.append(dict(self._lock.broken_stale))
        try:
            if first:
                self._remove_stale_temps()
            yield self
        finally:
            self._lock.release()

    def _remove_stale_temps(self) -> None:
        for kind in KINDS:
            d = self.kind_dir(kind)
            if d.is_dir():
                for tmp in d.glob(f"{_TMP_PREFIX}*"):
                    shutil.rmtree(tmp, ignore_errors=True)
        for tmp in self.root.glob("*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    # -- versions and references ------------------------------------------------------------
    def versions(self, kind: str) -> list[int]:
        """Complete versions of ``kind`` (those with a manifest), ascending."""
        d = self.kind_dir(kind)
        if not d.is_dir():
            return []
        found = []
        for child in d.iterdir():
            m = _VERSION_RE.match(child.name)
            if m and (child / MANIFEST_NAME).is_file():
                found.append(int(m.group(1)))
        return sorted(found)

    def refs(self) -> dict[str, dict[str, str]]:
        if not self.refs_path.is_file():
            return {}
        hint = "fix or delete refs.json (aliases such as 'champion' live there)"
        try:
            data = json.loads(self.refs_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactCorruptError(
                f"{self.refs_path} is not valid JSON ({exc})", hint=hint
            ) from None
        if not isinstance(data, dict):
            raise ArtifactCorruptError(
                f"{self.refs_path} is malformed: not a JSON object", hint=hint
            )
        for kind, aliases in data.items():
            if not isinstance(aliases, dict):
                raise ArtifactCorruptError(
                    f"{self.refs_path} is malformed: the {kind} aliases are not a JSON object",
                    hint=hint,
                )
            for alias, target in aliases.items():
                if not isinstance(target, str):
                    raise ArtifactCorruptError(
                        f"{self.refs_path} is malformed: {kind}@{alias} is {target!r}, not a "
                        "version name such as 'v0003'",
                        hint=hint,
                    )
        return data

    def set_alias(self, kind: str, alias: str, version: int) -> None:
        """Point ``kind@alias`` at a version (atomic refs.json update under the lock)."""
        if not _ALIAS_RE.match(alias) or alias == "latest" or _REF_VERSION_RE.match(alias):
            raise UsageError(
                f"'{alias}' cannot be an alias",
                hint="use a name that starts with a letter and is not 'latest' or a version",
            )
        with self.locked():
            if version not in self.versions(kind):
                raise ArtifactNotFoundError(f"{kind}@v{version} does not exist in {self.root}")
            refs = self.refs()
            refs.setdefault(kind, {})[alias] = f"v{version:04d}"
            atomic_write_bytes(
                self.refs_path, (json.dumps(refs, indent=2, sort_keys=True) + "\n").encode()
            )

    def resolve(self, ref: str, default_kind: str | None = None) -> tuple[str, int]:
        """``kind@latest|@vN|@N|@alias`` → (kind, version number)."""
        kind, selector = parse_ref(ref, default_kind)
        versions = self.versions(kind)
        if not versions:
            raise ArtifactNotFoundError(
                f"there is no {kind} artifact in project {self.root} yet",
                hint=_make_hint(kind),
            )
        if selector == "latest":
            return kind, versions[-1]
        m = _REF_VERSION_RE.match(selector)
        if m:
            number = int(m.group(1))
            if number not in versions:
                raise ArtifactNotFoundError(
                    f"{kind}@{selector} does not exist in project {self.root}",
                    hint=f"existing {kind} versions: {_list_versions(versions)}",
                )
            return kind, number
        alias = self.refs().get(kind, {}).get(selector)
        if alias is None:
            raise ArtifactNotFoundError(
                f"no {kind} version is called '{selector}' in project {self.root}",
                hint=f"use latest, a version ({_list_versions(versions)}) or an alias set with "
                "'automl promote'",
            )
        m = _VERSION_RE.match(alias) or _REF_VERSION_RE.match(alias)
        if not m or int(m.group(1)) not in versions:
            raise ArtifactNotFoundError(f"alias {kind}@{selector} points at missing '{alias}'")
        return kind, int(m.group(1))

    def load(self, ref: str, default_kind: str | None = None, *, verify: bool = True) -> Artifact:
        """Open a version; by default every file's sha256 is checked before it is handed out."""
        kind, version = self.resolve(ref, default_kind)
        path = self.kind_dir(kind) / f"v{version:04d}"
        for link in (path, path / MANIFEST_NAME):
            if link.is_symlink():
                raise ArtifactCorruptError(
                    f"{kind}@v{version}: '{link.relative_to(path.parent)}' is a symbolic link; "
                    "an artifact holds regular files only"
                )
        try:
            raw = (path / MANIFEST_NAME).read_bytes()
        except OSError as exc:
            raise ArtifactCorruptError(
                f"{kind}@v{version}: cannot read its {MANIFEST_NAME} ({exc.strerror or exc})"
            ) from None
        manifest = load_manifest(raw, f"{kind}@v{version}")
        if manifest.get("kind") != kind or manifest.get("version") != version:
            raise ArtifactCorruptError(
                f"{kind}@v{version}: its manifest says {manifest.get('kind')}@v"
                f"{manifest.get('version')}",
                hint="artifact folders must not be moved or renamed; re-create it",
            )
        art = Artifact(kind, version, path, manifest, sha256_bytes(raw))
        if verify:
            art.verify()
        return art

    def find(self, kind: str, **match: Any) -> Artifact | None:
        """The newest version of ``kind`` whose manifest summary has all the given values."""
        for version in reversed(self.versions(kind)):
            art = self.load(f"{kind}@{version}", verify=False)
            summary = art.manifest.get("summary", {})
            if all(summary.get(k) == v for k, v in match.items()):
                art.verify()
                return art
        return None

    def find_by_key(self, kind: str, key: str) -> Artifact | None:
        """The newest intact version of ``kind`` whose manifest has this cache key.

        The key is recomputed from each manifest (not read from it), so a change in what the
        key covers never matches an old version by accident. A version whose files fail their
        sha256 check is passed over: the step is then simply run again.
        """
        for version in reversed(self.versions(kind)):
            art = self.load(f"{kind}@{version}", verify=False)
            if cache_key(art.manifest) != key:
                continue
            try:
                art.verify()
            except ArtifactCorruptError:
                continue
            return art
        return None

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def new_artifact(self, kind: str, *, seed: int | None = None) -> Iterator[ArtifactWriter]:
        """Build a new version; it becomes visible only if the block finishes without error."""
        with self.locked():
            tmp = self.kind_dir(kind) / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                tmp.mkdir()
                writer = ArtifactWriter(self, kind, tmp, seed=seed)
                yield writer
                self._commit(writer)
            except BaseException as exc:
                # Ctrl-C, SIGTERM (raised as Terminated), a full disk, any error: the half-built
                # version goes, earlier versions were never touched
                shutil.rmtree(tmp, ignore_errors=True)
                err = _storage_error(exc, f"the {kind} artifact", self.root)
                if err is None:
                    raise
                raise err from exc

    def _commit(self, writer: ArtifactWriter) -> None:
        existing = self.versions(writer.kind)
        # Count every vNNNN folder, complete or not, so a number is never reused.
        taken = [
            int(m.group(1))
            for c in self.kind_dir(writer.kind).iterdir()
            if (m := _VERSION_RE.match(c.name))
        ]
        version = max([0, *existing, *taken]) + 1
        manifest = writer.build_manifest(version)
        if writer.max_bytes is not None and manifest["size_bytes"] > writer.max_bytes:
            raise ArtifactTooLarge(
                f"the {writer.kind} artifact would take {manifest['size_bytes']:,} bytes, "
                f"more than the {writer.max_bytes:,} allowed",
                size_bytes=manifest["size_bytes"],
                max_bytes=writer.max_bytes,
            )
        try:
            with open(writer.path / MANIFEST_NAME, "wb") as fh:
                fh.write(dump_manifest(manifest))  # last: its presence marks a complete version
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(writer.path)
            # a run whose lock was broken as stale (it hung, then resumed) must not commit
            self._lock.verify_held()
            final = self.kind_dir(writer.kind) / f"v{version:04d}"
            os.rename(writer.path, final)
            _fsync_dir(final.parent)
        except OSError as exc:
            raise _storage_error(exc, f"the {writer.kind} artifact", self.root) or StorageError(
                f"could not write the {writer.kind} artifact: {exc.strerror or exc}"
            ) from exc
        raw = dump_manifest(manifest)
        writer.path = final
        writer.result = Artifact(writer.kind, version, final, manifest, sha256_bytes(raw))

    def remove_version(self, kind: str, version: int) -> None:
        """Delete one version under the lock, renamed to ``.tmp-*`` first so a crash mid-delete
        leaves nothing half-visible (the next lock holder clears it).

        The newest version is refused (the next number is derived from the folders, so it must
        never be reused), and so is an aliased one (an alias must never dangle).
        """
        with self.locked():
            versions = self.versions(kind)
            if version not in versions:
                raise ArtifactNotFoundError(f"{kind}@v{version} does not exist in {self.root}")
            if version == versions[-1]:
                raise UsageError(
                    f"{kind}@v{version} is the newest {kind} and is never removed",
                    hint="version numbers must not be reused; the newest version stays",
                )
            for alias, target in self.refs().get(kind, {}).items():
                m = _VERSION_RE.match(str(target)) or _REF_VERSION_RE.match(str(target))
                if m and int(m.group(1)) == version:
                    raise UsageError(
                        f"{kind}@v{version} is {kind}@{alias} and is not removed",
                        hint="point the alias elsewhere first (automl promote)",
                    )
            final = self.kind_dir(kind) / f"v{version:04d}"
            tmp = self.kind_dir(kind) / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                os.rename(final, tmp)
                _fsync_dir(tmp.parent)
            except OSError as exc:
                raise AutomlError(
                    f"could not remove {kind}@v{version}: {exc.strerror or exc}",
                    hint="fix the permissions of the project directory; nothing was removed",
                ) from exc
            # already invisible; what rmtree cannot delete, the next lock holder clears
            shutil.rmtree(tmp, ignore_errors=True)


def _make_hint(kind: str) -> str:
    return {
        "profile": "run 'automl profile DATA' first",
        "prep": "run 'automl prep DATA --target COLUMN' first",
        "model": "run 'automl search DATA --target COLUMN' first",
        "evaluation": "run 'automl evaluate' first",
    }[kind]


def _list_versions(versions: list[int]) -> str:
    shown = [f"v{v}" for v in versions[-5:]]
    return ("…, " if len(versions) > 5 else "") + ", ".join(shown)
