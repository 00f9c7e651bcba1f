"""JSON Lines and JSON array files: one object per example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from brewslm_tui.core.importing.records import ImportFormatError, Record

BOM = b"\xef\xbb\xbf"
ARRAY_KEYS = ("records", "data", "rows", "examples", "items")  # {"records": [...]} wrappers


def read_jsonl(path: Path) -> Iterator[tuple[Record, Any]]:
    """(record, parsed object) per non-blank line; a bad line is a record with `problem`."""
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if lineno == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Record(where, problem=f"not JSON ({exc})", raw=_text(line)), None
                continue
            yield _object_record(where, obj, line), obj


def read_json_array(path: Path) -> Iterator[tuple[Record, Any]]:
    """(record, object) per element of a JSON array (or of the list under "records", "data", ...)."""
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        top = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: not a JSON file ({exc})") from None
    items = top
    if isinstance(top, dict):
        items = next((top[k] for k in ARRAY_KEYS if isinstance(top.get(k), list)), None)
    if not isinstance(items, list):
        raise ImportFormatError(
            f"{path}: a JSON file to import holds an array of objects (or one under "
            f"{', '.join(repr(k) for k in ARRAY_KEYS)})"
        )
    for n, obj in enumerate(items, start=1):
        yield _object_record(f"{path.name}[{n}]", obj, None), obj


def first_object(path: Path, array: bool) -> dict | None:
    """The first example of a JSON / JSONL file, to tell which tool wrote it (None: no object)."""
    reader = read_json_array(path) if array else read_jsonl(path)
    try:
        for record, obj in reader:
            if record.problem is None:
                return obj
            return None
    except ImportFormatError:
        return None
    return None


def _object_record(where: str, obj: Any, line: bytes | None) -> Record:
    if not isinstance(obj, dict):
        raw = _text(line) if line is not None else orjson.dumps(obj).decode()
        return Record(where, problem=f"a JSON {type(obj).__name__}, not an object", raw=raw)
    return Record(where, fields=obj)


def _text(line: bytes) -> str:
    return line.rstrip(b"\r\n").decode("utf-8", "replace")
