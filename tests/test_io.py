"""Reading user tables: formats, delimiters, encodings, late type changes and every bad input."""

from __future__ import annotations

import hashlib
import io
import os
import random
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as pafeather
import pyarrow.parquet as pq
import pytest

from automl_cli.core import io as tio
from automl_cli.core.io import TableInfo, check_target, detect_format, read_table
from automl_cli.errors import EXIT_BAD_DATA, DataError

SHARED_TITANIC = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "titanic.csv"


def write(path: Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def data_error(source: str | Path, stdin: BinaryIO | None = None) -> DataError:
    """Read and return the DataError it must raise (exit 3, one line)."""
    with pytest.raises(DataError) as info:
        read_table(source, stdin=stdin)
    err = info.value
    assert err.exit_code == EXIT_BAD_DATA == 3
    assert "\n" not in err.message
    assert err.hint
    return err


# --------------------------------------------------------------------------- CSV dialects


@pytest.mark.parametrize(
    ("delimiter", "fmt"), [(",", "csv"), (";", "csv"), ("\t", "tsv"), ("|", "csv")]
)
def test_delimiter_is_detected(tmp_path: Path, delimiter: str, fmt: str) -> None:
    rows = [["id", "name", "score"], ["1", "Ann Lee", "0.5"], ["2", "Bo", "1.25"], ["3", "Cy", ""]]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    frame, info = read_table(write(tmp_path / "data.txt", text))
    assert list(frame.columns) == ["id", "name", "score"]
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["name"].tolist() == ["Ann Lee", "Bo", "Cy"]
    assert frame["score"].iloc[:2].tolist() == [0.5, 1.25]
    assert pd.isna(frame["score"].iloc[2])
    assert (info.delimiter, info.format, info.rows, info.columns) == (delimiter, fmt, 3, 3)


def test_delimiter_inside_quotes_does_not_fool_detection(tmp_path: Path) -> None:
    text = 'a;b\n"x, y, z";1\n"p, q";2\n"r, s, t, u";3\n'
    frame, info = read_table(write(tmp_path / "q.csv", text))
    assert info.delimiter == ";"
    assert frame["a"].tolist() == ["x, y, z", "p, q", "r, s, t, u"]


def test_tsv_extension_means_tab(tmp_path: Path) -> None:
    frame, info = read_table(write(tmp_path / "d.tsv", "a,x\tb\n1,5\t2\n"))
    assert list(frame.columns) == ["a,x", "b"]
    assert info.format == "tsv" and info.delimiter == "\t"


def test_crlf_line_ends(tmp_path: Path) -> None:
    frame, _ = read_table(write(tmp_path / "w.csv", "a;b\r\n1;x\r\n2;y\r\n"))
    assert list(frame.columns) == ["a", "b"] and frame["b"].tolist() == ["x", "y"]


def test_header_longer_than_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the late text in the last column needs that column's raw header name to widen its type
    monkeypatch.setattr(tio, "SAMPLE_SIZE", 64)
    monkeypatch.setattr(tio, "CSV_BLOCK_SIZE", 4096)
    names = [f"feature_{j}" for j in range(40)]
    rows = "".join(",".join(str(i % (j + 2)) for j in range(40)) + "\n" for i in range(300))
    late = ",".join(["1"] * 39 + ["late"]) + "\n"
    path = write(tmp_path / "wide.csv", ",".join(names) + "\n" + rows + late)
    frame, info = read_table(path)
    assert list(frame.columns) == names and info.rows == 301
    assert frame["feature_39"].iloc[[0, 1, -1]].tolist() == ["0", "1", "late"]


def test_single_column_csv(tmp_path: Path) -> None:
    frame, info = read_table(write(tmp_path / "y.csv", "y\n1\n2\n3\n"))
    assert frame["y"].tolist() == [1, 2, 3] and info.columns == 1


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    frame, _ = read_table(write(tmp_path / "eu.csv", "name;price\nx;1,5\ny;22,25\n"))
    assert frame["price"].tolist() == [1.5, 22.25]


def test_quoted_newlines_in_values(tmp_path: Path) -> None:
    text = 'id,comment,n\n1,"first line\nsecond line",10\n2,"a ""quoted"", word",20\n3,plain,30\n'
    frame, info = read_table(write(tmp_path / "nl.csv", text))
    assert info.rows == 3
    assert frame["comment"].tolist() == ["first line\nsecond line", 'a "quoted", word', "plain"]
    assert frame["n"].tolist() == [10, 20, 30]


def test_na_strings_are_missing_but_question_mark_is_not(tmp_path: Path) -> None:
    text = "num,txt\n1,NA\nNaN,null\nnull,None\n4,?\n,N/A\n"
    frame, _ = read_table(write(tmp_path / "na.csv", text))
    assert frame["num"].isna().tolist() == [False, True, True, False, True]
    assert frame["txt"].isna().tolist() == [True, True, True, False, True]
    assert frame["txt"].iloc[3] == "?"


def test_header_names_are_stripped_and_blank_names_filled(tmp_path: Path) -> None:
    frame, _ = read_table(write(tmp_path / "h.csv", " a , ,c\n1,2,3\n"))
    assert list(frame.columns) == ["a", "unnamed_2", "c"]


# --------------------------------------------------------------------------- encodings


def test_utf8_bom_does_not_reach_first_header(tmp_path: Path) -> None:
    frame, info = read_table(write(tmp_path / "bom.csv", "\ufeffPassengerId,Name\n1,Zoë\n"))
    assert list(frame.columns) == ["PassengerId", "Name"]
    assert frame["Name"].tolist() == ["Zoë"]
    assert info.encoding == "utf-8-sig"


def test_cp1252_bytes_are_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "win.csv", "drink,price\ncafé,2\nthé – noir,3\n", "cp1252")
    frame, info = read_table(path)
    assert frame["drink"].tolist() == ["café", "thé – noir"]
    assert info.encoding == "cp1252"


