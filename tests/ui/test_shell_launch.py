"""Keys typed at launch in a real terminal, and the shell's exit-time and history paths.

The pty test starts the real CLI (`brewslm-tui open`) in a pseudo-terminal and types before
anything is on screen (the tty is still in cooked mode, Python still importing): the keys must
be acted on, in order, once the Queue has the focus. Waits are bounded polls for an effect on
disk or on screen, never timings.
"""

from __future__ import annotations

import pytest
from conftest import ready, statuses, until
from rich.segment import Segment
from test_signals import PtyApp
from textual.command import CommandList, CommandPalette
from textual.strip import Strip
from textual.widgets import Static, TabbedContent

from brewslm_tui.ui.review.review_views import DetailPane
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.help_screen import HelpScreen
from brewslm_tui.ui.shell.key_bar import KeyBar

CLI = "import sys; from brewslm_tui.cli import main; sys.exit(main(['open', sys.argv[1]]))"


class CliPtyApp(PtyApp):
    """PtyApp, launched through the real `open` command (its imports, its early cache builder)."""

    launch = CLI


@pytest.mark.pty
@pytest.mark.slow
def test_keys_typed_before_the_first_frame_act_in_order(project_dir):
    """`j` typed the moment the command starts (no byte of output yet), `j a` as the app takes
    the terminal: the third row of the Queue is approved, not the first, and nothing else; then `?` opens the help with the
    Queue's own keys in it (the focus was on the Queue when the held keys were replayed)."""
    order = list(statuses(project_dir))
    app = CliPtyApp(project_dir)
    try:
        app.type("j")  # before anything: the tty still in cooked mode, Python importing
        app.wait_for(lambda: b"\x1b[?1049h" in app.output, "the switch to the alternate screen")
        app.type("ja")  # while the app starts (its first frames, the deferred parts mounting)
        app.wait_for(lambda: "approved" in statuses(project_dir).values(), "the approval on disk")
        approved = [rid for rid, status in statuses(project_dir).items() if status == "approved"]
        assert approved == [order[2]]
        app.output.clear()
        app.type("?")
        app.wait_for(lambda: b"Approve" in app.output and b"QUEUE" in app.output, "the help's Queue keys")
        app.type("\x11")
        assert app.proc.wait(timeout=60) == 0
    finally:
        app.kill()


async def test_a_store_poll_after_the_screen_is_gone_does_not_raise(project_dir):
    """`poll_store` (a timer) could run `after_change` after the screen was gone at exit:
    `query_one(TabbedContent)` raised NoMatches (seen with `benchmarks.profile launch`)."""
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert app.query(TabbedContent)
    assert not app.query(TabbedContent)
    app.after_change()  # no NoMatches


async def test_undo_and_redo_say_what_they_did_and_move_to_the_row(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("j", "j", "a")
        await until(pilot, lambda: "approved" in statuses(project_dir).values(), "the approval")
        await pilot.press("u")
        await until(pilot, lambda: "approved" not in statuses(project_dir).values(), "the undo")
        assert any(n.message.startswith("undone: approve") for n in app._notifications)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "approved" in statuses(project_dir).values(), "the approval")
        assert any(n.message.startswith("redone: ") for n in app._notifications)


async def test_the_help_lists_no_sideways_page_keys_and_names_the_palette(project_dir):
    """At 120x40 the help listed Textual's "^pgup Page Left / ^pgdn Page Right" for the
    vertical row list, and ctrl+p as "palette"."""
    app = build_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        body = str(app.screen.query_one("#help-body", Static).content)
        assert "Page Left" not in body and "Page Right" not in body and "^pgup" not in body
        assert "Page down" in body  # the vertical page keys stay
        assert "Every action by name (command palette)" in body
        assert not any(line.strip().endswith(" palette") for line in body.splitlines())


async def test_the_palette_lists_the_apps_actions_before_textuals(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        palette = app.screen

        def prompts() -> list[str]:
            found = palette.query(CommandList)
            if not found:
                return []
            options = found.first()
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await until(pilot, lambda: "Theme" in " ".join(prompts()), "Textual's commands listed")
        titles = prompts()
        textuals = ("Theme\n", "Keys\n", "Screenshot\n", "Maximize\n")
        first_textual = min(k for k, title in enumerate(titles) if title.startswith(textuals))
        ours = titles[:first_textual]
        assert any(t.startswith("Approve\n") for t in ours) and any(t.startswith("Help\n") for t in ours)
        assert all(t.startswith(textuals) for t in titles[first_textual:])  # Textual's only, last
        assert any(t.startswith("Screenshot\n") for t in titles[first_textual:])


async def test_the_key_bar_shows_the_jobs_sidebars_own_keys_when_it_has_the_focus(project_dir):
    """With the sidebar focused the bar read only "u Undo n New job ? Help" (issue 11 review)."""
    app = build_app(project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("tab")
        await until(
            pilot, lambda: getattr(app.screen.focused, "id", None) == "sidebar", "the sidebar focused"
        )
        await pilot.pause()
        bar = app.screen.query_one(KeyBar).text
        for words in ("Job rows", "d Job details", "c Cancel job", "n New job", "? Help"):
            assert words in bar, bar


async def test_held_keys_reach_the_queue_even_when_nothing_had_the_focus(project_dir):
    """Keys held at launch went to whatever had the focus at replay; with none (in a real
    terminal `?` opened the help without the Queue's keys, `e` opened nothing) they reached
    only the screen. The main view takes the focus back before a held key is replayed."""
    order = list(statuses(project_dir))
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.query("Deferred")  # still starting: keys are held
        app.screen.set_focus(None)
        await pilot.press("j", "a")
        await until(pilot, lambda: "approved" in statuses(project_dir).values(), "the approval")
        assert [rid for rid, status in statuses(project_dir).items() if status == "approved"] == [order[1]]


async def test_the_detail_pane_draws_text_wrapped_at_its_drawn_width(project_dir):
    """At 120x40 the first frame drew text wrapped for a wider pane (laid out before the screen's
    `-wide` class widened the sidebar), cut at the edge: "Customer" as "Custom". A repaint at
    another width than the wrap's wraps again first."""
    app = build_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        pane = app.query_one("#queue-pane").query_one(DetailPane)
        width = pane.content_region.width - 1
        pane._wrapped_at = -1  # as if wrapped before the last layout, with no Resize since
        pane._lines = [Strip([Segment("x" * (width + 8))], width + 8)]
        pane.refresh()
        await pilot.pause()
        await until(pilot, lambda: pane._wrapped_at == width, "the pane wrapped again at its width")
        assert all(line.cell_length <= width for line in pane._lines)
