"""At 80x24 the essentials fit (issue 11.7): `? Help` stays in the key bar, the row's label is
in the detail pane's first line, the help's close hint is on screen; counts read in English."""

from __future__ import annotations

import re

from conftest import ready
from textual.widgets import Static

from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.review.modals import ConfirmScreen
from brewslm_tui.ui.review.review_views import DetailPane
from brewslm_tui.ui.shell.help_screen import HelpScreen
from brewslm_tui.ui.shell.key_bar import KeyBar
from brewslm_tui.ui.shell.movement import MovingScroll
from brewslm_tui.ui.shell.text import counted
from tests.helpers import make_project, make_rows

SMALL = (80, 24)


def long_prompt_project(tmp_path):
    rows = make_rows(6)
    for row in rows:
        row["prompt"] = "Classify the sentiment of this review. " + "It was long. " * 60
    return make_project(tmp_path, sample="sentiment", rows=rows)


async def test_at_80x24_help_stays_in_the_key_bar_and_the_label_is_on_screen(tmp_path):
    from brewslm_tui.ui.shell.app import build_app

    app = build_app(long_prompt_project(tmp_path).root)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        bar = app.screen.query_one(KeyBar).text
        assert "? Help" in bar and "…" not in bar
        detail = app.screen.query_one("#queue-pane").query_one(DetailPane)
        assert detail.text.splitlines()[0] == "completion  positive"


async def test_at_80x24_the_help_close_hint_is_on_screen(tmp_path):
    from brewslm_tui.ui.shell.app import build_app

    app = build_app(make_project(tmp_path, sample="sentiment", rows=make_rows(6)).root)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        hint = app.screen.query_one(".hint", Static)
        assert hint.region.height == 1 and hint.region.bottom <= SMALL[1]
        scroll = app.screen.query_one(MovingScroll)
        assert scroll.region.bottom <= hint.region.y and scroll.max_scroll_y > 0  # the list scrolls instead


def test_counts_read_in_english():
    assert counted(1) == "1 row" and counted(0) == "0 rows" and counted(1204) == "1,204 rows"
    assert counted(1, "job") == "1 job"


async def test_one_row_is_one_row_in_the_drop_question_and_after_a_restore(tmp_path):
    from brewslm_tui.ui.shell.app import build_app

    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    store = Store.open(project)
    store.reject([0], "minor_typo")
    store.close()
    app = build_app(project.root)
    said: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        shown = app.notify
        app.notify = lambda message, **kw: (said.append(message), shown(message, **kw))[1]
        await pilot.press("2", "d")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.summary.startswith("drop 1 row:")
        await pilot.press("y", "R")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
    assert "restored 1 row to the queue (u undoes)" in said


def _screen_lines(app) -> list[str]:
    """The screen as a person sees it (the compositor's lines, as text)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_at_80x24_the_dialog_key_lines_fit_and_help_keys_line_up(tmp_path):
    """The restore dialog's and the filter's key lines end on screen (they were cut before
    "esc close" / "esc cancel"); in the help every description starts in one column."""
    from conftest import restore_dialog

    from brewslm_tui.ui.shell.app import build_app

    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    store = Store.open(project)
    store.reject([0, 1], "off_task")
    store.drop([0, 1])
    store.compact()
    store.close()
    app = build_app(project.root)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await restore_dialog(pilot)
        assert any("esc close" in line for line in _screen_lines(app))
        await pilot.press("escape", "1", "slash")
        await pilot.pause()
        assert any("esc cancel" in line for line in _screen_lines(app))
        await pilot.press("escape", "4")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body", Static).content.plain.splitlines()
        found = [re.match(r"^  (\S+(?: / \S+)*) +(\S.*)$", line) for line in body if line.startswith("  ")]
        assert found and all(found), body
        assert any(m.group(1) == "home / ^home / g" for m in found if m)  # the Runs table's longest
        assert len({m.start(2) for m in found if m}) == 1, body