def test_utf8_text_is_utf8(tmp_path: Path) -> None:
    frame, info = read_table(write(tmp_path / "u.csv", "city\nKraków\n東京\n"))
    assert frame["city"].tolist() == ["Kraków", "東京"] and info.encoding == "utf-8"


@pytest.mark.parametrize("late_rows", [3, 3000])
def test_cp1252_byte_after_the_sample_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late_rows: int
) -> None:
    # 3 rows: the bad byte is in pyarrow's first block (becomes binary); 3000: in a later one
    monkeypatch.setattr(tio, "SAMPLE_SIZE", 32)
    monkeypatch.setattr(tio, "CSV_BLOCK_SIZE", 4096)
    body = "".join(f"{i},plain\n" for i in range(late_rows))
    path = write(tmp_path / "late.csv", f"n,word\n{body}{late_rows},café\n", "cp1252")
    frame, info = read_table(path)
    assert info.encoding == "cp1252"
    assert frame["word"].iloc[-1] == "café"
    assert len(frame) == late_rows + 1


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    frame, info = read_table(write(tmp_path / "l1.csv", b"a,b\nx\x81y,1\n"))
    assert info.encoding == "latin-1"
    assert frame["a"].tolist() == ["x\x81y"]


# --------------------------------------------------------------------------- late type changes


def _late_value_csv(path: Path, rows: int, late: str, first: str = "{i}") -> Path:
    body = "".join(f"{first.format(i=i)},{i % 7}\n" for i in range(rows))
    return write(path, f"code,k\n{body}{late},1\n")


def test_text_after_many_numbers_becomes_a_text_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tio, "CSV_BLOCK_SIZE", 4096)  # first block ≈ 500 rows of 2000
    frame, info = read_table(_late_value_csv(tmp_path / "late.csv", 2000, "abc"))
    assert info.rows == 2001
    assert frame["code"].iloc[-1] == "abc"
    assert frame["code"].iloc[0] == "0" and frame["code"].iloc[1999] == "1999"
    assert frame["k"].dtype == np.int64


