"""A second window on a project is read-only while the first holds the review session; when the
first quits (or dies) the second notices, says so, and takes the session over on ctrl+t.
The one-second poll that notices it (and new rows) reads the disk in a thread."""

from __future__ import annotations

from conftest import ready, until
from textual.widgets import Static

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store, append_rows
from brewslm_tui.ui.shell.app import TAKE_OVER, build_app
from tests.helpers import make_rows

SIZE = (80, 24)


def banner_text(app) -> str:
    return app.screen.query_one("#readonly-banner", Static).content.plain


async def test_a_read_only_window_takes_the_session_over_once_the_holder_quits(project_dir):
    holder = Store.open(load_project(project_dir))
    try:
        app = build_app(project_dir)
        assert app.readonly_reason is not None
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert not app.check_action("take_over", ())
            await pilot.press("ctrl+t")  # nothing to take over yet: the window stays
            assert app.is_running and "decisions are off" in banner_text(app)
            holder.close()
            await until(pilot, lambda: "ctrl+t takes over" in banner_text(app), "the take-over offer")
            assert app.check_action("take_over", ())
            await pilot.press("ctrl+t")
        assert app.return_value == TAKE_OVER
    finally:
        holder.close()
    again = build_app(project_dir)  # what run_app builds next: the session, writable
    try:
        assert again.readonly_reason is None
    finally:
        again.store.close()


async def test_a_read_only_window_by_request_never_offers_a_take_over(project_dir):
    app = build_app(project_dir, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rows_before = len(app.store)
        append_rows(load_project(project_dir), make_rows(3, start=100))
        await until(pilot, lambda: len(app.store) == rows_before + 3, "the new rows")
        assert not app.check_action("take_over", ())
        assert "decisions are off" in banner_text(app)


async def test_rows_another_process_appends_appear_without_a_key(pilot, project_dir):
    """The poll's disk reads run in a thread worker; the rows still reach the queue."""
    pane = pilot.app.screen.query_one("#queue-pane")
    before = len(pane.rows.view)
    append_rows(load_project(project_dir), make_rows(5, start=200))
    await until(pilot, lambda: len(pane.rows.view) == before + 5, "the appended rows in the queue")


async def test_undo_says_exactly_what_it_undid(pilot):
    app = pilot.app
    said: list[str] = []
    shown = app.notify
    app.notify = app.review.notify = lambda message, **kw: (said.append(message), shown(message, **kw))[1]
    await pilot.press("space", "space", "x", "1")  # two rows rejected as label_ambiguous
    await pilot.press("u")
    assert said[-1] == "undone: reject of 2 rows (label_ambiguous), back to pending"
    await pilot.press("a", "u")
    assert said[-1] == "undone: approve of 1 row, back to pending"
    await pilot.press("u", "u")
    assert said[-1] == "nothing to undo"


async def test_undo_of_a_restore_made_in_another_tab_says_so(pilot):
    """u after a restore (made in Rejected, undone from the Queue) names it and where the row went."""
    app = pilot.app
    said: list[str] = []
    shown = app.notify
    app.notify = app.review.notify = lambda message, **kw: (said.append(message), shown(message, **kw))[1]
    await pilot.press("x", "1", "2", "d", "y", "R")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("r")
    await pilot.pause()
    assert said[-1] == "restored 1 row to the queue (u undoes)"
    await pilot.press("1", "u")
    assert said[-1] == "undone: restore of 1 row from dropped"
