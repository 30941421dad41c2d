"""Read a user's table (CSV/TSV, Parquet, Feather/Arrow IPC, JSON Lines, or CSV on stdin).

Every bad input becomes a one-line :class:`DataError` (exit 3) naming the file, never a raw
pyarrow traceback. CSV goes through ``pyarrow.csv`` for speed, with the field lessons of
the design notes built in: delimiter and encoding are detected from a sample, a UTF-8 BOM
never reaches the first header, quoted newlines work, and a late type change deep in a
column falls back cleanly instead of failing. Conversion to pandas lets Arrow free each
column as it goes, so a read peaks near one copy of the table, not two.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import difflib
import io
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, NoReturn

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as pafeather
import pyarrow.json as pajson
import pyarrow.parquet as pq

from automl_cli.errors import DataError, OutOfMemoryError
from automl_cli.hashing import sha256_file

__all__ = ["TableInfo", "check_target", "detect_format", "read_table", "ungroup_numbers"]

#: Bytes per pyarrow CSV block; large for throughput. Module-level so tests can shrink it.
CSV_BLOCK_SIZE = 16 << 20
#: Bytes per pyarrow JSON block (a single JSON line must fit in one block).
JSON_BLOCK_SIZE = 16 << 20
#: Bytes sampled from the start of a file to detect format, encoding and delimiter.
SAMPLE_SIZE = 64 << 10

#: pandas' default missing-value strings (deliberately without "?").
NA_VALUES = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_UTF8 = ("utf-8", "utf-8-sig")
_SAMPLE_RECORDS = 200
_WIDE_SAMPLE_SIZE = 16 << 20
_STREAMING_TYPE_RETRIES = 3
_CONTROL_BYTES = bytes([*(b for b in range(32) if b not in (9, 10, 12, 13)), 127])
_SHOWN_COLUMNS = 8
_CONVERSION_RE = re.compile(
    r"In CSV column #(\d+).*conversion error to (\w+): invalid value '(.*)'"
)
_FIELD_COUNT_RE = re.compile(r"(?:Row #(\d+): )?Expected (\d+) columns, got (\d+)")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_GROUPED_DOT = r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"  # 1,234,567.89 (or plain 12.5)
_GROUPED_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"  # 1.234.567,89 (or plain 12,5)
_FORMAT_HINTS = {
    "parquet": "check that the file is Parquet (not truncated), or give it its real extension",
    "feather": "check that the file is Arrow/Feather, or give it its real extension",
    "jsonl": "write one JSON object per line (JSON Lines), encoded as UTF-8",
}


@dataclass(frozen=True)
class TableInfo:
    """What was read, for manifests (inputs: path, sha256, size, rows) and messages."""

    path: str
    format: str
    sha256: str
    size: int
    rows: int
    columns: int
    delimiter: str | None
    encoding: str | None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict."""
        return dataclasses.asdict(self)


def read_table(
    source: str | os.PathLike[str], *, stdin: BinaryIO | None = None
) -> tuple[pd.DataFrame, TableInfo]:
    """Read a table into pandas; ``"-"`` spools stdin to a temp file so it can be hashed."""
    shown = os.fspath(source)
    if shown != "-":
        return _read_path(shown, shown)
    stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise DataError("stdin is not available", hint="pass a file path instead of '-'")
    fd, tmp = tempfile.mkstemp(prefix="automl-stdin-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        if os.path.getsize(tmp) == 0:
            raise DataError(
                "stdin is empty",
                hint="pipe a table into automl, e.g. 'cat data.csv | automl predict -'",
            )
        return _read_path(tmp, "-")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def check_target(columns: Sequence[str], target: str, *, path: str = "") -> None:
    """Fail early, with the likely intended name, when the target column does not exist."""
    if target in columns:
        return
    where = _where(path) if path else "the data"
    by_lower: dict[str, list[str]] = {}
    for col in columns:
        by_lower.setdefault(str(col).strip().lower(), []).append(str(col))
    key = target.strip().lower()
    close = by_lower.get(key) or [
        name
        for match in difflib.get_close_matches(key, list(by_lower), n=3, cutoff=0.6)
        for name in by_lower[match]
    ]
    if close:
        hint = f"did you mean {_quoted(close[:3], ' or ')}? (names are case-sensitive)"
    elif columns:
        more = f" and {len(columns) - _SHOWN_COLUMNS} more" if len(columns) > _SHOWN_COLUMNS else ""
        hint = f"the columns are {_quoted(list(columns)[:_SHOWN_COLUMNS], ', ')}{more}"
    else:
        hint = "the table has no columns"
    raise DataError(f"target column '{target}' is not in {where}", hint=hint)


def detect_format(path: str, head: bytes) -> str:
    """Format by extension first (users name files deliberately), then by magic bytes."""
    ext = os.path.splitext(path)[1].lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"ARROW1", b"FEA1", b"\xff\xff\xff\xff")):
        return "feather"
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"{"):
        return "jsonl"
    return "csv"


