"""The Rejected view's groups: right after any decisions, and the first screen costs what it shows.

The plain Rejected view (no filter but the status) takes its group sizes from the store's
per-reason counts and finds a group's slots in the reason column as far as they are asked for;
these tests pin that to the plain loop over every row, with rows whose reason code outlives
their rejection (approved, pending again, dropped) and rejected rows with no reason at all.
"""

from __future__ import annotations

from brewslm_tui.core.rows import REJECTED
from brewslm_tui.core.store.store import Store
from brewslm_tui.core.store.views import RowView
from tests.helpers import make_project, make_rows, reason_groups, write_raw_rows

REASONS = ["label_ambiguous", "wrong_label", "minor_typo", "duplicate", "not_a_project_reason"]


def _project(tmp_path, n: int):
    """n rows: every 3rd rejected (reasons cycling, every 7th of those with no reason), the rest pending."""
    project = make_project(tmp_path)
    rows = make_rows(n)
    for k, row in enumerate(rows):
        if k % 3 == 0:
            row["review_status"] = "rejected"
            if k % 21:
                row["reject_reason"] = REASONS[k % len(REASONS)]
    write_raw_rows(project, rows)
    return project


def _model(store) -> list[tuple[str | None, list[int]]]:
    return reason_groups(store, [slot for slot in range(len(store)) if store.status[slot] == REJECTED])


def _shown(view) -> list[tuple[str | None, list[int]]]:
    return [(reason, list(slots)) for reason, slots in view.groups()]


def test_groups_match_the_plain_loop_through_decisions(tmp_path):
    project = _project(tmp_path, 600)
    with Store.open(project) as store:
        view = RowView(store, statuses={REJECTED})
        assert _shown(view) == _model(store)
        steps = [
            lambda: store.approve([0, 3, 6]),  # rejected rows approved: their reason code may stay
            lambda: store.set_pending([9, 12]),
            lambda: store.reject([1, 2, 4], "unsafe"),
            lambda: store.drop([15, 18, 21]),
            lambda: store.reject([5], "wrong_label", note="a note"),
            lambda: store.undo(),
            lambda: store.reject(range(100, 200), "duplicate"),
            lambda: store.drop(list(range(100, 200, 2))),
        ]
        for step in steps:
            step()
            view.sync()
            assert _shown(view) == _model(store)
            assert [(r, len(s)) for r, s in view.groups()] == [(r, len(s)) for r, s in _model(store)]
        store.compact()
        view.sync()
        assert _shown(view) == _model(store)


def test_a_group_reads_the_same_by_index_slice_iteration_and_membership(tmp_path):
    project = _project(tmp_path, 3000)
    with Store.open(project, readonly=True) as store:
        for (reason, slots), (want_reason, want) in zip(
            RowView(store, statuses={REJECTED}).groups(), _model(store), strict=True
        ):
            assert reason == want_reason and len(slots) == len(want)
            assert [slots[k] for k in range(len(slots))] == want
            assert slots[-1] == want[-1] and slots[2:5] == want[2:5]
            assert want[len(want) // 2] in slots and -1 not in slots
            assert list(slots) == want


def test_the_first_screen_lists_only_what_it_shows(tmp_path):
    """A group of thousands of rows: its size and first rows without listing the rest."""
    project = _project(tmp_path, 30000)
    with Store.open(project, readonly=True) as store:
        groups = RowView(store, statuses={REJECTED}).groups()
        _reason, first = groups[0]
        assert len(first) > 1000
        screen = [first[k] for k in range(40)]
        assert screen == _model(store)[0][1][:40]
        assert len(first._items) <= 256  # listed a batch, not the group


def test_a_filtered_view_groups_its_own_slots(tmp_path):
    project = _project(tmp_path, 600)
    with Store.open(project, readonly=True) as store:
        view = RowView(store, statuses={REJECTED}, run=store.runs[0])
        assert _shown(view) == _model(store)  # one run: the same rows, by the general path
        narrow = RowView(store, statuses={REJECTED}, text="#3")
        want = [(r, [s for s in slots if s in set(narrow)]) for r, slots in _model(store)]
        assert _shown(narrow) == [(r, s) for r, s in want if s]
