"""Jobs from the command line: `generate` runs a playbook in this process, `jobs` lists them."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable

import orjson

from brewslm_tui.cli.output import EXIT_OK, EXIT_PROBLEMS, UsageError, open_project, output


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
    tty = sys.stderr.isatty()
    cancel = asyncio.Event()
    last = {"n": 0.0}

    def on_event(event) -> None:
        kind = getattr(event, "kind", "")
        if kind == "started":
            print(f"run {event.run_id}: {getattr(event, 'playbook', args.playbook)} started", file=sys.stderr)
            return
        if kind not in ("progress", "rows_landed"):
            return
        if tty:
            sys.stderr.write("\r\x1b[2K" + _progress_bar(event))
            sys.stderr.flush()
        else:
            import time

            now = time.monotonic()
            if now - last["n"] >= 2.0:
                last["n"] = now
                print(event.line(), file=sys.stderr)

    async def main() -> object:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, cancel.set)
        loop.add_signal_handler(signal.SIGTERM, cancel.set)
        return await run_generation_job(
            project,
            args.playbook,
            count=args.count,
            seed=args.seed,
            like_run_id=args.like,
            on_event=on_event,
            cancel=cancel,
        )

    record = asyncio.run(main())
    if tty:
        sys.stderr.write("\n")
    print(record.run_id)
    print(record.summary())
    if record.state != "succeeded":
        diagnostic = record.diagnostic_text()
        if diagnostic:
            print(diagnostic, file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _progress_bar(event) -> str:
    """One terminal line: a bar of usable rows out of those requested, then the live counts."""
    width = 24
    done = int(width * event.fraction)
    return f"[{'#' * done}{'-' * (width - done)}] {event.line()}"


def cmd_jobs(args) -> int:
    from brewslm_tui.core.generation.jobs import list_jobs

    project = open_project(args.project)
    jobs = list_jobs(project)
    if args.json:
        sys.stdout.write(
            orjson.dumps([j.to_json() for j in jobs], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return EXIT_OK
    out = output()
    if not jobs:
        out.line("no jobs yet: brewslm-tui generate PROJECT --playbook NAME")
    for job in jobs:
        out.line(job.summary())
    return EXIT_OK
