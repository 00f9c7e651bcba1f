"""Compaction copies unchanged rows in few calls, and writes exactly the bytes it always wrote.

The expected file is built here the plain way, one slot at a time: a row left out when dropped,
written anew when the journal changed it (or it came back from dropped.jsonl), else its line as
it is in the old file. The compacted file must equal it byte for byte, whichever way the spans
are copied (all by the kernel, all through the buffer in windows big or small, or the default mix).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from brewslm_tui.core.rows import DROPPED
from brewslm_tui.core.store import compaction, fsio
from brewslm_tui.core.store.columns import VIRTUAL
from brewslm_tui.core.store.store import Store
from tests.helpers import make_project, make_rows


class CountingFS:
    """A `fsio` hook that counts the calls per operation."""

    def __init__(self) -> None:
        self.by_op: Counter[str] = Counter()

    def call(self, op, target, fn, *args):
        self.by_op[op] += 1
        return fn(*args)


def expected_synthetic(store: Store) -> bytes:
    """What compaction must write, slot by slot, without any coalescing."""
    out = bytearray()
    for i in range(len(store)):
        if store.cols.status[i] == DROPPED:
            continue
        off = store.cols.offsets[i]
        if off == VIRTUAL or store.is_dirty(i):
            out += store.disk_line(i)[0]
        else:
            out += store.file.line(off) + b"\n"
    return bytes(out)


def varied_project(tmp_path: Path):
    """300 rows and a malformed line; decisions at the start, the end, adjacent, isolated; drops
    (adjacent and at the end) and a row restored from dropped.jsonl."""
    project = make_project(tmp_path, rows=make_rows(300))
    with Store.open(project) as store:
        store.reject([40], "label_ambiguous")
        store.drop([40])
        store.compact()  # r000040 now lives in dropped.jsonl
    path = project.root / "data" / "synthetic.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:150]) + b'{"id": "broken", "prompt": \n' + b"".join(lines[150:]))
    with Store.open(project) as store:
        store.approve([0])
        store.reject([len(store) - 1], "off_task")
        store.approve([10, 11, 12])
        store.reject([13], "minor_typo", note="adjacent to the approvals")
        store.edit(77, completion="neutral")
        store.approve([149, 150])  # around the malformed line
        store.reject([200, 201, len(store) - 2], "duplicate")
        store.drop([200, 201, len(store) - 2])
        store.restore(["r000040"])
    return project


@pytest.mark.parametrize(
    ("copy_min", "window"),
    [(1, None), (None, None), (1 << 40, None), (1 << 40, 300)],
    ids=["all-kernel", "default", "all-read", "all-read-small-windows"],
)
def test_compacted_file_is_byte_for_byte_the_plain_one(tmp_path, monkeypatch, copy_min, window):
    if copy_min is not None:
        monkeypatch.setattr(compaction, "_COPY_MIN", copy_min)
    if window is not None:  # a window smaller than some spans, refilled often
        monkeypatch.setattr(compaction, "_WINDOW", window)
    project = varied_project(tmp_path)
    with Store.open(project) as store:
        store.finish_loading()
        store.refresh()
        want = expected_synthetic(store)
        report = store.compact()
        rows_after = [store.row(i) for i in range(len(store))]
    got = (project.root / "data" / "synthetic.jsonl").read_bytes()
    assert got == want
    assert report.restored == 1 and report.malformed_removed == 1
    with Store.open(project) as store:  # the derived columns describe the file the same as a fresh read
        assert [store.row(i) for i in range(len(store))] == rows_after
        assert not store.problems


def test_isolated_decisions_cost_a_few_writes_not_one_per_row(tmp_path):
    """Every 10th of 2,000 rows decided: the old way flushed and copied once per decided row."""
    project = make_project(tmp_path, rows=make_rows(2000))
    with Store.open(project) as store:
        store.approve(range(0, 2000, 10))
        counting = CountingFS()
        previous = fsio.install(counting)
        try:
            store.compact()
        finally:
            fsio.install(previous)
    assert 0 < counting.by_op["write"] <= 10, counting.by_op
