"""Jobs sidebar, new-job form, job detail, runs and balance views, help and palette: Pilot tests.

Each test runs the real app (`build_app`) on its own copy of the sentiment sample project,
with playbooks written into tmp_path, real jobs (template and command generators, a real
`brewslm-tui generate` subprocess), and asserts what is on disk: job records, rows.
Waiting loops wait for an outcome (with a generous cap so a broken build fails instead of
hanging); nothing asserts on speed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import orjson
import pytest
from conftest import ready, until
from textual.widgets import DataTable, Input

from brewslm_tui.core.generation.jobs import list_jobs, run_generation_job
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store, append_rows
from brewslm_tui.ui.insight.balance_view import BalanceView, dominance_warning
from brewslm_tui.ui.insight.runs_view import RunsView
from brewslm_tui.ui.jobs.job_detail import JobDetailScreen
from brewslm_tui.ui.jobs.job_form import NewJobScreen, parse_job_form
from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.commands import palette_commands
from brewslm_tui.ui.shell.help_screen import HelpScreen
from tests.helpers import make_project

SIZE = (100, 30)

TINY = """
name = "tiny"
description = "plain praise and complaints"
generator = "template"
count = 20
seed = 1
[[hard_cases]]
name = "plain"
[hard_cases.templates]
positive = ["I love this {product}, it is {good}.", "Great {product}: {good}."]
negative = ["This {product} broke, {bad}.", "Awful {product}: {bad}."]
neutral = ["It is a {product}. It works.", "The {product} arrived on {day}."]
mixed = ["The {product} is {good} but {bad}.", "{good} {product}, yet {bad}."]
[template]
prompt = "Classify the sentiment: {text}"
[template.slots]
product = ["lamp", "kettle", "phone case", "toaster", "chair", "desk", "mug", "fan", "router", "blender"]
good = ["sturdy", "quiet", "fast", "pretty", "cheap", "solid", "light"]
bad = ["loud", "flimsy", "slow", "ugly", "pricey", "heavy", "late"]
day = ["monday", "tuesday", "friday", "sunday"]
"""

# every candidate is longer than the project's max_prompt_chars (2000): nothing is usable
ALL_BAD = (
    """
name = "all-bad"
description = "every candidate is far too long"
count = 10
seed = 1
[[hard_cases]]
name = "long"
[hard_cases.templates]
positive = ["{pad} good"]
negative = ["{pad} bad"]
neutral = ["{pad} meh"]
mixed = ["{pad} so-so"]
[template.slots]
pad = ["""
    + json.dumps("x" * 2100)
    + "]\n"
)

# a user's own generator that takes its time: one valid row every 50 ms, landed one at a time
SLOW = """
name = "slow"
description = "one row every 50 ms"
generator = "command"
count = 5000
[limits]
batch_rows = 1
[command]
argv = ["{python}", "slow_gen.py"]
"""
SLOW_GEN = """
import json, sys, time
labels = ["positive", "negative", "neutral", "mixed"]
for i in range(100000):
    print(json.dumps({"prompt": f"Classify the sentiment: slow review number {i}", "completion": labels[i % 4]}), flush=True)
    time.sleep(0.05)
"""

BROKEN = """
name = "broken"
balance = { positive = 1, happy = 2 }
"""


def jobs_project(tmp_path: Path) -> Path:
    """A copy of the sentiment sample with this file's playbooks (and the slow command's script)."""
    books = {"tiny": TINY, "all-bad": ALL_BAD, "slow": SLOW, "broken": BROKEN}
    root = make_project(tmp_path, sample="sentiment", playbooks=books).root
    (root / "slow_gen.py").write_text(SLOW_GEN)
    return root


@pytest.fixture
def root(tmp_path: Path):
    """The project; afterwards every job still running in it is stopped (they are processes of
    their own and would outlive the test)."""
    root = jobs_project(tmp_path)
    yield root
    stop_jobs(root)


def stop_jobs(root: Path) -> None:
    import os
    import signal
    import time

    from brewslm_tui.core.generation.job_record import LIVE_STATES

    project = load_project(root)
    for record in list_jobs(project):
        if record.state in LIVE_STATES and record.pid and record.pid != os.getpid():
            try:
                os.kill(record.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.kill(record.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)


def synthetic_rows(root: Path) -> list[dict]:
    path = root / "data" / "synthetic.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


async def generate_elsewhere(root: Path, *args: str, output: int = asyncio.subprocess.PIPE):
    """`brewslm-tui generate ROOT ARGS` as another process (not started by the app)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "brewslm_tui", "generate", str(root), *args, stdout=output, stderr=output
    )


