"""Issue 11, the items finished last: `S` sorts in a thread (the app stays responsive, the old
order stays until the new one is ready), an empty Restore dialog offers only what works, the
main screen's keys do nothing under a dialog, and `import` of a file of no known format is bad
usage (exit 2)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import ready, restore_dialog, statuses, until
from textual.widgets import TabbedContent

from brewslm_tui.cli import main
from brewslm_tui.core.importing.pipeline import FORMATS, detect_format
from brewslm_tui.ui.review.review_views import QueuePane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows

SIZE = (120, 36)


def queue(app) -> QueuePane:
    return app.screen.query_one("#queue-pane", QueuePane)


def info(pane) -> str:
    return str(pane.query_one(".info-line").render())


def sortable_project(tmp_path: Path) -> Path:
    """Two runs, the later-named first, and rows of different lengths."""
    rows = make_rows(8, run="synth-2026-05-30-zzzz") + make_rows(8, run="synth-2026-05-29-aaaa", start=8)
    for k, row in enumerate(rows):
        row["prompt"] = row["prompt"] + " x" * (k * 7 % 13)
    return make_project(tmp_path, sample="sentiment", rows=rows).root


async def test_sort_runs_in_a_thread_and_the_app_answers_keys_meanwhile(tmp_path):
    """While the sort's thread is held, the old order stays on screen with "sorting by run…",
    `j` moves the cursor and `a` approves (on disk); a second `S` supersedes the first; when the
    thread is let go the new order is swapped in, with the cursor on the row it was on."""
    root = sortable_project(tmp_path)
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = queue(app)
        store = app.store

        def order():
            return [pane.rows.view[k] for k in range(len(pane.rows.view))]

        created = order()
        assert created == sorted(created)
        hold = threading.Event()
        pane.sorter.hold = hold
        await pilot.press("S")
        assert pane.sorter.running and pane.sorter.wanted == "run"
        assert pane.sort == "created" and order() == created  # the old order, still on screen
        assert "sorting by run…" in info(pane)
        # the app is not frozen: keys are handled while the sort's thread waits
        await pilot.press("j", "j")
        assert pane.rows.cursor_slot == created[2]
        await pilot.press("a")  # approves created[2], the cursor goes to created[3]
        approved_id = store.id_of(created[2])
        assert statuses(root)[approved_id] == "approved"
        assert pane.rows.cursor_slot == created[3]
        await pilot.press("S")  # supersedes: length, not run
        assert pane.sorter.wanted == "length" and pane.sort == "created"
        assert "sorting by length…" in info(pane)
        hold.set()
        await until(pilot, lambda: not pane.sorter.running, "the sort")
        await pilot.pause()
        assert pane.sort == "length"
        shown = order()
        assert created[2] not in shown  # the approval made while it sorted is in the new order
        assert sorted(shown) == [s for s in created if s != created[2]]
        assert shown == sorted(shown, key=lambda s: (len(store.raw_line(s)), s))
        assert shown != sorted(shown)  # really another order than created
        assert pane.rows.cursor_slot == created[3]  # the same row under the cursor
        assert "sorted by length" in info(pane) and "sorting" not in info(pane)
        # and the next S cycles on from length: label
        pane.sorter.hold = None
        await pilot.press("S")
        await until(pilot, lambda: not pane.sorter.running, "the sort")
        assert pane.sort == "label"
        await pilot.press("S")  # created needs no sort: at once
        assert pane.sort == "created" and not pane.sorter.running and order() == sorted(order())


async def test_a_superseded_sort_never_lands_after_the_later_one(tmp_path):
    """S (run) held, S (length) held too; the later one is let go: its order is shown and
    the earlier one's result, let go after, is dropped."""
    root = sortable_project(tmp_path)
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = queue(app)
        first, second = threading.Event(), threading.Event()
        pane.sorter.hold = first
        await pilot.press("S")
        pane.sorter.hold = second
        await pilot.press("S")
        assert pane.sorter.wanted == "length"
        second.set()
        await until(pilot, lambda: not pane.sorter.running, "the later sort")
        assert pane.sort == "length"
        first.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert pane.sort == "length" and not pane.sorter.running


