"""A cursor key draws only the widgets in front: the containers behind the row list and the
detail pane (the screen, the tabs, the queue pane) are not asked for lines, and the widgets the
decision path looks up are found again once they left the DOM.

(The output itself, cell for cell, is compared with a full render in test_partial_updates.)
"""

from __future__ import annotations

from conftest import ready
from textual.widget import Widget
from textual.widgets import TabbedContent

from brewslm_tui.ui.review.review_views import DetailPane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows

SIZE = (100, 30)


async def test_a_cursor_key_does_not_draw_the_containers_behind(tmp_path, monkeypatch):
    app = build_app(make_project(tmp_path, sample="sentiment", rows=make_rows(40)).root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("j")
        while any(detail.history_pending for detail in app.screen.query(DetailPane)):
            await pilot.pause(0.05)
        await pilot.pause()
        drawn: list[str] = []
        render_lines = Widget.render_lines

        def counted(self, crop):
            drawn.append(type(self).__name__)
            return render_lines(self, crop)

        monkeypatch.setattr(Widget, "render_lines", counted)
        rows = app.query_one("#queue-pane").rows
        before = rows.cursor
        await pilot.press("j")
        await pilot.pause()
        assert rows.cursor == before + 1
        assert "RowList" in drawn and "DetailPane" in drawn  # what changed is drawn
        hidden = {"Screen", "TabbedContent", "ContentSwitcher", "TabPane", "QueuePane", "Horizontal"}
        assert not hidden & set(drawn), drawn


async def test_a_looked_up_widget_that_left_the_dom_is_looked_up_again(tmp_path):
    app = build_app(make_project(tmp_path, sample="sentiment", rows=make_rows(5)).root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tabs = app._find(TabbedContent)
        assert tabs is app.query_one(TabbedContent)
        assert app._find(TabbedContent) is tabs  # remembered
        app._found[TabbedContent] = Widget()  # as if the one remembered had been removed
        assert app._find(TabbedContent) is tabs
        assert app._mounted("#queue-pane, #queue-view") is app.query_one("#queue-pane")


async def test_the_poll_does_not_redraw_while_the_rest_loads(tmp_path, monkeypatch):
    """While partly loaded nothing changes until the swap: the once-a-second poll must not redraw
    the pane and the detail (a pause a key typed then waited behind); the swap itself does."""
    import threading

    from brewslm_tui.core.store.store import Store, column_cache

    class HeldBuilder:
        def __init__(self, proc):
            self.proc, self.release = proc, threading.Event()

        def poll(self):
            return self.proc.poll() if self.release.is_set() else None

        def wait(self, timeout=None):
            return self.proc.wait(timeout)

    builders: list[HeldBuilder] = []
    real_start = column_cache.start_builder
    monkeypatch.setattr(
        column_cache,
        "start_builder",
        lambda project: builders.append(HeldBuilder(real_start(project))) or builders[-1],
    )
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    app = build_app(make_project(tmp_path, sample="sentiment", rows=make_rows(30000)).root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not app.store.loaded
        changes: list[bool] = []
        after_change = app.after_change
        monkeypatch.setattr(app, "after_change", lambda: changes.append(app.store.loaded) or after_change())
        app.poll_store()
        app.poll_store()
        assert changes == []
        builders[0].release.set()
        builders[0].wait()
        while not app.store.loaded:
            app.poll_store()
            await pilot.pause()
        await pilot.pause()
        assert True in changes  # the swap redraws
        assert len(app.query_one("#queue-pane").rows.view) == 30000
