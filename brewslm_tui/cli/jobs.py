"""Jobs from the command line: `generate` runs a playbook in this process, `jobs` lists them."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from brewslm_tui.cli.output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Progress,
    UsageError,
    check_like_run,
    check_name,
    open_project,
    output,
)

if TYPE_CHECKING:
    from brewslm_tui.core.generation.jobs import JobRecord


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("generate", help="run a synthetic playbook as a job")
    p.add_argument("project")
    p.add_argument("--playbook", help="playbook name (may be left out with --like)")
    p.add_argument("--count", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--like", dest="like", metavar="RUN_ID", help="regenerate this run: same playbook, fresh seed"
    )

    p = sub.add_parser("jobs", help="list the project's jobs")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    return {"generate": cmd_generate, "jobs": cmd_jobs}


def cmd_generate(args) -> int:
    from brewslm_tui.core.generation.jobs import run_generation_job

    if not args.playbook and not args.like:
        raise UsageError(
            "brewslm-tui generate: say which playbook: --playbook NAME, or --like RUN_ID to regenerate a run"
        )
    if args.count is not None and args.count <= 0:
        raise UsageError("brewslm-tui generate: --count must be a positive number")
    project = open_project(args.project)
    check_name(args.playbook, "--playbook")
    check_like_run(project, args.like)
    cancel = asyncio.Event()
    progress = Progress()

    async def main() -> JobRecord:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, cancel.set)
        loop.add_signal_handler(signal.SIGTERM, cancel.set)
        return await run_generation_job(
            project,
            args.playbook,
            count=args.count,
            seed=args.seed,
            like_run_id=args.like,
            on_event=progress.event,
            cancel=cancel,
        )

    with progress:
        record = asyncio.run(main())
    out = output()
    out.line(record.run_id)
    out.line(record.summary())
    if record.state != "succeeded":
        diagnostic = record.diagnostic_text()
        if diagnostic:
            progress.note(diagnostic)
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_jobs(args) -> int:
    from brewslm_tui.core.generation.jobs import list_jobs

    project = open_project(args.project)
    jobs = list_jobs(project)
    out = output()
    if args.json:
        out.json([j.to_json() for j in jobs])
        return EXIT_OK
    if not jobs:
        out.line("no jobs yet: brewslm-tui generate PROJECT --playbook NAME")
    for job in jobs:
        out.line(job.summary())
    return EXIT_OK
