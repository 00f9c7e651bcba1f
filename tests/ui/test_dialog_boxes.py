"""Issue 9's last findings, driven with Pilot: every dialog draws the one shared `.modal-box`
(widths and border colours as its variants), the Import screen's write check goes through the
review service, the data screens' errors take the theme's colour, and the Runs table at 80x24
names the columns past its right edge and the keys that bring them in."""

from __future__ import annotations

from conftest import ready, until
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import Input, Static

from brewslm_tui.core.generation.jobs import run_generation_job
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.data.export_screen import ExportScreen
from brewslm_tui.ui.data.import_screen import ImportScreen
from brewslm_tui.ui.insight.runs_view import HINT, DropRunScreen, RunsTable, RunsView
from brewslm_tui.ui.jobs.job_detail import JobDetailScreen
from brewslm_tui.ui.jobs.job_form import NewJobScreen
from brewslm_tui.ui.jobs.quit_question import QuitWithJobsScreen
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows
from tests.ui.test_jobs_ui import ALL_BAD


async def shown(pilot, app, kind: type, what: str) -> None:
    """Until the screen on top is a `kind` whose widgets are mounted (its box drawn)."""
    await until(
        pilot,
        lambda: (
            isinstance(app.screen, kind) and bool(app.screen.query(".modal-box")) and app.screen.is_mounted
        ),
        what,
    )
    await pilot.pause()


def _box(app) -> Vertical:
    boxes = app.screen.query(".modal-box")
    assert len(boxes) == 1, f"{type(app.screen).__name__} draws {len(boxes)} modal boxes"
    return boxes.first(Vertical)


def _colour(app, name: str) -> tuple[int, int, int]:
    return Color.parse(app.theme_variables[name]).rgb


def _drawn(app, box: Vertical, *, width: int, border: str) -> None:
    """The shared rule's look: round border in the theme's `border` colour, surface background."""
    kind, colour = box.styles.border_top
    assert kind == "round"
    assert colour.rgb == _colour(app, border), (type(app.screen).__name__, border)
    assert box.styles.background.rgb == _colour(app, "surface")
    assert box.outer_size.width == width, type(app.screen).__name__


async def test_every_jobs_and_runs_dialog_draws_the_one_modal_box(tmp_path):
    project = make_project(tmp_path, sample="sentiment", playbooks={"all-bad": ALL_BAD}, rows=make_rows(4))
    failed = await run_generation_job(project, "all-bad")
    assert failed.state == "failed"
    app = build_app(project.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.push_screen(JobDetailScreen(failed, project))
        await shown(pilot, app, JobDetailScreen, "the job detail")
        box = _box(app)
        assert box.has_class("-wide") and box.has_class("-danger")  # a failed job: the danger box
        _drawn(app, box, width=100, border="error")
        await pilot.press("escape")

        app.push_screen(NewJobScreen(app.project))
        await shown(pilot, app, NewJobScreen, "the new job form")
        _drawn(app, _box(app), width=72, border="accent")
        await pilot.press("escape")

        app.push_screen(QuitWithJobsScreen([failed]))
        await shown(pilot, app, QuitWithJobsScreen, "the quit question")
        _drawn(app, _box(app), width=72, border="warning")
        await pilot.press("escape")

        await pilot.press("4")
        await until(pilot, lambda: bool(app.query_one("#runs-view", RunsView).lines), "the runs are counted")
        app.query_one("#runs-view", RunsView).select_run("synth-2026-05-29-a1b2")
        await pilot.press("D")
        await shown(pilot, app, DropRunScreen, "the drop question")
        _drawn(app, _box(app), width=72, border="error")
        assert app.screen.query_one(".modal-buttons")  # the shared button row
        await pilot.press("escape")


async def test_a_running_jobs_detail_box_turns_danger_when_the_record_says_failed(tmp_path):
    project = make_project(tmp_path, sample="sentiment", playbooks={"all-bad": ALL_BAD}, rows=make_rows(4))
    failed = await run_generation_job(project, "all-bad")
    app = build_app(project.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        running = failed.model_copy(update={"state": "running"})
        app.push_screen(JobDetailScreen(running))  # no project: it does not follow the record
        await shown(pilot, app, JobDetailScreen, "the job detail")
        assert not _box(app).has_class("-danger")
        _drawn(app, _box(app), width=100, border="accent")
        await pilot.press("escape")
        # following the record on disk (it says failed): the box turns to the danger one
        app.push_screen(JobDetailScreen(running, project))
        await shown(pilot, app, JobDetailScreen, "the followed job detail")
        await until(pilot, lambda: _box(app).has_class("-danger"), "the danger box")
        _drawn(app, _box(app), width=100, border="error")


async def test_the_import_screen_refuses_to_commit_in_a_read_only_window_through_the_service(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    src = tmp_path / "reviews.jsonl"
    src.write_text('{"prompt": "a new prompt", "completion": "positive"}\n')
    imported = root / "data" / "imported.jsonl"
    before = imported.read_bytes() if imported.exists() else None
    holder = Store.open(load_project(root))  # the session is taken: the app opens read-only
    try:
        app = build_app(root)
        assert app.readonly_reason is not None
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            screen = ImportScreen(app.project, app.review)
            app.push_screen(screen)
            await shown(pilot, app, ImportScreen, "the import screen")
            screen.query_one("#import-files", Input).value = str(src)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.result is not None, "the dry run")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is screen and not screen.busy  # nothing started
            assert any("cannot import" in n.message for n in app._notifications)
    finally:
        holder.close()
    assert (imported.read_bytes() if imported.exists() else None) == before  # nothing imported


async def test_data_screen_errors_take_the_themes_error_colour(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for screen, field, result in (
            (ImportScreen(app.project, app.review), "#import-files", "#import-summary"),
            (ExportScreen(app.project), "#export-output", "#export-result"),
        ):
            app.push_screen(screen)
            await shown(pilot, app, type(screen), type(screen).__name__)
            screen.query_one(field, Input).value = ""
            await pilot.press("ctrl+r" if isinstance(screen, ImportScreen) else "ctrl+s")
            out = screen.query_one(result, Static)
            await until(pilot, lambda out=out: "name" in out.content.plain, "the error")
            styles = [str(span.style) for span in out.content.spans]
            assert styles == ["bold $error"], styles
            # drawn in the theme's colour, not the terminal's red
            strip = out.render_line(0)
            colours = {
                seg.style.color.triplet for seg in strip if seg.text.strip() and seg.style and seg.style.color
            }
            assert colours and all(tuple(c) == _colour(app, "error") for c in colours if c), colours
            await pilot.press("escape")


async def test_runs_at_80x24_name_the_columns_past_the_edge_and_the_keys(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    app = build_app(project.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        view = app.query_one("#runs-view", RunsView)
        hint = view.query_one("#runs-hint", Static)
        await until(pilot, lambda: hint.content.plain.startswith("→"), "the more-columns hint")
        text = hint.content.plain
        assert "appr%" in text and "tokens" in text and "right/left scroll" in text
        assert "drop," not in text.split("(")[0]  # the columns in view are not named
        table = view.query_one(RunsTable)
        await pilot.press("right")
        await until(pilot, lambda: table.scroll_x > 0, "right scrolls the table")
        table.scroll_to(x=table.max_scroll_x, animate=False)
        await until(pilot, lambda: hint.content.plain.startswith("←"), "the hint once all is in view")
        assert "run" in hint.content.plain.split("(")[0]
        await pilot.press("left")
        await pilot.resize_terminal(200, 30)
        await until(pilot, lambda: hint.content.plain == HINT, "no hint when every column fits")
