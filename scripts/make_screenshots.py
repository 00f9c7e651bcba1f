"""Regenerate `screenshots/*.svg`: one per view of the app, on a copy of the sentiment sample.

    /tmp/venv/bin/python scripts/make_screenshots.py [--size 120x36] [--out screenshots]

Headless (`App.run_test` + `save_screenshot`), so it runs anywhere, and reproducible: the
sample's playbooks run with fixed seeds, run ids and a fixed clock, in UTC. What it sets up
is what a first session looks like: two template runs landed (hard-cases, everyday), the
local-model playbook failed because no model server is running (the "backend down"
diagnostic), and some rows already reviewed, so the Rejected view has reason groups.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_projects" / "sentiment"

os.environ["TZ"] = "UTC"
time.tzset()


def fixed_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that ticks 40 ms per reading: stable timestamps and plausible rates."""
    moment = [start]

    def clock() -> datetime:
        moment[0] += timedelta(milliseconds=40)
        return moment[0]

    return clock


async def prepare(root: Path) -> dict[str, str]:
    """Run the sample's playbooks and make some decisions; returns {name: run_id}."""
    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.core.project import load_project
    from brewslm_tui.core.store.store import Store

    project = load_project(root)
    runs = {
        "hard-cases": ("synth-2026-05-29-a1b2c3", datetime(2026, 5, 29, 9, 12, tzinfo=UTC), 160, 1124),
        "everyday": ("synth-2026-05-29-d4e5f6", datetime(2026, 5, 29, 9, 40, tzinfo=UTC), 80, 7),
        "local-llm": ("synth-2026-05-29-0f9e8d", datetime(2026, 5, 29, 10, 5, tzinfo=UTC), 40, 3),
    }
    for name, (run_id, start, count, seed) in runs.items():
        record = await run_generation_job(
            project, name, count=count, seed=seed, run_id=run_id, clock=fixed_clock(start)
        )
        print(f"  {name}: {record.state}, {record.counts.get('landed', 0)} rows")
    with Store.open(project) as store:
        hard = [i for i in range(len(store)) if store.run_of(i) == runs["hard-cases"][0]]
        every = [i for i in range(len(store)) if store.run_of(i) == runs["everyday"][0]]
        store.approve(hard[:40] + every[:30])
        store.reject(hard[40:52], "label_ambiguous")
        store.reject(hard[52:57], "minor_typo", note="'recieved'")
        store.reject(hard[57:60], "wrong_label")
        store.reject(every[30:34], "low_quality")
        store.compact()
    return {name: spec[0] for name, spec in runs.items()}


async def shoot(root: Path, out: Path, size: tuple[int, int], runs: dict[str, str]) -> list[Path]:
    from brewslm_tui.ui.insight.balance_view import BalanceView
    from brewslm_tui.ui.insight.runs_view import RunsView
    from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar
    from brewslm_tui.ui.shell.app import build_app

    shots: list[Path] = []
    app = build_app(root)
    async with app.run_test(size=size) as pilot:

        async def settle(condition: Callable[[], object] = lambda: True) -> None:
            for _ in range(200):
                await pilot.pause(0.05)
                if condition():
                    break
            await pilot.pause(0.2)

        def save(name: str) -> None:
            path = out / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(out))
            shots.append(path)

        await settle()
        save("queue")
        await pilot.press("x")
        await settle()
        save("reject-picker")
        await pilot.press("escape")
        await pilot.press("2")
        await settle()
        save("rejected-grouped")
        await pilot.press("3")
        await settle()
        save("approved")
        await pilot.press("4")
        runs_view = app.query_one(RunsView)
        await settle(lambda: runs_view.lines)
        save("runs")
        await pilot.press("5")
        balance = app.query_one(BalanceView)
        await settle(lambda: balance.balance is not None)
        save("balance")
        sidebar = app.query_one(JobsSidebar)
        sidebar.focus()
        sidebar.highlighted = [o.id for o in sidebar.options].index(runs["local-llm"])
        await pilot.press("enter")
        await settle()
        save("job-detail-failed")
        await pilot.press("escape")
        await pilot.press("1", "n")
        await settle()
        save("new-job")
        await pilot.press("escape")
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="120x36", help="COLSxROWS (default 120x36)")
    parser.add_argument("--out", default=str(REPO / "screenshots"), help="folder for the SVGs")
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sentiment"
        shutil.copytree(
            SAMPLE, root, ignore=shutil.ignore_patterns(".brewslm", "synthetic.jsonl", "dropped.jsonl")
        )
        print(f"sample project copied to {root}")
        runs = asyncio.run(prepare(root))
        shots = asyncio.run(shoot(root, out, (cols, rows), runs))
    for path in shots:
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


if __name__ == "__main__":
    main()
