"""Snapshots of each view at 80x24 and 120x36 (pytest-textual-snapshot; plain `def` tests).

Update after an intended change with `pytest tests/ui/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store import store as store_module
from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.review.review_views import DetailPane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows

SIZES = [(80, 24), (120, 36)]

VIEWS = {
    "queue": [],
    "queue_selection": ["space", "space", "j"],
    "rejected": ["2"],
    "rejected_collapsed": ["2", "left"],
    "approved": ["3"],
    "runs": ["4"],
    "balance": ["5"],
    "reason_picker": ["x"],  # asked in place
    "reason_list": ["x", "tab"],  # the list with its note field
    "drop_confirm": ["2", "space", "d"],
    "filter": ["slash"],
    "edit": ["e"],
}


@pytest.fixture
def reviewed_dir(tmp_path, monkeypatch):
    """40 rows from two runs; some approved, some rejected under two reasons (by "ana", at a
    fixed time: the detail pane shows reviewed_by / reviewed_at)."""
    monkeypatch.setenv("BREWSLM_REVIEWER", "ana")
    monkeypatch.setattr(store_module, "now_iso", lambda: "2026-05-30T10:02:00.000Z")
    rows = make_rows(30) + make_rows(10, run="synth-2026-05-30-c3d4", playbook="negation", start=30)
    root = make_project(tmp_path, sample="sentiment", rows=rows).root
    store = Store.open(load_project(root))
    store.approve([1, 5, 9, 33])
    store.reject([2, 6, 10], "label_ambiguous")
    store.reject([3, 31], "minor_typo", note="'colour' spelled two ways")
    store.compact()
    store.close()
    return root


async def until_histories_shown(pilot) -> None:
    """The detail pane reads a row's history after a pause, in a worker: wait for it to show."""
    while any(detail.history_pending for detail in pilot.app.screen.query(DetailPane)):
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_view_snapshot(snap_compare, reviewed_dir, view, size):
    async def keys_then_settle(pilot):
        await pilot.press(*VIEWS[view])
        # the runs and balance views count in a thread worker: wait for it, then repaint
        await pilot.app.workers.wait_for_complete()
        await until_histories_shown(pilot)

    app = build_app(reviewed_dir)
    assert snap_compare(app, run_before=keys_then_settle, terminal_size=size)


LIGHT_VIEWS = ["queue", "queue_selection", "rejected", "reason_list"]


@pytest.mark.parametrize("view", LIGHT_VIEWS)
def test_view_snapshot_in_a_light_theme(snap_compare, reviewed_dir, view):
    """textual-light: the row list draws in the theme's colours (it used the terminal's
    defaults in every theme, unreadable on a light one)."""

    async def light_then_keys(pilot):
        pilot.app.theme = "textual-light"
        await pilot.pause()
        await pilot.press(*VIEWS[view])
        await pilot.app.workers.wait_for_complete()
        await until_histories_shown(pilot)

    assert snap_compare(build_app(reviewed_dir), run_before=light_then_keys, terminal_size=(80, 24))
