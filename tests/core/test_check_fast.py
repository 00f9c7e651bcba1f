"""`Store.repeated_ids` (what `check` reports as "row id ... appears more than once") equals the
per-slot loop over `id_of` it replaced, and its one-pass id read (`_all_ids`) equals `id_of`
slot by slot, on files of every kind of line: the common layout, a BOM, ids repeated, an id
that is escaped, not first, missing or not a string, two "id" keys, `1e400`, `\\ud800`, big
integers, a malformed line, rows restored from dropped.jsonl. The export's approved slots are
the slots whose status is approved, in order."""

from __future__ import annotations

import orjson
import pytest

from brewslm_tui.core.export import approved_slots
from brewslm_tui.core.project import load_project
from brewslm_tui.core.rows import APPROVED
from brewslm_tui.core.store import store as store_module
from brewslm_tui.core.store.store import Store
from tests.helpers import make_project, make_rows

ODD = {
    "escaped id": b'{"id":"esc\\"aped","prompt":"p","completion":"positive"}',
    "unicode escape": b'{"id":"uni\\u00e9","prompt":"p","completion":"positive"}',
    "utf-8 id": b'{"id":"caf\xc3\xa9","prompt":"p","completion":"negative"}',
    "id not first": b'{"prompt":"p","id":"not-first","completion":"positive"}',
    "spaced": b'{ "id": "spaced", "prompt": "p", "completion": "positive"}',
    "empty id": b'{"id":"","prompt":"p","completion":"positive"}',
    "number id": b'{"id":5,"prompt":"p","completion":"positive"}',
    "no id": b'{"prompt":"p","completion":"positive"}',
    "two id keys": b'{"id":"twice","prompt":"p","completion":"positive","id":"again"}',
    "1e400": b'{"id":"big-float","prompt":"p","completion":"positive","score":1e400}',
    "lone surrogate": b'{"id":"surrogate","prompt":"p \\ud800","completion":"positive"}',
    "big int": b'{"id":"big-int","prompt":"p","completion":"positive","n":123456789012345678901234567890}',
    "malformed": b"not json at all",
}


def reference_repeated(store: Store) -> list[str]:
    """The loop `check` ran before."""
    seen: set[str] = set()
    out = []
    for i in range(len(store)):
        row_id = store.id_of(i)
        if row_id in seen:
            out.append(row_id)
        seen.add(row_id)
    return out


def write(project, lines: list[bytes], bom: bool = False) -> None:
    project.synthetic_path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + b"\n")


def common_lines(n: int, repeat_every: int = 0) -> list[bytes]:
    rows = make_rows(n)
    if repeat_every:
        for k in range(repeat_every, n, repeat_every):
            rows[k]["id"] = rows[k - repeat_every // 2]["id"]  # an id some earlier row has
    for k in range(0, n, 4):
        rows[k]["review_status"] = "approved"
    return [orjson.dumps(row) for row in rows]


def check_same(store: Store) -> None:
    ids = [store.id_of(i) for i in range(len(store))]
    assert [x if type(x) is str else x.decode() for x in store._all_ids()] == ids
    assert store.repeated_ids() == reference_repeated(store)
    assert approved_slots(store) == [i for i in range(len(store)) if store.status[i] == APPROVED]


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("repeat_every", [0, 10])
@pytest.mark.parametrize("window", [None, 97, 1])  # the id pass's window (bytes): whole file, ~1 line, tiny
def test_common_layout(tmp_path, bom, repeat_every, window, monkeypatch):
    if window is not None:
        monkeypatch.setattr(store_module, "_IDS_WINDOW", window)
    project = make_project(tmp_path)
    write(project, common_lines(500, repeat_every), bom=bom)
    with Store.open(load_project(project.root), readonly=True) as store:
        check_same(store)
        assert type(store._all_ids()[0]) is bytes  # (the one-pass read was taken)
        if repeat_every:
            assert store.repeated_ids()  # (the fast path did see the repeats)


@pytest.mark.parametrize("case", sorted(ODD))
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_every_odd_line(tmp_path, case, where):
    project = make_project(tmp_path)
    lines = common_lines(200, repeat_every=50)
    at = {"first": 0, "middle": 100, "last": len(lines)}[where]
    lines.insert(at, ODD[case])
    lines.insert(at + 1, ODD[case])  # twice: its id (when it has one) repeats
    write(project, lines)
    with Store.open(load_project(project.root), readonly=True) as store:
        check_same(store)


def test_restored_rows_and_decisions(tmp_path):
    project = make_project(tmp_path, rows=make_rows(300))
    with Store.open(project) as store:
        store.reject(range(0, 300, 3), "off_task")
        store.drop(range(0, 300, 6))
        store.compact()
        store.restore([store.dropped.id_of(j) for j in range(0, len(store.dropped), 2)])
        store.approve(range(0, len(store), 5))
        assert store.overlay.virtual
        check_same(store)


def test_bulk_rows_equal_row_by_row(tmp_path):
    """`Store.rows` (the export's and check's bulk read) gives `row(i)` for every slot: odd
    lines (1e400, \\ud800 and big integers take the lenient parse), assigned ids, notes, edits,
    stamps, rejected and dropped rows, restored rows."""
    project = make_project(tmp_path)
    lines = common_lines(240, repeat_every=40)
    for k, case in enumerate(sorted(ODD)):
        lines.insert(10 + 15 * k, ODD[case])
    lines.insert(
        5,
        b'{"id":"had-reason","prompt":"p","completion":"positive","review_status":"approved","reject_reason":"off_task"}',
    )
    write(project, lines, bom=True)
    with Store.open(load_project(project.root)) as store:
        n = len(store)
        store.approve(range(0, n, 3))
        store.reject(range(1, n, 7), "off_task", note="a note")
        store.edit(3, prompt="edited prompt")
        store.drop(range(1, n, 14))
        store.compact()
        store.restore([store.dropped.id_of(j) for j in range(0, len(store.dropped), 2)])
        store.approve(range(2, len(store), 9))
        store.reject([4], "wrong_label")
        slots = list(range(len(store)))
        assert list(store.rows(slots)) == [store.row(i) for i in slots]
        assert list(store.rows(slots[::-1])) == [store.row(i) for i in slots[::-1]]
    with Store.open(load_project(project.root), readonly=True) as store:
        slots = list(range(len(store)))
        assert list(store.rows(slots)) == [store.row(i) for i in slots]
