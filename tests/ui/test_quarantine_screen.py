"""Quarantine in the TUI (issue 14.7): the header counts the lines still outstanding in
`.brewslm/quarantine/`, and the Quarantine screen lists them literally, puts a fixed line back
(validated) or discards one (asked first). Every assertion is read back from disk."""

from __future__ import annotations

import json

import orjson
from conftest import on_disk, ready, until

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store import quarantine
from brewslm_tui.ui.quarantine.quarantine_screen import QuarantineScreen, json_escaped
from brewslm_tui.ui.review.modals import ConfirmScreen
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.commands import palette_commands
from brewslm_tui.ui.shell.header import HeaderBar
from tests.helpers import make_project, make_rows

BROKEN = b'{"id": "r_broken", "prompt": "Classify: \x1b[2Jfine [bold]x[/]", "completion": "posi'
NOT_A_ROW = b'["just", "a", "list"]'


def _project(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    lines = project.synthetic_path.read_bytes().splitlines(keepends=True)
    lines.insert(2, BROKEN + b"\n")
    lines.insert(5, NOT_A_ROW + b"\n")
    project.synthetic_path.write_bytes(b"".join(lines))
    return project


def _header(app) -> str:
    return str(app.query_one(HeaderBar).render())


def _synthetic(project) -> list[bytes]:
    return project.synthetic_path.read_bytes().splitlines()


def _index(project) -> list[dict]:
    return [
        orjson.loads(x) for x in (project.state_dir / "quarantine" / "index.jsonl").read_bytes().splitlines()
    ]


async def test_quarantine_screen_puts_a_fixed_line_back_and_discards_one(tmp_path):
    project = _project(tmp_path)
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: "quarantined 2" in _header(app), "the header counts the quarantine")
        assert "Quarantined lines" in {c.title for c in palette_commands(app.screen)}
        await pilot.press("Q")
        screen = app.screen
        assert isinstance(screen, QuarantineScreen)
        await until(pilot, lambda: len(screen.entries) == 2, "the lines are listed")
        depth = len(app.screen_stack)
        await pilot.press("Q")  # open already: not a second one on top
        assert app.screen is screen and len(app.screen_stack) == depth
        table = screen.query_one("#q-table")
        first = [cell.plain for cell in table.get_row_at(0)]
        assert first[0] == "data/synthetic.jsonl:3"
        assert "\\x1b[2Jfine [bold]x" in first[3]  # literal: no markup, ESC visible
        raw = str(screen.query_one("#q-raw").render())
        assert "\x1b" not in raw and "[bold]x[/]" in raw
        field = screen.query_one("#q-fix")
        assert field.value == json_escaped(BROKEN.decode())

        # a line that is still not a row is refused: nothing written, the line stays
        await pilot.press("enter")  # into the field
        assert app.screen.focused is field
        field.value = '{"id": "r_broken", "prompt": "Classify: fine"}'
        await pilot.press("ctrl+s")
        assert "still not a valid row" in str(screen.query_one("#q-message").render())
        assert len(quarantine.outstanding(project.state_dir)) == 2
        assert not any(b"Classify: fine" in line for line in _synthetic(project))

        # fixed: it goes back into synthetic.jsonl, validated, and the broken line leaves it
        fixed = {**make_rows(1, start=50)[0], "id": "r_broken", "prompt": "Classify: fixed [bold]x[/]"}
        field.value = json.dumps(fixed)
        await pilot.press("enter")
        await until(pilot, lambda: len(screen.entries) == 1, "the list is read again")
        assert BROKEN not in _synthetic(project)
        store = on_disk(project.root)
        try:
            slot = store.index_of("r_broken")
            assert slot is not None and store.row(slot)["prompt"] == "Classify: fixed [bold]x[/]"
            assert store.row(slot)["review_status"] == "pending"
        finally:
            store.close()
        assert [r.get("how") for r in _index(project) if "resolved" in r] == ["restored"]
        assert [q.line for q in quarantine.outstanding(project.state_dir)] == [6]
        assert app.store.index_of("r_broken") is not None  # the app has the row too
        await until(pilot, lambda: "quarantined 1" in _header(app), "the header counts again")

        # discard asks first; no keeps it
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        assert "data/synthetic.jsonl:6" in app.screen.summary
        await pilot.press("n")
        assert len(quarantine.outstanding(project.state_dir)) == 1
        await pilot.press("D", "y")
        await until(pilot, lambda: not screen.entries, "the list is empty")
        assert quarantine.outstanding(project.state_dir) == []
        assert [r.get("how") for r in _index(project) if "resolved" in r] == ["restored", "discarded"]
        assert NOT_A_ROW not in _synthetic(project)
        await until(pilot, lambda: "quarantined" not in _header(app), "the header shows none")
        await pilot.press("escape")
        assert not isinstance(app.screen, QuarantineScreen)
    assert quarantine.count(load_project(project.root).state_dir) == 0


async def test_a_read_only_window_lists_but_does_not_change_the_quarantine(tmp_path):
    project = _project(tmp_path)
    writer = build_app(project.root)  # quarantines the lines on open
    async with writer.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
    app = build_app(project.root, readonly=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: "quarantined 2" in _header(app), "the header counts the quarantine")
        await pilot.press("Q")
        screen = app.screen
        await until(pilot, lambda: len(screen.entries) == 2, "the lines are listed")
        await pilot.press("D")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+s")
        assert len(quarantine.outstanding(project.state_dir)) == 2
        assert any("read-only" in n.message for n in app._notifications)


def test_the_edit_field_text_means_the_same_json_and_holds_no_control_character():
    line = '{"a":\t"x\x1by\\"\tz\U000e0041\u202e"}\r'
    shown = json_escaped(line)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch == "\u202e" for ch in shown)
    assert json.loads(shown) == {"a": 'x\x1by"\tz\U000e0041\u202e'}


async def test_at_80_columns_the_header_still_shows_the_quarantine(tmp_path):
    project = _project(tmp_path)
    app = build_app(project.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: "quarantined 2 Q" in _header(app), "the count fits at 80 columns")
        assert "bell 0" in _header(app)