# --------------------------------------------------------------------------- dispatch


def _read_path(path: str, shown: str) -> tuple[pd.DataFrame, TableInfo]:
    """Check the path, sample its head, hash it and hand it to the right reader."""
    where = _where(shown)
    if not os.path.exists(path):
        raise DataError(f"file not found: {shown}", hint="check the path and the working directory")
    if os.path.isdir(path):
        raise DataError(f"{shown} is a directory, not a file", hint="pass the path of a data file")
    try:
        size = os.path.getsize(path)
        _check_memory_room(size, where)
        with open(path, "rb") as fh:
            head = fh.read(SAMPLE_SIZE)
        digest = sha256_file(path)
    except OSError as exc:
        raise DataError(
            f"cannot read {where}: {exc.strerror or exc}", hint="check the file's permissions"
        ) from exc
    if not head.strip() and _only_whitespace(path):
        raise DataError(f"{where} is empty", hint="write a header row and at least one data row")

    fmt = detect_format(shown, head)  # stdin ("-") has no extension: magic bytes decide
    delimiter: str | None = None
    encoding: str | None = None
    if fmt in ("csv", "tsv"):
        table, delimiter, encoding = _read_csv(path, where, head, fmt, size)
        fmt = "tsv" if delimiter == "\t" else "csv"
    elif fmt == "parquet":
        table = _read_parquet(path, where)
    elif fmt == "feather":
        table = _read_feather(path, where)
    else:
        table, encoding = _read_jsonl(path, where, head)

    if isinstance(table, pa.Table):
        if table.num_rows == 0:
            _raise_no_rows(where, fmt)
        frame = _to_pandas(table)
        del table
    else:
        frame = table
        if len(frame) == 0:
            _raise_no_rows(where, fmt)
    # renamed here, not in Arrow: Arrow's rename drops the pandas metadata (index, dtypes)
    frame.columns = pd.Index(_clean_names([str(c) for c in frame.columns], where))
    if frame.shape[1] == 0:
        raise DataError(f"{where} has no columns", hint="check that the file holds a table")
    info = TableInfo(
        path=shown,
        format=fmt,
        sha256=digest,
        size=size,
        rows=int(frame.shape[0]),
        columns=int(frame.shape[1]),
        delimiter=delimiter,
        encoding=encoding,
    )
    return frame, info


def _check_memory_room(size: int, where: str) -> None:
    """Refuse up front a file bigger than the memory this process may still take.

    A table in memory is at least about as big as its file, so such a read cannot succeed;
    letting it run out of memory inside pyarrow's reader threads can abort the process
    (a crash, not a message) instead of raising MemoryError.
    """
    room = _memory_room()
    if room is None or size <= room[0]:
        return
    free, limit = room
    raise OutOfMemoryError(
        f"{where} is {_mib(size)}, more than the {_mib(max(free, 0))} of memory this process "
        f"may still use (its limit is {_mib(limit)}): the table cannot be loaded",
        hint="raise the memory limit, use a machine with more memory, or pass a sample of "
        "the table; nothing was saved",
    )


