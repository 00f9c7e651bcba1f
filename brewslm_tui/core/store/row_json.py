"""How a row's line of JSON is read: the parse, and the shape of its top level.

orjson reads every line; what it refuses but Python's json reads (the parser most training
scripts use) is read that way, so such a line is a row and not a malformed line. Of two equal
keys the last one counts, as in every parser this app meets; `top_level_members` finds where
each top-level member's bytes are, for splicing (`splice`) and for spotting a second "id".
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


def loads_lenient(raw: bytes) -> Any:
    """orjson's parse; for JSON it refuses that Python's json reads (what training scripts use):
    lone surrogate escapes (`\\ud800`), numbers beyond a double (`1e400`), NaN and Infinity,
    that parse. Such a line is a row like any other; its bytes are kept (see `splice`).
    Raises orjson's error when neither reads it (invalid UTF-8, deeper than ~1000 levels)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as refused:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise refused from None


# a JSON string (unrolled: fast on long strings) or one structural character
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]')
_WS = b" \t\r\n"


class Member:
    __slots__ = ("key", "key_start", "value_end", "value_start")

    def __init__(self, key: str, key_start: int) -> None:
        self.key = key
        self.key_start = key_start
        self.value_start = -1
        self.value_end = -1


def top_level_members(raw: bytes) -> tuple[list[Member], int] | None:
    """The top-level members of the JSON object in `raw` and the offset of its closing brace
    (None when `raw` is not one object: then nothing is spliced)."""
    members: list[Member] = []
    depth = 0
    expect_key = False
    current: Member | None = None
    close = -1
    for m in _TOKEN.finditer(raw):
        c = raw[m.start()]
        if c == 0x22:  # a string
            if depth == 1 and expect_key:
                current = Member(loads_lenient(m.group()), m.start())
                expect_key = False
            continue
        if c in b"{[":
            depth += 1
            if depth == 1:
                if c != 0x7B or raw[: m.start()].strip(_WS):
                    return None
                expect_key = True
            continue
        if depth == 1 and c in b",}" and current is not None:
            end = m.start()
            while end > current.value_start and raw[end - 1] in _WS:
                end -= 1
            current.value_end = end
            members.append(current)
            current = None
        if c in b"}]":
            if depth == 1:
                close = m.start()
                if raw[m.end() :].strip(_WS):
                    return None
            depth -= 1
            if depth < 0:
                return None
        elif depth == 1 and c == 0x3A and current is not None:  # ':'
            start = m.end()
            while start < len(raw) and raw[start] in _WS:
                start += 1
            current.value_start = start
        elif depth == 1 and c == 0x2C:  # ','
            expect_key = True
    if close < 0 or depth != 0 or any(member.value_start < 0 for member in members):
        return None
    return members, close


def two_id_keys(raw: bytes) -> bool:
    """True when the object in `raw` has "id" twice at its top level. Then, as in every JSON
    parser this app meets (orjson, Python's json, jq), the last one counts; the fast id read
    (`file_rows.ID_PREFIX`) would see the first, so such rows are listed in `Columns.dupid`."""
    parsed = top_level_members(raw)
    return parsed is not None and sum(member.key == "id" for member in parsed[0]) > 1
