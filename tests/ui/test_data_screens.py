"""The Import screen and the Export dialog, driven with Pilot; what they did is read back from disk."""

from __future__ import annotations

import json
import time

import orjson
from textual.widgets import Input, SelectionList

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.data.export_screen import ExportScreen
from brewslm_tui.ui.data.import_screen import ImportScreen
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.commands import palette_commands
from tests.helpers import make_project, make_rows

SIZE = (120, 40)
PROMPT = "Classify the sentiment of this product review as positive, negative, neutral or mixed.\n\nReview: "


async def wait_for(pilot, condition, what: str, limit: float = 60.0) -> None:
    """Pause until `condition()` holds (a worker thread is doing the work); the limit is only there
    so a broken build fails instead of hanging, and it is a clock, not a count of pauses, so a
    loaded machine gets the same time as a quiet one."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await pilot.pause(0.01)


def opened(app, screen_type) -> bool:
    """The screen is on top and whole: it and every widget in it mounted. A pushed screen is
    app.screen at once, but its widgets mount over the next turns of the loop; on a loaded
    machine a test that typed into it (or left the app) before then found no #import-files, or
    had Textual's Select fail on an overlay removed while it was still mounting."""
    screen = app.screen
    return (
        isinstance(screen, screen_type)
        and screen.is_mounted
        and all(widget.is_mounted for widget in screen.walk_children())
    )


def imported(root) -> list[dict]:
    return [orjson.loads(line) for line in (root / "data" / "imported.jsonl").read_bytes().splitlines()]


async def dry_run(app, pilot, src) -> ImportScreen:
    """i, the file and a template, ctrl+r: the Import screen once its dry run is shown."""
    await pilot.press("i")
    await wait_for(pilot, lambda: opened(app, ImportScreen), "the import screen opens")
    screen = app.screen
    assert isinstance(screen, ImportScreen)
    screen.query_one("#import-files", Input).value = str(src)
    screen.query_one("#import-template", Input).value = PROMPT + "{text}"
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: screen.result is not None, "the dry run ends")
    return screen


def write_reviews(path) -> None:
    rows = [
        {"text": "[bold]arrived on time[/bold], works", "label": "positive"},  # markup stays text
        {"text": "too long " * 300, "label": "negative"},  # over max_prompt_chars: keepable
        {"text": "[red]broken[/red] lid", "label": "angry"},  # not a label: left out
        {"text": "fine", "label": "neutral"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


async def test_import_screen_dry_run_then_keep_one_reject(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    src = tmp_path / "reviews.jsonl"
    write_reviews(src)
    before = imported(root)
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        assert "Import…" in [c.title for c in palette_commands(app.screen)]
        assert "Export candidates…" in [c.title for c in palette_commands(app.screen)]
        screen = await dry_run(app, pilot, src)
        assert imported(root) == before  # the dry run wrote nothing
        rejects = screen.query_one("#import-rejects", SelectionList)
        assert rejects.option_count == 2
        options = [rejects.get_option_at_index(i) for i in range(2)]
        assert {o.value for o in options} == {"reviews.jsonl:2", "reviews.jsonl:3"}
        assert any("[red]broken[/red] lid" in str(o.prompt) for o in options)  # shown, not parsed
        too_long = next(i for i, o in enumerate(options) if o.value == "reviews.jsonl:2")
        rejects.focus()
        rejects.highlighted = too_long
        await pilot.press("space")
        assert list(rejects.selected) == ["reviews.jsonl:2"]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), "the import commits")
    rows = imported(root)[len(before) :]
    assert [r["imported_from"] for r in rows] == ["reviews.jsonl:1", "reviews.jsonl:2", "reviews.jsonl:4"]
    assert rows[0]["prompt"].endswith("[bold]arrived on time[/bold], works")
    assert {r["source"] for r in rows} == {"import:reviews.jsonl"}
    rejected = list((root / "data" / "import-rejected").glob("*.jsonl"))
    assert len(rejected) == 1
    assert [orjson.loads(line)["where"] for line in rejected[0].read_bytes().splitlines()] == [
        "reviews.jsonl:3"
    ]


async def test_import_screen_commit_needs_a_dry_run_and_shows_errors(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=[]).root
    app = build_app(root)
    before = imported(root)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await wait_for(pilot, lambda: opened(app, ImportScreen), "the import screen opens")
        screen = app.screen
        screen.query_one("#import-files", Input).value = str(tmp_path / "nope.csv")
        await pilot.press("ctrl+s")
        assert "dry run first" in str(screen.query_one("#import-summary").render())
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: "no such file" in str(screen.query_one("#import-summary").render()), "error"
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, ImportScreen)
    assert imported(root) == before


async def test_export_dialog_writes_a_split_with_manifest(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(12)).root
    with Store.open(load_project(root)) as store:
        store.approve(range(len(store)))
    out = tmp_path / "export"
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("E")
        await wait_for(pilot, lambda: opened(app, ExportScreen), "the export dialog opens")
        screen = app.screen
        screen.query_one("#export-output", Input).value = str(out)
        screen.query_one("#export-format").value = "messages"
        screen.query_one("#export-split", Input).value = "train=0.75,validation=0.25"
        screen.query_one("#export-seed", Input).value = "4"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen), "the export is written")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "messages" and manifest["seed"] == 4
    train = (out / "train.jsonl").read_bytes().splitlines()
    validation = (out / "validation.jsonl").read_bytes().splitlines()
    total = len(imported(root)) + 12
    assert len(train) + len(validation) == total == manifest["counts"]["total"]
    assert "messages" in orjson.loads(train[0])


async def test_export_dialog_refuses_a_project_file_and_stays_open(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(2)).root
    before = (root / "data" / "imported.jsonl").read_bytes()
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("E")
        await wait_for(pilot, lambda: opened(app, ExportScreen), "the export dialog opens")
        screen = app.screen
        screen.query_one("#export-output", Input).value = str(root / "data" / "imported.jsonl")
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: "export somewhere else" in str(screen.query_one("#export-result").render()),
            "the refusal is shown",
        )
        assert isinstance(app.screen, ExportScreen)
    assert (root / "data" / "imported.jsonl").read_bytes() == before


async def test_import_screen_fixes_a_reject_in_place(tmp_path):
    from brewslm_tui.ui.review.modals import EditScreen

    root = make_project(tmp_path, sample="sentiment", rows=[]).root
    src = tmp_path / "reviews.jsonl"
    write_reviews(src)
    before = imported(root)
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await dry_run(app, pilot, src)
        rejects = screen.query_one("#import-rejects", SelectionList)
        angry = next(
            i for i in range(rejects.option_count) if rejects.get_option_at_index(i).value.endswith(":3")
        )
        rejects.focus()
        rejects.highlighted = angry
        await pilot.press("e")
        await wait_for(pilot, lambda: opened(app, EditScreen), "the fix opens in the edit screen")
        edit = app.screen
        edit.query_one("#edit-completion").text = "still angry"
        await pilot.press("ctrl+s")  # refused: not a label
        assert app.screen is edit
        edit.query_one("#edit-completion").text = "negative"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen and not screen.busy, "the dry run runs again")
        await wait_for(pilot, lambda: rejects.option_count == 1, "the fixed record is no longer a reject")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), "the import commits")
    rows = {r["imported_from"]: r for r in imported(root)[len(before) :]}
    assert set(rows) == {"reviews.jsonl:1", "reviews.jsonl:3", "reviews.jsonl:4"}
    assert rows["reviews.jsonl:3"]["completion"] == "negative"
    assert rows["reviews.jsonl:3"]["prompt"].endswith("[red]broken[/red] lid")
