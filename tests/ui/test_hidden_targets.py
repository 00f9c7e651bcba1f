"""Nothing the user cannot see is acted on (issue 11.3): a hidden Runs tab's table and a hidden
jobs sidebar offer no command in the palette and answer no key."""

from __future__ import annotations

from conftest import ready, until

from brewslm_tui.core.generation.jobs import run_generation_job
from brewslm_tui.ui.insight.runs_view import RunsView
from brewslm_tui.ui.jobs.job_detail import JobDetailScreen
from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.commands import palette_commands
from tests.helpers import make_project, make_rows


def _titles(app) -> dict[str, str]:
    return {c.title: c.help for c in palette_commands(app.screen)}


async def test_no_tab_but_runs_offers_its_show_rows(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(6))
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await until(pilot, lambda: bool(app.query_one("#runs-view", RunsView).lines), "runs counted")
        assert "Show rows" in _titles(app)
        for tab in "1235":
            await pilot.press(tab)
            await pilot.pause()
            assert "Show rows" not in _titles(app), tab


async def test_a_hidden_jobs_sidebar_acts_on_no_job(tmp_path):
    project = make_project(tmp_path, sample="sentiment")
    await run_generation_job(project, "hard-cases", count=4, seed=3)
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        await until(pilot, lambda: sidebar.selected_record is not None, "the job is listed")
        assert {"Job rows", "Job details", "Cancel job"} <= set(_titles(app))
        await pilot.press("s")  # hide the sidebar
        await pilot.pause()
        titles = _titles(app)
        assert not {"Job rows", "Job details", "Cancel job"} & set(titles)
        assert "New job" in titles  # the form asks and names the playbook
        sidebar.focus()  # even with the focus forced onto it, d does nothing
        await pilot.press("d")
        assert not isinstance(app.screen, JobDetailScreen)
        await pilot.press("s")  # shown again: it answers
        await pilot.pause()
        sidebar.focus()
        await pilot.press("d")
        assert isinstance(app.screen, JobDetailScreen)
