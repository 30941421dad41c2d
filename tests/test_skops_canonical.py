"""Saved skops models are byte-identical for the same model, and still load and predict.

A reproducibility check compares model files by hash, so the same seed must give the same
bytes; skops alone names members after ``id()`` and stamps the time of saving.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.learners import FAMILIES, TASKS, Learner, make_learner
from automl_cli.core.learners._sklearn import MODEL_FILE, SklearnLearner
from automl_cli.core.learners._skops_canonical import (
    EPOCH,
    canonical_skops,
    canonicalize_skops_file,
    write_canonical_skops,
)
from automl_cli.core.preprocessing import VARIANTS, Preprocessor, encode_target

SKOPS_FAMILIES = [
    name
    for name, cls in FAMILIES.items()
    if issubclass(cls, SklearnLearner) and cls.save is SklearnLearner.save
]
N_CLASSES = {"binary": 2, "multiclass": 3, "regression": 0}
FAST: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": 8},
    "et": {"n_estimators": 8},
    "hgb": {"n_estimators": 15},
    "mlp": {"max_iter": 40},
}


@functools.cache
def features(task: str, n: int = 120) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """Both feature variants of a small seeded table with NaNs and a category column."""
    rng = np.random.default_rng(0)
    num = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    signal = num + np.where(color == "red", 1.0, 0.0) + 0.3 * rng.normal(size=n)
    if task == "regression":
        y = pd.Series(signal, name="y")
    else:
        cuts = np.quantile(signal, np.linspace(0, 1, N_CLASSES[task] + 1)[1:-1])
        y = pd.Series(np.array(["a", "b", "c"])[np.digitize(signal, cuts)], name="y")
    frame = pd.DataFrame({"num": num, "color": color, "noise": rng.uniform(size=n)})
    frame.loc[::11, "num"] = np.nan
    profile = {
        "columns": [
            {"name": "num", "semantic_type": "numeric"},
            {"name": "color", "semantic_type": "categorical"},
            {"name": "noise", "semantic_type": "numeric"},
        ],
        "target": {"name": "y", "task": task},
        "warnings": [],
    }
    prep = Preprocessor(profile=profile, target="y", task=task).fit(frame, y)
    return {v: prep.transform(frame, variant=v) for v in VARIANTS}, encode_target(y, task)[0]


def fit(family: str, task: str, seed: int = 7) -> tuple[Learner, pd.DataFrame]:
    """A fresh learner fitted from scratch; two threads, as a search would run it."""
    by_variant, y = features(task)
    X = by_variant[FAMILIES[family].variant]
    model = make_learner(
        family, task=task, n_classes=N_CLASSES[task], seed=seed, n_jobs=2, **FAST.get(family, {})
    )
    return model.fit(X, y), X


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_skops_families_are_the_expected_ones() -> None:
    """A new skops-backed family is picked up here; a family leaving skops shows too."""
    assert set(SKOPS_FAMILIES) == {"rf", "et", "hgb", "knn", "mlp"}


@pytest.mark.parametrize("family", SKOPS_FAMILIES)
@pytest.mark.parametrize("task", TASKS)
def test_same_seed_saves_identical_bytes_that_load_to_the_same_predictions(
    family: str, task: str, tmp_path: Path
) -> None:
    paths = []
    models = []
    for run in ("a", "b"):
        model, X = fit(family, task)
        (tmp_path / run).mkdir()
        assert model.save(tmp_path / run) == [MODEL_FILE]
        paths.append(tmp_path / run / MODEL_FILE)
        models.append(model)
    assert sha256(paths[0]) == sha256(paths[1])
    cls = FAMILIES[family]
    loaded = cls.load(tmp_path / "a", models[0].get_params())
    assert np.array_equal(loaded.predict_output(X), models[0].predict_output(X))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [MODEL_FILE]  # no temp left


@pytest.mark.parametrize("family", SKOPS_FAMILIES)
def test_saved_file_is_in_canonical_form_and_idempotent(family: str, tmp_path: Path) -> None:
    import skops.io as sio

    model, _ = fit(family, "multiclass")
    model.save(tmp_path)
    path = tmp_path / MODEL_FILE
    data = path.read_bytes()
    assert canonical_skops(sio.dumps(model.model_)) == data  # type: ignore[attr-defined]
    canonicalize_skops_file(path)
    assert path.read_bytes() == data

    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        schema_text = archive.read("schema.json").decode()
    assert [i.filename for i in infos][-1] == "schema.json"
    assert all(i.date_time == EPOCH and i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert all(re.fullmatch(r"[1-9][0-9]*\.npy", i.filename) for i in infos[:-1])
    ids = [int(v) for v in re.findall(r'"__id__": (\d+)', schema_text)]
    files = re.findall(r'"file": "([^"]+)"', schema_text)
    numbers = {*ids, *(int(f.split(".")[0]) for f in files)}
    assert numbers == set(range(1, len(numbers) + 1))  # 1..n, no id() left
    assert schema_text == json.dumps(json.loads(schema_text), indent=2)


def test_a_different_seed_still_gives_a_different_file(tmp_path: Path) -> None:
    """The renaming must not erase what distinguishes two models."""
    for seed in (1, 2):
        (tmp_path / str(seed)).mkdir()
        fit("rf", "binary", seed=seed)[0].save(tmp_path / str(seed))
    assert sha256(tmp_path / "1" / MODEL_FILE) != sha256(tmp_path / "2" / MODEL_FILE)


def test_sparse_bytes_and_shared_arrays_are_canonical_too() -> None:
    """Member kinds our families do not use today: ``.npz`` (scipy, a zip with its own
    timestamps) and ``<uuid4>.bin`` (bytes); an array referenced twice stays one object."""
    import scipy.sparse as sp
    import skops.io as sio

    arr = np.arange(6.0)
    obj = {"m": sp.csr_matrix(np.eye(3)), "b": b"abc", "arr": arr, "same": arr}
    first, second = sio.dumps(obj), sio.dumps(obj)
    assert first != second  # the .bin member is named after a fresh uuid4
    assert canonical_skops(first) == canonical_skops(second)
    data = canonical_skops(first)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["1.npz", "2.bin", "4.npy", "schema.json"]
        assert {i.date_time for i in archive.infolist()} == {EPOCH}
        with zipfile.ZipFile(io.BytesIO(archive.read("1.npz"))) as inner:
            assert {i.date_time for i in inner.infolist()} == {EPOCH}
    back = sio.loads(data, trusted=["scipy.sparse._csr.csr_matrix"])
    assert (back["m"] != obj["m"]).nnz == 0 and back["b"] == b"abc"
    assert np.array_equal(back["arr"], arr) and back["arr"] is back["same"]


def rewrite(data: bytes, edit: Any) -> bytes:
    """``data`` with ``edit(schema) -> schema``, members otherwise unchanged."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "schema.json":
                content = json.dumps(edit(json.loads(content)), indent=2).encode()
            dst.writestr(name, content)
    return out.getvalue()


