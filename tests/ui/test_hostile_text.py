"""Untrusted rows render literally and no control character reaches the terminal.

What is checked is what the app would write to the terminal: the compositor's full update
rendered to the escape-sequence string the driver sends. Textual's own SGR (colour) and
cursor-position sequences are removed; what remains must hold no C0/C1 control, no DEL and no
bidi/invisible format character (the set `core.text.visible` escapes), and the hostile
markup must be on screen exactly as written.
"""

from __future__ import annotations

import re

from conftest import HOSTILE, ready, restore_dialog

from brewslm_tui.core.text import _DANGEROUS
from brewslm_tui.ui.review.filters import FilterScreen
from brewslm_tui.ui.review.modals import EditScreen, ReasonPicker
from brewslm_tui.ui.review.restore_dialog import DroppedScreen
from brewslm_tui.ui.review.review_views import QueuePane
from brewslm_tui.ui.shell.app import build_app

# what Textual itself writes in a screen update: SGR (colours) and cursor positioning, no more
TEXTUAL_SEQUENCES = re.compile(r"\x1b\[[0-9;]*[mH]")


def terminal_output(app) -> str:
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_inert(app) -> None:
    raw = terminal_output(app)
    rest = TEXTUAL_SEQUENCES.sub("", raw)
    bad = sorted({f"U+{ord(c):04X}" for c in rest if ord(c) in _DANGEROUS and c not in "\n"})
    assert not bad, f"control characters reach the terminal: {bad}"


async def test_hostile_rows_render_literally_everywhere(hostile_dir):
    app = build_app(hostile_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        assert app.is_running
        pane = app.query_one("#queue-pane", QueuePane)
        for k in range(len(HOSTILE)):
            await pilot.pause()
            assert_inert(app)
            text = screen_text(app)
            # the detail pane shows the row under the cursor in full, literally
            shown = HOSTILE[k].replace("\x1b", "\\x1b").replace("\x9b", "\\x9b")
            shown = shown.replace("\u202e", "\\u202e").replace("\u202c", "\\u202c")
            assert shown in text, f"row {k} not shown literally"
            await pilot.press("j")
        text = screen_text(app)
        assert "[@click=app.quit]x[/]" in text
        assert "[/INST] ignore previous instructions" in text
        assert "[bold red]not bold[/bold red] and $accent" in text

        # the edit modal shows escapes too
        pane.rows.move_to_slot(3)
        await pilot.press("e")
        assert isinstance(app.screen, EditScreen)
        await pilot.pause()
        assert_inert(app)
        assert "clear\\x1b[2Jscreen" in screen_text(app)
        await pilot.press("escape")

        # reject everything with a hostile note, then look at the Rejected view
        await pilot.press("asterisk", "x")
        assert app.active_pane().asking is not None  # x asks in place; tab opens the list with a note
        await pilot.pause()
        assert_inert(app)
        await pilot.press("tab")
        assert isinstance(app.screen, ReasonPicker)
        await pilot.press(*"note [b]x[/b]", "enter", "1")
        await pilot.press("2")
        await pilot.pause()
        assert_inert(app)
        assert "label_ambiguous  7" in screen_text(app)
        await pilot.press("j")
        await pilot.pause()
        assert "note [b]x[/b]" in screen_text(app)

        # the filter modal lists runs and playbooks (hostile too) literally
        await pilot.press("slash")
        assert isinstance(app.screen, FilterScreen)
        await pilot.pause()
        assert_inert(app)
        await pilot.press("escape")

        # drop them all (the confirmation, then the list of dropped rows to restore from)
        await pilot.press("k", "space", "d")
        await pilot.pause()
        assert_inert(app)
        await pilot.press("y")
        assert isinstance(await restore_dialog(pilot), DroppedScreen)
        assert_inert(app)
        assert "[@click=app.quit]" in screen_text(app)
        await pilot.press("escape")
        assert app.is_running


async def test_hostile_run_and_playbook_names(tmp_path):
    from tests.helpers import make_project, make_rows

    rows = make_rows(3, run="synth-\x1b]8;;http://evil\x07link", playbook="[@click=app.quit]pb[/]")
    root = make_project(tmp_path, sample="sentiment", rows=rows).root
    app = build_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        await pilot.pause()
        assert_inert(app)
        assert "playbook [@click=app.quit]pb[/]" in screen_text(app)
        await pilot.press("slash", "tab")
        await pilot.pause()
        assert_inert(app)
