"""``automl predict``: score a table (or stdin) batch by batch and stream the predictions out.

Memory is bounded by ``--batch-size``, not by the input: rows are read, checked, scored and
written one batch at a time, in their input order. Nothing is guessed silently: a required
column that is absent stops the run before any output (exit 3); extra columns are ignored
with one note; categories never seen in training are counted; a value that is not a number
in a numeric column is an error naming its rows, or with ``--on-bad-rows skip|null`` the row
is left out, or the value blanked, and the row numbers are reported. A file output is
written to a temporary name and renamed at the end, so a failed run leaves no half file.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.errors import DataError, UsageError
from automl_cli.steps._common import config_doc, noop, open_step, threads_setting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pandas as pd

    from automl_cli.steps.search import FittedModel

__all__ = ["FORMATS", "BatchScorer", "numeric_columns", "run_predict_step"]

FORMATS = ("csv", "parquet", "jsonl")
BAD_ROW_MODES = ("error", "skip", "null")
DEFAULTS: dict[str, Any] = {
    "model": None,  # model@champion once one is promoted, else model@latest
    "jobs": None,  # prediction threads (default 2), whatever the fit had: AUTOML_JOBS
    "output": "-",
    "proba": False,
    "format": None,
    "batch_size": 100_000,
    "id": [],
    "on_bad_rows": "error",
}
SHOWN_ROWS = 20  # row numbers listed per problem (all are counted)


def run_predict_step(
    project_dir: Path,
    data: str,
    *,
    model: str | None = None,
    output: str | None = None,
    proba: bool | None = None,
    fmt: str | None = None,
    batch_size: int | None = None,
    id_columns: list[str] | None = None,
    on_bad_rows: str | None = None,
    lock_timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
    stdout: Any = None,
) -> dict[str, Any]:
    """Score ``data`` with a model; predictions to ``output`` (a path, or ``-`` for stdout)."""
    import pandas as pd

    from automl_cli.core.drift import DriftMonitor
    from automl_cli.core.memory import return_freed_memory
    from automl_cli.core.schema import SchemaReport, enforce_schema
    from automl_cli.core.stream import iter_table
    from automl_cli.steps.search import load_model

    started = time.monotonic()
    return_freed_memory()  # batches come and go: give their memory back, keep the peak flat
    say = progress or noop
    project, config = open_step(
        project_dir,
        "predict",
        {
            "model": model,
            "output": output,
            "proba": proba,
            "format": fmt,
            "batch_size": batch_size,
            "id": id_columns or None,
            "on_bad_rows": on_bad_rows,
            "lock_timeout": lock_timeout,
        },
        DEFAULTS,
    )
    out_path = str(config["output"].value or "-")
    out_format = config["format"].value or _format_of(out_path)
    if out_format not in FORMATS:
        raise UsageError(f"unknown --format {out_format!r}", hint=f"choose {', '.join(FORMATS)}")
    mode = str(config["on_bad_rows"].value)
    if mode not in BAD_ROW_MODES:
        raise UsageError(
            f"unknown --on-bad-rows {mode!r}", hint=f"choose {', '.join(BAD_ROW_MODES)}"
        )
    rows_per_batch = int(config["batch_size"].value)
    if rows_per_batch < 1:
        raise UsageError("--batch-size must be at least 1")
    jobs = threads_setting(config["jobs"].value)
    if out_path == "-" and out_format == "parquet" and sys.stdout.isatty():
        raise UsageError("Parquet is binary: not to a terminal", hint="pass --output FILE")

    from automl_cli.steps.runs import default_model_ref

    model_ref = str(config["model"].value or default_model_ref(project))
    model_art = project.load(model_ref, default_kind="model")
    say(f"loading {model_art.ref}")
    fitted = load_model(project_dir, model_art.ref, n_jobs=jobs)
    prep = fitted.preprocessor
    numeric = numeric_columns(prep)
    info, batches = iter_table(data, rows_per_batch, numeric=numeric)
    # the schema's own check, on the header alone: refuse before any output is written
    enforce_schema(pd.DataFrame(columns=info.columns), prep.schema_, where=info.path)
    required = [c["name"] for c in prep.schema_["columns"] if c.get("required")]
    keys = _key_columns(prep, info.columns, list(config["id"].value or []), info.path)
    target = (prep.schema_.get("target") or {}).get("name")
    if target in keys:
        keys.remove(target)
    with_proba = bool(config["proba"].value) and fitted.task != "regression"
    key_names = _key_names(keys, ["prediction", *_proba_names(fitted)])
    drift = DriftMonitor(_training_profile(project, model_art), required)
    report = SchemaReport()
    bad: dict[str, Any] = {"rows": [], "count": 0, "cells": 0, "columns": {}}
    rows_in = rows_out = 0
    scoring_s = 0.0

    scorer = BatchScorer(
        fitted, proba=with_proba, on_bad_rows=mode, keys=key_names, where=info.path, bad=bad
    )
    scorer.report = report
    sink = _Sink(out_path, out_format, stdout)
    try:
        for batch in _read_ahead(batches):
            first_row = rows_in + 1
            rows_in += len(batch)
            t0 = time.monotonic()
            scored = scorer(batch, first_row, before_scoring=drift.update)
            scoring_s += time.monotonic() - t0
            sink.write(scored)
            rows_out += len(scored)
            if rows_in >= rows_per_batch:
                say(f"scored {rows_out:,} rows")
        if rows_in == 0:
            raise DataError(f"{info.path} has no rows to score")
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    wall = time.monotonic() - started
    drift_doc = drift.report()
    doc: dict[str, Any] = {
        "command": "predict",
        "model": model_art.ref,
        "input": {"path": info.path, "format": info.format},
        "output": {"path": out_path, "format": out_format},
        "rows_in": rows_in,
        "rows_out": rows_out,
        "columns": [*key_names.values(), "prediction"]
        + (_proba_names(fitted) if with_proba else []),
        "bad_values": {
            "mode": mode,
            "rows": bad["count"],
            "cells": bad["cells"],
            "row_numbers": bad["rows"][:SHOWN_ROWS],
            "columns": bad["columns"],
        },
        "schema": report.to_dict(),
        "notes": report.messages()
        + [
            f"the input's key column '{k}' is written as '{v}', apart from automl's own '{k}'"
            for k, v in key_names.items()
            if k != v
        ],
        "drift": drift_doc,
        "wall_time_s": round(wall, 3),
        "rows_per_second": round(rows_out / scoring_s) if scoring_s > 0 else None,
        "config": config_doc(config),
    }
    return doc


# -- the scoring path -----------------------------------------------------------------------


def numeric_columns(prep: Any) -> list[str]:
    """The columns the preprocessing reads as numbers (their text is parsed, or refused)."""
    return [c for c, s in prep.state_.items() if s["action"] == "numeric" and not s.get("boolean")]


class BatchScorer:
    """What ``automl predict`` does to each batch between reading it and writing it: refuse,
    drop or blank values that are not numbers, enforce the schema, preprocess, run every
    member, and build the output frame (keys, ``prediction``, ``proba_<class>``).

    ``search --max-latency-ms`` times a model through this same object, so a deployment
    limit is measured on the path that will serve the rows.
    """

    def __init__(
        self,
        fitted: FittedModel,
        *,
        proba: bool = False,
        on_bad_rows: str = "error",
        keys: dict[str, str] | None = None,
        where: str = "the input",
        bad: dict[str, Any] | None = None,
    ) -> None:
        from automl_cli.core.schema import SchemaReport

        self.fitted = fitted
        self.proba = proba and fitted.task != "regression"
        self.mode = on_bad_rows
        self.keys = keys or {}
        self.where = where
        self.numeric = numeric_columns(fitted.preprocessor)
        self.bad = bad if bad is not None else {"rows": [], "count": 0, "cells": 0, "columns": {}}
        self.report = SchemaReport()

    def __call__(
        self,
        batch: pd.DataFrame,
        first_row: int = 1,
        before_scoring: Callable[[pd.DataFrame], None] | None = None,
    ) -> pd.DataFrame:
        batch = _bad_values(batch, self.numeric, self.mode, first_row, self.where, self.bad)
        if before_scoring is not None:
            before_scoring(batch)
        scored = self.fitted.predict_output(batch, self.report, where=self.where)
        return _frame(self.fitted, batch, self.keys, scored, self.proba)


# -- input checks ---------------------------------------------------------------------------


def _read_ahead(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The batches, the next one parsed in a thread while this one is scored.

    pyarrow parses without holding the GIL, so reading overlaps scoring; one batch ahead at
    most, so memory stays two batches. An error in the reader is raised here, in order.
    """
    import queue
    import threading

    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(("batch", batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(("error", exc))

    reader = threading.Thread(target=produce, name="automl-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            slots.get_nowait()  # unblock a producer waiting to put
        reader.join(timeout=5)


def _format_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(
        suffix, "csv"
    )


def _key_columns(prep: Any, columns: list[str], asked: list[str], where: str) -> list[str]:
    """``--id`` columns (must exist), else the input's ID-like columns that prep set aside."""
    wanted = [c.strip() for a in asked for c in str(a).split(",") if c.strip()]
    if wanted:
        absent = [c for c in wanted if c not in columns]
        if absent:
            raise DataError(
                f"{where} has no column {', '.join(repr(c) for c in absent)} for --id",
                hint="--id names key columns of the input to copy into the output",
            )
        return wanted
    ids = {d.name for d in prep.decisions_ if d.action == "drop" and d.reason.startswith("ID")}
    return [c for c in columns if c in ids]


def _key_names(keys: list[str], reserved: list[str]) -> dict[str, str]:
    """Output name per key column: one named like an output column (``prediction``,
    ``proba_<class>``) becomes ``input_<name>``, so the output never has two such columns."""
    taken = set(reserved)
    names: dict[str, str] = {}
    for key in keys:
        name = key
        while name in taken:
            name = f"input_{name}"
        taken.add(name)
        names[key] = name
    return names


def _bad_values(
    batch: pd.DataFrame,
    numeric: list[str],
    mode: str,
    first_row: int,
    where: str,
    bad: dict[str, Any],
) -> pd.DataFrame:
    """Find values that are not numbers in numeric columns; raise, drop or blank them."""
    import numpy as np
    import pandas as pd

    from automl_cli.core.schema import split_numbers

    mask = np.zeros(len(batch), dtype=bool)
    for col in numeric:
        if col not in batch.columns or pd.api.types.is_numeric_dtype(batch[col]):
            continue
        number, bad_mask, text = split_numbers(batch[col])
        wrong = bad_mask.to_numpy(dtype=bool)
        if not wrong.any():
            batch[col] = number.astype("float64")
            continue
        rows = np.flatnonzero(wrong) + first_row
        if mode == "error":
            shown = ", ".join(map(str, rows[:5]))
            raise DataError(
                f"column '{col}' in {where} must be numeric but has {int(wrong.sum()):,} value(s) "
                f"that are not numbers in this part of the file, e.g. "
                f"{text[wrong].iloc[0]!r} (data row(s) {shown})",
                hint="fix those values, or pass --on-bad-rows skip (leave the rows out) or "
                "--on-bad-rows null (score them with the value missing)",
            )
        bad["columns"][col] = bad["columns"].get(col, 0) + int(wrong.sum())
        bad["cells"] += int(wrong.sum())
        mask |= wrong
        batch[col] = number.astype("float64")  # the bad values are now missing
    if mask.any():
        numbers = (np.flatnonzero(mask) + first_row).tolist()
        bad["count"] += len(numbers)
        bad["rows"].extend(numbers[: max(0, SHOWN_ROWS - len(bad["rows"]))])
        if mode == "skip":
            batch = batch.loc[~mask]
    return batch


# -- output ---------------------------------------------------------------------------------


def _proba_names(fitted: FittedModel) -> list[str]:
    return [f"proba_{c}" for c in fitted.classes_ or []]


def _frame(
    fitted: FittedModel,
    batch: pd.DataFrame,
    keys: dict[str, str],
    output: Any,
    with_proba: bool,
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {name: batch[k].to_numpy() for k, name in keys.items()}
    if fitted.task == "regression":
        columns["prediction"] = np.asarray(output, dtype="float64")
    else:
        labels = np.asarray(fitted.classes_, dtype=object)
        columns["prediction"] = labels[np.asarray(output).argmax(axis=1)]
        if with_proba:
            for j, name in enumerate(_proba_names(fitted)):
                columns[name] = np.asarray(output[:, j], dtype="float64")
    return pd.DataFrame(columns)


class _Sink:
    """Where predictions go: stdout as they come, or a temp file renamed into place at the end."""

    def __init__(self, path: str, fmt: str, stdout: Any = None) -> None:
        self.path, self.fmt = path, fmt
        self.to_stdout = path == "-"
        self._parquet: Any = None
        self._header = True
        if self.to_stdout:
            self._tmp = None
            stream = stdout if stdout is not None else sys.stdout
            self._fh: Any = getattr(stream, "buffer", stream) if fmt != "jsonl" else stream
        else:
            target = Path(path)
            if target.is_dir():
                raise UsageError(f"--output {path} is a directory", hint="give a file name")
            if not target.parent.exists():
                raise UsageError(
                    f"the folder of --output {path} does not exist", hint="create it first"
                )
            # "x" mode, not mkstemp: the file gets the umask's mode (as `> file` would), not
            # 0600, so the readers of a shared output folder can still read it
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            fh = open(tmp, "xb")  # noqa: SIM115 - closed by commit() or abort()
            self._tmp = tmp
            with contextlib.suppress(OSError):  # replacing a file keeps its permissions
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            self._fh = fh if fmt != "jsonl" else io.TextIOWrapper(fh, encoding="utf-8", newline="")

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            self._write_csv(frame)
        elif self.fmt == "jsonl":
            if len(frame):
                text = frame.to_json(orient="records", lines=True, force_ascii=False)
                self._fh.write(text if text.endswith("\n") else text + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._fh, table.schema)
            self._parquet.write_table(table)
        self._header = False
        if self.to_stdout:
            self._fh.flush()

    def _write_csv(self, frame: pd.DataFrame) -> None:
        """pyarrow's writer (about 10× pandas'), unquoted; a batch holding a value that
        needs quotes (a comma, a quote, a line break) is written by pandas instead."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        buffer = pa.BufferOutputStream()
        options = pacsv.WriteOptions(
            include_header=self._header, quoting_style="none", quoting_header="none"
        )
        try:
            pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buffer, options)
            data = buffer.getvalue().to_pybytes()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = frame.to_csv(index=False, header=self._header, lineterminator="\n")
            data = text.encode("utf-8")
        self._fh.write(data)

    def commit(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._tmp is None:
            self._fh.flush()
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._tmp is None:
            return
        with contextlib.suppress(Exception):
            if self._parquet is not None:
                self._parquet.close()
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


def _training_profile(project: Any, model_art: Any) -> dict[str, Any]:
    """The profile the model's preprocessing was fitted from (its parent chain), if readable."""
    import json

    for parent in model_art.manifest.get("parents", []):
        if str(parent.get("ref", "")).startswith("profile@"):
            with contextlib.suppress(Exception):
                art = project.load(parent["ref"])
                loaded: dict[str, Any] = json.loads(art.file("profile.json").read_text("utf-8"))
                return loaded
    return {}
