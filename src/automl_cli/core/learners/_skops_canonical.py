"""A canonical form for skops files, so the same model always saves to the same bytes.

skops names things after ``id()``: every node's ``__id__`` in ``schema.json`` and the
arrays' member names (``<id>.npy``, ``<id>.npz``); ``bytes`` members get a random
``<uuid4>.bin``. The zip entries carry the time of saving. So two identical estimators give
different files, and a reproducibility check cannot compare them byte for byte.

The canonical form keeps skops' own format and only renames:

* every ``__id__`` and every member stem that is such an id becomes 1, 2, 3, … in order of
  first appearance in ``schema.json`` (skops' key order, read top to bottom); other stems
  (the uuids) draw from the same counter. Equal ids stay equal and distinct ids distinct,
  so skops' loader shares exactly the objects it shared before. Numbering starts at 1
  because skops ignores a falsy ``__id__``;
* ``schema.json`` is written as skops writes it (``json.dumps(indent=2)``, same key order);
* the zip has the data members in order of first reference, then ``schema.json``, each
  stored uncompressed with date 1980-01-01 00:00:00, mode 0644 and a Unix creator;
  an ``.npz`` member (scipy sparse) is itself a zip with timestamps and gets the same
  treatment inside.

The rewrite refuses a file it does not fully understand (a member no ``file`` key names, a
``file`` key naming no member, an ``__id__`` that is not an int) rather than write a file
that might not load. It is no security boundary: loading still goes through skops' audit
with the caller's own trusted list.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from zipfile import ZIP_STORED, ZipFile, ZipInfo

__all__ = ["canonical_skops", "canonicalize_skops_file", "write_canonical_skops"]

SCHEMA = "schema.json"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
MEMBER_ATTR = (stat.S_IFREG | 0o644) << 16
UNIX = 3  # ZipInfo's create_system is 0 on Windows, 3 elsewhere: pin it
_ID_STEM = re.compile(r"0|[1-9][0-9]*")
_NAME = re.compile(r"([A-Za-z0-9_-]+)(\.[A-Za-z0-9]+)?")

_Token = tuple[str, int | str]


class _Renumbering:
    """Sequential numbers for ids and member names, handed out on first sight."""

    def __init__(self) -> None:
        self.numbers: dict[_Token, int] = {}
        self.renames: dict[str, str] = {}  # old member name -> new, in first-reference order

    def number(self, token: _Token) -> int:
        return self.numbers.setdefault(token, len(self.numbers) + 1)

    def node_id(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"skops schema has a non-integer __id__ {value!r}")
        return self.number(("id", value))

    def member(self, name: Any) -> str:
        if not isinstance(name, str):
            raise ValueError(f"skops schema has a non-string file name {name!r}")
        if name not in self.renames:
            match = _NAME.fullmatch(name)
            if match is None or name == SCHEMA:
                raise ValueError(f"skops schema names an unexpected member {name!r}")
            stem, suffix = match.group(1), match.group(2) or ""
            token: _Token = ("id", int(stem)) if _ID_STEM.fullmatch(stem) else ("name", name)
            self.renames[name] = f"{self.number(token)}{suffix}"
        return self.renames[name]

    def walk(self, value: Any) -> Any:
        """A copy of ``value`` with ids and member names replaced, key order kept.

        Only a node's own ``__id__`` and ``file`` are rewritten: a node is a dict with a
        string ``__loader__``; a user dict's keys hold node dicts, never bare values.
        """
        if isinstance(value, list):
            return [self.walk(item) for item in value]
        if not isinstance(value, dict):
            return value
        node = isinstance(value.get("__loader__"), str)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if node and key == "__id__":
                out[key] = self.node_id(item)
            elif node and key == "file":
                out[key] = self.member(item)
            else:
                out[key] = self.walk(item)
        return out


def _info(name: str) -> ZipInfo:
    """An entry header with nothing taken from the clock or the platform."""
    info = ZipInfo(name, date_time=EPOCH)
    info.compress_type = ZIP_STORED
    info.external_attr = MEMBER_ATTR
    info.create_system = UNIX
    return info


def _copy_members(source: ZipFile, members: list[tuple[str, str]], out: ZipFile) -> None:
    """Copy ``source``'s members ``(old, new)`` into ``out`` in that order, canonically."""
    for old, new in members:
        data = source.read(old)
        if new.endswith(".npz"):
            data = _canonical_npz(data)
        out.writestr(_info(new), data)


def _canonical_npz(data: bytes) -> bytes:
    """numpy's savez stamps each array with the current time; keep names and order."""
    buffer = io.BytesIO()
    with ZipFile(io.BytesIO(data)) as inner:
        names = inner.namelist()
        if len(set(names)) != len(names):
            raise ValueError("an .npz member of the skops file repeats a name")
        with ZipFile(buffer, "w", compression=ZIP_STORED) as out:
            _copy_members(inner, [(n, n) for n in names], out)
    return buffer.getvalue()


def _write_canonical(source: ZipFile, dest: IO[bytes]) -> None:
    names = source.namelist()
    if len(set(names)) != len(names) or SCHEMA not in names:
        raise ValueError("not a skops file: schema.json missing or a member name repeated")
    renumbering = _Renumbering()
    schema = renumbering.walk(json.loads(source.read(SCHEMA)))
    data_members = set(names) - {SCHEMA}
    named = set(renumbering.renames)
    if named != data_members:
        raise ValueError(
            "skops schema and members disagree: "
            f"unreferenced {sorted(data_members - named)}, missing {sorted(named - data_members)}"
        )
    with ZipFile(dest, "w", compression=ZIP_STORED) as out:
        _copy_members(source, list(renumbering.renames.items()), out)
        out.writestr(_info(SCHEMA), json.dumps(schema, indent=2).encode("utf-8"))


def canonical_skops(data: bytes) -> bytes:
    """The canonical form of the skops file ``data`` (see the module docstring)."""
    buffer = io.BytesIO()
    with ZipFile(io.BytesIO(data)) as source:
        _write_canonical(source, buffer)
    return buffer.getvalue()


def _replace_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a temp file beside ``path`` and rename it over: readers never see half a file.

    ``open(…, "xb")`` rather than ``mkstemp`` so the file gets the usual umask-based mode,
    not 0600.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_canonical_skops(data: bytes, path: Path) -> None:
    """Save the skops file ``data`` (``skops.io.dumps``) at ``path`` in canonical form."""
    with ZipFile(io.BytesIO(data)) as source:
        _replace_atomically(Path(path), lambda f: _write_canonical(source, f))


def canonicalize_skops_file(path: Path) -> None:
    """Rewrite the skops file at ``path`` in place; a file already canonical is unchanged."""
    write_canonical_skops(Path(path).read_bytes(), path)
