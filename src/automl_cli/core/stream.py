"""Read a table in batches of rows, so scoring holds one batch in memory, never the file.

Same formats and detection as :func:`automl_cli.core.io.read_table` (CSV/TSV with delimiter
and encoding sniffed, Parquet, Feather, JSON Lines; ``-`` for CSV or JSON Lines on stdin), but
nothing is hashed or spooled: a CSV piped in is parsed as it arrives.

CSV columns are read as text and the columns the caller names as numeric are cast per batch
(pyarrow, fast); a batch where a numeric column holds a value that is not a number keeps that
column as text, so the caller can report the bad rows by number instead of pyarrow failing
the whole stream with no row to point at.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from automl_cli.core.io import (
    _UTF8,
    NA_VALUES,
    SAMPLE_SIZE,
    _clean_names,
    _decimal_point,
    _decode_sample,
    _detect_encoding,
    _header,
    _reject_binary,
    _sniff_delimiter,
    detect_format,
    ungroup_numbers,
)
from automl_cli.errors import DataError

__all__ = ["StreamInfo", "iter_table"]

MAX_BLOCK = 4 << 20


@dataclass(frozen=True)
class StreamInfo:
    path: str
    format: str
    columns: list[str]
    delimiter: str | None = None
    encoding: str | None = None


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``head`` (already read for detection), then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def iter_table(
    source: str,
    batch_rows: int,
    *,
    numeric: Collection[str] = (),
    stdin: BinaryIO | None = None,
) -> tuple[StreamInfo, Iterator[pd.DataFrame]]:
    """``(info, batches)``: the table's format and columns, then DataFrames of ≤ ``batch_rows``.

    Errors about the file itself (missing, a directory, binary, no header) are raised here,
    before the first batch, so a caller can refuse before writing any output.
    """
    where = "stdin" if source == "-" else source
    if source == "-":
        stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise DataError("stdin is not available", hint="pass a file path instead of '-'")
        head = stream.read(SAMPLE_SIZE)
        if not head.strip():
            raise DataError(
                "stdin is empty",
                hint="pipe a table into automl, e.g. 'cat data.csv | automl predict -'",
            )
        fmt = detect_format("-", head)
        raw: BinaryIO = io.BufferedReader(_Prefixed(head, stream), 1 << 20)
    else:
        if not os.path.exists(source):
            raise DataError(f"file not found: {source}", hint="check the path")
        if os.path.isdir(source):
            raise DataError(f"{source} is a directory, not a file", hint="pass a data file")
        with open(source, "rb") as fh:
            head = fh.read(SAMPLE_SIZE)
        if not head.strip():
            raise DataError(f"{where} is empty", hint="write a header row and data rows")
        fmt = detect_format(source, head)
        raw = pa.OSFile(source, "rb")  # read natively, without the GIL
    if fmt in ("csv", "tsv"):
        return _csv(raw, head, where, fmt, batch_rows, set(numeric))
    if fmt == "jsonl":
        return _jsonl(raw, where, batch_rows)
    if source == "-":
        raise DataError(
            f"{fmt.capitalize()} cannot be streamed from stdin",
            hint="pass the file's path instead of '-'",
        )
    raw.close()
    if fmt == "parquet":
        return _parquet(source, where, batch_rows)
    return _feather(source, where, batch_rows)


def _csv(
    raw: BinaryIO, head: bytes, where: str, fmt: str, batch_rows: int, numeric: set[str]
) -> tuple[StreamInfo, Iterator[pd.DataFrame]]:
    _reject_binary(head, where)
    encoding = _detect_encoding(head)
    text = _decode_sample(head, encoding, truncated=True)
    delimiter = _sniff_delimiter(text, True, prefer_tab=fmt == "tsv")
    raw_names = _header(text, delimiter)
    if not raw_names:
        raise DataError(f"{where} has no header row", hint="write the column names first")
    names = _clean_names(raw_names, where)
    lines = max(text.count("\n"), 1)
    row_bytes = max(len(head) // lines, 16)
    # pyarrow reads up to 32 blocks ahead of the consumer: small blocks, gathered into
    # batches here, keep that read-ahead near 32 × 4 MiB whatever the batch size
    block = int(min(MAX_BLOCK, max(1 << 16, row_bytes * batch_rows)))
    read_options = pacsv.ReadOptions(
        block_size=block,
        encoding="utf8" if encoding in _UTF8 else encoding,
        use_threads=True,
    )
    parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in raw_names},
        null_values=NA_VALUES,
        strings_can_be_null=True,
    )
    decimal = _decimal_point(text, delimiter)
    info = StreamInfo(where, "tsv" if delimiter == "\t" else "csv", names, delimiter, encoding)

    def batches() -> Iterator[pd.DataFrame]:
        try:
            reader = pacsv.open_csv(
                raw,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            pending: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                if rows >= batch_rows:
                    yield from _slices(_frame(pending, names, numeric, decimal), batch_rows)
                    pending, rows = [], 0
            if pending:
                yield from _slices(_frame(pending, names, numeric, decimal), batch_rows)
        except pa.ArrowInvalid as exc:
            message = str(exc).splitlines()[0]
            raise DataError(
                f"cannot parse {where}: {message}",
                hint="check that every row has as many fields as the header",
            ) from None
        finally:
            raw.close()

    return info, batches()


def _frame(
    batches: list[pa.RecordBatch], names: list[str], numeric: set[str], decimal: str
) -> pd.DataFrame:
    """Parsed blocks as one DataFrame, the model's numeric columns cast where they can be."""
    table = pa.Table.from_batches(batches)
    arrays = [
        _numeric(col, decimal) if name in numeric else col
        for name, col in zip(names, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=names).to_pandas(
        split_blocks=True, self_destruct=True
    )


def _numeric(column: pa.ChunkedArray, decimal: str) -> pa.ChunkedArray:
    """The text column as float64 when every value is a number, else unchanged (see module)."""
    text = pc.replace_substring(column, ",", ".") if decimal == "," else column
    try:
        return pc.cast(pc.utf8_trim_whitespace(text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        grouped = ungroup_numbers(column, decimal)  # 1,234.5 as training read it
        return column if grouped is None else grouped


def _jsonl(raw: BinaryIO, where: str, batch_rows: int) -> tuple[StreamInfo, Iterator[pd.DataFrame]]:
    wrapper = io.TextIOWrapper(raw, encoding="utf-8-sig")
    try:
        reader: Any = pd.read_json(
            wrapper,  # type: ignore[call-overload]
            lines=True,
            orient="records",
            dtype=False,
            chunksize=batch_rows,
        )
        first = next(iter(reader), None)
    except ValueError as exc:
        raise DataError(
            f"cannot parse {where} as JSON Lines: {str(exc).splitlines()[0]}",
            hint="write one JSON object per line",
        ) from None
    if first is None:
        raise DataError(f"{where} has no rows")
    names = _clean_names([str(c) for c in first.columns], where)

    def batches() -> Iterator[pd.DataFrame]:
        try:
            first.columns = pd.Index(names)
            yield first
            for chunk in reader:
                chunk.columns = pd.Index(_clean_names([str(c) for c in chunk.columns], where))
                yield chunk
        except ValueError as exc:
            raise DataError(
                f"cannot parse {where} as JSON Lines: {str(exc).splitlines()[0]}",
                hint="write one JSON object per line",
            ) from None
        finally:
            wrapper.close()

    return StreamInfo(where, "jsonl", names, None, "utf-8"), batches()


def _parquet(path: str, where: str, batch_rows: int) -> tuple[StreamInfo, Iterator[pd.DataFrame]]:
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where} is not a readable Parquet file: {exc}") from None
    names = _clean_names(file.schema_arrow.names, where)

    def batches() -> Iterator[pd.DataFrame]:
        for batch in file.iter_batches(batch_size=batch_rows):
            frame = batch.to_pandas()
            frame.columns = pd.Index(names)
            yield frame

    return StreamInfo(where, "parquet", names), batches()


def _feather(path: str, where: str, batch_rows: int) -> tuple[StreamInfo, Iterator[pd.DataFrame]]:
    try:
        reader = pa.ipc.open_file(pa.memory_map(path))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where} is not a readable Arrow/Feather file: {exc}") from None
    names = _clean_names(reader.schema.names, where)

    def batches() -> Iterator[pd.DataFrame]:
        for i in range(reader.num_record_batches):
            frame = reader.get_batch(i).to_pandas()
            frame.columns = pd.Index(names)
            yield from _slices(frame, batch_rows)

    return StreamInfo(where, "feather", names), batches()


def _slices(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    if len(frame) <= rows:
        yield frame
        return
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]
