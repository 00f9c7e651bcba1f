"""One poller for new rows (the app's disk probe); the jobs sidebar reads job records only, in a
thread, and tells the app about rows only for the jobs it started."""

from __future__ import annotations

import threading

from conftest import ready, until

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import append_rows
from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar
from brewslm_tui.ui.review.review_views import QueuePane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_rows


async def test_rows_another_writer_appends_come_through_the_disk_probe_only(project_dir):
    posted: list[str] = []

    def hook(message) -> None:
        if isinstance(message, JobsSidebar.RowsLanded):
            posted.append(type(message).__name__)

    app = build_app(project_dir)
    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        queue = app.query_one("#queue-pane", QueuePane)
        await until(pilot, lambda: sidebar._polls >= 1, "the sidebar's first poll")
        assert len(queue.rows.view) == 40
        append_rows(load_project(project_dir), make_rows(5, run="synth-2026-06-01-ffff", start=100))
        await until(pilot, lambda: len(queue.rows.view) == 45, "the disk probe picks the rows up")
        polls = sidebar._polls
        await until(pilot, lambda: sidebar._polls >= polls + 2, "two more sidebar polls")
        assert posted == []


async def test_a_slow_job_record_scan_never_holds_a_key(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        sidebar = app.query_one(JobsSidebar)
        await until(pilot, lambda: sidebar._polls >= 1, "the sidebar's first poll")
        disk = threading.Event()  # the disk answers when the test says so
        scan = sidebar.poller.poll
        entered = threading.Event()

        def slow_poll(live):
            entered.set()
            disk.wait(120)
            return scan(live)

        sidebar.poller.poll = slow_poll  # type: ignore[method-assign]
        try:
            await until(pilot, entered.is_set, "a poll waits on the disk")
            rows = app.query_one("#queue-pane", QueuePane).rows
            start = rows.cursor
            await pilot.press("j", "j", "j")
            assert rows.cursor == start + 3  # the keys went through while the scan hung
            sidebar.refresh_data()  # a change notification does not start a second scan either
        finally:
            disk.set()
        polls = sidebar._polls
        await until(pilot, lambda: sidebar._polls > polls, "the scan finishes")
