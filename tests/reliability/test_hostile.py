"""Hostile artifacts: files an attacker (or a broken disk) changed, through the real CLI.

One small project is searched once per module (model@v1: linear; model@v2: random forest +
linear) and copied for every test; each test then changes model@v2 the way an attacker
would and runs ``automl predict`` / ``evaluate`` / ``runs show`` against it. Every case
must end with exit 4 and one ``error:`` line, run no code from the artifact (the payloads
would create a marker file), read nothing outside the artifact, and leave every other
version loadable.

The threat model (design.md, "Safe loading"): a file changed on its own is caught by its
sha256 before a byte of it is deserialized; an attacker who also rewrites the manifest's
hashes still meets loaders that cannot run code (skops with the trusted-type list that ships
with automl, LightGBM text, XGBoost UBJSON, plain JSON) and path checks that keep every read
inside the artifact's folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import pickle
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_cli.errors import EXIT_ARTIFACT
from automl_cli.store import KINDS, Project

from ._matrix import Case, automl, check_outcome, snapshot

AREA = "hostile artifact"
VICTIM = "model@v2"
VICTIM_DIR = "artifacts/model/v0002"


def _t(function: str) -> str:
    return f"test_hostile.py::{function}"


CASES: list[Case] = [
    # 1a. a pickle instead of a model file, manifest untouched
    Case("pickle-as-skops", AREA,
         "a model file (skops) replaced with a pickle whose unpickling runs a shell command",
         "refused by its sha256 before a byte is read; nothing runs; predict and evaluate "
         "name the file", 4, _t("test_pickle_in_place_of_a_model_file_is_refused_by_its_sha256")),
    Case("pickle-as-linear-json", AREA,
         "a linear model's JSON file replaced with a pickle (payload: Path.touch)",
         "refused by its sha256; nothing runs", 4,
         _t("test_pickle_in_place_of_a_model_file_is_refused_by_its_sha256")),
    # 1b. the attacker also rewrote the manifest's sha256 and size
    Case("rehashed-pickle-as-skops", AREA,
         "a pickle in place of a skops model file, and the manifest's sha256/size rewritten "
         "to match", "skops refuses it (not a skops file); nothing runs; 'cannot be loaded'",
         4, _t("test_pickle_with_a_rewritten_manifest_is_refused_by_the_loader")),
    Case("rehashed-pickle-as-linear-json", AREA,
         "a pickle in place of a linear model's JSON, manifest rewritten to match",
         "the JSON reader refuses it; nothing runs", 4,
         _t("test_pickle_with_a_rewritten_manifest_is_refused_by_the_loader")),
    Case("rehashed-pickle-as-lgbm-text", AREA,
         "model.json rewritten to say LightGBM, a pickle as the booster file, manifest "
         "rewritten to match", "LightGBM's text parser refuses it; nothing runs", 4,
         _t("test_pickle_with_a_rewritten_manifest_is_refused_by_the_loader")),
    Case("rehashed-pickle-as-xgb-ubj", AREA,
         "model.json rewritten to say XGBoost, a pickle as the booster file, manifest "
         "rewritten to match", "XGBoost's UBJSON parser refuses it; nothing runs", 4,
         _t("test_pickle_with_a_rewritten_manifest_is_refused_by_the_loader")),
    Case("skops-untrusted-callable", AREA,
         "a well-formed skops file that calls os.system when loaded, manifest rewritten to "
         "match (it runs if the trusted list were taken from the file)",
         "refused: the trusted-type list ships with automl, never with the artifact; the "
         "error names the untrusted type", 4,
         _t("test_skops_file_calling_an_untrusted_function_is_refused")),
    # 2. reads outside the artifact
    Case("output-path-dotdot", AREA,
         "the manifest lists an output '../../../../outside/secret.txt' (with its right "
         "sha256)", "refused as a file outside the artifact's folder; it is not read", 4,
         _t("test_manifest_paths_outside_the_artifact_are_refused")),
    Case("output-path-etc-passwd", AREA,
         "the manifest lists an output '../../etc/passwd'",
         "refused as a file outside the artifact's folder", 4,
         _t("test_manifest_paths_outside_the_artifact_are_refused")),
    Case("output-path-absolute", AREA,
         "the manifest lists an output by absolute path (with its right sha256)",
         "refused as a file outside the artifact's folder; it is not read", 4,
         _t("test_manifest_paths_outside_the_artifact_are_refused")),
    Case("symlinked-model-file", AREA,
         "a model file replaced by a symlink to an identical file outside the project "
         "(the sha256 matches)", "refused: artifacts hold regular files only", 4,
         _t("test_symlinks_inside_the_artifact_are_refused")),
    Case("symlinked-manifest", AREA,
         "manifest.json replaced by a symlink to a copy outside the project",
         "refused before the manifest is read", 4,
         _t("test_symlinks_inside_the_artifact_are_refused")),
    Case("member-path-dotdot", AREA,
         "model.json's member folder rewritten to '../../../../outside/evil' (a model file "
         "there), manifest rewritten to match",
         "refused: a model reads only files its manifest lists, inside its folder", 4,
         _t("test_member_folders_outside_the_artifact_are_refused")),
    Case("member-path-absolute", AREA,
         "model.json's member folder rewritten to an absolute path outside, manifest "
         "rewritten to match", "refused: a model reads only files its manifest lists", 4,
         _t("test_member_folders_outside_the_artifact_are_refused")),
    Case("member-unlisted-file", AREA,
         "a file the manifest does not list, dropped into a member's folder and named "
         "there by model.json",
         "refused: every file a model reads must be listed and verified", 4,
         _t("test_member_folders_outside_the_artifact_are_refused")),
    # 3. one byte changed
    Case("byte-flip-model-skops", AREA, "one byte of the forest's model.skops changed",
         "predict and 'runs show' exit 4 naming the file; other versions still load", 4,
         _t("test_one_changed_byte_is_refused_naming_the_file")),
    Case("byte-flip-preprocessor", AREA, "one byte of preprocessor.json changed",
         "predict and 'runs show' exit 4 naming the file", 4,
         _t("test_one_changed_byte_is_refused_naming_the_file")),
    Case("byte-flip-leaderboard", AREA,
         "one byte of leaderboard.csv changed (a file predict does not use)",
         "predict still refuses the whole version (every file is checked) and names it", 4,
         _t("test_one_changed_byte_is_refused_naming_the_file")),
    # 4. manifests
    Case("future-schema", AREA, "a manifest written by a newer automl (schema_version 99)",
         "'written by a newer automl' with the hint 'upgrade automl' (ArtifactError, exit 4)",
         4, _t("test_a_manifest_from_a_future_schema_asks_for_an_upgrade")),
    Case("manifest-not-json", AREA, "manifest.json is not JSON",
         "'not valid JSON'", 4, _t("test_a_malformed_manifest_is_refused")),
    Case("manifest-outputs-not-a-list", AREA, "the manifest's outputs is a string",
         "'malformed manifest', no traceback", 4, _t("test_a_malformed_manifest_is_refused")),
    Case("manifest-output-without-hash", AREA,
         "an output entry of the manifest lacks its sha256",
         "'malformed manifest', no traceback", 4, _t("test_a_malformed_manifest_is_refused")),
    Case("manifest-schema-not-int", AREA, "schema_version is a string",
         "'malformed manifest'", 4, _t("test_a_malformed_manifest_is_refused")),
    Case("manifest-other-version", AREA,
         "the manifest of v0002 says it is model@v1 (a folder copied or renamed)",
         "refused: folders must not be moved or renamed", 4,
         _t("test_a_malformed_manifest_is_refused")),
    Case("model-json-members-not-a-list", AREA,
         "model.json's members rewritten to a string, manifest rewritten to match",
         "'cannot be loaded', no traceback", 4,
         _t("test_rewritten_model_json_of_the_wrong_shape_is_refused")),
    Case("model-json-unknown-family", AREA,
         "model.json names a model family automl does not have, manifest rewritten",
         "'cannot be loaded'", 4, _t("test_rewritten_model_json_of_the_wrong_shape_is_refused")),
    Case("model-json-invalid-params", AREA,
         "model.json gives a member an invalid hyperparameter (n_estimators -5), manifest "
         "rewritten", "'cannot be loaded' (exit 4, not a usage error)", 4,
         _t("test_rewritten_model_json_of_the_wrong_shape_is_refused")),
    Case("model-json-no-task", AREA, "model.json lacks its task, manifest rewritten",
         "'cannot be loaded'", 4, _t("test_rewritten_model_json_of_the_wrong_shape_is_refused")),
    Case("preprocessor-json-a-list", AREA,
         "preprocessor.json rewritten to a JSON list, manifest rewritten",
         "'cannot be loaded'", 4, _t("test_rewritten_model_json_of_the_wrong_shape_is_refused")),
    # 5. refs.json
    Case("alias-to-missing-version", AREA,
         "refs.json points model@champion at a version that does not exist",
         "'alias model@champion points at missing' (exit 4); model@v1 still loads", 4,
         _t("test_broken_refs_json_is_a_clear_error")),
    Case("refs-not-json", AREA, "refs.json is not JSON",
         "'refs.json is not valid JSON' for an alias; explicit versions still load", 4,
         _t("test_broken_refs_json_is_a_clear_error")),
    Case("refs-wrong-shape", AREA, "refs.json is JSON but lists aliases as a list",
         "'refs.json is malformed'; explicit versions still load", 4,
         _t("test_broken_refs_json_is_a_clear_error")),
    Case("refs-alias-not-a-string", AREA, "refs.json maps an alias to a number",
         "'refs.json is malformed' naming the alias; explicit versions still load", 4,
         _t("test_broken_refs_json_is_a_clear_error")),
]  # fmt: skip


def _cases(function: str) -> list[str]:
    return [c.id for c in CASES if c.test == _t(function)]


# -- the project ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model@v1 (linear) and model@v2 (random forest + linear) on a seeded 200-row table."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "count": rng.integers(0, 10, n),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    # with some noise, so that neither family is perfect and the two blend
    noise = 0.5 * rng.normal(size=n)
    frame["y"] = ((frame["num"] + (frame["colour"] == "red") + noise) > 0.3).astype(int)
    frame.to_csv(root / "data.csv", index=False)
    data = str(root / "data.csv")
    project = root / "project"
    for args in (
        ("profile", data, "--target", "y"),
        ("search", data, "--target", "y", "--trials", "1", "--models", "linear"),
        # 3 folds: on these rows the two-member ensemble beats either member in CV (seeds 0-2)
        ("search", data, "--target", "y", "--trials", "2", "--models", "linear,rf", "--cv", "3"),
    ):
        proc = automl(project, *args, cwd=root)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert Project(project).versions("model") == [1, 2]
    families = {m["family"] for m in _model_json(project / VICTIM_DIR)["members"]}
    assert families == {"rf", "linear"}, families
    return root


@dataclass
class Env:
    root: Path
    project: Path
    data: Path
    victim: Path  # model@v2's folder
    outside: Path  # a folder outside the project
    marker: Path  # a payload that runs creates this file
    before: dict[str, str]  # every version's manifest sha256 before the attack

    def run(self, *args: str) -> Any:
        return automl(self.project, *args, cwd=self.root)

    def predict(self, ref: str = VICTIM) -> Any:
        return self.run("predict", str(self.data), "--model", ref)

    def evaluate(self, ref: str = VICTIM) -> Any:
        return self.run("evaluate", str(self.data), "--model", ref, "--bootstrap", "0")

    def member_file(self, family: str) -> str:
        """Path (in the artifact) of the saved model of the member of this family."""
        member = next(m for m in _model_json(self.victim)["members"] if m["family"] == family)
        folder = self.victim / member["paths"][0]
        (name,) = [p.name for p in folder.iterdir()]
        return f"{member['paths'][0]}/{name}"


@pytest.fixture
def env(base: Path, tmp_path: Path) -> Env:
    shutil.copytree(base / "project", tmp_path / "project", symlinks=True)
    shutil.copy(base / "data.csv", tmp_path / "data.csv")
    (tmp_path / "outside").mkdir()
    project = tmp_path / "project"
    return Env(
        tmp_path,
        project,
        tmp_path / "data.csv",
        project / VICTIM_DIR,
        tmp_path / "outside",
        tmp_path / "outside" / "PWNED",
        snapshot(project),
    )


# -- helpers --------------------------------------------------------------------------------
def _model_json(version_dir: Path) -> dict[str, Any]:
    return json.loads((version_dir / "model.json").read_text())


def _manifest(version_dir: Path) -> dict[str, Any]:
    return json.loads((version_dir / "manifest.json").read_text())


def _write_manifest(version_dir: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (version_dir / "manifest.json").write_text(text)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rehash(version_dir: Path, *relpaths: str) -> None:
    """What an attacker with write access does: make the manifest match the changed files
    (an entry per existing file, with its sha256 and size; entries of deleted files go)."""
    manifest = _manifest(version_dir)
    outputs = {o["path"]: o for o in manifest["outputs"]}
    for rel in relpaths:
        path = version_dir / rel
        if path.is_file():
            outputs[rel] = {"path": rel, "sha256": _digest(path), "size": path.stat().st_size}
        else:
            outputs.pop(rel, None)
    manifest["outputs"] = sorted(outputs.values(), key=lambda o: o["path"])
    _write_manifest(version_dir, manifest)


class _Shell:
    """Unpickling calls ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class _Touch:
    """Unpickling calls ``pathlib.Path.touch(path)``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def _pickle_payload(marker: Path, via: str) -> bytes:
    """Pickle bytes that create ``marker`` when unpickled; checked to be live on a decoy."""
    make = (lambda p: _Shell(f"touch '{p}'")) if via == "os.system" else _Touch
    decoy = marker.with_name(marker.name + ".decoy")
    pickle.loads(pickle.dumps(make(decoy)))  # the payload works: unpickling runs it
    assert decoy.exists()
    decoy.unlink()
    return pickle.dumps(make(marker))


def _hostile_skops(marker: Path) -> bytes:
    """A well-formed skops file whose loading calls ``os.system('touch MARKER')`` through a
    ConstructorFromReduceNode: harmless only while ``os.system`` is not trusted."""

    def text(value: str) -> dict[str, Any]:
        return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                "content": json.dumps(value), "is_json": True, "__id__": 3}  # fmt: skip

    schema = {
        "__class__": "system",
        "__module__": "os",
        "__loader__": "ConstructorFromReduceNode",
        "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                    "content": [text(f"touch '{marker}'")], "__id__": 2},
        "__id__": 1,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema, indent=2))
    return buffer.getvalue()


def _one_error(proc: Any) -> str:
    check_outcome(proc, EXIT_ARTIFACT)
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    return line


def _others_intact(env: Env, *, changed: tuple[str, ...] = (VICTIM_DIR,)) -> None:
    """Every version but the attacked one still verifies, unchanged; model@v1 predicts."""
    store = Project(env.project)
    for kind in KINDS:
        for version in store.versions(kind):
            name = f"artifacts/{kind}/v{version:04d}"
            if name in changed:
                continue
            store.load(f"{kind}@{version}")
            assert snapshot(env.project).get(name) == env.before[name], name
    from automl_cli.steps.search import load_model

    model = load_model(env.project, "model@v1")
    frame = pd.read_csv(env.data)
    assert len(model.predict(frame.drop(columns=["y"]))) == len(frame)


# -- 1. code in place of a model ------------------------------------------------------------
@pytest.mark.parametrize(
    "case", _cases("test_pickle_in_place_of_a_model_file_is_refused_by_its_sha256")
)
def test_pickle_in_place_of_a_model_file_is_refused_by_its_sha256(env: Env, case: str) -> None:  # fmt: skip
    family, via = {"pickle-as-skops": ("rf", "os.system"),
                   "pickle-as-linear-json": ("linear", "Path.touch")}[case]  # fmt: skip
    rel = env.member_file(family)
    (env.victim / rel).write_bytes(_pickle_payload(env.marker, via))

    for proc in (env.predict(), env.evaluate()):
        line = _one_error(proc)
        assert rel in line and "sha256" in line, line
        assert not env.marker.exists(), "the payload ran"
    assert not any(env.project.glob("artifacts/evaluation/v*"))
    _others_intact(env)


_BOOSTERS = {"rehashed-pickle-as-lgbm-text": ("lgbm", "model.txt"),
             "rehashed-pickle-as-xgb-ubj": ("xgb", "model.ubj")}  # fmt: skip


@pytest.mark.parametrize(
    "case", _cases("test_pickle_with_a_rewritten_manifest_is_refused_by_the_loader")
)
def test_pickle_with_a_rewritten_manifest_is_refused_by_the_loader(env: Env, case: str) -> None:  # fmt: skip
    payload = _pickle_payload(env.marker, "Path.touch" if "linear" in case else "os.system")
    if case in _BOOSTERS:
        # model.json now says the forest member is a booster whose file is the pickle
        family, name = _BOOSTERS[case]
        old = env.member_file("rf")
        spec = _model_json(env.victim)
        member = next(m for m in spec["members"] if m["family"] == "rf")
        member["family"] = family
        member["params"] = {"task": "binary", "n_classes": 2, "seed": 0, "n_jobs": 1}
        (env.victim / "model.json").write_text(json.dumps(spec, indent=2))
        (env.victim / old).unlink()
        rel = f"{member['paths'][0]}/{name}"
        (env.victim / rel).write_bytes(payload)
        _rehash(env.victim, old, rel, "model.json")
    else:
        rel = env.member_file("linear" if "linear" in case else "rf")
        (env.victim / rel).write_bytes(payload)
        _rehash(env.victim, rel)
    Project(env.project).load(VICTIM)  # the hashes match: only the loader stands in the way

    procs = [env.predict()]
    if case == "rehashed-pickle-as-skops":  # evaluate loads the same way; once is enough
        procs.append(env.evaluate())
    for proc in procs:
        line = _one_error(proc)
        assert "model@v2" in line and "cannot be loaded" in line, line
        assert not env.marker.exists(), "the payload ran"
    _others_intact(env)


@pytest.mark.parametrize("case", _cases("test_skops_file_calling_an_untrusted_function_is_refused"))
def test_skops_file_calling_an_untrusted_function_is_refused(env: Env, case: str) -> None:
    import skops.io as sio

    # the file is live: trusting what it asks for (MLflow's hole) runs the command
    decoy = env.outside / "decoy"
    hostile = _hostile_skops(decoy)
    sio.loads(hostile, trusted=sio.get_untrusted_types(data=hostile))
    assert decoy.exists()

    rel = env.member_file("rf")
    (env.victim / rel).write_bytes(_hostile_skops(env.marker))
    _rehash(env.victim, rel)
    for proc in (env.predict(), env.evaluate()):
        line = _one_error(proc)
        assert "cannot be loaded" in line and "os.system" in line, line
        assert not env.marker.exists(), "the payload ran"
    _others_intact(env)


# -- 2. nothing outside the artifact is read ------------------------------------------------
@pytest.mark.parametrize("case", _cases("test_manifest_paths_outside_the_artifact_are_refused"))
def test_manifest_paths_outside_the_artifact_are_refused(env: Env, case: str) -> None:
    secret = env.outside / "secret.txt"
    secret.write_text("not yours\n")
    rel = {
        "output-path-dotdot": "../../../../outside/secret.txt",
        "output-path-etc-passwd": "../../etc/passwd",
        "output-path-absolute": str(secret),
    }[case]
    if case == "output-path-dotdot":
        assert (env.victim / rel).resolve() == secret.resolve()
    target = Path("/etc/passwd") if "passwd" in case else secret
    manifest = _manifest(env.victim)
    manifest["outputs"].append(
        {"path": rel, "sha256": _digest(target), "size": target.stat().st_size}
    )
    _write_manifest(env.victim, manifest)

    for proc in (env.predict(), env.run("runs", "show", VICTIM)):
        line = _one_error(proc)
        assert "outside its folder" in line and rel in line, line
    _others_intact(env)


@pytest.mark.parametrize("case", _cases("test_symlinks_inside_the_artifact_are_refused"))
def test_symlinks_inside_the_artifact_are_refused(env: Env, case: str) -> None:
    rel = "manifest.json" if case == "symlinked-manifest" else env.member_file("rf")
    copy = env.outside / Path(rel).name
    shutil.copy(env.victim / rel, copy)
    (env.victim / rel).unlink()
    (env.victim / rel).symlink_to(copy)
    if case == "symlinked-model-file":
        assert _digest(env.victim / rel) == next(
            o["sha256"] for o in _manifest(env.victim)["outputs"] if o["path"] == rel
        )  # the hash is right: only the link gives it away

    for proc in (env.predict(), env.run("runs", "show", VICTIM)):
        line = _one_error(proc)
        assert "symbolic link" in line and rel in line, line
    _others_intact(env)


@pytest.mark.parametrize("case", _cases("test_member_folders_outside_the_artifact_are_refused"))
def test_member_folders_outside_the_artifact_are_refused(env: Env, case: str) -> None:
    spec = _model_json(env.victim)
    member = next(m for m in spec["members"] if m["family"] == "rf")
    evil = env.outside / "evil"
    shutil.copytree(env.victim / member["paths"][0], evil)  # a working model, out of reach
    if case == "member-path-dotdot":
        member["paths"] = ["../../../../outside/evil"]
        assert (env.victim / member["paths"][0]).resolve() == evil.resolve()
    elif case == "member-path-absolute":
        member["paths"] = [str(evil)]
    else:
        shutil.copytree(evil, env.victim / "members" / "extra")
        member["paths"] = ["members/extra"]
    (env.victim / "model.json").write_text(json.dumps(spec, indent=2))
    _rehash(env.victim, "model.json")

    for proc in (env.predict(),):
        line = _one_error(proc)
        assert "model@v2" in line, line
        assert "outside its folder" in line or "not in its manifest" in line, line
    _others_intact(env)


# -- 3. a changed byte ----------------------------------------------------------------------
@pytest.mark.parametrize("case", _cases("test_one_changed_byte_is_refused_naming_the_file"))
def test_one_changed_byte_is_refused_naming_the_file(env: Env, case: str) -> None:
    rel = {
        "byte-flip-model-skops": env.member_file("rf"),
        "byte-flip-preprocessor": "preprocessor.json",
        "byte-flip-leaderboard": "leaderboard.csv",
    }[case]
    path = env.victim / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    for proc in (env.predict(), env.run("runs", "show", VICTIM)):
        line = _one_error(proc)
        assert rel in line and "sha256" in line, line
    _others_intact(env)


# -- 4. manifests ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", _cases("test_a_manifest_from_a_future_schema_asks_for_an_upgrade"))
def test_a_manifest_from_a_future_schema_asks_for_an_upgrade(env: Env, case: str) -> None:
    manifest = _manifest(env.victim)
    manifest["schema_version"] = 99
    _write_manifest(env.victim, manifest)

    for proc in (env.predict(), env.run("runs", "show", VICTIM)):
        line = _one_error(proc)
        assert "newer automl" in line and "99" in line, line
        assert "hint: upgrade automl" in proc.stderr, proc.stderr
    _others_intact(env)


@pytest.mark.parametrize("case", _cases("test_a_malformed_manifest_is_refused"))
def test_a_malformed_manifest_is_refused(env: Env, case: str) -> None:
    manifest = _manifest(env.victim)
    expect = "malformed"
    if case == "manifest-not-json":
        (env.victim / "manifest.json").write_text('{"schema_version": 1, "outputs": [')
        expect = "not valid JSON"
    else:
        if case == "manifest-outputs-not-a-list":
            manifest["outputs"] = "everything"
        elif case == "manifest-output-without-hash":
            del manifest["outputs"][0]["sha256"]
        elif case == "manifest-schema-not-int":
            manifest["schema_version"] = "1"
        elif case == "manifest-other-version":
            manifest["version"] = 1
            expect = "moved or renamed"
        _write_manifest(env.victim, manifest)

    for proc in (env.predict(), env.run("runs", "show", VICTIM)):
        line = _one_error(proc)
        assert "model@v2" in line and expect in proc.stderr, proc.stderr
    _others_intact(env)


@pytest.mark.parametrize("case", _cases("test_rewritten_model_json_of_the_wrong_shape_is_refused"))
def test_rewritten_model_json_of_the_wrong_shape_is_refused(env: Env, case: str) -> None:
    spec = _model_json(env.victim)
    rf = next(m for m in spec["members"] if m["family"] == "rf")
    rel = "model.json"
    if case == "model-json-members-not-a-list":
        spec["members"] = "everything"
    elif case == "model-json-unknown-family":
        rf["family"] = "catboost"
    elif case == "model-json-invalid-params":
        rf["params"]["n_estimators"] = -5
    elif case == "model-json-no-task":
        del spec["task"]
    if case == "preprocessor-json-a-list":
        rel = "preprocessor.json"
        (env.victim / rel).write_text("[]\n")
    else:
        (env.victim / rel).write_text(json.dumps(spec, indent=2))
    _rehash(env.victim, rel)

    for proc in (env.predict(),):
        line = _one_error(proc)
        assert "model@v2 cannot be loaded" in line, line
    _others_intact(env)


# -- 5. refs.json ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", _cases("test_broken_refs_json_is_a_clear_error"))
def test_broken_refs_json_is_a_clear_error(env: Env, case: str) -> None:
    refs = env.project / "refs.json"
    text, expect = {
        "alias-to-missing-version": ('{"model": {"champion": "v0009"}}', "points at missing"),
        "refs-not-json": ('{"model": {"champion": ', "not valid JSON"),
        "refs-wrong-shape": ('{"model": ["champion"]}', "malformed"),
        "refs-alias-not-a-string": ('{"model": {"champion": 2}}', "malformed"),
    }[case]
    refs.write_text(text)

    line = _one_error(env.predict("model@champion"))
    assert "champion" in line or "refs.json" in line, line
    assert expect in line, line
    ok = env.predict("model@v1")  # an explicit version needs no alias
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert len(pd.read_csv(io.StringIO(ok.stdout))) == 200
    _others_intact(env, changed=())
