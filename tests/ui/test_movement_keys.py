"""j / k / g / G / Home / End move in every list and scrollable screen, not only the row lists
(issue 11.2): the Runs table, the Restore dialog, the help screen and the Balance view."""

from __future__ import annotations

from conftest import ready, restore_dialog
from textual.containers import VerticalScroll
from textual.widgets import DataTable

from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.review.restore_dialog import DroppedScreen
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
        await pilot.press("2")
        dialog = await restore_dialog(pilot)
        assert isinstance(dialog, DroppedScreen)
        listing = dialog.rows
        await pilot.press("space", "j", "space")
        assert len(listing.selected) == 2
        await pilot.press("G")
        assert listing.cursor == 3
        await pilot.press("g")
        assert listing.cursor == 0
        await pilot.press("end")
        assert listing.cursor == 3


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


async def test_the_restore_dialog_is_a_row_list_with_a_detail_pane(tmp_path, monkeypatch):
    """Issue 11 (Restore dialog): the shared prompt prefix is elided as in the queue, marked and
    unmarked rows differ by more than colour, the detail pane shows the row in full with its
    dropped_at and reason, and the read of dropped.jsonl runs in a thread worker."""
    import threading

    from brewslm_tui.ui.review import restore_dialog as dialog_module

    read_in: list[str] = []
    real_read = dialog_module.dropped_entries

    def observed_read(*args, **kwargs):
        read_in.append(threading.current_thread().name)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(dialog_module, "dropped_entries", observed_read)
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    store = Store.open(project)
    store.reject([0, 1, 2], "off_task")
    store.drop([0, 1, 2])
    store.compact()
    store.close()
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        dialog = await restore_dialog(pilot)
        assert isinstance(dialog, DroppedScreen)
        assert len(read_in) == 1 and read_in[0] != threading.main_thread().name  # not on the event loop
        rows = dialog.rows
        assert rows.has_focus and len(rows.view) == 3
        prefix = rows._shared_prefix()
        assert len(prefix) >= 16  # the sample's template, elided like the queue's
        line = rows.render_line(1).text
        assert prefix not in line and "…" in line and line.startswith("[ ]")
        detail = dialog.query_one("#dropped-detail").text
        entry = dialog.entries[0]
        assert entry.dropped_at and entry.dropped_at in detail
        assert "off_task" in detail and entry.prompt.strip()[-20:] in detail.replace("\n", " ")
        await pilot.press("space")
        assert rows.render_line(1).text.startswith("[x]")  # marked: a different mark, not a colour
        assert rows.cursor == 1
        second = dialog.query_one("#dropped-detail").text
        assert dialog.entries[1].row_id in second
        assert "1 marked" in str(dialog.query_one("#dropped-help").render())
        await pilot.press("r")
        assert not isinstance(app.screen, DroppedScreen)
    on = {}
    check = Store.open(project, readonly=True)
    try:
        on = {check.id_of(i): check.row(i)["review_status"] for i in range(len(check))}
    finally:
        check.close()
    assert list(on.values()).count("pending") == 4  # the marked row is back, the other two are not