async def test_an_empty_restore_dialog_says_so_and_offers_only_esc(pilot):
    """Nothing dropped: the dialog says there is nothing to restore, its key line offers no
    `r`, and `r` does nothing (the dialog stays; nothing is written)."""
    app = pilot.app
    journal = app.project.state_dir / "journal.jsonl"
    before = journal.read_bytes() if journal.exists() else b""
    await pilot.press("2")
    dialog = await restore_dialog(pilot)
    help_line = str(dialog.query_one("#dropped-help").render())
    title = str(dialog.query_one("#dropped-title").render())
    assert "nothing to restore" in title.lower()
    assert "nothing to restore" in help_line and "esc close" in help_line
    assert "r restore" not in help_line and "space mark" not in help_line
    assert dialog.check_action("restore", ()) is False
    await pilot.press("r")
    assert app.screen is dialog
    assert (journal.read_bytes() if journal.exists() else b"") == before
    await pilot.press("escape")
    assert app.screen is not dialog


async def test_a_restore_dialog_with_rows_offers_r(pilot):
    """The other side: with a dropped row, the key line offers `r` and `r` restores it."""
    app = pilot.app
    await pilot.press("x", "1", "2")  # reject the first row (label_ambiguous), to Rejected
    await pilot.press("d", "y")  # drop its group
    await until(pilot, lambda: "dropped" in statuses(app.project.root).values(), "the drop")
    dialog = await restore_dialog(pilot)
    help_line = str(dialog.query_one("#dropped-help").render())
    assert "r restore the highlighted row" in help_line
    assert dialog.check_action("restore", ()) is True
    await pilot.press("r")
    await until(pilot, lambda: "dropped" not in statuses(app.project.root).values(), "the restore")


# ---------------------------------------------------------------- main keys under a dialog
# (ctrl+p too: the palette is a priority key, and it lists the app's actions, Undo among them)
MAIN_KEYS = (
    "u",
    "ctrl+r",
    "1",
    "2",
    "3",
    "4",
    "5",
    "s",
    "n",
    "i",
    "E",
    "Q",
    "q",
    "a",
    "x",
    "S",
    "C",
    "ctrl+p",
)


def behind(app) -> tuple:
    """What the main screen shows, and the decisions on disk."""
    pane = app.screen_stack[0].query_one("#queue-pane", QueuePane)
    journal = app.project.state_dir / "journal.jsonl"
    return (
        app.screen_stack[0].query_one(TabbedContent).active,
        app.screen_stack[0].query_one("#body").has_class("-no-sidebar"),
        pane.rows.cursor_slot,
        pane.sort,
        pane.sorter.running,
        frozenset(pane.rows.selected),
        journal.read_bytes() if journal.exists() else b"",
        tuple(sorted(statuses(app.project.root).items())),
    )


async def open_dialog(pilot, which: str):
    """Open one dialog by its keys (from the Queue, one row approved and one rejected)."""
    app = pilot.app
    opening = {
        "help": ("question_mark",),
        "reason picker": ("x", "tab"),
        "edit": ("e",),
        "filters": ("slash",),
        "columns": ("C",),
        "restore": ("2", "R"),
        "confirm": ("2", "d"),
        "export": ("E",),
        "import": ("i",),
        "quarantine": ("Q",),
        "new job": ("n",),
    }[which]
    await pilot.press(*opening)
    await until(pilot, lambda: len(app.screen_stack) > 1, f"the {which} dialog")
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


DIALOGS = (
    "help",
    "reason picker",
    "edit",
    "filters",
    "columns",
    "restore",
    "confirm",
    "export",
    "import",
    "quarantine",
    "new job",
)


