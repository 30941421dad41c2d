"""Bad and unusual input tables: each case runs the real ``automl`` on a generated file.

A table that cannot be used is refused with exit 3, one ``error:`` line and its ``hint:``,
no traceback, and the project untouched (its earlier versions verify unchanged, no new
version of the kind the command writes). A table that is odd but usable is read: the case
asserts the exit code 0 and what ``--json`` reports (rows, types, counts, warnings).
Every input is generated here, seeded; nothing is copied from shared data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl_cli.errors import EXIT_BAD_DATA, EXIT_OK

from ..conftest import cli_env
from ._matrix import Case, automl, check_outcome, copy_project, snapshot

T = "test_inputs.py::"
SEARCH = ("--trials", "1", "--models", "linear", "--cv", "2", "--seed", "0")
WRITES = {"profile": "profile", "prep": "prep", "search": "model", "predict": None}
ROWS = 60


# -- generated tables ---------------------------------------------------------------------


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _write(folder: Path, name: str, rows: list[list[Any]], **fmt: Any) -> Path:
    """A CSV through the csv module (so quoting is right); ``encoding``/``delimiter``/``bom``."""
    encoding = fmt.get("encoding", "utf-8")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=fmt.get("delimiter", ","), lineterminator="\n").writerows(rows)
    text = ("\ufeff" if fmt.get("bom") else "") + buffer.getvalue()
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _noisy(seed: int, n: int = ROWS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two features and a binary target that neither predicts perfectly (no leakage)."""
    rng = _rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    y = (x + z + rng.normal(scale=1.5, size=n) > 0).astype(int)
    return x.round(3), z.round(3), y


def good(folder: Path, name: str = "good.csv", seed: int = 0) -> Path:
    x, z, y = _noisy(seed)
    return _write(folder, name, [["x", "z", "y"], *zip(x, z, y, strict=True)])


def empty(folder: Path) -> Path:
    (folder / "empty.csv").write_bytes(b"")
    return folder / "empty.csv"


def header_only(folder: Path) -> Path:
    (folder / "header.csv").write_text("x,z,y\n")
    return folder / "header.csv"


def one_row(folder: Path) -> Path:
    return _write(folder, "one.csv", [["x", "z", "y"], [1.5, 2.0, 1]])


def one_class(folder: Path) -> Path:
    x, z, _ = _noisy(1)
    return _write(
        folder,
        "one_class.csv",
        [["x", "z", "y"], *([a, b, "yes"] for a, b in zip(x, z, strict=True))],
    )


def target_all_missing(folder: Path) -> Path:
    x, z, _ = _noisy(2)
    return _write(
        folder, "no_target.csv", [["x", "z", "y"], *([a, b, ""] for a, b in zip(x, z, strict=True))]
    )


def target_partly_missing(folder: Path) -> Path:
    x, z, y = _noisy(3)
    labels = ["" if i % 5 == 0 else int(v) for i, v in enumerate(y)]  # 12 of 60 empty
    return _write(folder, "some_target.csv", [["x", "z", "y"], *zip(x, z, labels, strict=True)])


def thousand_classes(folder: Path) -> Path:
    rng = _rng(4)
    x = rng.normal(size=2000).round(3)
    rows = [[a, f"class_{i % 1000:03d}"] for i, a in enumerate(x)]
    return _write(folder, "classes.csv", [["x", "y"], *rows])


def all_nan_column(folder: Path) -> Path:
    x, z, y = _noisy(5)
    return _write(
        folder,
        "nan_col.csv",
        [["x", "empty", "z", "y"], *([a, "", b, c] for a, b, c in zip(x, z, y, strict=True))],
    )


def constant_column(folder: Path) -> Path:
    x, z, y = _noisy(6)
    return _write(
        folder,
        "const_col.csv",
        [["x", "same", "z", "y"], *([a, 7, b, c] for a, b, c in zip(x, z, y, strict=True))],
    )


