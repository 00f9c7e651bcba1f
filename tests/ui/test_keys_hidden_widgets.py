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