@pytest.mark.parametrize("which", DIALOGS)
async def test_main_screen_keys_do_nothing_under_a_dialog(tmp_path, which):
    """Under each dialog, every key of the main screen the dialog does not bind itself (`u`,
    `ctrl+r`, the tab keys, `s`, `n`, `i`, `E`, `Q`, `q`, `a`, `x`, `S`, `C`, `ctrl+p`) leaves the
    dialog open and changes nothing behind it, on screen or on disk."""
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(12)).root
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("a")  # something to undo
        await pilot.press("x", "2")  # a rejected row, for the drop question
        await until(pilot, lambda: list(statuses(root).values()).count("rejected") == 1, "the reject")
        dialog = await open_dialog(pilot, which)
        before = behind(app)
        pressed = []
        for key in MAIN_KEYS:
            bound = dialog.active_bindings.get(key)
            if bound is not None and bound.node is not app:
                continue  # the dialog's own key (a reason key, `y`/`n`, the help's `q`)
            pressed.append(key)
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is dialog, (which, key, app.screen)
        assert {"u", "s", "Q", "E", "i", "ctrl+p"} <= set(pressed), pressed
        assert len(app.screen_stack) == 2
        assert behind(app) == before, which


async def test_q_still_quits_from_the_main_screen_and_ctrl_q_from_a_dialog(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await until(pilot, lambda: app._exit, "the exit")
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        await until(pilot, lambda: len(app.screen_stack) > 1, "the filter dialog")
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app._exit, "the exit")


# ---------------------------------------------------------------- import: bad usage is 2
def test_import_of_a_file_of_no_known_format_is_bad_usage(tmp_path, capsys):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(2)).root
    notes = tmp_path / "reviews.txt"
    notes.write_text("a line\n")
    code = main(["import", str(root), str(notes)])
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "reviews.txt" in lines[0] and "--format" in lines[0]
    assert all(name in lines[0] for name in FORMATS)
    assert (
        not (root / "data" / "imported.jsonl").exists()
        or "a line" not in (root / "data" / "imported.jsonl").read_text()
    )
    # an unknown --format too
    code = main(["import", str(root), str(notes), "--format", "docx"])
    _, err = capsys.readouterr()
    assert code == 2 and "jsonl" in err and len(err.strip().splitlines()) == 1
    # and a named format still imports (the check is only for names that say nothing)
    notes.write_text('{"prompt": "Great kettle, boils fast", "completion": "positive"}\n')
    assert main(["import", str(root), str(notes), "--format", "jsonl"]) == 0
    capsys.readouterr()


def test_the_cli_knows_the_same_format_names_as_the_importer(tmp_path):
    """The CLI's list of names a format is told from agrees with `detect_format`."""
    from brewslm_tui.cli.data import NAMED_SUFFIXES

    for suffix in NAMED_SUFFIXES:
        path = tmp_path / f"f{suffix}"
        path.write_text('{"prompt": "p", "completion": "c"}\n')
        assert detect_format(path)
    for suffix in (".txt", ".docx", ".xml", ""):
        assert suffix not in NAMED_SUFFIXES


# ---------------------------------------------------------------- audit: items with no test yet
async def test_the_new_job_form_remembers_the_last_playbook_started(tmp_path):
    """11, New job: the last playbook is remembered (in the same window and after a restart)."""
    from test_jobs_ui import stop_jobs

    from brewslm_tui.ui.jobs.job_form import NewJobScreen

    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    try:
        app = build_app(root)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NewJobScreen), "the form")
            form = app.screen
            first = form.chosen.name
            await pilot.press("down")
            picked = form.chosen.name
            assert picked != first
            form.query_one("#job-form-count").value = "3"
            await pilot.press("enter")  # enter on the list starts the job
            await until(pilot, lambda: not isinstance(app.screen, NewJobScreen), "the job to start")
            await until(pilot, lambda: bool(app.unseen_jobs), "the job to finish")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NewJobScreen), "the form again")
            assert app.screen.chosen.name == picked
        app = build_app(root)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NewJobScreen), "the form")
            assert app.screen.chosen.name == picked
    finally:
        stop_jobs(root)