def test_float_after_many_ints_becomes_float(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tio, "CSV_BLOCK_SIZE", 4096)
    frame, _ = read_table(_late_value_csv(tmp_path / "f.csv", 2000, "2.5"))
    assert frame["code"].dtype == np.float64
    assert frame["code"].iloc[-1] == 2.5 and frame["code"].iloc[10] == 10.0


def test_value_after_all_missing_first_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tio, "CSV_BLOCK_SIZE", 4096)
    frame, _ = read_table(_late_value_csv(tmp_path / "n.csv", 2000, "late text", first=""))
    assert frame["code"].isna().sum() == 2000
    assert frame["code"].iloc[-1] == "late text"


def test_many_late_columns_settle_with_whole_file_inference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tio, "CSV_BLOCK_SIZE", 4096)
    names = [f"c{j}" for j in range(6)]
    body = "".join(",".join(str(i + j) for j in range(6)) + "\n" for i in range(1500))
    late = ",".join(f"t{j}" for j in range(6)) + "\n"
    frame, _ = read_table(write(tmp_path / "many.csv", ",".join(names) + "\n" + body + late))
    assert frame.iloc[-1].tolist() == [f"t{j}" for j in range(6)]
    assert frame["c5"].iloc[0] == "5"


def test_full_size_late_text_after_100k_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 10**6, 120_000).astype(str)
    values[110_000] = "abc"
    path = tmp_path / "big.csv"
    pd.DataFrame({"x": values, "y": rng.normal(size=120_000)}).to_csv(path, index=False)
    frame, info = read_table(path)
    assert info.rows == 120_000
    assert frame["x"].iloc[110_000] == "abc"
    assert frame["x"].iloc[0] == values[0]
    assert frame["y"].dtype == np.float64


# --------------------------------------------------------------------------- other formats


@pytest.fixture
def sample_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, 50),
            "income": rng.normal(5e4, 1e4, 50),
            "city": rng.choice(["Oslo", "Lima", "Pune"], 50),
            "label": rng.integers(0, 2, 50),
        }
    )


