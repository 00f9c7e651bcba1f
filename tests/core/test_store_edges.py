"""Odd but legal inputs and sequences at the store's edges (issue 14's store items, issue 9's undo).

Each test failed on the code before its fix."""

from __future__ import annotations

import orjson

from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows


def lines(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_undo_after_its_row_was_edited_away_by_hand_undoes_the_rest(tiny_project):
    append_rows(tiny_project, make_rows(3))
    with Store.open(tiny_project) as store:
        store.approve([0, 1])
        gone = store.id_of(0)
    # someone removes the first row by hand while no session is open
    data = tiny_project.synthetic_path.read_bytes().splitlines(keepends=True)
    tiny_project.synthetic_path.write_bytes(b"".join(data[1:]))
    with Store.open(tiny_project) as store:
        assert any(gone in str(p) for p in store.problems)
        assert store.counts()["approved"] == 1
        decision = store.undo()
        assert decision is not None and decision.count == 1
        assert store.counts() == {"pending": 2, "approved": 0, "rejected": 0, "dropped": 0}
    with Store.open(tiny_project) as store:
        assert store.counts()["pending"] == 2