def records_of(sidebar: JobsSidebar, proc) -> list:
    """The sidebar's records of the jobs that process runs."""
    return [r for r in sidebar.records.values() if r.pid == proc.pid]


def records_on_disk(root: Path) -> dict[str, dict]:
    return {p.stem: orjson.loads(p.read_bytes()) for p in (root / ".brewslm" / "jobs").glob("*.json")}


def option_texts(sidebar: JobsSidebar) -> list[str]:
    return [option.prompt.plain for option in sidebar.options]


def record_of(sidebar: JobsSidebar, run_id: str):
    return sidebar.records.get(run_id)


def landed_of(sidebar: JobsSidebar, run_id: str) -> int:
    record = record_of(sidebar, run_id)
    return record.landed if record is not None else 0


def count_bells(app) -> list[int]:
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # the terminal bell, counted instead of rung
    return bells


# --- new job form -------------------------------------------------------------------------


def test_form_validation_rules():
    assert parse_job_form("", "") == ({"count": None, "seed": None}, [])
    assert parse_job_form(" 12 ", "-3") == ({"count": 12, "seed": -3}, [])
    assert parse_job_form("1_000", "") == ({"count": 1000, "seed": None}, [])
    for bad in ("0", "-5", "abc", "1.5", "99999999999"):
        assert parse_job_form(bad, "")[1], bad
    assert parse_job_form("5", "x")[1]


async def test_start_job_from_form_lands_rows_and_rings_the_bell(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, NewJobScreen)
        playbooks = [b.name for b in form.books]
        assert playbooks == ["all-bad", "slow", "tiny"]
        # the broken playbook is listed with its error (file and key) and cannot be picked
        broken = [o for o in form.query_one("#job-form-playbooks").options if o.disabled]
        assert (
            len(broken) == 1 and "broken.toml" in broken[0].prompt.plain and "happy" in broken[0].prompt.plain
        )

        seed = form.query_one("#job-form-seed", Input)
        await pilot.press("down")  # slow pins no seed: a fresh one is filled in
        fresh = seed.value
        assert form.chosen.name == "slow" and fresh.isdigit()
        await pilot.press("down", "down")  # tiny; the list stops at its end (no wrap)
        assert form.chosen.name == "tiny" and seed.value == "1"  # tiny pins seed 1
        await pilot.press("tab")
        assert isinstance(app.focused, Input) and app.focused.id == "job-form-count"
        await pilot.press("a", "b", "c", "enter")  # invalid count: the form stays, says why
        assert app.screen is form
        assert "not a whole number" in str(form.query_one("#job-form-errors").content)
        await pilot.press("backspace", "backspace", "backspace", "1", "2")
        seed.value = "7"
        await pilot.press("enter")

        sidebar = app.query_one(JobsSidebar)
        await until(pilot, lambda: app.unseen_jobs, "the job finishes")
        run_id = next(iter(app.unseen_jobs))
        await until(pilot, lambda: len(app.store) == 12, "the queue picks up the rows")

        rows = synthetic_rows(root)
        assert len(rows) == 12
        assert {(r["run_id"], r["playbook"], r["review_status"], r["source"]) for r in rows} == {
            (run_id, "tiny", "pending", "synth_playbook")
        }
        record = records_on_disk(root)[run_id]
        assert (
            record["state"] == "succeeded"
            and record["params"]["seed"] == 7
            and record["counts"]["landed"] == 12
        )
        assert option_texts(sidebar)[0].startswith("ok tiny")
        assert "12/12 rows" in option_texts(sidebar)[0]
        assert len(app.unseen_jobs) == 1  # the header's bell count

        # looking at the job clears it from the bell; d opens it, enter shows its rows
        sidebar.focus()
        sidebar.highlighted = 0
        await pilot.press("d")
        assert isinstance(app.screen, JobDetailScreen)
        assert not app.unseen_jobs
        await pilot.press("escape")
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "queue"
        queue = app.query_one("#queue-pane")
        assert queue.rows.view.filter.run == run_id and len(queue.rows.view) == 12

    # the next form starts on the playbook last used
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.chosen.name == "tiny"