def infinities(folder: Path) -> Path:
    x, z, y = _noisy(7)
    cells: list[Any] = list(x)
    cells[3], cells[10], cells[20] = "inf", "-inf", "inf"
    return _write(folder, "inf.csv", [["x", "z", "y"], *zip(cells, z, y, strict=True)])


def mixed_types(folder: Path) -> Path:
    x, z, y = _noisy(8)
    cells = [a if i % 7 else "unknown" for i, a in enumerate(x)]  # 9 of 60 are text
    return _write(folder, "mixed.csv", [["x", "z", "y"], *zip(cells, z, y, strict=True)])


def _amounts(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng(seed)
    amount = rng.normal(5000, 2000, size=ROWS).round(2)
    z = rng.normal(size=ROWS).round(3)
    y = (amount / 2000 + rng.normal(size=ROWS) > 2.5).astype(int)
    return amount, z, y


def thousands(folder: Path) -> Path:
    amount, z, y = _amounts(9)
    rows = [[f"{a:,.2f}", b, c] for a, b, c in zip(amount, z, y, strict=True)]  # "5,123.45"
    return _write(folder, "thousands.csv", [["amount", "z", "y"], *rows])


def decimal_comma(folder: Path) -> Path:
    amount, z, y = _amounts(10)

    def eu(v: float) -> str:  # 5.123,45
        return f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")

    rows = [[eu(a), str(b).replace(".", ","), c] for a, b, c in zip(amount, z, y, strict=True)]
    return _write(folder, "eu.csv", [["amount", "z", "y"], *rows], delimiter=";")


def dates(folder: Path) -> Path:
    rng = _rng(11)
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 1000, ROWS)]
    y = rng.integers(0, 2, ROWS)
    rows = [
        [f"{d:%Y-%m-%d}", f"{d:%d.%m.%Y}", f"{d:%m/%d/%Y}", f"{d:%d %b %Y}", c]
        for d, c in zip(days, y, strict=True)
    ]
    return _write(folder, "dates.csv", [["iso", "dotted", "us", "words", "y"], *rows])


CITIES = ["Zürich", "Málaga", "Köln", "São Paulo", "Besançon"]


def _cities(seed: int) -> list[list[Any]]:
    _, z, y = _noisy(seed)
    return [
        ["city", "z", "y"],
        *([CITIES[i % 5], b, c] for i, (b, c) in enumerate(zip(z, y, strict=True))),
    ]


def latin1(folder: Path) -> Path:
    return _write(folder, "latin1.csv", _cities(12), encoding="latin-1")


def utf8_bom(folder: Path) -> Path:
    return _write(folder, "bom.csv", _cities(13), bom=True)


def semicolons(folder: Path) -> Path:
    return _write(folder, "semicolon.csv", _cities(14), delimiter=";")


def tabs(folder: Path) -> Path:
    return _write(folder, "tabs.txt", _cities(15), delimiter="\t")


def quoted_newlines(folder: Path) -> Path:
    _, z, y = _noisy(16)
    notes = [f"first line {i}\nsecond line, with a comma" for i in range(ROWS)]
    return _write(folder, "notes.csv", [["note", "z", "y"], *zip(notes, z, y, strict=True)])


def duplicate_columns(folder: Path) -> Path:
    x, z, y = _noisy(17)
    return _write(folder, "dups.csv", [["a", "b", "a", "y"], *zip(x, z, x, y, strict=True)])


def wide(folder: Path) -> Path:
    rng = _rng(18)
    values = rng.normal(size=(50, 10_000)).round(3)
    y = rng.integers(0, 2, 50)
    lines = [",".join(f"c{j}" for j in range(10_000)) + ",y"]
    lines += [",".join(map(str, row)) + f",{c}" for row, c in zip(values, y, strict=True)]
    (folder / "wide.csv").write_text("\n".join(lines) + "\n")
    return folder / "wide.csv"


