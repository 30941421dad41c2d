"""Store contract: versions, manifests, references, verification, locking, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from automl_cli.errors import (
    EXIT_ARTIFACT,
    EXIT_LOCKED,
    ArtifactCorruptError,
    ArtifactError,
    ArtifactNotFoundError,
    LockedError,
    UsageError,
)
from automl_cli.hashing import sha256_file
from automl_cli.store import KINDS, Project, parse_ref


def write_version(project: Project, kind: str = "profile", payload: str = "x") -> int:
    with project.new_artifact(kind, seed=7) as w:
        w.add_input("data.csv", "0" * 64, 10, rows=3)
        w.set_config("target", "y", "cli")
        w.write_text("payload.txt", payload)
        w.write_json("nested/info.json", {"payload": payload})
    assert w.result is not None
    return w.result.version


def test_project_is_created_with_layout(project_dir: Path) -> None:
    project = Project(project_dir)
    project.ensure()
    for kind in KINDS:
        assert (project_dir / "artifacts" / kind).is_dir()


def test_versions_increment_and_are_immutable(project_dir: Path) -> None:
    project = Project(project_dir)
    assert [write_version(project, payload=str(i)) for i in range(3)] == [1, 2, 3]
    assert project.versions("profile") == [1, 2, 3]
    first = project_dir / "artifacts/profile/v0001"
    before = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    write_version(project, payload="later")
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before
    assert (first / "payload.txt").read_text() == "0"


def test_manifest_records_everything_design_asks_for(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project, payload="abc")
    art = project.load("profile@latest")
    m = art.manifest
    for key in (
        "schema_version",
        "kind",
        "version",
        "created_utc",
        "command",
        "config",
        "seed",
        "tool",
        "libraries",
        "platform",
        "inputs",
        "parents",
        "outputs",
        "metrics",
        "wall_time_s",
        "cache_key",
        "uuid",
    ):
        assert key in m, key
    assert m["kind"] == "profile" and m["version"] == 1 and m["seed"] == 7
    assert m["config"]["target"] == {"value": "y", "source": "cli"}
    assert m["inputs"][0]["sha256"] == "0" * 64 and m["inputs"][0]["rows"] == 3
    assert "pandas" in m["libraries"] and m["platform"]["python"]
    outs = {o["path"]: o for o in m["outputs"]}
    assert set(outs) == {"payload.txt", "nested/info.json"}
    assert outs["payload.txt"]["sha256"] == sha256_file(art.path / "payload.txt")
    assert outs["payload.txt"]["size"] == 3


def test_parents_are_recorded_with_manifest_hash(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project, "profile")
    parent = project.load("profile@latest")
    with project.new_artifact("prep") as w:
        w.add_parent(parent)
        w.write_text("a.txt", "a")
    child = project.load("prep@1")
    assert child.manifest["parents"] == [
        {"ref": "profile@v1", "manifest_sha256": parent.manifest_sha256}
    ]


def test_cache_key_depends_on_inputs_not_time(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project, payload="a")
    write_version(project, payload="b")
    m1 = project.load("profile@1").manifest
    m2 = project.load("profile@2").manifest
    assert m1["cache_key"] == m2["cache_key"]  # same inputs, config and seed
    with project.new_artifact("profile", seed=8) as w:
        w.add_input("data.csv", "0" * 64, 10, rows=3)
        w.set_config("target", "y", "cli")
    assert project.load("profile@3").manifest["cache_key"] != m1["cache_key"]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("profile@latest", 3),
        ("profile@v2", 2),
        ("profile@2", 2),
        ("profile@v0002", 2),
        ("profile", 3),
        ("profile@best", 1),
    ],
)
def test_references_resolve(project_dir: Path, ref: str, expected: int) -> None:
    project = Project(project_dir)
    for i in range(3):
        write_version(project, payload=str(i))
    project.set_alias("profile", "best", 1)
    assert project.resolve(ref) == ("profile", expected)


def test_bare_selector_uses_default_kind(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project, "model")
    assert project.resolve("v1", default_kind="model") == ("model", 1)
    assert project.resolve("latest", default_kind="model") == ("model", 1)


def test_alias_lives_in_refs_json(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project, "model")
    write_version(project, "model")
    project.set_alias("model", "champion", 2)
    assert json.loads((project_dir / "refs.json").read_text()) == {"model": {"champion": "v0002"}}
    assert project.load("model@champion").version == 2


@pytest.mark.parametrize("alias", ["latest", "v3", "3", "", "has space"])
def test_bad_alias_names_are_refused(project_dir: Path, alias: str) -> None:
    project = Project(project_dir)
    write_version(project, "model")
    with pytest.raises(UsageError):
        project.set_alias("model", alias, 1)


def test_missing_references_are_clear_errors(project_dir: Path) -> None:
    project = Project(project_dir)
    with pytest.raises(ArtifactNotFoundError, match="no model artifact") as info:
        project.load("model@latest")
    assert info.value.exit_code == EXIT_ARTIFACT
    assert "automl search" in info.value.hint
    write_version(project, "model")
    with pytest.raises(ArtifactNotFoundError, match="v9"):
        project.load("model@v9")
    with pytest.raises(ArtifactNotFoundError, match="champion"):
        project.load("model@champion")
    with pytest.raises(UsageError, match="modle"):
        parse_ref("modle@latest")


def test_tampered_file_is_refused(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project)
    (project_dir / "artifacts/profile/v0001/payload.txt").write_text("evil")
    with pytest.raises(ArtifactCorruptError, match=r"payload\.txt") as info:
        project.load("profile@1")
    assert info.value.exit_code == EXIT_ARTIFACT
    art = project.load("profile@1", verify=False)
    with pytest.raises(ArtifactCorruptError):
        art.file("payload.txt")


def test_deleted_file_and_broken_manifest_are_refused(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project)
    write_version(project)
    (project_dir / "artifacts/profile/v0001/nested/info.json").unlink()
    with pytest.raises(ArtifactCorruptError, match="missing"):
        project.load("profile@1")
    (project_dir / "artifacts/profile/v0002/manifest.json").write_text("{not json")
    with pytest.raises(ArtifactCorruptError, match="not valid JSON"):
        project.load("profile@2")


def test_newer_schema_is_incompatible(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project)
    path = project_dir / "artifacts/profile/v0001/manifest.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 999
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="newer automl"):
        project.load("profile@1")


def test_failed_write_leaves_nothing(project_dir: Path) -> None:
    project = Project(project_dir)
    write_version(project)
    with pytest.raises(RuntimeError), project.new_artifact("profile") as w:
        w.write_text("half.txt", "half")
        raise RuntimeError("boom")
    assert project.versions("profile") == [1]
    assert not list((project_dir / "artifacts/profile").glob(".tmp-*"))


def test_writer_refuses_paths_outside_the_version(project_dir: Path) -> None:
    project = Project(project_dir)
    with pytest.raises(ValueError), project.new_artifact("profile") as w:
        w.write_text("../escape.txt", "x")
    with pytest.raises(ValueError), project.new_artifact("profile") as w:
        w.write_text("manifest.json", "{}")
    assert not (project_dir / "artifacts/escape.txt").exists()


# -- processes: locking and crash safety ---------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from automl_cli.store import Project
    p = Project(sys.argv[1])
    with p.locked():
        print("LOCKED", flush=True)
        time.sleep(60)
    """
)


