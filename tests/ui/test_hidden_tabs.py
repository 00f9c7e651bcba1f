"""Nothing acts on a tab that is not shown, and starting a job asks first, naming its target
(issue 11.3)."""

from __future__ import annotations

from conftest import ready

from brewslm_tui.core.generation.jobs import list_jobs, run_generation_job
from brewslm_tui.ui.review.modals import ConfirmScreen
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.commands import palette_commands
from tests.helpers import make_project


async def test_regenerate_asks_first_and_names_the_run(tmp_path):
    project = make_project(tmp_path, sample="sentiment")
    record = await run_generation_job(project, "hard-cases", count=6, seed=3)
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        assert record.run_id in app.screen.summary and "hard-cases" in app.screen.summary
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
    assert [r.run_id for r in list_jobs(project)] == [record.run_id]  # no job was started


async def test_the_palette_lists_no_action_of_a_hidden_runs_tab(tmp_path):
    project = make_project(tmp_path, sample="sentiment")
    await run_generation_job(project, "hard-cases", count=6, seed=3)
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        titles = {c.title for c in palette_commands(app.screen)}
        assert {"Regenerate", "Drop run rows"} <= titles
        await pilot.press("5")
        await pilot.pause()
        titles = {c.title for c in palette_commands(app.screen)}
        assert "Regenerate" not in titles and "Drop run rows" not in titles


async def test_the_palette_lists_every_action_by_name_with_its_view(tmp_path):
    """From Balance the palette offers Approve and Reject, named with the view they act on;
    choosing one shows that view first and acts there, on the row now in sight (issue 11)."""
    from tests.helpers import make_rows

    project = make_project(tmp_path, sample="sentiment", rows=make_rows(5))
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        commands = {c.title: c for c in palette_commands(app.screen)}
        for title in ("Approve — Queue", "Reject — Queue", "Export candidates…", "Queue"):
            assert title in commands, (title, sorted(commands))
        assert commands["Approve — Queue"].help.startswith("Queue")
        assert all(c.help for c in commands.values())
        first = app.store.id_of(app.query_one("#queue-pane").rows.cursor_slot)
        commands["Approve — Queue"].callback()
        await pilot.pause()
        await pilot.pause()
        assert app.query_one("#tabs").active == "queue"
        assert app.store.row(app.store.index_of(first))["review_status"] == "approved"
