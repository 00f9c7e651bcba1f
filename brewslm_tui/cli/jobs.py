"""Jobs from the command line: `generate`, `jobs` (list or `--follow`), `cancel`, `ingest`.

`generate` runs a playbook in this process (the TUI starts the same command detached, with
`--run-id`); `--resume RUN_ID` continues a run; `--batch-file FILE` writes the run's
requests for a batch engine instead, `--batch` hands them to the server's batch API. Ctrl-C
cancels (the user's cancel); SIGTERM and SIGHUP stop the job as `interrupted`, with the
reason in its record. `jobs --follow` shows the running jobs until they end: a Rich live
view on a terminal, a line per change otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from brewslm_tui.cli.output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Progress,
    UsageError,
    check_like_run,
    check_name,
    inert_json,
    open_project,
    output,
)
from brewslm_tui.core.text import visible, visible_line

if TYPE_CHECKING:
    from brewslm_tui.core.generation.job_record import JobRecord
    from brewslm_tui.core.generation.job_runner import Stop

SIGNAL_STOPS = {
    signal.SIGINT: ("Cancelled by the user (Ctrl-C)", True),
    signal.SIGTERM: ("Stopped by SIGTERM (a shutdown, a job scheduler or kill)", False),
    signal.SIGHUP: ("Stopped: its terminal closed (SIGHUP); jobs started from the app outlive it", False),
}


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("generate", help="run a synthetic playbook as a job")
    p.add_argument("project")
    p.add_argument("--playbook", help="playbook name (may be left out with --like or --resume)")
    p.add_argument("--count", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--like", dest="like", metavar="RUN_ID", help="regenerate this run: same playbook, fresh seed"
    )
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted or failed run up to its count")
    p.add_argument(
        "--batch-file",
        metavar="FILE",
        help="write the run's requests as an OpenAI Batch input file; the run waits for `ingest`",
    )
    p.add_argument(
        "--batch", action="store_true", help="submit the run to the server's /v1/batches API and wait"
    )
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # the app names the run it starts

    p = sub.add_parser("jobs", help="list the project's jobs")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.add_argument("--follow", action="store_true", help="show the running jobs until they end")

    p = sub.add_parser("cancel", help="cancel a running job (its landed rows stay)")
    p.add_argument("project")
    p.add_argument("run_id")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the job to stop")

    p = sub.add_parser("ingest", help="land a batch engine's output file as its run")
    p.add_argument("project")
    p.add_argument("run_id")
    p.add_argument("output", help="the batch output JSONL (custom_id, response, error per line)")
    return {"generate": cmd_generate, "jobs": cmd_jobs, "cancel": cmd_cancel, "ingest": cmd_ingest}


def _run_job(make: Callable[[Stop], Awaitable[JobRecord]], progress: Progress) -> int:
    """Run a job coroutine with the signals wired to its stop request; report its end."""
    from brewslm_tui.core.generation.job_runner import Stop

    async def main() -> JobRecord:
        stop = Stop()
        loop = asyncio.get_running_loop()
        for sig, (why, by_user) in SIGNAL_STOPS.items():
            loop.add_signal_handler(sig, functools.partial(stop.request, why, by_user=by_user))
        return await make(stop)

    with progress:
        record = asyncio.run(main())
    ok = record.state == "succeeded"
    try:
        out = output()
        out.line(record.run_id)
        out.line(visible(record.summary()))
        diagnostic = "" if ok else record.diagnostic_text()
        if diagnostic:
            print(visible(diagnostic), file=sys.stderr)
    except OSError:
        pass  # the terminal is gone (SIGHUP): the record says it all
    return EXIT_OK if ok else EXIT_PROBLEMS


def cmd_generate(args) -> int:
    if not (args.playbook or args.like or args.resume):
        raise UsageError(
            "brewslm-tui generate: say which playbook: --playbook NAME, --like RUN_ID to regenerate a run, "
            "or --resume RUN_ID to continue one"
        )
    if args.count is not None and args.count <= 0:
        raise UsageError("brewslm-tui generate: --count must be a positive number")
    if args.resume and (args.like or args.count or args.seed is not None or args.batch_file):
        raise UsageError("brewslm-tui generate: --resume continues a run as it was: no other settings")
    if args.batch_file and args.batch:
        raise UsageError("brewslm-tui generate: --batch-file or --batch, not both")
    project = open_project(args.project)
    check_name(args.playbook, "--playbook")
    check_like_run(project, args.like)
    if args.batch_file:
        return _write_batch_file(project, args)
    progress = Progress()
    try:
        return _run_job(lambda stop: _generation(project, args, progress, stop), progress)
    except BaseException as exc:
        _record_start_failure(project, args, exc)
        raise


async def _generation(project, args, progress: Progress, stop: Stop) -> JobRecord:
    from brewslm_tui.core.generation.batch import run_batch_on_server
    from brewslm_tui.core.generation.generation_job import run_generation_job
    from brewslm_tui.core.generation.job_record import read_record

    waiting_batch = False
    if args.resume:
        waiting = read_record(project, args.resume)
        waiting_batch = waiting.state == "waiting" and "batch_id" in waiting.params
    if args.batch or waiting_batch:
        return await run_batch_on_server(
            project,
            args.playbook,
            count=args.count,
            seed=args.seed,
            resume_run_id=args.resume,
            on_status=progress.note,
            on_event=progress.event,
            cancel=stop,
        )
    return await run_generation_job(
        project,
        args.playbook,
        count=args.count,
        seed=args.seed,
        like_run_id=args.like,
        resume_run_id=args.resume,
        run_id=args.run_id,
        on_event=progress.event,
        cancel=stop,
    )


def _record_start_failure(project, args, exc: BaseException) -> None:
    """A job the app started (`--run-id`) that could not start says why in its record."""
    if args.run_id:
        from brewslm_tui.core.generation.job_control import fail_unstarted

        fail_unstarted(project, args.run_id, f"The job could not start: {exc}")


def _write_batch_file(project, args) -> int:
    from brewslm_tui.core.generation.batch import write_batch_file

    if not args.playbook:
        raise UsageError("brewslm-tui generate: --batch-file needs --playbook NAME")
    record = write_batch_file(project, args.playbook, Path(args.batch_file), count=args.count, seed=args.seed)
    out = output()
    out.line(record.run_id)
    out.line(record.note or "")
    return EXIT_OK


def cmd_ingest(args) -> int:
    from brewslm_tui.core.generation.batch import ingest_batch_output

    project = open_project(args.project)
    progress = Progress()
    return _run_job(
        lambda stop: ingest_batch_output(
            project, args.run_id, Path(args.output), on_event=progress.event, cancel=stop
        ),
        progress,
    )


def cmd_cancel(args) -> int:
    from brewslm_tui.core.generation.job_control import request_cancel
    from brewslm_tui.core.generation.job_record import read_record

    project = open_project(args.project)
    request_cancel(project, args.run_id, "Cancelled by the user (brewslm-tui cancel)")
    out = output()
    if args.no_wait:
        out.line(f"asked {args.run_id} to stop")
        return EXIT_OK
    deadline = time.monotonic() + 60.0
    record = read_record(project, args.run_id)
    while not record.finished and time.monotonic() < deadline:
        time.sleep(0.2)
        record = read_record(project, args.run_id)
    out.line(visible(record.summary()))
    return EXIT_OK if record.finished else EXIT_PROBLEMS


def cmd_jobs(args) -> int:
    from brewslm_tui.core.generation.job_record import list_jobs

    project = open_project(args.project)
    if args.follow:
        return _follow(project, as_json=args.json)
    jobs = list_jobs(project)
    out = output()
    if args.json:
        out.json([j.to_json() for j in jobs])
        return EXIT_OK
    if not jobs:
        out.line("no jobs yet: brewslm-tui generate PROJECT --playbook NAME")
    for job in jobs:
        out.line(visible(job.summary()))
    return EXIT_OK


def _follow(project, *, as_json: bool) -> int:
    """Follow the running jobs: a Rich live table on a terminal, a line per change otherwise."""
    from brewslm_tui.core.generation.job_control import follow_jobs

    frames = follow_jobs(project)
    first = next(frames)
    if not first:
        print("[]" if as_json else "no running jobs")
        return EXIT_OK
    frames = itertools.chain([first], frames)
    if sys.stdout.isatty() and not as_json:
        from rich.console import Console
        from rich.live import Live

        console = Console(highlight=False)
        final: list = []
        with Live(console=console, auto_refresh=False, transient=False) as live:
            for records in frames:
                final = records
                live.update(_follow_table(records), refresh=True)
        return EXIT_PROBLEMS if any(r.state != "succeeded" for r in final) else EXIT_OK
    shown: dict[str, str] = {}
    final = []
    for records in frames:
        final = records
        for record in records:
            line = (
                inert_json(orjson.dumps(record.to_json()).decode())  # the same JSON value, inert
                if as_json
                else visible_line(record.summary().replace("\n", ": "))
            )
            if shown.get(record.run_id) != line:
                shown[record.run_id] = line
                print(line, flush=True)
    return EXIT_PROBLEMS if any(r.state != "succeeded" for r in final) else EXIT_OK


def _follow_table(records):
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, title="running jobs (Ctrl-C stops watching)", title_justify="left")
    for name in ("run", "playbook", "state", "rows", "rate", "tokens"):
        table.add_column(name, justify="right" if name in ("rows", "rate") else "left")
    for r in records:
        rates = r.rates_text()
        table.add_row(
            Text(visible_line(r.run_id)),
            Text(visible_line(r.playbook or r.kind)),
            Text(r.state),
            Text(f"{r.landed:,}/{r.requested:,}"),
            Text(f"{r.rows_per_second:,.1f} rows/s"),
            Text(rates),
        )
    return table
