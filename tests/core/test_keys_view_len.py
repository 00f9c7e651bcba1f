"""A lazy status view's length in step with the store comes from the store's counts (no count of
the column per decision) and equals the plain loop through decisions, drops, compaction and undo."""

from __future__ import annotations

from brewslm_tui.core.rows import APPROVED, PENDING, REJECTED
from brewslm_tui.core.store.store import Store
from brewslm_tui.core.store.views import RowView
from tests.helpers import make_project, make_rows


def _expected(store, statuses):
    return sum(1 for i in range(len(store)) if store.status[i] in statuses)


def test_a_lazy_views_length_follows_decisions_drops_and_undo(tmp_path):
    from brewslm_tui.core.store import views

    project = make_project(tmp_path, sample="sentiment", rows=make_rows(40))
    old = views._LIST_CHUNK, views._FIRST_LISTED
    views._LIST_CHUNK, views._FIRST_LISTED = 4, 2  # most of the view stays unlisted
    try:
        with Store.open(project) as store:
            queue = RowView(store, statuses={PENDING})
            done = RowView(store, statuses={APPROVED, REJECTED})
            steps = [
                lambda: store.approve([30, 31]),
                lambda: store.reject([1, 35], "minor_typo"),
                lambda: store.drop([1, 35]),
                lambda: store.undo(),
                lambda: store.compact(),
                lambda: store.undo(),
                lambda: store.set_pending([30]),
            ]
            for step in steps:
                step()
                for view in (queue, done):
                    view.sync()
                    assert len(view) == _expected(store, view.statuses)
                    key = view._unlisted
                    assert len(view) == _expected(store, view.statuses)
                    assert view._unlisted is key  # not counted again
            assert list(queue) == [i for i in range(len(store)) if store.status[i] == PENDING]
    finally:
        views._LIST_CHUNK, views._FIRST_LISTED = old


def test_a_view_out_of_step_counts_the_column(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(10))
    with Store.open(project) as store:
        queue = RowView(store, statuses={PENDING})
        store.approve([8])  # not synced yet: the view still says what it listed, not the counts
        assert len(queue) == 10
        queue.sync()
        assert len(queue) == 9
