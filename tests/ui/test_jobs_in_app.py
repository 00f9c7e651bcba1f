"""Jobs started from the app: rows land in the queue without moving the cursor, the bell counts
finished jobs until the sidebar is looked at (also across sessions), a failed job rings and
says why, and a job outlives the app's terminal."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from functools import partial

import orjson
from conftest import ready, statuses, until

from brewslm_tui.core.generation.job_record import list_jobs
from brewslm_tui.core.project import load_project
from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar
from brewslm_tui.ui.review.review_views import QueuePane
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.header import HeaderBar
from tests.ui.test_signals import PtyApp


def header_text(app) -> str:
    return str(app.query_one(HeaderBar).render())


# a job runs as a process of its own: under load it may take long to finish (a cap, not a timing)
wait_for = partial(until, limit=120.0)


async def test_job_rows_land_in_the_queue_and_ring_the_bell(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        rows = app.query_one("#queue-pane", QueuePane).rows
        await pilot.press("j", "j", "space")
        cursor_slot, selected = rows.cursor_slot, set(rows.selected)
        sidebar = app.query_one(JobsSidebar)
        sidebar.start_job("everyday", count=20, seed=7)
        await wait_for(pilot, lambda: app.unseen_jobs, "the job finishes")
        await wait_for(pilot, lambda: len(rows.view) > 40, "its rows reach the queue")
        assert rows.cursor_slot == cursor_slot and rows.selected == selected
        assert "bell 1" in header_text(app)
        assert any("finished" in n.message for n in app._notifications)
        # the new rows are on disk as pending, from the job's run
        on = statuses(project_dir)
        assert list(on.values()).count("pending") == len(rows.view)
        # looking at the sidebar clears the bell
        sidebar.focus()
        await pilot.pause()
        assert "bell 0" in header_text(app)


async def test_failed_job_rings_and_says_why(project_dir):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    playbook = project_dir / "playbooks" / "local-llm.toml"
    text = playbook.read_text().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    text = text.replace("retries = 2", "retries = 0").replace("backoff = 1.0", "backoff = 0.0")
    playbook.write_text(text)
    app = build_app(project_dir)
    rings = []
    app.bell = lambda: rings.append(1)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        app.query_one(JobsSidebar).start_job("local-llm", count=5)
        await wait_for(pilot, lambda: rings, "the job fails")
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("FAILED" in m for m in errors), errors
        assert "bell 1" in header_text(app)
        assert list(statuses(project_dir).values()).count("pending") == 40  # nothing landed


async def test_the_bell_count_survives_a_restart(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        app.query_one(JobsSidebar).start_job("everyday", count=5, seed=3)
        await wait_for(pilot, lambda: app.unseen_jobs, "the job finishes")
        assert "bell 1" in header_text(app)
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert "bell 1" in header_text(app)
        app.query_one(JobsSidebar).focus()
        await pilot.pause()
        assert "bell 0" in header_text(app)
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert "bell 0" in header_text(app)


HELD = """\
import json, os, sys, time
labels = ["positive", "negative", "neutral", "mixed"]
for i in range(30):
    if i == 5:
        while not os.path.exists(os.environ["GO"]):
            time.sleep(0.01)
    print(json.dumps({"prompt": f"Classify: held review number {i}", "completion": labels[i % 4]}), flush=True)
"""


def test_a_job_outlives_the_terminal_and_the_reopened_app_counts_it(project_dir, tmp_path):
    """SIGHUP to the app (the SSH connection dropped) while a job it started runs: the job
    finishes, its rows land, and the reopened app shows it finished with the bell counting it."""
    go = tmp_path / "go"
    (project_dir / "held.py").write_text(HELD)
    (project_dir / "playbooks" / "held.toml").write_text(
        'generator = "command"\ncount = 30\n[limits]\nbatch_rows = 1\n'
        f'[command]\nargv = ["{{python}}", "held.py"]\n[command.env]\nGO = "{go}"\n'
    )
    state = project_dir / ".brewslm"
    state.mkdir(exist_ok=True)
    (state / "last-playbook.json").write_bytes(orjson.dumps("held"))  # the form starts on it
    project = load_project(project_dir)
    app = PtyApp(project_dir)
    try:
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        app.type("n")
        app.wait_for(lambda: b"Seed" in app.output, "the new-job form")
        app.type("\r")
        app.wait_for(
            lambda: any(r.state == "running" and r.landed >= 5 for r in list_jobs(project)),
            "the job to run and land its first rows",
            limit=120,
        )
        job = list_jobs(project)[0]
        app.close_terminal()
        app.proc.send_signal(signal.SIGHUP)
        assert app.proc.wait(timeout=30) == 0
    finally:
        app.kill()
    assert list_jobs(project)[0].state == "running"  # the app is gone, the job is not
    go.touch()
    deadline = time.monotonic() + 120
    while list_jobs(project)[0].state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    final = list_jobs(project)[0]
    assert final.run_id == job.run_id and final.state == "succeeded" and final.landed == 30
    rows = [orjson.loads(line) for line in project.synthetic_path.read_bytes().splitlines()]
    assert sum(r["run_id"] == job.run_id for r in rows) == 30

    async def reopen() -> None:
        app = build_app(project_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            sidebar = app.query_one(JobsSidebar)
            await wait_for(pilot, lambda: job.run_id in app.unseen_jobs, "the bell counts it")
            assert "bell 1" in header_text(app)
            await wait_for(
                pilot,
                lambda: sidebar.options and sidebar.options[0].prompt.plain.startswith("ok held"),
                "the sidebar shows it finished",
            )
            assert len(app.store) == 70

    asyncio.run(reopen())