async def test_escape_closes_the_form_without_starting(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, NewJobScreen)
        assert not (root / ".brewslm" / "jobs").exists() or not list((root / ".brewslm" / "jobs").iterdir())


# --- failure ------------------------------------------------------------------------------


async def test_failed_job_shows_failed_rings_and_explains(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        bells = count_bells(app)
        sidebar = app.query_one(JobsSidebar)
        sidebar.start_job("all-bad")
        await until(pilot, lambda: app.unseen_jobs, "the job ends", limit=120)
        run_id = next(iter(app.unseen_jobs))
        assert records_on_disk(root)[run_id]["state"] == "failed"
        assert synthetic_rows(root) == []
        assert bells == [1]
        text = option_texts(sidebar)[0]
        assert text.startswith("FAILED all-bad") and "too_long" in text

        sidebar.focus()
        sidebar.highlighted = 0
        await pilot.press("d")
        detail = app.screen
        assert isinstance(detail, JobDetailScreen)
        body = detail.query_one("#job-detail-body").content.plain
        assert "Stopped early" in body
        assert "too_long" in body and "limit 2000" in body  # the cause and its examples
        assert "max_prompt_chars" in body  # the advice
        await pilot.press("escape")
        assert not isinstance(app.screen, JobDetailScreen)
        await pilot.press("enter")  # no rows landed: enter explains instead of an empty queue
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("escape")


async def test_unknown_playbook_is_an_error_not_a_crash(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        bells = count_bells(app)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("no-such-playbook")
        await until(pilot, lambda: bells, "the start fails")
        await pilot.pause()
        assert bells == [1] and job.error and "no-such-playbook" in job.error
        assert job.run_id not in sidebar.records
        assert app.is_running


# --- cancel -------------------------------------------------------------------------------


async def test_cancel_a_running_job_keeps_its_rows(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("slow")
        await until(pilot, lambda: landed_of(sidebar, job.run_id) >= 3, "rows land", limit=120)
        await until(pilot, lambda: option_texts(sidebar)[0].startswith("running slow"), "the list repaints")
        assert "/5000" in option_texts(sidebar)[0] and "rows/s" in option_texts(sidebar)[0]
        sidebar.focus()
        sidebar.highlighted = 0
        await pilot.press("c")
        await pilot.press("y")  # confirm
        await until(pilot, lambda: job.finished, "the job stops")
        record = records_on_disk(root)[job.run_id]
        assert record["state"] == "cancelled"
        assert record["diagnostic"]["headline"].startswith("Cancelled by the user (in the app)")
        landed = record["counts"]["landed"]
        assert landed >= 3
        assert len([r for r in synthetic_rows(root) if r["run_id"] == job.run_id]) == landed
        await until(pilot, lambda: option_texts(sidebar)[0].startswith("cancelled slow"), "the list says so")


async def test_cancel_asks_first(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("slow")
        await until(
            pilot, lambda: getattr(record_of(sidebar, job.run_id), "state", "") == "running", "the job starts"
        )
        sidebar.focus()
        sidebar.highlighted = 0
        await pilot.press("c", "n")  # said no
        await pilot.pause(0.3)
        assert not (root / ".brewslm" / "jobs" / f"{job.run_id}.cancel").exists() and not job.finished
        sidebar.cancel(job.run_id)
        await until(pilot, lambda: job.finished, "cleanup")


# --- a job from another process -------------------------------------------------------------


async def test_job_from_another_process_appears_and_can_be_cancelled(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        proc = await generate_elsewhere(root, "--playbook", "slow")
        try:

            def foreign():
                return records_of(sidebar, proc)

            await until(pilot, lambda: foreign() and foreign()[0].state == "running", "the CLI job shows up")
            await until(pilot, lambda: len(app.store) >= 3, "its rows reach the queue")
            run_id = foreign()[0].run_id
            assert sidebar.options[0].id == run_id  # running first
            # cancel it from here: a cancel file the CLI process notices; it cancels cleanly
            sidebar.focus()
            sidebar.highlighted = 0
            await pilot.press("c", "y")
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert records_on_disk(root)[run_id]["state"] == "cancelled"
        await until(pilot, lambda: sidebar.records[run_id].state == "cancelled", "the sidebar sees the end")
        await until(pilot, lambda: run_id in app.unseen_jobs, "it counts in the bell")


async def test_finished_job_of_another_process_appears(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        # a record already finished at the first poll is an old job (no bell): start the job
        # only after the first poll, however late a loaded machine runs it
        await until(pilot, lambda: sidebar._polls >= 1, "the sidebar's first poll")
        proc = await generate_elsewhere(root, "--playbook", "tiny", "--count", "8")
        out, _err = await asyncio.wait_for(proc.communicate(), 60)
        run_id = out.decode().split()[0]
        # the sidebar may have seen it running; the next poll after it ended shows the end
        await until(
            pilot,
            lambda: run_id in sidebar.records and sidebar.records[run_id].state == "succeeded",
            "the final record is read",
        )
        await until(pilot, lambda: len(app.store) == 8, "its rows reach the queue")
        # JobFinished is posted when the sidebar reads the final record and reaches the app a
        # few message hops later; the rows may already be in (the app's own probe), so the bell
        # is waited for, not asserted right after the record is seen
        await until(pilot, lambda: run_id in app.unseen_jobs, "it counts in the bell")
        assert option_texts(sidebar)[0].startswith("ok tiny")


# --- runs ---------------------------------------------------------------------------------


async def test_runs_view_counts_show_and_regenerate(root):
    project = load_project(root)
    record = await run_generation_job(project, "tiny", count=10, seed=3)
    append_rows(
        project,
        [
            {
                "id": f"orphan-{k}",
                "prompt": f"Classify: orphan row {k}",
                "completion": "neutral",
                "review_status": "pending",
                "source": "synth_playbook",
                "run_id": "synth-old-0001",
                "playbook": "legacy",
            }
            for k in range(4)
        ],
    )
    with Store.open(project) as store:
        slots = [i for i in range(len(store)) if store.run_of(i) == record.run_id]
        store.approve(slots[:3])
        store.reject(slots[3:5], "label_ambiguous")
        store.reject(slots[5:6], "minor_typo")
        store.drop(slots[5:6])

    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("4")
        view = app.query_one(RunsView)
        await until(pilot, lambda: len(view.lines) == 2, "the runs are counted")
        by_run = {line.run_id: line for line in view.lines}
        t = by_run[record.run_id].tally
        assert (t.pending, t.approved, t.rejected, t.dropped) == (4, 3, 2, 1)
        assert t.approval_rate == pytest.approx(0.5)
        assert dict(t.reasons) == {"label_ambiguous": 2, "minor_typo": 1}
        orphan = by_run["synth-old-0001"]
        assert orphan.record is None and orphan.playbook == "legacy" and orphan.tally.pending == 4
        table = view.query_one(DataTable)
        row = [cell.plain for cell in table.get_row(record.run_id)]
        assert row[0] in record.run_id and row[1] == "tiny" and row[2] == "ok"
        assert row[3:10] == ["4", "3", "2", "1", "50%", "10", "10"]  # pend appr rej drop rate gen usable
        assert "label_ambiguous 2" in row[10]

        # enter: the run's rows in the queue
        table.move_cursor(row=[line.run_id for line in view.lines].index(record.run_id))
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "queue"

        # r: a new job like this run
        await pilot.press("4")
        await pilot.pause()
        table.move_cursor(row=[line.run_id for line in view.lines].index(record.run_id))
        await pilot.press("r", "y")  # r asks first, naming the run (issue 11.3)
        await until(pilot, lambda: len(app.unseen_jobs) == 1, "the regenerated run finishes")
        new = [r for r in list_jobs(project) if r.params.get("like_run_id") == record.run_id]
        assert len(new) == 1 and new[0].state == "succeeded" and new[0].playbook == "tiny"
        assert new[0].params["seed"] != 3 and new[0].params["count"] == 10
        await until(pilot, lambda: len(view.lines) == 3, "the new run gets a line")


async def test_drop_run_asks_what_to_drop_then_drops(root):
    project = load_project(root)
    await run_generation_job(project, "tiny", count=6, seed=3)
    with Store.open(project) as store:
        store.reject([0, 1], "label_ambiguous")
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("4")
        view = app.query_one(RunsView)
        await until(pilot, lambda: view.lines, "the runs are counted")
        await pilot.press("D")
        await pilot.pause()
        summary = str(app.screen.query_one("Static").content)
        assert "2 rejected rows (label_ambiguous 2)" in summary and "6 unapproved rows" in summary
        await pilot.press("r")  # rejected only; the app asks once more with its per-reason summary
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the app's confirmation")
        await pilot.press("y")
        await pilot.pause()
        await until(pilot, lambda: view.lines and view.lines[0].tally.dropped == 2, "the view recounts")
    with Store.open(project, readonly=True) as store:
        assert store.counts() == {"pending": 4, "approved": 0, "rejected": 0, "dropped": 2}


# --- balance ------------------------------------------------------------------------------


def test_dominance_rule():
    from collections import Counter

    labels = ["positive", "negative", "neutral", "mixed"]
    assert dominance_warning(Counter(positive=10, negative=10, neutral=9, mixed=8), labels) is None
    assert "dominates" in dominance_warning(Counter(positive=60, negative=20, neutral=10, mixed=10), labels)
    assert "4.0x" in dominance_warning(Counter(positive=40, negative=30, neutral=20, mixed=10), labels)
    assert (
        dominance_warning(Counter(positive=4, negative=4, neutral=4), labels) == "no training rows for mixed"
    )
    assert "3.5x" in dominance_warning(Counter(yes=7, no=2), ["yes", "no"])
    assert dominance_warning(Counter(), labels) is None


async def test_balance_view_warns_when_one_label_dominates(root):
    project = load_project(root)
    append_rows(
        project,
        [
            {
                "id": f"p{k}",
                "prompt": f"Classify: glowing review {k}",
                "completion": "positive",
                "review_status": "pending",
                "source": "synth_playbook",
                "run_id": "synth-x",
                "playbook": "x",
            }
            for k in range(200)
        ],
    )
    with Store.open(project) as store:
        store.approve(range(150))
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("5")
        view = app.query_one(BalanceView)
        await until(pilot, lambda: view.balance is not None, "the balance is counted")
        body = view.query_one("#balance-body").content
        text = body.plain if hasattr(body, "plain") else str(body)
        assert "positive dominates" in text
        dist = view.balance.distributions[0]
        assert dist.approved["positive"] == 150 and sum(dist.approved.values()) == 150
        assert sum(dist.imported.values()) == 66  # the sample's hand-labelled rows


# --- help and palette ---------------------------------------------------------------------


async def test_help_lists_the_keys_of_the_focused_view(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one(JobsSidebar).focus()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-body").content.plain
        assert "JOBS" in text and "Cancel job" in text and "New job" in text
        assert "j / ↓" in text or "↓ / j" in text  # hidden keys are listed too
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_has_every_job_action(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause()
        commands = palette_commands(app.screen)
        titles = [command.title for command in commands]
        for expected in (
            "New job",
            "Cancel job",
            "Job details",
            "Runs",
            "Balance",
        ):
            assert expected in titles, expected
        await pilot.press("4")  # the Runs tab's actions are listed while it is shown (issue 11.3)
        await pilot.pause()
        runs_titles = [command.title for command in palette_commands(app.screen)]
        assert "Regenerate" in runs_titles and "Drop run rows" in runs_titles
        await pilot.press("1")
        await pilot.pause()
        assert len({t.casefold() for t in titles}) == len(titles)  # "new job" is listed once
        assert not {"up", "down", "page down"} & {
            t.casefold() for t in titles
        }  # cursor keys are not commands

        # a command runs on the widget that binds it, wherever the focus is
        assert app.focused is not app.query_one(JobsSidebar)
        await next(c for c in commands if c.title == "New job").callback()
        await pilot.pause()
        assert isinstance(app.screen, NewJobScreen)


async def test_detail_of_a_running_job_follows_it(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("slow")
        await until(pilot, lambda: landed_of(sidebar, job.run_id) >= 1, "rows land", limit=120)
        await until(pilot, lambda: option_texts(sidebar)[0].startswith("running slow"), "the list repaints")
        sidebar.focus()
        sidebar.highlighted = 0
        await pilot.press("d")
        detail = app.screen
        assert isinstance(detail, JobDetailScreen)
        assert detail.query_one("#job-detail-body").content.plain.startswith("running  slow")
        sidebar.cancel(job.run_id)
        await until(pilot, lambda: job.finished, "the job stops")
        await until(
            pilot,
            lambda: detail.query_one("#job-detail-body").content.plain.startswith("cancelled"),
            "the open detail shows the end",
        )
        assert "Cancelled by the user" in detail.query_one("#job-detail-body").content.plain


HOSTILE_GEN = r"""
import json
rows = [
    {"prompt": "Classify: [@click=app.quit]x[/] and [/INST]", "completion": "[bold red]positive[/]"},
    {"prompt": "Classify: clear\x1b[2Jscreen \u202eevil\u202c", "completion": "negative"},
]
for i in range(200):
    row = dict(rows[i % 2])
    row["prompt"] += f" #{i}"
    print(json.dumps(row), flush=True)
"""


async def test_hostile_candidates_in_a_diagnostic_render_literally(root):
    (root / "hostile_gen.py").write_text(HOSTILE_GEN)
    (root / "playbooks" / "hostile.toml").write_text(
        'name = "hostile"\ngenerator = "command"\ncount = 20\n[command]\nargv = ["{python}", "hostile_gen.py"]\n'
    )
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("hostile")
        await until(
            pilot, lambda: getattr(record_of(sidebar, job.run_id), "state", "") == "failed", "the job ends"
        )
        sidebar.focus()
        sidebar.highlighted = 0
        await pilot.press("d")
        body = app.screen.query_one("#job-detail-body").content.plain
        assert "[bold red]positive[/]" in body  # not_a_label example, markup shown as text
        assert "[@click=app.quit]x[/]" in body and "[/INST]" in body
        # control characters are shown as escapes (the core's `\u001b` or the UI's `\x1b`), never sent
        assert ("\\u001b[2J" in body or "\\x1b[2J" in body) and "\\u202e" in body
        assert "\x1b" not in body and "\u202e" not in body
        await pilot.press("down", "escape")
        assert app.is_running


def test_detail_content_escapes_raw_backend_text():
    from brewslm_tui.core.generation.jobs import Diagnostic, JobRecord
    from brewslm_tui.ui.jobs.job_detail import job_detail_content

    record = JobRecord(
        run_id="synth-2026-05-29-abcdef",
        playbook="p",
        state="failed",
        counts={"requested": 5, "backend_errors": 3},
        diagnostic=Diagnostic(
            headline="No usable rows [b]really[/b]",
            causes={"unparseable_reply": 2},
            examples={"unparseable_reply": ["<html>\x1b]0;pwned\x07 [@click=app.quit]x[/]"]},
            last_backend_error="HTTP 500: \x9b31m[red]boom[/red]",
            backend_output="line one\n\u202eline two",
        ),
    )
    text = job_detail_content(record).plain
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in text
    for shown in (
        "[b]really[/b]",
        "[@click=app.quit]x[/]",
        "[red]boom[/red]",
        "\\x1b]0;pwned\\x07",
        "\\x9b31m",
        "\\u202eline two",
    ):
        assert shown in text, shown


async def test_runs_and_balance_show_hostile_row_fields_literally(tmp_path):
    root = jobs_project(tmp_path)
    project = load_project(root)
    nasty = "[@click=app.quit]x[/]\x1b[2J"
    append_rows(
        project,
        [
            {
                "id": f"h{k}",
                "prompt": f"Classify: hostile {k}",
                "completion": "positive",
                "review_status": "pending",
                "source": "synth_playbook",
                "run_id": nasty,
                "playbook": "[/INST]\u202e",
            }
            for k in range(3)
        ],
    )
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("4")
        view = app.query_one(RunsView)
        await until(pilot, lambda: view.lines, "the runs are counted")
        cells = [cell.plain for cell in view.query_one(DataTable).get_row(nasty)]
        assert cells[0] == "[@click=app.quit]x[/]\\x1b[2J" and cells[1] == "[/INST]\\u202e"
        await pilot.press("5")
        await pilot.pause()
        assert app.is_running


@pytest.mark.parametrize(
    "sample, titles, note",
    [
        ("support-extraction", ["issue_type", "requested_action"], "order_id, product"),
        ("product-qa", ["answer length"], ""),
    ],
)
def test_balance_without_labels_shows_fields_or_lengths(tmp_path, sample, titles, note):
    from brewslm_tui.ui.insight.balance_view import compute_balance, render_balance

    project = make_project(tmp_path, sample=sample)
    with Store.open(project, readonly=True) as store:
        balance = compute_balance(store, project)
    assert [d.title for d in balance.distributions] == titles
    assert note in balance.note
    assert all(sum(d.imported.values()) > 0 for d in balance.distributions)
    assert not balance.warnings  # the dominance rule is for labels only
    assert titles[0] in render_balance(balance, 100).plain


async def test_o_on_a_queue_row_highlights_its_run(root):
    project = load_project(root)
    for run in ("synth-2026-05-29-aaaaaa", "synth-2026-05-30-bbbbbb", "synth-2026-05-31-cccccc"):
        append_rows(
            project,
            [
                {
                    "id": f"{run}-{k}",
                    "prompt": f"Classify: {run} row {k}",
                    "completion": "neutral",
                    "review_status": "pending",
                    "source": "synth_playbook",
                    "run_id": run,
                    "playbook": "p",
                }
                for k in range(3)
            ],
        )
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("j", "j", "j", "o")  # the fourth row is the second run's
        view = app.query_one(RunsView)
        await until(
            pilot,
            lambda: view.selected_line is not None and view.selected_line.run_id == "synth-2026-05-30-bbbbbb",
            "the run is highlighted",
        )
        assert app.query_one("TabbedContent").active == "runs"


async def test_a_killed_job_of_another_process_shows_interrupted(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        sidebar.foreign_recheck_seconds = 0.2
        proc = await generate_elsewhere(root, "--playbook", "slow", output=asyncio.subprocess.DEVNULL)
        try:

            def foreign():
                return records_of(sidebar, proc)

            await until(pilot, lambda: foreign() and foreign()[0].counts.get("landed", 0) >= 2, "rows land")
            run_id = foreign()[0].run_id
        finally:
            proc.kill()  # SIGKILL: no chance to write a final record
            await proc.wait()
        await until(pilot, lambda: sidebar.records[run_id].state == "interrupted", "the sidebar sees it died")
        assert records_on_disk(root)[run_id]["state"] == "running"  # the file was never finished
        await until(
            pilot, lambda: option_texts(sidebar)[0].startswith("interrupted slow"), "the list says so"
        )
        await until(pilot, lambda: run_id in app.unseen_jobs, "it counts in the bell")


async def test_a_job_started_here_is_a_process_of_its_own_session(root):
    """Not a thread of the app: its own process and session (SIGHUP to the terminal, `q` or a
    crash of the app cannot take it down), followed through its record like any other job."""
    import os

    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("tiny", count=5, seed=3)
        await until(pilot, lambda: app.unseen_jobs, "the job finishes", limit=120)
        await until(pilot, lambda: len(app.store) == 5, "the queue picks up the rows")
        record = records_on_disk(root)[job.run_id]
        assert job.process is not None and record["pid"] == job.process.pid != os.getpid()
        assert record["state"] == "succeeded" and record["params"]["seed"] == 3
    assert job.process.wait(timeout=60) == 0  # the record is final a moment before the exit


async def test_quitting_with_a_running_job_asks_and_leaves_it_running_by_default(root):
    from brewslm_tui.ui.jobs.quit_question import QuitWithJobsScreen

    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        job = sidebar.start_job("slow")
        await until(pilot, lambda: landed_of(sidebar, job.run_id) >= 1, "the job runs", limit=120)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitWithJobsScreen)
        await pilot.press("escape")  # changed my mind: the app stays
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, QuitWithJobsScreen)
        await pilot.press("q", "enter")  # the default: leave it running
        await pilot.pause()
    assert not job.finished  # the app is gone; the job is not
    project = load_project(root)
    from brewslm_tui.core.generation.job_record import read_record

    assert read_record(project, job.run_id).state == "running"

    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        await until(pilot, lambda: job.run_id in sidebar.records, "the reopened app follows it")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitWithJobsScreen)
        await pilot.press("c")  # cancel them, then quit
        await pilot.pause()
    import time

    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    record = records_on_disk(root)[job.run_id]
    assert record["state"] == "cancelled"
    assert record["counts"]["landed"] == len(synthetic_rows(root))


async def test_quitting_without_running_jobs_does_not_ask(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


def test_the_sidebar_lists_running_jobs_first_then_finished_newest_first():
    from brewslm_tui.core.generation.job_record import JobRecord
    from brewslm_tui.ui.jobs.jobs_sidebar import sidebar_order

    def rec(run_id, state, started):
        return JobRecord(run_id=run_id, state=state, started_at=f"2026-12-01T0{started}:00:00Z")

    records = [
        rec("a", "succeeded", 1),
        rec("b", "running", 2),
        rec("c", "failed", 3),
        rec("d", "running", 0),
    ]
    assert [r.run_id for r in sidebar_order(records)] == ["b", "d", "c", "a"]


async def test_a_broken_playbook_is_greyed_with_its_first_error_only(root):
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await pilot.pause()
        options = app.screen.query_one("#job-form-playbooks").options
        broken = [o for o in options if o.disabled]
        assert len(broken) == 1 and "\n" not in broken[0].prompt.plain
        assert any(span.style == "$text-disabled" for span in broken[0].prompt.spans)
        await pilot.press("up")  # at the top: stays (no wrap to the broken one at the end)
        assert app.screen.chosen is not None and app.screen.chosen.name == "all-bad"


async def test_the_sidebar_shows_tokens_and_rates_when_the_backend_reports_them(root):
    import os
    import socket

    from brewslm_tui.core.generation.job_record import JobRecord, iso, save_record, utc_now

    project = load_project(root)
    now = iso(utc_now())
    running = JobRecord(
        run_id="synth-tokens",
        playbook="llm",
        state="running",
        counts={"requested": 100, "usable": 40, "landed": 40},
        started_at=now,
        heartbeat_at=now,
        rows_per_second=10.0,
        elapsed_seconds=4.0,
        tokens_prompt=3000,
        tokens_completion=1000,
        requests=8,
        pid=os.getpid(),  # alive, so the record reads as running
        host=socket.gethostname(),
    )
    save_record(project, running)
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        await until(pilot, lambda: "synth-tokens" in sidebar.records, "the record is read")
        await pilot.pause()
        text = option_texts(sidebar)[0]
        assert text.startswith("running llm") and "tok/s" in text and "req/s" in text


async def test_opening_the_app_removes_temp_records_left_by_dead_writers(root):
    import os

    jobs = root / ".brewslm" / "jobs"
    jobs.mkdir(parents=True)
    dead = jobs / ".synth-x.json.999999999.tmp"
    alive = jobs / f".synth-y.json.{os.getpid()}.tmp"  # a live writer's (this process): kept
    dead.write_text("{")
    alive.write_text("{")
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await until(pilot, lambda: not dead.exists(), "the stale temp file is removed")
    assert alive.exists()
