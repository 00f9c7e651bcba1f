"""The column-wise paths of bulk decisions give exactly what the per-row paths give.

`Store.ids_of` (the ids a journal entry names) must equal `id_of` row by row, whatever the
line looks like; a uniform decision applied column-wise (`_apply_uniform`) must leave the same
columns, counts, notes and drop times as the per-row loop of `_apply`.
"""

from __future__ import annotations

import random
import shutil

import orjson

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store import applying, decisions
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows

ODD_LINES = [
    b'{"id":"esc\\"aped","prompt":"p","completion":"positive"}',
    b'{"id":"uni\\u00e9","prompt":"p","completion":"positive"}',
    b'{"id":"caf\xc3\xa9-\xe2\x82\xac","prompt":"p","completion":"negative"}',
    b'{"prompt":"p","id":"not-first","completion":"positive"}',
    b'{ "id": "spaced", "prompt": "p", "completion": "positive"}',
    b'{"id":"","prompt":"p","completion":"positive"}',
    b'{"id":5,"prompt":"p","completion":"positive"}',
    b'{"prompt":"p","completion":"positive"}',
    b'{"id":"back\\\\slash","prompt":"p","completion":"positive"}',
    b'{"id":"twice","prompt":"p","completion":"positive","id":"again"}',
]


def _write_mixed(project, n=300, seed=1):
    rng = random.Random(seed)
    rows = make_rows(n)
    for k, row in enumerate(rows):
        if k % 7 == 0:
            row.update(review_status="rejected", reject_reason=rng.choice(["minor_typo", "off_task"]))
        if k % 11 == 0:
            row["review_note"] = f"note {k}"
    lines = [orjson.dumps(row) for row in rows]
    for k, odd in enumerate(ODD_LINES):
        lines.insert(rng.randrange(len(lines)), odd)
        if k % 2:
            lines.insert(rng.randrange(len(lines)), b"not json at all")
    project.synthetic_path.write_bytes(b"\n".join(lines) + b"\n")


def test_ids_of_equals_id_of_for_every_kind_of_line(tiny_project):
    _write_mixed(tiny_project)
    with Store.open(tiny_project) as store:
        everything = list(range(len(store)))
        assert store.ids_of(everything) == [store.id_of(i) for i in everything]
        rng = random.Random(2)
        for _ in range(20):
            slots = rng.sample(everything, rng.randrange(1, len(everything)))
            assert store.ids_of(slots) == [store.id_of(i) for i in slots]
        # rows that left for dropped.jsonl and came back are held in memory (virtual slots)
        rejected = [i for i in everything if store.status[i] == 2]
        store.drop(rejected[:20])
        store.compact()
        dropped_ids = [store.dropped.id_of(j) for j in range(len(store.dropped))]
        store.restore(dropped_ids[:10])
        everything = list(range(len(store)))
        assert store.ids_of(everything) == [store.id_of(i) for i in everything]
        assert store.index_of(store.id_of(len(store) - 1)) == len(store) - 1


def _state(store):
    return (
        bytes(store.status),
        bytes(store.reason),
        list(store.cols.counts),
        list(store.cols.reason_counts),
        list(store.reason_codes),
        dict(store.overlay.notes),
        dict(store.overlay.dropped_at),
        sorted(store.overlay.touched),
        [_untimed(store.row(i)) for i in range(len(store))],
    )


def _untimed(row: dict) -> dict:
    """The row without reviewed_at: the two stores decide the same a few ms apart."""
    row.pop("reviewed_at", None)
    return row


def test_uniform_decisions_column_wise_equal_the_row_loop(tiny_project, tmp_path, monkeypatch):
    _write_mixed(tiny_project, n=400)
    append_rows(tiny_project, make_rows(50, run="r2", start=5000))
    other_root = tmp_path / "copy"
    shutil.copytree(tiny_project.root, other_root)
    fast = Store.open(tiny_project)
    slow = Store.open(load_project(other_root))
    real_apply, real_uniform = applying.apply_entry, applying._apply_uniform

    def row_loop(store, entry, slots, unique=False):
        # `slow` always takes the row loop; `fast` takes the column-wise path where it can
        return real_apply(store, entry, slots, unique=unique and store is not slow)

    def uniform(store, entry, slots):
        assert store is not slow
        return real_uniform(store, entry, slots)

    monkeypatch.setattr(decisions, "apply_entry", row_loop)
    monkeypatch.setattr(applying, "_apply_uniform", uniform)

    rng = random.Random(3)
    try:
        for step in range(60):
            n = len(fast)
            slots = rng.sample(range(n), rng.randrange(1, n // 2))
            op = rng.choice(["approve", "reject", "reject_note", "pending", "drop", "undo"])
            reason = rng.choice(["minor_typo", "label_ambiguous"])
            for store in (fast, slow):
                if op == "approve":
                    store.approve(slots)
                elif op == "reject":
                    store.reject(slots, reason)
                elif op == "reject_note":
                    store.reject(slots, "off_task", note=f"n{step}")
                elif op == "pending":
                    store.set_pending(slots)
                elif op == "drop":
                    store.drop(slots)
                else:
                    store.undo()
            a, b = _state(fast), _state(slow)
            assert a[:5] == b[:5] and a[7:] == b[7:], (step, op)
            assert a[5] == b[5] and sorted(a[6]) == sorted(b[6])
    finally:
        fast.close()
        slow.close()
    # and what they journaled replays to the same rows
    again_fast, again_slow = (
        Store.open(tiny_project, readonly=True),
        Store.open(load_project(other_root), readonly=True),
    )
    assert [_untimed(again_fast.row(i)) for i in range(len(again_fast))] == [
        _untimed(again_slow.row(i)) for i in range(len(again_slow))
    ]