def _start(code: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line in {"LOCKED", "WRITING", "RENAMING"}, line
    return proc


def test_second_writer_waits_then_fails_with_exit_6(project_dir: Path) -> None:
    holder = _start(HOLDER, str(project_dir))
    try:
        project = Project(project_dir)
        t0 = time.monotonic()
        with pytest.raises(LockedError) as info, project.locked(timeout=0.5):
            pass
        assert time.monotonic() - t0 >= 0.45
        assert info.value.exit_code == EXIT_LOCKED
        assert f"pid {holder.pid}" in info.value.message
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the lock with the killed process: no stale lock to break
    with Project(project_dir).locked(timeout=2):
        pass


def test_waiting_writer_proceeds_once_the_holder_is_gone(project_dir: Path) -> None:
    holder = _start(HOLDER, str(project_dir))
    project = Project(project_dir)

    def kill_later() -> None:
        time.sleep(0.5)
        holder.kill()

    import threading

    threading.Thread(target=kill_later).start()
    assert write_version(project) == 1
    holder.wait()


SLOW_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from automl_cli.store import Project
    p = Project(sys.argv[1])
    mode = sys.argv[2]
    if mode == "rename":
        real = os.rename
        def slow_rename(a, b):
            print("RENAMING", flush=True)
            time.sleep(60)
            real(a, b)
        os.rename = slow_rename
    with p.new_artifact("profile") as w:
        w.write_bytes("big.bin", os.urandom(4 << 20))
        if mode == "write":
            with open(w.file_path("stream.bin"), "wb") as fh:
                fh.write(b"partial")
                fh.flush()
                print("WRITING", flush=True)
                time.sleep(60)
    """
)


@pytest.mark.parametrize("moment", ["write", "rename"])
def test_sigkill_mid_write_leaves_project_readable(project_dir: Path, moment: str) -> None:
    project = Project(project_dir)
    write_version(project, payload="one")
    write_version(project, payload="two")
    before = {v: project.load(f"profile@{v}").manifest_sha256 for v in (1, 2)}

    writer = _start(SLOW_WRITER, str(project_dir), moment)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL

    # readers see only the complete versions, intact
    reader = Project(project_dir)
    assert reader.versions("profile") == [1, 2]
    assert reader.load("profile@latest").version == 2
    for v, digest in before.items():
        art = reader.load(f"profile@{v}")  # verifies every sha256
        assert art.manifest_sha256 == digest
    assert list((project_dir / "artifacts/profile").glob(".tmp-*")), "the crash left its temp dir"

    # the next writer is not blocked, cleans up, and gets the next number
    assert write_version(reader, payload="three") == 3
    assert not list((project_dir / "artifacts/profile").glob(".tmp-*"))
    assert reader.load("profile@3").file("payload.txt").read_text() == "three"


CONCURRENT = textwrap.dedent(
    """
    import sys
    from automl_cli.store import Project
    p = Project(sys.argv[1])
    for i in range(5):
        with p.new_artifact("model") as w:
            w.write_text("who.txt", f"{sys.argv[2]}-{i}")
    """
)


def test_concurrent_writers_never_collide(project_dir: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, str(project_dir), name])
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    project = Project(project_dir)
    assert project.versions("model") == list(range(1, 11))
    written = {project.load(f"model@{v}").file("who.txt").read_text() for v in range(1, 11)}
    assert written == {f"{n}-{i}" for n in "ab" for i in range(5)}