def _memory_room() -> tuple[int, int] | None:
    """(bytes this process may still take, the limit) under an address-space limit
    (``ulimit -v``) or a cgroup v2 memory limit; None when neither applies."""
    rooms: list[tuple[int, int]] = []
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            rooms.append((soft - _status_kib("VmSize") * 1024, soft))
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/cgroup") as fh:
            group = next(line for line in fh if line.startswith("0::")).strip()[3:]
        base = os.path.join("/sys/fs/cgroup", group.lstrip("/"))
        with open(os.path.join(base, "memory.max")) as fh:
            text = fh.read().strip()
        if text != "max":
            with open(os.path.join(base, "memory.current")) as fh:
                used = int(fh.read().strip())
            rooms.append((int(text) - used, int(text)))
    return min(rooms) if rooms else None


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise ValueError(field)


def _mib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas freeing each column as converted; a named pandas index becomes a column."""
    frame = table.to_pandas(split_blocks=True, self_destruct=True, date_as_object=False)
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and (index.start, index.step) == (0, 1)
    if not default or index.name is not None:
        named = all(name is not None for name in index.names)
        frame = frame.reset_index(drop=not named)
    pa.default_memory_pool().release_unused()  # hand freed Arrow pages back for numpy's use
    return frame


# --------------------------------------------------------------------------- CSV


def _read_csv(path: str, where: str, head: bytes, fmt: str, size: int) -> tuple[pa.Table, str, str]:
    """CSV/TSV via pyarrow, retrying with a wider encoding or column type when pyarrow gives up.

    The streaming reader holds one block besides the table (the whole-file reader peaks near
    twice the table) but fixes types from the first block, so a late value of another kind
    fails; that column is then re-read as float or text. After a few such retries the
    whole-file reader, which loosens types itself, settles the rest in one pass.
    """
    _reject_binary(head, where)
    if size > len(head) and head.count(b"\n") < 3:  # a very wide header: sample more of it
        with open(path, "rb") as fh:
            head = fh.read(max(len(head), _WIDE_SAMPLE_SIZE))
    encoding = _detect_encoding(head)
    truncated = size > len(head)
    text = _decode_sample(head, encoding, truncated)
    delimiter = _sniff_delimiter(text, truncated, prefer_tab=fmt == "tsv")
    raw_names = _header(text, delimiter)
    _clean_names(raw_names, where)  # fail fast on duplicates before parsing the whole file
    decimal = _decimal_point(text, delimiter)
    column_types: dict[str, pa.DataType] = {}
    type_retries = 0
    for _ in range(2 * len(raw_names) + _STREAMING_TYPE_RETRIES + 4):
        try:
            table = _pyarrow_csv(
                path,
                delimiter,
                encoding,
                column_types,
                decimal,
                whole_file=type_retries >= _STREAMING_TYPE_RETRIES,
            )
        except MemoryError:
            raise  # pyarrow's ArrowMemoryError is also an ArrowException: not a parse error
        except UnicodeDecodeError:
            if encoding == "cp1252":
                encoding = "latin-1"
                continue
            raise DataError(
                f"cannot decode {where} as {encoding}", hint="save the file as UTF-8"
            ) from None
        except (pa.ArrowException, OSError, ValueError) as exc:
            msg = str(exc)
            if "invalid UTF8" in msg and encoding in _UTF8:
                encoding = "cp1252"
                continue
            if (widened := _widen_type(msg, raw_names, column_types)) is not None:
                column_types = widened
                type_retries += 1
                continue
            if "Empty CSV file" in msg:
                _raise_no_rows(where, fmt)  # a lone header without a line end
            raise _csv_error(msg, path, where, delimiter, encoding, raw_names) from None
        if encoding in _UTF8 and any(pa.types.is_binary(t) for t in table.schema.types):
            del table  # bytes that are not UTF-8 became a binary column: read as cp1252
            encoding = "cp1252"
            continue
        return _ungroup_columns(table, decimal), delimiter, encoding
    raise DataError(
        f"cannot settle the column types of {where}",
        hint="make each column hold one kind of value, or convert the file to Parquet",
    )


def _pyarrow_csv(
    path: str,
    delimiter: str,
    encoding: str,
    column_types: dict[str, pa.DataType],
    decimal: str,
    *,
    whole_file: bool = False,
    use_threads: bool = True,
) -> pa.Table:
    """One pyarrow pass; pyarrow skips a UTF-8 BOM itself, so utf-8-sig is read as utf8."""
    read_options = pacsv.ReadOptions(
        block_size=CSV_BLOCK_SIZE,
        encoding="utf8" if encoding in _UTF8 else encoding,
        use_threads=use_threads,
    )
    parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        column_types=column_types,
        null_values=NA_VALUES,
        strings_can_be_null=True,
        decimal_point=decimal,
    )
    if whole_file:
        return pacsv.read_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    with pacsv.open_csv(
        path,
        read_options=read_options,
        parse_options=parse_options,
        convert_options=convert_options,
    ) as reader:
        return reader.read_all()


def _widen_type(
    msg: str, raw_names: list[str], column_types: dict[str, pa.DataType]
) -> dict[str, pa.DataType] | None:
    """After "conversion error to int64: invalid value 'x'": that column as float or text."""
    match = _CONVERSION_RE.search(msg)
    if not match:
        return None
    index, target, value = int(match.group(1)), match.group(2), match.group(3)
    if index >= len(raw_names):
        return None
    name = raw_names[index]
    numeric = target.startswith(("int", "uint", "null")) and _NUMBER_RE.match(value.strip())
    new_type = pa.float64() if numeric else pa.string()
    if column_types.get(name) == new_type:
        return None  # no progress possible
    return {**column_types, name: new_type}


def _csv_error(
    msg: str, path: str, where: str, delimiter: str, encoding: str, raw_names: list[str]
) -> DataError:
    """Turn a pyarrow CSV failure into a one-liner; a ragged row is located by line."""
    match = _FIELD_COUNT_RE.search(msg)
    if not match:
        return DataError(
            f"cannot parse {where} as CSV: {_first_line(msg)}",
            hint="check that the file is a delimited text table",
        )
    expected, got = match.group(2), match.group(3)
    row = (
        int(match.group(1)) if match.group(1) else _ragged_row(path, delimiter, encoding, raw_names)
    )
    line = _physical_line(path, delimiter, encoding, row) if row else None
    at = f" at line {line}" if line else (f" at row {row}" if row else "")
    name = _DELIMITER_NAMES[delimiter]
    return DataError(
        f"{where}{at} has {got} fields but the header has {expected} ({name}-delimited)",
        hint=f"quote values that contain a {name}, or fix that row's number of fields",
    )


def _ragged_row(path: str, delimiter: str, encoding: str, raw_names: list[str]) -> int | None:
    """The record number (header = 1) single-threaded pyarrow reports for a ragged row.

    Every column is read as binary so that no conversion error can come first.
    """
    as_bytes = {name: pa.binary() for name in raw_names}
    try:
        _pyarrow_csv(path, delimiter, encoding, as_bytes, ".", use_threads=False)
    except (pa.ArrowException, ValueError) as exc:
        match = _FIELD_COUNT_RE.search(str(exc))
        if match and match.group(1):
            return int(match.group(1))
    return None


def _physical_line(path: str, delimiter: str, encoding: str, row: int) -> int | None:
    """Map pyarrow's record number (blank lines skipped) to the 1-based line an editor shows."""
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            end_of_previous, count = 0, 0
            for record in reader:
                if not record:
                    end_of_previous = reader.line_num
                    continue
                count += 1
                if count == row:
                    return end_of_previous + 1
                end_of_previous = reader.line_num
    except (csv.Error, OSError):
        return None
    return None


