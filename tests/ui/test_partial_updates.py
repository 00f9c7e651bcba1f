"""What a terminal shows, built only from the frames the app sent, equals a full render.

The main screen's partial updates draw only the changed lines of the widgets that overlap them
(`textual_compat.draw_changed_lines_only`). This test keeps a grid of cells the way a terminal
would: a full update replaces it, a partial update (`ChopsUpdate`) writes its segments at the
cursor positions it moves to. After every key the grid, text and style of every cell, must be
what a full render of the screen draws at that moment; a line left out of an update that should
have been in it would leave the grid stale there.
"""

from __future__ import annotations

import random

import pytest
from conftest import ready
from rich.cells import cell_len
from rich.segment import ControlType, Segment
from textual._compositor import ChopsUpdate, Compositor, LayoutUpdate

from brewslm_tui.ui.review.review_views import DetailPane
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.textual_compat import _ChangedLinesCompositor
from tests.helpers import make_project, make_rows

SIZE = (100, 30)
KEYS = [*"jjjjkkaax1x2", "space", "u", "J", "escape", "G", "g", "pagedown", "pageup", "1", "2", "3", "p"]


class Terminal:
    """Cells (character, style) written by the app's updates, as a terminal would keep them."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.cells: list[list[tuple[str, object]]] = [[(" ", None)] * width for _ in range(height)]
        self.partial_updates = 0

    def _write(self, x: int, y: int, segment: Segment) -> int:
        for char in segment.text:
            if 0 <= y < self.height and 0 <= x < self.width:
                self.cells[y][x] = (char, segment.style)
            x += cell_len(char)
        return x

    def apply(self, update) -> None:
        if isinstance(update, LayoutUpdate):
            for y, line in enumerate(update.strips):
                x = 0
                for strip in line:
                    for segment in strip:
                        x = self._write(x, y, segment)
        elif isinstance(update, ChopsUpdate):
            self.partial_updates += 1
            x = y = 0
            for segment in update.__rich_console__(None, None):  # type: ignore[arg-type]
                if segment.control:
                    for code in segment.control:
                        if code[0] == ControlType.CURSOR_MOVE_TO:
                            x, y = code[1], code[2]
                    continue
                if segment.text == "\n":
                    continue
                x = self._write(x, y, segment)

    def lines(self) -> list[list[tuple[str, object]]]:
        return [list(row) for row in self.cells]


def _full_render(app) -> list[list[tuple[str, object]]]:
    grid = Terminal(*SIZE)
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        x = 0
        for segment in strip:
            x = grid._write(x, y, segment)
    return grid.lines()


@pytest.mark.parametrize("seed", [0, 3])
async def test_the_terminal_built_from_partial_updates_equals_a_full_render(tmp_path, seed):
    rnd = random.Random(seed)
    rows = make_rows(40) + make_rows(25, run="synth-2026-05-30-c3d4", playbook="negation", start=40)
    app = build_app(make_project(tmp_path, sample="sentiment", rows=rows).root)
    terminal = Terminal(*SIZE)
    display = app._display

    def shown(screen, update):
        display(screen, update)
        if update is not None and screen is app.screen:
            terminal.apply(update)

    app._display = shown
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert type(app.screen._compositor) is _ChangedLinesCompositor
        keys = []
        for _ in range(50):
            key = rnd.choice(KEYS)
            keys.append(key)
            await pilot.press(key)
            if len(app.screen_stack) > 1:  # a dialog: close it (its screen has its own compositor)
                await pilot.press("escape")
            while any(detail.history_pending for detail in app.screen.query(DetailPane)):
                await pilot.pause(0.05)  # a row's history arrives after a rest
            await pilot.pause()
            await pilot.pause()
            assert terminal.lines() == _full_render(app), f"the terminal differs after {keys}"
        assert terminal.partial_updates > 20  # the keys were drawn by partial updates


def test_only_a_plain_compositor_is_swapped():
    from textual.screen import Screen

    from brewslm_tui.ui.shell.textual_compat import draw_changed_lines_only

    class Other(Compositor):
        pass

    screen = Screen.__new__(Screen)
    screen._compositor = Other()
    draw_changed_lines_only(screen)
    assert type(screen._compositor) is Other
    screen._compositor = Compositor()
    draw_changed_lines_only(screen)
    draw_changed_lines_only(screen)
    assert type(screen._compositor) is _ChangedLinesCompositor