def first_array(schema: dict[str, Any]) -> dict[str, Any]:
    """The first node that stores its data in a member."""
    stack: list[Any] = [schema]
    while stack:
        value = stack.pop(0)
        if isinstance(value, dict):
            if "file" in value and "__loader__" in value:
                return value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    raise AssertionError("no array node")


def test_a_file_it_does_not_understand_is_refused_and_left_alone(tmp_path: Path) -> None:
    import skops.io as sio

    data = sio.dumps({"arr": np.arange(3.0), "more": np.ones(2)})

    def dangling(schema: dict[str, Any]) -> dict[str, Any]:
        first_array(schema)["file"] = "404.npy"
        return schema

    def bad_id(schema: dict[str, Any]) -> dict[str, Any]:
        schema["__id__"] = "1"
        return schema

    path = tmp_path / MODEL_FILE
    path.write_bytes(b"previous")
    for edit in (dangling, bad_id):
        with pytest.raises(ValueError, match="skops schema"):
            write_canonical_skops(rewrite(data, edit), path)
    assert path.read_bytes() == b"previous"  # the old file survives a failed rewrite
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_FILE]


def test_a_tampered_id_in_a_canonical_file_fails_to_load(tmp_path: Path) -> None:
    """Small sequential ids are no easier to abuse: a reference to an unknown id is refused
    by skops, and the family's own trusted list still guards the types."""
    from skops.io.exceptions import UntrustedTypesFoundException

    model, _ = fit("knn", "binary")
    model.save(tmp_path)
    data = (tmp_path / MODEL_FILE).read_bytes()

    def cached_unknown(schema: dict[str, Any]) -> dict[str, Any]:
        node = first_array(schema)
        node.clear()
        node.update(__class__="x", __module__="x", __loader__="CachedNode", __id__=10**6)
        return schema

    (tmp_path / MODEL_FILE).write_bytes(rewrite(data, cached_unknown))
    with pytest.raises(ValueError, match="unknown object id"):
        FAMILIES["knn"].load(tmp_path, model.get_params())

    fit("hgb", "binary")[0].save(tmp_path)  # a canonical HGB file where k-NN is expected
    with pytest.raises(UntrustedTypesFoundException):
        FAMILIES["knn"].load(tmp_path, model.get_params())