def _reject_binary(head: bytes, where: str) -> None:
    """NUL or many control bytes mean this is not text; say what it might be instead."""
    if not head:
        return
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if b"\x00" not in head and controls <= len(head) // 100:
        return
    hint = "give a CSV/TSV, Parquet, Feather or JSON Lines file"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        hint = "the file is UTF-16; save it as UTF-8"
    elif head.startswith(b"\x1f\x8b"):
        hint = "the file is gzip-compressed; decompress it first"
    elif (real := detect_format("", head)) in ("parquet", "feather"):
        hint = f"the bytes look like {real.capitalize()}; give the file a .{real} extension"
    raise DataError(f"{where} is not a text table (it contains binary bytes)", hint=hint)


def _detect_encoding(head: bytes) -> str:
    """BOM → utf-8-sig; valid UTF-8 → utf-8; else cp1252 if it decodes; else latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _decode_sample(head: bytes, encoding: str, truncated: bool) -> str:
    """Decode the sample, tolerating a multi-byte character cut at its end."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        head, final=not truncated
    )
    return text.removeprefix("\ufeff")


def _sample_records(text: str, delimiter: str, truncated: bool) -> list[list[str]]:
    """Records of the sample parsed with quotes respected; a cut-off last record is dropped."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in reader:
            if record and any(field.strip() for field in record):
                records.append(record)
            if len(records) > _SAMPLE_RECORDS:
                truncated = True
                break
    except csv.Error:
        return []
    if truncated and len(records) > 1:
        records.pop()
    return records


def _sniff_delimiter(text: str, truncated: bool, *, prefer_tab: bool) -> str:
    """The candidate whose field count is > 1 and most consistent with the header."""
    candidates = ("\t", *(d for d in _DELIMITERS if d != "\t")) if prefer_tab else _DELIMITERS
    best, best_key = ",", (0.0, 0)
    for delimiter in candidates:
        counts = [len(r) for r in _sample_records(text, delimiter, truncated)]
        if not counts or counts[0] < 2:
            continue
        consistency = sum(c == counts[0] for c in counts) / len(counts)
        if prefer_tab and delimiter == "\t" and consistency == 1.0:
            return delimiter
        key = (consistency, counts[0])
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _header(text: str, delimiter: str) -> list[str]:
    """The header's raw names as pyarrow will see them (for column_types)."""
    records = _sample_records(text, delimiter, truncated=False)
    return records[0] if records else []