def binary_bytes(folder: Path) -> Path:
    (folder / "data.csv").write_bytes(_rng(19).bytes(8192))
    return folder / "data.csv"


def json_object(folder: Path) -> Path:
    (folder / "data.json").write_text(json.dumps({"a": 1}))
    return folder / "data.json"


def json_document(folder: Path) -> Path:
    (folder / "config.json").write_text(json.dumps({"a": 1, "b": [1, 2]}, indent=2))
    return folder / "config.json"


def missing_path(folder: Path) -> Path:
    return folder / "no_such_file.csv"


def a_directory(folder: Path) -> Path:
    (folder / "tables").mkdir()
    return folder / "tables"


# -- the cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """How a case runs: the input it writes, the command, and what to check afterwards."""

    make: Callable[[Path], Path]
    command: tuple[str, ...]  # after DATA comes "--json" and these
    message: str = ""  # a fragment of the error line (failing cases)
    check: Callable[[dict[str, Any]], None] | None = None  # on the --json document (exit 0)
    marks: tuple[Any, ...] = field(default=())


def _warning(doc: dict[str, Any], code: str, column: str | None = None) -> dict[str, Any]:
    found = [w for w in doc["warnings"] if w["code"] == code and column in (None, w["column"])]
    assert found, (code, column, [w["code"] for w in doc["warnings"]])
    return found[0]


def _types(doc: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["semantic_type"] for c in doc["columns"]}


def _actions(doc: dict[str, Any]) -> dict[str, str]:
    return {d["name"]: d["action"] for d in doc["decisions"]}


