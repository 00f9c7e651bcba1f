"""j / k / g / G / Home / End move in every list and scrollable screen, not only the row lists
(issue 11.2): the Runs table, the Restore dialog, the help screen and the Balance view."""

from __future__ import annotations

from conftest import ready
from textual.containers import VerticalScroll
from textual.widgets import DataTable, SelectionList

from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.review.modals import DroppedScreen
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.help_screen import HelpScreen
from tests.helpers import make_project, make_rows


async def test_the_runs_table_moves_with_j_k_g_G_home_end(tmp_path):
    runs = [make_rows(3, run=f"synth-2026-05-2{k}-r{k}", start=10 * k) for k in range(4)]
    app = build_app(make_project(tmp_path, sample="sentiment", rows=[r for rs in runs for r in rs]).root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#runs-view").query_one(DataTable)
        assert table.row_count == 4 and table.has_focus
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 3
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == 3
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_the_restore_dialog_marks_two_rows_with_space_j_space(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(10))
    store = Store.open(project)
    store.reject([0, 1, 2, 3], "label_ambiguous")
    store.drop([0, 1, 2, 3])
    store.compact()
    store.close()
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("2", "R")
        assert isinstance(app.screen, DroppedScreen)
        listing = app.screen.query_one(SelectionList)
        await pilot.press("space", "j", "space")
        assert len(listing.selected) == 2
        await pilot.press("G")
        assert listing.highlighted == 3
        await pilot.press("g")
        assert listing.highlighted == 0


async def test_help_scrolls_with_j_g_G(tmp_path):
    app = build_app(make_project(tmp_path, sample="sentiment", rows=make_rows(5)).root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one(VerticalScroll)
        assert body.max_scroll_y > 0
        await pilot.press("G")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        await pilot.press("g")
        await pilot.pause()
        assert body.scroll_y == 0
        await pilot.press("j")
        await pilot.pause()
        assert body.scroll_y > 0