def _decimal_point(text: str, delimiter: str) -> str:
    """A ';' file whose numbers look like 1,5 and never like 1.5 uses a decimal comma."""
    if delimiter != ";":
        return "."
    fields = [f.strip() for r in _sample_records(text, delimiter, True)[1:] for f in r]
    comma = sum(bool(re.fullmatch(r"-?(\d{1,3}(\.\d{3})+|\d+),\d+", f)) for f in fields)
    dot = sum(bool(re.fullmatch(r"-?\d+\.\d+", f)) for f in fields)
    return "," if comma and not dot else "."


def ungroup_numbers(column: pa.ChunkedArray, decimal: str) -> pa.ChunkedArray | None:
    """Text numbers written with thousands separators ("1,234.5", or "1.234,5" where the
    decimal mark is a comma) as float64; None unless every value is such a number and at
    least one has a separator (pyarrow has no thousands option, pandas' pyarrow engine
    neither)."""
    sep = "," if decimal == "." else "."
    trimmed = pc.utf8_trim_whitespace(column)
    try:
        if not _grouped(trimmed, decimal) or not pc.any(pc.match_substring(trimmed, sep)).as_py():
            return None
        plain = pc.replace_substring(trimmed, sep, "")
        if decimal == ",":
            plain = pc.replace_substring(plain, ",", ".")
        return pc.cast(plain, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _grouped(trimmed: pa.ChunkedArray, decimal: str) -> bool:
    """Every value (at least one) is a number, thousands-grouped or plain."""
    if trimmed.null_count == len(trimmed):
        return False
    pattern = _GROUPED_DOT if decimal == "." else _GROUPED_COMMA
    return bool(pc.all(pc.match_substring_regex(trimmed, pattern)).as_py())


def _ungroup_columns(table: pa.Table, decimal: str) -> pa.Table:
    """Text columns that hold only thousands-grouped numbers become float64 columns."""
    for i, field in enumerate(table.schema):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        head = pc.utf8_trim_whitespace(table.column(i).slice(0, 1000))
        if head.null_count < len(head) and not _grouped(head, decimal):
            continue  # the cheap test first: most text columns are not numbers
        numbers = ungroup_numbers(table.column(i), decimal)
        if numbers is not None:
            table = table.set_column(i, field.name, numbers)
    return table


def _only_whitespace(path: str) -> bool:
    """True when every byte of the file is whitespace (checked only if the head is blank)."""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if chunk.strip():
                return False
    return True


# --------------------------------------------------------------------------- binary formats


def _read_parquet(path: str, where: str) -> pa.Table:
    """Parquet; duplicate names are refused from the footer before any data is read."""
    try:
        _clean_names(pq.read_schema(path).names, where)
        return pq.read_table(path)
    except MemoryError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(
            f"{where} is not a readable Parquet file: {_first_line(str(exc))}",
            hint=_FORMAT_HINTS["parquet"],
        ) from None


def _read_feather(path: str, where: str) -> pa.Table:
    """Feather v1/v2 (Arrow IPC file), then the Arrow IPC stream format."""
    try:
        table = pafeather.read_table(path)
    except MemoryError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        try:
            with pa.OSFile(path) as fh:
                table = pa.ipc.open_stream(fh).read_all()
        except (pa.ArrowException, OSError, ValueError):
            raise DataError(
                f"{where} is not a readable Arrow/Feather file: {_first_line(str(exc))}",
                hint=_FORMAT_HINTS["feather"],
            ) from None
    _clean_names(table.column_names, where)
    return table


def _read_jsonl(path: str, where: str, head: bytes) -> tuple[pa.Table | pd.DataFrame, str]:
    """JSON Lines via pyarrow; a JSON array or a key whose type changes goes through pandas."""
    _reject_binary(head, where)
    is_array = head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"[")
    if not is_array:
        try:
            options = pajson.ReadOptions(block_size=JSON_BLOCK_SIZE)
            return pajson.read_json(path, read_options=options), "utf-8"
        except MemoryError:
            raise
        except (pa.ArrowException, OSError, ValueError) as exc:
            if "changed from" not in str(exc):
                raise DataError(
                    f"cannot parse {where} as JSON Lines: {_first_line(str(exc))}",
                    hint=_FORMAT_HINTS["jsonl"],
                ) from None
    try:
        frame = pd.read_json(path, lines=not is_array, orient="records", dtype=False)
    except ValueError as exc:
        raise DataError(
            f"cannot parse {where} as JSON: {_first_line(str(exc))}", hint=_FORMAT_HINTS["jsonl"]
        ) from None
    for col in frame.columns:  # a key holding numbers and text becomes text, not a mix
        values = frame[col]
        if values.dtype == object and values.map(type).nunique(dropna=True) > 1:
            frame[col] = values.map(lambda v: v if v is None or v != v else str(v))
    return frame, "utf-8"


