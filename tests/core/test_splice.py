"""`splice.line_for`: the new line says exactly the target row, and keeps the bytes of every other field."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from brewslm_tui.core.store.splice import line_for

KEYS = st.sampled_from(
    ["id", "prompt", "completion", "review_status", "reject_reason", "review_note", "x", "é", 'q"']
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
OWNED = st.sampled_from(["review_status", "reject_reason", "review_note", "prompt", "new_field"])


@settings(max_examples=300, deadline=None)
@given(
    row=st.dictionaries(KEYS, VALUES, max_size=6),
    changes=st.dictionaries(OWNED, st.none() | st.text(max_size=6) | st.just("REMOVE"), max_size=4),
    spaced=st.booleans(),
    ascii_only=st.booleans(),
)
def test_spliced_lines_say_the_target_and_keep_the_rest(row, changes, spaced, ascii_only):
    separators = (", ", ": ") if spaced else (",", ":")
    raw = json.dumps(row, separators=separators, ensure_ascii=ascii_only).encode()
    disk = orjson.loads(raw)
    target = dict(disk)
    for key, value in changes.items():
        if value == "REMOVE":
            target.pop(key, None)
        else:
            target[key] = value
    line = line_for(raw, disk, target)
    assert line.endswith(b"\n") and orjson.loads(line) == target
    if raw != orjson.dumps(disk):  # spliced, not dumped: every untouched member's bytes are there
        for key, value in disk.items():
            if key not in changes:
                member = json.dumps({key: value}, separators=separators, ensure_ascii=ascii_only).encode()[
                    1:-1
                ]
                assert member in line
