"""A decided row written back byte for byte: only the fields the app owns change in its line.

Re-serialising a row would change bytes the app does not own: integers above 64 bits (orjson
reads them as floats), `1.10` -> `1.1`, `1e5` -> `100000.0`, spacing, escapes, duplicate keys.
So the new line is the old line with edits spliced in: the value of each changed top-level
field replaced where it stands, removed fields cut out with their separator, new fields
appended before the closing brace. When the old line is exactly what orjson would write (lines
this app wrote), the dict is simply dumped: the same bytes, faster.

A key that occurs twice at the top level is treated as JSON parsers do (the last one counts):
a changed field is changed in every occurrence, so every reader sees the new value.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from brewslm_tui.core.store.row_json import Member, loads_lenient, top_level_members

REMOVED = object()  # in `changes`: the field is taken out of the line


def splice_line(raw: bytes, changes: dict[str, Any]) -> bytes | None:
    """`raw` with each field in `changes` set to its value (or removed, for `REMOVED`); every
    other byte kept. None when `raw` is not a JSON object that can be spliced."""
    for key in [k for k, v in changes.items() if v is REMOVED]:
        parsed = top_level_members(raw)
        if parsed is None:
            return None
        raw = _remove(raw, parsed[0], key)
    parsed = top_level_members(raw)
    if parsed is None:
        return None
    members, close = parsed
    present = {member.key for member in members}
    out = []
    pos = 0
    for member in members:
        if member.key in changes and changes[member.key] is not REMOVED:
            out.append(raw[pos : member.value_start])
            out.append(orjson.dumps(changes[member.key]))
            pos = member.value_end
    added = b",".join(
        orjson.dumps(key) + b":" + orjson.dumps(value)
        for key, value in changes.items()
        if value is not REMOVED and key not in present
    )
    if added:
        at = members[-1].value_end if members else close
        out.append(raw[pos:at])
        out.append((b"," if members else b"") + added)
        pos = at
    out.append(raw[pos:])
    return b"".join(out)


def _remove(raw: bytes, members: list[Member], key: str) -> bytes:
    """`raw` without every top-level member named `key` (and one separator each)."""
    for k in range(len(members) - 1, -1, -1):
        member = members[k]
        if member.key != key:
            continue
        if k > 0:  # from the end of the previous value: its comma goes with it
            raw = raw[: members[k - 1].value_end] + raw[member.value_end :]
        elif len(members) > 1:  # the first of several: up to the next key
            raw = raw[: member.key_start] + raw[members[1].key_start :]
        else:
            raw = raw[: member.key_start] + raw[member.value_end :]
        parsed = top_level_members(raw)
        return raw if parsed is None else _remove(raw, parsed[0], key)
    return raw


def changed_fields(disk: dict, target: dict) -> dict[str, Any]:
    """What turns the row as parsed from its line into `target`: changed, new and removed fields."""
    changes: dict[str, Any] = {
        key: value for key, value in target.items() if key not in disk or disk[key] != value
    }
    changes.update((key, REMOVED) for key in disk if key not in target)
    return changes


def line_for(raw: bytes, disk: dict, target: dict) -> bytes:
    """The line (with its newline) that says `target`, keeping every byte of `raw` it can."""
    if _dumps(disk) == raw:  # a line as orjson writes it: dumping is byte-exact
        return orjson.dumps(target) + b"\n"
    spliced = splice_line(raw, changed_fields(disk, target))
    if spliced is None or _parsed(spliced) != target:  # never write a line that says something else
        spliced = dumps_faithfully(target)
    return spliced + b"\n"


def dumps_faithfully(row: dict) -> bytes:
    """orjson's bytes, unless they would not read back as `row` (a lone surrogate orjson cannot
    write, a non-finite number it writes as null): then Python's json, ASCII-escaped."""
    data = _dumps(row)
    if data is not None and _parsed(data) == row:
        return data
    return json.dumps(row, ensure_ascii=True, separators=(",", ":")).encode()


def _dumps(row: dict) -> bytes | None:
    try:
        return orjson.dumps(row)
    except TypeError:  # a str orjson cannot encode (a lone surrogate)
        return None


def _parsed(line: bytes) -> Any:
    try:
        return loads_lenient(line)
    except (ValueError, RecursionError):
        return None