def _assert_same(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(frame.columns) == list(expected.columns)
    for col in expected.columns:
        assert frame[col].tolist() == pytest.approx(expected[col].tolist()) or (
            frame[col].tolist() == expected[col].tolist()
        )


def test_parquet_round_trip(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "d.parquet"
    sample_frame.to_parquet(path)
    frame, info = read_table(path)
    _assert_same(frame, sample_frame)
    assert isinstance(frame.index, pd.RangeIndex)
    assert (info.format, info.rows, info.columns, info.delimiter, info.encoding) == (
        "parquet",
        50,
        4,
        None,
        None,
    )


def test_parquet_named_index_becomes_a_column(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "i.parquet"
    keyed = sample_frame.set_axis(pd.Index(range(100, 150), name="row_id"))
    keyed.to_parquet(path)
    frame, _ = read_table(path)
    assert list(frame.columns) == ["row_id", *sample_frame.columns]
    assert frame["row_id"].tolist() == list(range(100, 150))
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0


def test_parquet_unnamed_index_is_dropped(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "u.parquet"
    sample_frame.iloc[::2].to_parquet(path)
    frame, _ = read_table(path)
    assert list(frame.columns) == list(sample_frame.columns) and len(frame) == 25
    assert frame.index.tolist() == list(range(25))


def test_feather_round_trip(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "d.feather"
    sample_frame.to_feather(path)
    frame, info = read_table(path)
    _assert_same(frame, sample_frame)
    assert info.format == "feather"


def test_arrow_ipc_stream_by_magic(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "stream.bin"
    table = pa.Table.from_pandas(sample_frame, preserve_index=False)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    frame, info = read_table(path)
    _assert_same(frame, sample_frame)
    assert info.format == "feather"


def test_jsonl_round_trip(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "d.jsonl"
    sample_frame.to_json(path, orient="records", lines=True)
    frame, info = read_table(path)
    _assert_same(frame, sample_frame)
    assert info.format == "jsonl"


def test_jsonl_key_changing_type_becomes_text(tmp_path: Path) -> None:
    frame, _ = read_table(write(tmp_path / "m.ndjson", '{"a": 1, "b": 2}\n{"a": "x", "b": 3}\n'))
    assert frame["a"].tolist() == ["1", "x"]
    assert frame["b"].tolist() == [2, 3]


def test_json_array_is_accepted(tmp_path: Path) -> None:
    frame, _ = read_table(write(tmp_path / "a.json", '[{"a": 1, "b": "u"}, {"a": 2, "b": "v"}]'))
    assert frame["a"].tolist() == [1, 2] and frame["b"].tolist() == ["u", "v"]


# --------------------------------------------------------------------------- stdin


def test_stdin_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    raw = b"x;y\n1;a\n2;b\n"
    frame, info = read_table("-", stdin=io.BytesIO(raw))
    assert frame["y"].tolist() == ["a", "b"]
    assert info.path == "-" and info.delimiter == ";" and info.size == len(raw)
    assert info.sha256 == hashlib.sha256(raw).hexdigest()
    assert not list(tmp_path.glob("automl-stdin-*")), "the spooled temp file must be deleted"


def test_stdin_parquet_by_magic(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    buf = io.BytesIO()
    sample_frame.to_parquet(buf)
    buf.seek(0)
    frame, info = read_table("-", stdin=buf)
    assert info.format == "parquet" and len(frame) == 50


def test_empty_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    err = data_error("-", stdin=io.BytesIO(b""))
    assert err.message == "stdin is empty"
    assert not list(tmp_path.glob("automl-stdin-*"))


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert data_error(path).message == f"file not found: {path}"


def test_directory(tmp_path: Path) -> None:
    err = data_error(tmp_path)
    assert str(tmp_path) in err.message and "directory" in err.message


@pytest.mark.parametrize("content", [b"", b"  \n\n\t \r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "empty.csv", content)
    assert data_error(path).message == f"{path} is empty"


@pytest.mark.parametrize("content", ["a,b,c\n", "a,b,c", "a,b,c\n\n\n"])
def test_header_only(tmp_path: Path, content: str) -> None:
    path = write(tmp_path / "h.csv", content)
    assert data_error(path).message == f"{path} has a header but no data rows"


def test_nul_bytes_in_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "nul.csv", b"a,b\n1,\x00\x00\x002\n")
    err = data_error(path)
    assert str(path) in err.message and "binary" in err.message


def test_random_bytes_in_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.csv", random.Random(0).randbytes(5000))
    assert "binary" in data_error(path).message


def test_parquet_bytes_named_csv_get_a_hint(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "really.csv"
    sample_frame.to_parquet(path)
    assert ".parquet" in data_error(path).hint


def test_corrupt_parquet(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    good = tmp_path / "good.parquet"
    sample_frame.to_parquet(good)
    path = write(tmp_path / "bad.parquet", good.read_bytes()[: good.stat().st_size // 2])
    err = data_error(path)
    assert err.message.startswith(f"{path} is not a readable Parquet file")


def test_corrupt_feather(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.feather", b"ARROW1\x00\x00" + random.Random(1).randbytes(300))
    assert "not a readable Arrow/Feather file" in data_error(path).message


def test_invalid_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"a": 1}\n{"a": \n')
    assert data_error(path).message.startswith(f"cannot parse {path} as JSON Lines")


def test_duplicate_csv_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "id,x,y,x ,y\n1,2,3,4,5\n")
    assert data_error(path).message == f"{path} has duplicate column names: 'x', 'y'"


def test_duplicate_parquet_columns(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["v", "v"])
    path = tmp_path / "dup.parquet"
    pq.write_table(table, path)
    assert "duplicate column names: 'v'" in data_error(path).message


def test_duplicate_feather_columns(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["w", "w"])
    path = tmp_path / "dup.feather"
    pafeather.write_feather(table, str(path))
    assert "duplicate column names: 'w'" in data_error(path).message


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    text = 'a,b,c\n1,2,3\n\n"multi\nline",5,6\n7,8,9,10\n11,12,13\n'
    path = write(tmp_path / "ragged.csv", text)
    err = data_error(path)
    assert err.message == f"{path} at line 6 has 4 fields but the header has 3 (comma-delimited)"


def test_short_row_deep_in_file(tmp_path: Path) -> None:
    body = "".join(f"{i},{i}\n" for i in range(5000))
    path = write(tmp_path / "short.csv", f"a,b\n{body}oops\n")
    assert "at line 5002 has 1 fields but the header has 2" in data_error(path).message


# --------------------------------------------------------------------------- check_target


def test_check_target_accepts_existing_column() -> None:
    check_target(["a", "Survived"], "Survived", path="t.csv")


@pytest.mark.parametrize("typo", ["survived", "Survivd", "SURVIVED", "survivied"])
def test_check_target_suggests_closest(typo: str) -> None:
    columns = ["PassengerId", "Survived", "Pclass", "Name", "Sex"]
    with pytest.raises(DataError) as info:
        check_target(columns, typo, path="titanic.csv")
    assert info.value.exit_code == 3
    assert info.value.message == f"target column '{typo}' is not in titanic.csv"
    assert "'Survived'" in info.value.hint


def test_check_target_lists_columns_when_nothing_is_close() -> None:
    columns = [f"feature_{i}" for i in range(12)]
    with pytest.raises(DataError) as info:
        check_target(columns, "zzz", path="-")
    assert info.value.message == "target column 'zzz' is not in stdin"
    assert "'feature_0'" in info.value.hint and "and 4 more" in info.value.hint


# --------------------------------------------------------------------------- info & detection


def test_table_info_hash_and_size(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "a,b\n1,2\n3,4\n")
    _, info = read_table(path)
    raw = path.read_bytes()
    assert info.sha256 == hashlib.sha256(raw).hexdigest()
    assert info.size == len(raw) == os.path.getsize(path)
    assert isinstance(info, TableInfo)
    assert info.to_dict() == {
        "path": str(path),
        "format": "csv",
        "sha256": info.sha256,
        "size": len(raw),
        "rows": 2,
        "columns": 2,
        "delimiter": ",",
        "encoding": "utf-8",
    }


@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("a.CSV", b"", "csv"),
        ("a.txt", b"", "csv"),
        ("a.tab", b"", "tsv"),
        ("a.pq", b"", "parquet"),
        ("a.arrow", b"", "feather"),
        ("a.ipc", b"", "feather"),
        ("a.ndjson", b"", "jsonl"),
        ("a.json", b"[", "jsonl"),
        ("data", b"PAR1\x15\x04", "parquet"),
        ("data", b"ARROW1\x00\x00", "feather"),
        ("-", b'  {"a": 1}\n', "jsonl"),
        ("-", b"a,b\n1,2\n", "csv"),
    ],
)
def test_detect_format(name: str, head: bytes, fmt: str) -> None:
    assert detect_format(name, head) == fmt


@pytest.mark.skipif(not SHARED_TITANIC.exists(), reason="shared titanic.csv is not present")
def test_shared_titanic() -> None:
    frame, info = read_table(SHARED_TITANIC)
    assert info.rows == len(frame) == 891
    assert info.format == "csv" and info.delimiter == ","
    assert frame.columns[0] == frame.columns[0].strip()
    check_target(list(frame.columns), "survived", path=info.path)
    assert set(frame["survived"].unique()) == {0, 1}
