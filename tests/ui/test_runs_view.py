"""The Runs tab says what it will do: `D` counts only the rows it drops (as the CLI does), and
`enter` on a run without rows shows its diagnostic, not an empty queue (issue 11)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

from conftest import ready, until

from brewslm_tui.cli import main as cli_main
from brewslm_tui.core.generation.jobs import run_generation_job
from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.insight.runs_view import DropRunScreen, RunsView
from brewslm_tui.ui.jobs.job_detail import JobDetailScreen
from brewslm_tui.ui.review.review_views import QueuePane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows

RUN = "synth-2026-05-29-a1b2"


def _runs_ready(app) -> bool:
    view = app.query("#runs-view")
    return bool(view) and bool(view.first(RunsView).lines)


async def test_drop_run_counts_only_rows_still_rejected_like_the_cli(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(30))
    with Store.open(project) as store:
        store.reject(range(8), "minor_typo")
        store.reject(range(8, 13), "wrong_label")
        store.reject(range(13, 17), "wrong_label")
        store.reject(range(17, 19), "low_quality")
        store.drop(range(13, 17))  # moved to dropped.jsonl by the compaction
        store.compact()
        store.drop([store.index_of(f"r{k:06d}") for k in (17, 18)])  # dropped, in the journal only
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["drop", str(project.root), "--run", RUN, "--dry-run"]) == 0
    assert "would drop 13 rows: minor_typo 8, wrong_label 5" in out.getvalue()
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await until(pilot, lambda: _runs_ready(app), "the runs are counted")
        await pilot.press("D")
        assert isinstance(app.screen, DropRunScreen)
        text = str(app.screen.query_one("Static").render())
        assert "drop its 13 rejected rows (minor_typo 8, wrong_label 5; 6 already dropped)" in text
        assert "low_quality" not in text.split("\n")[1]


async def test_enter_on_a_failed_run_shows_its_diagnostic_not_an_empty_queue(tmp_path):
    from tests.ui.test_jobs_ui import ALL_BAD

    project = make_project(tmp_path, sample="sentiment", playbooks={"all-bad": ALL_BAD}, rows=make_rows(4))
    failed = await run_generation_job(project, "all-bad")
    assert failed.state == "failed"
    app = build_app(project.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await until(pilot, lambda: _runs_ready(app), "the runs are counted")
        view = app.query_one("#runs-view", RunsView)
        view.select_run(failed.run_id)
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        assert app.screen.record.run_id == failed.run_id
        assert "too_long" in app.screen.query_one("#job-detail-body").content.plain
        await pilot.press("escape")
        assert app.query_one("TabbedContent").active == "runs"
        # a run with pending rows: enter shows them in the queue, d its details
        view.select_run(RUN)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "queue"
        assert app.query_one("#queue-pane", QueuePane).rows.view.filter.run == RUN
        await pilot.press("4")
        await pilot.pause()
        view.select_run(failed.run_id)
        await pilot.press("d")
        assert isinstance(app.screen, JobDetailScreen)


def test_a_runs_line_shows_the_backends_tokens_and_rates_and_nothing_for_a_template_run():
    """Issue 13: each run shows tokens, tokens/s and requests/s in the Runs view too."""
    from brewslm_tui.core.generation.job_record import JobRecord
    from brewslm_tui.core.stats import RunTally
    from brewslm_tui.ui.insight.runs_view import COLUMNS, RunLine, run_cells

    column = COLUMNS.index("tokens")
    model = JobRecord(
        run_id="synth-llm",
        playbook="llm",
        state="succeeded",
        counts={"requested": 10, "usable": 10, "landed": 10},
        elapsed_seconds=4.0,
        tokens_prompt=3000,
        tokens_completion=1000,
        requests=8,
    )
    cells = run_cells(RunLine("synth-llm", RunTally("synth-llm"), model))
    assert len(cells) == len(COLUMNS)
    assert cells[column].plain == "4.0k tok · 1.0k tok/s · 2 req/s", cells[column].plain
    template = JobRecord(run_id="synth-t", playbook="t", state="succeeded", counts={"requested": 1})
    assert run_cells(RunLine("synth-t", RunTally("synth-t"), template))[column].plain == ""
    assert run_cells(RunLine("synth-x", RunTally("synth-x")))[column].plain == ""