# --------------------------------------------------------------------------- helpers


def _clean_names(names: Sequence[str], where: str) -> list[str]:
    """Strip names, call blank ones ``unnamed_<i>`` and refuse duplicates (pyarrow allows them)."""
    cleaned = [
        str(name).strip().removeprefix("\ufeff").strip() or f"unnamed_{i}"
        for i, name in enumerate(names, start=1)
    ]
    dups = [name for name, n in Counter(cleaned).items() if n > 1]
    if dups:
        raise DataError(
            f"{where} has duplicate column names: {_quoted(dups[:_SHOWN_COLUMNS], ', ')}",
            hint="rename the columns so that every name is unique",
        )
    return cleaned


def _raise_no_rows(where: str, fmt: str) -> NoReturn:
    if fmt in ("csv", "tsv"):
        raise DataError(f"{where} has a header but no data rows", hint="add data rows below it")
    raise DataError(f"{where} has no data rows", hint="write at least one row to the file")


def _where(shown: str) -> str:
    return "stdin" if shown == "-" else shown


def _quoted(names: Sequence[str], sep: str) -> str:
    return sep.join(f"'{name}'" for name in names)


def _first_line(msg: str, limit: int = 160) -> str:
    line = msg.strip().splitlines()[0] if msg.strip() else "unknown error"
    return line if len(line) <= limit else line[: limit - 1] + "…"