def test_the_package_metadata_names_its_license_urls_keywords_and_changelog():
    """11, CLI conventions: classifiers, project URLs and keywords; a LICENSE shipped in the
    wheel (the metadata says MIT); a CHANGELOG."""
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    meta = tomllib.loads((repo / "pyproject.toml").read_text())
    project = meta["project"]
    assert project["keywords"] and project["urls"]
    assert any(c.startswith("License :: OSI Approved :: MIT") for c in project["classifiers"]) or (
        project.get("license") in ("MIT", {"text": "MIT"})
    )
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in project["classifiers"])
    license_text = (repo / "LICENSE").read_text()
    assert "MIT" in license_text or "Permission is hereby granted" in license_text
    files = meta.get("tool", {}).get("setuptools", {}).get("license-files") or project.get("license-files")
    assert files and "LICENSE" in files
    changelog = (repo / "CHANGELOG.md").read_text()
    assert changelog.lstrip().startswith("#") and len(changelog.splitlines()) > 3


# ---------------------------------------------------------------- found in the terminal review
def screen_lines(app) -> list[str]:
    """The screen as a person sees it (the compositor's lines, as text)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_at_80x24_the_reason_pickers_key_line_ends_on_screen(tmp_path):
    """x, tab at 80x24: the picker's key line was cut before "esc cancels" once the focus
    went back to the list (tab from the note)."""
    from brewslm_tui.ui.review.modals import ReasonPicker

    root = make_project(tmp_path, sample="sentiment", rows=make_rows(4)).root
    app = build_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("x", "tab")
        await until(pilot, lambda: isinstance(app.screen, ReasonPicker), "the picker")
        await pilot.pause()
        assert any("typing a note" in line and "esc cancels" in line for line in screen_lines(app))
        await pilot.press("tab")  # back to the reasons
        await pilot.pause()
        assert any("reason key picks" in line and "esc cancels" in line for line in screen_lines(app))


def test_a_deferred_slot_draws_nothing_until_its_widget_arrives():
    """The jobs sidebar's slot showed "Deferred.sidebar-slot" (a bare Widget draws its own
    name) for the second or two the sidebar took to build on a loaded machine."""
    from textual.widgets import Static

    from brewslm_tui.ui.shell.deferred import Deferred

    slot = Deferred(lambda: Static("x"), classes="sidebar-slot")
    assert str(slot.render()) == ""


async def test_balance_and_runs_colour_by_the_theme_so_a_light_theme_reads(tmp_path):
    """Balance's verdict line was ANSI green ("Imbalanced" bold yellow, unreadable on a light
    theme's white) and its bars cyan; Runs' state words green/yellow/red. They take the
    theme's colours now, and change with it."""
    from rich.text import Text
    from textual.widgets import DataTable

    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.ui.insight.balance_view import BalanceView
    from brewslm_tui.ui.insight.runs_view import RunsView

    project = make_project(tmp_path, sample="sentiment", rows=make_rows(12))
    await run_generation_job(project, "everyday", count=4, seed=5)  # a finished run: "ok"
    app = build_app(project.root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.theme = "textual-light"
        await pilot.press("5")
        view = app.screen.query_one(BalanceView)
        await until(pilot, lambda: view.balance is not None, "the balance")
        await pilot.pause()

        def styles_at(text: Text, words: str) -> set[str]:
            start = text.plain.index(words)
            return {str(span.style).lower() for span in text.spans if span.start <= start < span.end}

        body = app.screen.query_one("#balance-body").content
        verdict = styles_at(body, "Balanced: no label")
        assert app.theme_variables["success"].lower() in " ".join(verdict), verdict
        assert "green" not in " ".join(verdict)
        bars = styles_at(body, "█")
        assert app.theme_variables["primary"].lower() in " ".join(bars) and "cyan" not in " ".join(bars)
        # another theme: drawn again in its colours
        light_success = app.theme_variables["success"].lower()
        app.theme = "brew"
        await pilot.pause()
        assert app.theme_variables["success"].lower() != light_success
        body = app.screen.query_one("#balance-body").content
        assert app.theme_variables["success"].lower() in " ".join(styles_at(body, "Balanced: no label"))
        # Runs: the state word ("ok" for the sample's finished runs) in the theme's colour
        app.theme = "textual-light"
        await pilot.press("4")
        runs = app.screen.query_one(RunsView)
        await until(pilot, lambda: bool(runs.lines), "the runs")
        await pilot.pause()
        table = runs.query_one(DataTable)
        states = [c for k in range(table.row_count) for c in table.get_row_at(k)[2:3]]
        ok = [c for c in states if isinstance(c, Text) and c.plain == "ok"]
        assert ok and all(app.theme_variables["success"].lower() in str(c.style).lower() for c in ok)


async def test_an_empty_quarantine_says_so_and_offers_only_esc(tmp_path):
    """Q with nothing quarantined offered "enter edit · ctrl+s put back · D discard" over an
    empty table and a disabled field; now it says there is nothing to put back, and esc."""
    from textual.widgets import Input

    from brewslm_tui.ui.quarantine.quarantine_screen import QuarantineScreen, QuarantineTable

    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("Q")
        await until(pilot, lambda: isinstance(app.screen, QuarantineScreen), "the quarantine screen")
        screen = app.screen
        await app.workers.wait_for_complete()
        await pilot.pause()
        hint = str(screen.query_one("#q-hint").render())
        assert hint.strip() == "esc close"
        assert "nothing to put back" in str(screen.query_one("#q-summary").render())
        assert not screen.query_one(QuarantineTable).display and not screen.query_one("#q-fix", Input).display
        await pilot.press("D", "ctrl+s")
        assert app.screen is screen
        await pilot.press("escape")
        assert app.screen is not screen


async def test_the_export_checkboxes_say_on_and_off_by_their_mark(tmp_path):
    """Export's two checkboxes both drew `▐X▌` (on and off told apart by colour alone)."""
    from brewslm_tui.ui.data.export_screen import ExportScreen, MarkedCheckbox

    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        await pilot.pause()
        box = app.screen.query_one("#export-minimal", MarkedCheckbox)
        assert not box.value
        assert any("▐ ▌ only prompt and completion" in line for line in screen_lines(app))
        box.focus()
        await pilot.press("space")
        await pilot.pause()
        assert box.value
        assert any("▐X▌ only prompt and completion" in line for line in screen_lines(app))
        assert any("▐ ▌ export rows that do not fit" in line for line in screen_lines(app))


async def test_at_80x24_the_import_dialogs_key_line_ends_on_screen(tmp_path):
    from brewslm_tui.ui.data.import_screen import ImportScreen

    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ImportScreen), "the import dialog")
        await pilot.pause()
        assert any("ctrl+s import" in line and "esc cancel" in line for line in screen_lines(app))


async def test_tab_and_shift_tab_go_between_the_rows_and_the_sidebar_not_the_tab_strip(tmp_path):
    """shift+tab from the Queue focused the tab strip: `enter` there did nothing (the reviewer
    meant the sidebar's job) and the key bar lost the view's keys. Now tab / shift+tab go
    between the rows and the jobs sidebar; enter on a job shows its rows."""
    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.ui.review.row_list import RowList

    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    record = await run_generation_job(project, "everyday", count=4, seed=5)
    app = build_app(project.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        pane = queue(app)
        for key in ("shift+tab", "tab", "tab", "shift+tab"):
            await pilot.press(key)
            assert type(app.focused).__name__ != "ContentTabs", key
        assert isinstance(app.focused, RowList)
        await pilot.press("shift+tab")
        assert app.focused is not None and app.focused.id == "sidebar"
        await until(pilot, lambda: app.focused.highlighted is not None, "a highlighted job")
        await pilot.press("enter")
        await until(pilot, lambda: pane.filters.run == record.run_id, "the job's rows in the queue")
        assert len(pane.rows.view) == 4
