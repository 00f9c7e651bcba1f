"""The sidecar column cache gives exactly what a cold parse gives, and is ignored when stale."""

from __future__ import annotations

import os

from brewslm_tui.core.store.store import Store, append_rows, column_cache
from tests.conftest import make_rows
from tests.helpers import column_state as columns

N = 20500  # above the size where the cache is written


def test_warm_open_equals_cold_open_and_appends_parse_only_the_tail(tiny_project):
    rows = make_rows(N)
    for k, row in enumerate(rows):
        if k % 5 == 0:
            row.update(review_status="rejected", reject_reason="minor_typo", review_note="n")
        if k % 997 == 0:
            del row["id"]
    append_rows(tiny_project, rows)
    with open(tiny_project.synthetic_path, "ab") as f:
        f.write(b"not json\n")
    cold = Store.open(tiny_project, readonly=True)
    assert column_cache.cache_path(tiny_project.state_dir).exists()
    warm = Store.open(tiny_project, readonly=True)
    assert columns(warm) == columns(cold)
    assert [str(p) for p in warm.problems] == [str(p) for p in cold.problems]
    assert warm.id_of(0) == cold.id_of(0) and warm.ids.assigned == cold.ids.assigned
    append_rows(tiny_project, make_rows(10, run="late-run", start=N))
    grown = Store.open(tiny_project, readonly=True)
    assert len(grown) == len(cold) + 10 and grown.run_of(len(grown) - 1) == "late-run"


def test_stale_or_corrupt_cache_is_ignored(tiny_project):
    append_rows(tiny_project, make_rows(N))
    Store.open(tiny_project, readonly=True)
    path = column_cache.cache_path(tiny_project.state_dir)
    # same inode, rewritten in place with different statuses at the same length
    data = tiny_project.synthetic_path.read_bytes().replace(
        b'"review_status":"pending"', b'"review_status":"approved"', 7
    )
    with open(tiny_project.synthetic_path, "r+b") as f:
        f.write(data)
    os.utime(tiny_project.synthetic_path, ns=(1, 1))
    assert Store.open(tiny_project, readonly=True).counts()["approved"] == 7
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    os.utime(tiny_project.synthetic_path, ns=(2, 2))
    assert Store.open(tiny_project, readonly=True).counts()["approved"] == 7