def _profile_json(doc: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((Path(doc["path"]) / "profile.json").read_text("utf-8"))
    return loaded


def _top_values(doc: dict[str, Any], column: str) -> set[str]:
    col = next(c for c in _profile_json(doc)["columns"] if c["name"] == column)
    return {v["value"] for v in col["top_values"]}


def check_one_row(doc: dict[str, Any]) -> None:
    assert doc["dataset"]["rows"] == 1 and doc["dataset"]["columns"] == 3
    assert "one value only" in _warning(doc, "constant", "y")["message"]


def check_partly_missing(doc: dict[str, Any]) -> None:
    assert doc["rows_without_target"] == 12 and doc["rows_used"] == 48, doc


def check_thousand_classes(doc: dict[str, Any]) -> None:
    assert doc["task"] == "multiclass" and len(doc["classes"]) == 1000, doc["task"]
    assert doc["rows_used"] == 2000


def check_all_nan(doc: dict[str, Any]) -> None:
    assert _actions(doc)["empty"] == "drop" and _actions(doc)["x"] == "numeric"


def check_constant(doc: dict[str, Any]) -> None:
    assert _actions(doc)["same"] == "drop" and _actions(doc)["z"] == "numeric"


def check_infinities(doc: dict[str, Any]) -> None:
    assert doc["task"] == "binary" and doc["cv_score"] is not None
    assert np.isfinite(doc["cv_score"])


def check_mixed(doc: dict[str, Any]) -> None:
    assert _types(doc)["x"] == "categorical"
    assert "unknown" in _warning(doc, "mixed_types", "x")["message"]


def check_numeric_amount(doc: dict[str, Any]) -> None:
    assert _types(doc)["amount"] == "numeric" and _types(doc)["z"] == "numeric", _types(doc)
    stats = next(c for c in _profile_json(doc)["columns"] if c["name"] == "amount")["numeric"]
    assert 1000 < stats["median"] < 9000, stats  # 5,123.45 read as 5123.45, not 5.12


def check_dates(doc: dict[str, Any]) -> None:
    actions = _actions(doc)
    assert all(actions[c] == "datetime" for c in ("iso", "dotted", "us", "words")), actions


def check_latin1(doc: dict[str, Any]) -> None:
    assert doc["data"]["encoding"] in ("cp1252", "latin-1")
    assert _top_values(doc, "city") == set(CITIES)


def check_bom(doc: dict[str, Any]) -> None:
    assert [c["name"] for c in doc["columns"]] == ["city", "z", "y"]
    assert _top_values(doc, "city") == set(CITIES)


def check_delimiter(delimiter: str) -> Callable[[dict[str, Any]], None]:
    def check(doc: dict[str, Any]) -> None:
        assert doc["data"]["delimiter"] == delimiter
        assert [c["name"] for c in doc["columns"]] == ["city", "z", "y"]
        assert doc["dataset"]["rows"] == ROWS

    return check


def check_quoted_newlines(doc: dict[str, Any]) -> None:
    assert doc["dataset"]["rows"] == ROWS and doc["dataset"]["columns"] == 3
    assert any("\n" in v for v in _top_values(doc, "note"))


def check_one_row_json(doc: dict[str, Any]) -> None:
    assert doc["data"]["format"] == "jsonl" and doc["dataset"]["rows"] == 1


def check_wide(doc: dict[str, Any]) -> None:
    assert doc["dataset"]["columns"] == 10_001 and len(doc["columns"]) == 10_001
    assert doc["target"]["task"] == "binary"


SPECS: list[tuple[Case, Run]] = [
    # -- refused: exit 3 -------------------------------------------------------------------
    (
        Case(
            "empty-file",
            "input",
            "an empty file (0 bytes)",
            "refused: 'data.csv is empty', with a hint to write a header and rows",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(empty, ("profile",), "is empty"),
    ),
    (
        Case(
            "header-only",
            "input",
            "a CSV with a header row and no data rows",
            "refused: 'has a header but no data rows'",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(header_only, ("profile",), "header but no data rows"),
    ),
    (
        Case(
            "one-row-search",
            "input",
            "`search` on a table of one row",
            "refused before any model is fitted: the target has one value only in its 1 labelled row",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(one_row, ("search", "--target", "y", *SEARCH), "one value only"),
    ),
    (
        Case(
            "one-class-target",
            "input",
            "`search` where the target holds one class only",
            "refused: 'the target has one value only … there is nothing to predict' (was exit 2 'the task is unknown')",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(one_class, ("search", "--target", "y", *SEARCH), "one value only"),
    ),
    (
        Case(
            "target-all-missing",
            "input",
            "`search` where the target column is empty in every row",
            "refused: 'the target is empty in every row', hint to fill it or pick another --target",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(target_all_missing, ("search", "--target", "y", *SEARCH), "empty in every row"),
    ),
    (
        Case(
            "duplicate-columns",
            "input",
            "two columns with the same name",
            "refused before parsing the rows, naming the duplicated column",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(duplicate_columns, ("profile",), "duplicate column names: 'a'"),
    ),
    (
        Case(
            "binary-bytes",
            "input",
            "a file of random binary bytes named .csv",
            "refused: 'is not a text table (it contains binary bytes)'",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(binary_bytes, ("profile",), "not a text table"),
    ),
    (
        Case(
            "json-object-no-target",
            "input",
            '`prep --target y` on a JSON file holding the object {"a": 1}',
            "read as JSON Lines (one row, column 'a'), then refused: the target 'y' is not in it, the hint lists the columns",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(json_object, ("prep", "--target", "y"), "target column 'y' is not in"),
    ),
    (
        Case(
            "missing-path",
            "input",
            "a DATA path that does not exist",
            "refused: 'file not found: …'",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(missing_path, ("profile",), "file not found"),
    ),
    (
        Case(
            "directory",
            "input",
            "a directory given as DATA",
            "refused: '… is a directory, not a file'",
            EXIT_BAD_DATA,
            T + "test_unusable_input_is_refused",
        ),
        Run(a_directory, ("profile",), "is a directory"),
    ),
    # -- read: exit 0 ----------------------------------------------------------------------
    (
        Case(
            "one-row-profile",
            "input",
            "`profile` on a table of one row",
            "profiled (1 row); warns that the target has one value only",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(one_row, ("profile", "--target", "y"), check=check_one_row),
    ),
    (
        Case(
            "target-partly-missing",
            "input",
            "`prep` where 12 of 60 rows have an empty target",
            "the 12 rows are left out and counted (rows_without_target: 12, rows_used: 48)",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(target_partly_missing, ("prep", "--target", "y"), check=check_partly_missing),
    ),
    (
        Case(
            "target-1000-classes",
            "input",
            "`prep` where the target has 1,000 classes (2 rows each)",
            "prepared as multiclass with all 1,000 classes; the profile warns about rare classes",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(thousand_classes, ("prep", "--target", "y"), check=check_thousand_classes),
    ),
    (
        Case(
            "all-nan-column",
            "input",
            "a column that is empty in every row",
            "the column is dropped (decision recorded); the other columns are used",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(all_nan_column, ("prep", "--target", "y"), check=check_all_nan),
    ),
    (
        Case(
            "constant-column",
            "input",
            "a column holding one value in every row",
            "the column is dropped as constant (decision recorded)",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(constant_column, ("prep", "--target", "y"), check=check_constant),
    ),
    (
        Case(
            "inf-values",
            "input",
            "inf and -inf in a numeric column, then `search`",
            "the profile warns ('3 infinite values … treated as missing'); they are treated as missing and a model is trained",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(infinities, ("search", "--target", "y", *SEARCH), check=check_infinities),
    ),
    (
        Case(
            "mixed-types",
            "input",
            "a column of numbers with some text values ('unknown')",
            "read as categories, with a warning that it is mostly numbers and naming a text value",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(mixed_types, ("profile", "--target", "y"), check=check_mixed),
    ),
    (
        Case(
            "thousands-separators",
            "input",
            'numbers written with thousands separators ("5,123.45")',
            "read as numbers (was: text, taken for an ID and dropped)",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(thousands, ("profile", "--target", "y"), check=check_numeric_amount),
    ),
    (
        Case(
            "decimal-comma",
            "input",
            "a ';' file with decimal commas and '.' thousands (\"5.123,45\", \"0,5\")",
            "read as numbers (was: '5.123,45' taken for a date)",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(decimal_comma, ("profile", "--target", "y"), check=check_numeric_amount),
    ),
    (
        Case(
            "dates-several-formats",
            "input",
            "dates as 2021-03-04, 04.03.2021, 03/04/2021 and '04 Mar 2021'",
            "each column is read as dates and turned into calendar features",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(dates, ("prep", "--target", "y"), check=check_dates),
    ),
    (
        Case(
            "latin-1",
            "input",
            "a Latin-1 encoded file (Zürich, São Paulo)",
            "encoding detected; the accented values read correctly",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(latin1, ("profile", "--target", "y"), check=check_latin1),
    ),
    (
        Case(
            "utf8-bom",
            "input",
            "a UTF-8 file starting with a byte-order mark",
            "the BOM never reaches the first column's name",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(utf8_bom, ("profile", "--target", "y"), check=check_bom),
    ),
    (
        Case(
            "semicolon-delimiter",
            "input",
            "a semicolon-delimited .csv",
            "delimiter detected",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(semicolons, ("profile", "--target", "y"), check=check_delimiter(";")),
    ),
    (
        Case(
            "tab-delimiter",
            "input",
            "a tab-delimited file named .txt",
            "delimiter detected",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(tabs, ("profile", "--target", "y"), check=check_delimiter("\t")),
    ),
    (
        Case(
            "quoted-newlines",
            "input",
            "quoted values holding line breaks and commas",
            "each quoted value stays one cell; the row count is right",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(quoted_newlines, ("profile", "--target", "y"), check=check_quoted_newlines),
    ),
    (
        Case(
            "json-document",
            "input",
            "a pretty-printed JSON object with a list value",
            "read as a one-row JSON table (was: a traceback after saving, on the list cell)",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(json_document, ("profile",), check=check_one_row_json),
    ),
    (
        Case(
            "wide-10000-columns",
            "input",
            "`profile` of 10,000 columns × 50 rows",
            "profiled (about 15–20 s on 2 cores); every column described",
            EXIT_OK,
            T + "test_odd_input_is_read",
        ),
        Run(wide, ("profile", "--target", "y"), check=check_wide, marks=(pytest.mark.slow,)),
    ),
]

OOM_CASE = Case(
    "out-of-memory",
    "input",
    "a 2 GB CSV under a 512 MB memory limit (ulimit -v; 768 MB CSV when the disk has < 5 GB free)",
    "refused at once: 'data.csv is 2.0 GiB, more than the … MiB of memory this process may "
    "still use (its limit is 512 MiB)' (was: 'cannot parse as CSV: malloc … failed', or a "
    "pyarrow abort)",
    EXIT_BAD_DATA,
    T + "test_a_table_bigger_than_the_memory_limit",
)

PREDICT_CASES = [
    Case(
        "key-named-prediction",
        "input",
        "`predict` on a table whose ID column is named 'prediction'",
        "the ID column is written as 'input_prediction' next to automl's 'prediction', and a "
        "note says so (was: one of the two silently lost)",
        EXIT_OK,
        T + "test_predict_output_stays_unambiguous",
    ),
    Case(
        "id-named-like-proba",
        "input",
        "`predict --proba --id proba_1` where the input has a column 'proba_1'",
        "the key is written as 'input_proba_1'; 'proba_1' is the model's probability",
        EXIT_OK,
        T + "test_predict_output_stays_unambiguous",
    ),
]

CASES: list[Case] = [c for c, _ in SPECS] + [OOM_CASE, *PREDICT_CASES]
RUNS = {c.id: r for c, r in SPECS}


def _cases(test: str) -> list[Any]:
    return [
        pytest.param(c, marks=list(RUNS[c.id].marks), id=c.id)
        for c, _ in SPECS
        if c.test == T + test
    ]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with an earlier good profile and prep (v1), copied by every case."""
    folder = tmp_path_factory.mktemp("base")
    project = folder / "project"
    proc = automl(project, "prep", str(good(folder)), "--target", "y", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return project


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    return copy_project(base, tmp_path)


def _versions(project: Path, kind: str | None) -> list[str]:
    return sorted(p.name for p in project.glob(f"artifacts/{kind}/v*")) if kind else []


# -- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases("test_unusable_input_is_refused"))
def test_unusable_input_is_refused(case: Case, project: Path, tmp_path: Path) -> None:
    run = RUNS[case.id]
    data = run.make(tmp_path)
    kind = WRITES[run.command[0]]
    before, versions = snapshot(project), _versions(project, kind)
    proc = automl(project, "--json", run.command[0], str(data), *run.command[1:], cwd=tmp_path)
    check_outcome(proc, int(case.exit_code), project, before)
    error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert run.message in error, error
    assert any(line.startswith("hint:") for line in proc.stderr.splitlines()), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["exit_code"] == case.exit_code and doc["hint"]
    assert _versions(project, kind) == versions, "a failed run added a version"


@pytest.mark.parametrize("case", _cases("test_odd_input_is_read"))
def test_odd_input_is_read(case: Case, project: Path, tmp_path: Path) -> None:
    run = RUNS[case.id]
    data = run.make(tmp_path)
    before = snapshot(project)
    proc = automl(project, "--json", run.command[0], str(data), *run.command[1:], cwd=tmp_path)
    check_outcome(proc, int(case.exit_code), project, before, error_line=False)
    assert not [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True
    assert run.check is not None
    run.check(doc)


def _big_csv(path: Path, size: int) -> None:
    """``size`` bytes of a seeded numeric CSV (one 20,000-row block written over and over)."""
    rng = _rng(20)
    block = rng.normal(size=(20_000, 8)).round(4)
    y = rng.integers(0, 2, 20_000)
    text = "".join(
        ",".join(f"{v:.4f}" for v in row) + f",{c}\n" for row, c in zip(block, y, strict=True)
    )
    chunk = text.encode()
    with path.open("wb") as fh:
        fh.write(b"a,b,c,d,e,f,g,h,y\n")
        for _ in range(-(-size // len(chunk))):
            fh.write(chunk)


@pytest.mark.slow
def test_a_table_bigger_than_the_memory_limit(project: Path, tmp_path: Path) -> None:
    case = OOM_CASE
    big = shutil.disk_usage(tmp_path).free > 5 << 30
    data = tmp_path / "data.csv"
    limit = 512 << 20

    def limit_memory() -> None:  # in the child, before exec: like `ulimit -v 524288`
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        _big_csv(data, (2 << 30) if big else (768 << 20))
        before = snapshot(project)
        raw = subprocess.run(
            [sys.executable, "-m", "automl_cli", "--project", str(project), "profile", str(data)],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            timeout=120,
            preexec_fn=limit_memory,
        )
    finally:
        data.unlink(missing_ok=True)  # pytest keeps the last runs' tmp folders: not 2 GB of them
    proc = subprocess.CompletedProcess(
        raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode("utf-8", "replace")
    )
    check_outcome(proc, int(case.exit_code), project, before)
    error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert "memory" in error and "512 MiB" in error, error
    assert "core dumped" not in proc.stderr and "malloc" not in proc.stderr
    assert _versions(project, "profile") == ["v0001"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model trained on a table whose ID column is 'prediction' and a feature 'proba_1'."""
    folder = tmp_path_factory.mktemp("predict")
    rng = _rng(21)
    n = 80
    x, p = rng.normal(size=n).round(3), rng.normal(size=n).round(3)
    y = (x + p + rng.normal(size=n) > 0).astype(int)
    rows = [[5000 + i, a, b, c] for i, (a, b, c) in enumerate(zip(x, p, y, strict=True))]
    data = _write(folder, "scored.csv", [["prediction", "x", "proba_1", "y"], *rows])
    project = folder / "project"
    proc = automl(project, "search", str(data), "--target", "y", *SEARCH, cwd=folder)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return project, data


@pytest.mark.parametrize("case", PREDICT_CASES, ids=lambda c: c.id)
def test_predict_output_stays_unambiguous(
    case: Case, scored: tuple[Path, Path], tmp_path: Path
) -> None:
    project, data = scored
    out = tmp_path / "out.csv"
    extra = ("--id", "proba_1") if case.id == "id-named-like-proba" else ()
    before = snapshot(project)
    proc = automl(
        project,
        "--json",
        "predict",
        str(data),
        "--proba",
        "--output",
        str(out),
        *extra,
        cwd=tmp_path,
    )
    check_outcome(proc, int(case.exit_code), project, before, error_line=False)
    doc = json.loads(proc.stdout)
    with out.open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    key = "prediction" if case.id == "key-named-prediction" else "proba_1"
    expected = [f"input_{key}", "prediction", "proba_0", "proba_1"]
    assert header == expected and doc["columns"] == expected, (header, doc["columns"])
    assert len(set(header)) == len(header)
    with data.open(newline="") as fh:
        source = list(csv.DictReader(fh))
    assert [r[0] for r in rows] == [s[key] for s in source]  # the key, in input order
    assert {r[1] for r in rows} <= {"0", "1"}  # the model's own prediction
    assert all(abs(float(r[2]) + float(r[3]) - 1) < 1e-6 for r in rows)
    assert any(f"'{key}' is written as 'input_{key}'" in n for n in doc["notes"]), doc["notes"]
    assert os.path.getsize(out) > 0
