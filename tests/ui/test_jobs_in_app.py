"""Jobs started from the app: rows land in the queue without moving the cursor, the bell counts
finished jobs until the sidebar is looked at, a failed job rings and says why."""

from __future__ import annotations

import socket

from conftest import ready, statuses

from brewslm_tui.ui.review.review_views import QueuePane
from brewslm_tui.ui.shell.app import build_app
from brewslm_tui.ui.shell.header import HeaderBar


def header_text(app) -> str:
    return str(app.query_one(HeaderBar).render())


async def test_job_rows_land_in_the_queue_and_ring_the_bell(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        rows = app.query_one("#queue-pane", QueuePane).rows
        await pilot.press("j", "j", "space")
        cursor_slot, selected = rows.cursor_slot, set(rows.selected)
        sidebar = app.query_one("#sidebar")
        sidebar.start_job("everyday", count=20, seed=7)
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.poll_store()
        await pilot.pause()
        assert len(rows.view) > 40
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
        app.query_one("#sidebar").start_job("local-llm", count=5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert rings
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("FAILED" in m for m in errors), errors
        assert "bell 1" in header_text(app)
        assert list(statuses(project_dir).values()).count("pending") == 40  # nothing landed
