"""Partial repaints draw what a full repaint would: after random keys, the screen as composed
equals the screen after every widget is refreshed.

The row list repaints only the lines a key changed (a cursor move: two lines; a decision: the
lines from the decided row down) and reuses drawn lines; a wrong line number there (ScrollView
counts rows in virtual coordinates) leaves a stale highlight on screen that no unit test of a
widget's own `render_line` would see.
"""

from __future__ import annotations

import random
import re

import pytest
from conftest import ready

from brewslm_tui.ui.review.review_views import DetailPane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows

KEYS = [
    *"jjjkkaaax1x2",
    "space",
    "u",
    "J",
    "K",
    "escape",
    "G",
    "g",
    "pagedown",
    "pageup",
    "1",
    "2",
    "3",
    "p",
    "h",
    "l",
]


def _screen(app) -> str:
    return re.sub(r"terminal-\d+", "T", app.export_screenshot())  # (the id hashes the content)


@pytest.mark.parametrize("seed", [0, 1])
async def test_screen_equals_a_full_repaint_after_random_keys(tmp_path, seed, monkeypatch):
    rnd = random.Random(seed)
    rows = make_rows(30) + make_rows(25, run="synth-2026-05-30-c3d4", playbook="negation", start=30)
    app = build_app(make_project(tmp_path, sample="sentiment", rows=rows).root)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        # the header's rows/min is over the session's wall-clock time: after the first minute
        # it falls between two screenshots of a slow run (1.0/min, then 0.9/min: seen under
        # load), which is not a repaint; pinned, every other cell is still compared
        monkeypatch.setattr(app.review, "per_minute", lambda: 1.0)
        keys = []
        for _ in range(70):
            key = rnd.choice(KEYS)
            keys.append(key)
            await pilot.press(key)
            await pilot.pause()
            if len(app.screen_stack) > 1:  # a dialog: close it
                await pilot.press("escape")
                await pilot.pause()
            while any(detail.history_pending for detail in app.screen.query(DetailPane)):
                await pilot.pause(0.05)  # a row's history arrives after a rest: not a repaint
            await pilot.pause()
            shown = _screen(app)
            for widget in app.screen.walk_children():
                widget.refresh()
            await pilot.pause()
            await pilot.pause()
            assert _screen(app) == shown, f"stale lines after {keys}"
