"""Jobs as processes of their own: start one detached, cancel one, follow them all.

A job started from the TUI is `brewslm-tui generate ... --run-id RUN` in its own session
(`start_new_session`), its stdin and stdout on /dev/null and its stderr in
`.brewslm/jobs/RUN.log`: closing the terminal (SIGHUP), quitting the app or the app crashing
leaves it running, and the app follows it through its record like any other process's job.
The TUI and the CLI therefore run jobs through the same code and leave the same files.

Cancelling writes `.brewslm/jobs/RUN.cancel`; the job's record keeper notices it within a
second and stops the job as the user's cancel. A file, not a signal: it reaches a job on
another machine sharing the folder too, and never a recycled pid.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.job_record import (
    LIVE_STATES,
    Diagnostic,
    JobRecord,
    iso,
    jobs_dir,
    list_jobs,
    read_record,
    save_record,
    utc_now,
)
from brewslm_tui.core.generation.job_runner import USER_CANCEL, cancel_path, claim, new_run_id
from brewslm_tui.core.project import Project

FOLLOW_SECONDS = 0.5


def log_path(project: Project, run_id: str) -> Path:
    return jobs_dir(project) / f"{run_id}.log"


def generate_argv(
    project: Project,
    run_id: str,
    *,
    playbook: str | None = None,
    count: int | None = None,
    seed: int | None = None,
    like_run_id: str | None = None,
    resume: bool = False,
) -> list[str]:
    """The `brewslm-tui generate` command line of a detached job."""
    argv = [sys.executable, "-m", "brewslm_tui", "generate", str(project.root)]
    if resume:
        return [*argv, "--resume", run_id]
    if playbook:
        argv += ["--playbook", playbook]
    if like_run_id:
        argv += ["--like", like_run_id]
    if count is not None:
        argv += ["--count", str(count)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return [*argv, "--run-id", run_id]


def start_detached(
    project: Project,
    playbook: str | None,
    *,
    count: int | None = None,
    seed: int | None = None,
    like_run_id: str | None = None,
    resume_run_id: str | None = None,
    run_id: str | None = None,
) -> tuple[str, subprocess.Popen]:
    """Start a generation job in a process of its own session; returns (run_id, process).

    What can be checked here is checked first (the playbook, the run to resume) so a mistake
    is an error now, not a failed job later. A new run gets a `queued` record before the
    process starts, so every follower sees it at once. The caller should `poll()` the
    process now and then (a finished child stays a zombie until reaped). `run_id` names a
    new run (the app picks it first, to show the job before its process exists).
    """
    from brewslm_tui.core.generation.generation_job import resumable_record
    from brewslm_tui.core.generation.playbooks import get_playbook

    if resume_run_id:
        resumable_record(project, resume_run_id)
        run_id = resume_run_id
        argv = generate_argv(project, run_id, resume=True)
    else:
        if like_run_id:
            liked = read_record(project, like_run_id)
            playbook = playbook or liked.playbook
        if not playbook:
            raise BrewError("name a playbook (or a run to regenerate)")
        book = get_playbook(project, playbook)
        run_id = run_id or new_run_id(project, "generation")
        argv = generate_argv(
            project, run_id, playbook=book.name, count=count, seed=seed, like_run_id=like_run_id
        )
        save_record(
            project,
            JobRecord(
                run_id=run_id,
                playbook=book.name,
                state="queued",
                counts={"requested": count or book.count},
                started_at=iso(utc_now()),
                pid=os.getpid(),  # until the job's own process takes the record over
            ),
        )
    log = log_path(project, run_id)
    try:
        with open(log, "ab") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=project.root,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        if not resume_run_id:
            fail_unstarted(project, run_id, f"The job's process could not start: {exc}")
        raise BrewError(f"cannot start the job: {exc}") from None
    return run_id, proc


def fail_unstarted(project: Project, run_id: str, headline: str) -> None:
    """A job that never started (its record still `queued`) ends `failed` with `headline`.

    Best effort: the record may be gone or the disk failing; the caller reports the cause."""
    try:
        record = read_record(project, run_id)
    except BrewError:
        return
    if record.state in ("queued", "interrupted"):
        record.state = "failed"
        record.finished_at = iso(utc_now())
        record.diagnostic = Diagnostic(headline=headline)
        with contextlib.suppress(OSError):
            save_record(project, record)


def record_start_failure(project: Project, run_id: str, process: subprocess.Popen) -> JobRecord | None:
    """A detached job's process ended before taking its record over: fail the record with the
    tail of its log, so it never sits `queued`. Returns the new record, or None."""
    try:
        record = read_record(project, run_id)
    except BrewError:
        return None
    if record.state not in ("queued", "interrupted") or record.pid == process.pid:
        return None
    try:
        tail = log_path(project, run_id).read_bytes()[-2000:].decode("utf-8", "replace").strip()
    except OSError:
        tail = ""
    last = tail.splitlines()[-1] if tail else f"it exited with status {process.returncode}"
    fail_unstarted(project, run_id, f"The job could not start: {last}")
    return read_record(project, run_id)


def request_cancel(project: Project, run_id: str, why: str = USER_CANCEL) -> JobRecord:
    """Ask the job `run_id` to stop (see the module docstring); returns its record as it was.

    A run `waiting` for a batch engine has no process: it is marked cancelled at once, unless
    a process has claimed it (it submits, polls or ingests the batch): that one is asked.
    """
    record = read_record(project, run_id)
    if record.state == "waiting":
        try:
            held = claim(project, run_id)
        except BrewError:  # a process submits, polls or ingests it now: it is asked, below
            held = None
        if held is not None:
            try:
                record = read_record(project, run_id)  # as it is now that no one else works on it
                if record.state == "waiting":
                    record.state = "cancelled"
                    record.finished_at = iso(utc_now())
                    record.diagnostic = Diagnostic(headline=f"{why}; the batch was not ingested.")
                    save_record(project, record)
                    return record
            finally:
                held.release()
    if record.state not in (*LIVE_STATES, "waiting"):
        raise BrewError(f"{run_id} is not running ({record.state})")
    path = cancel_path(project, run_id)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(why + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return record


def follow_jobs(
    project: Project, run_ids: list[str] | None = None, *, seconds: float = FOLLOW_SECONDS
) -> Iterator[list[JobRecord]]:
    """Yield the jobs to show (the named ones, else those live when following began) every
    `seconds`, newest first, until none of them is live; the last list is their final state."""
    records = list_jobs(project)
    if run_ids:
        wanted = set(run_ids)
        missing = wanted - {r.run_id for r in records}
        if missing:
            raise BrewError(f"no job {sorted(missing)[0]!r} in {jobs_dir(project)}")
    else:
        wanted = {r.run_id for r in records if r.state in LIVE_STATES}
    while True:
        shown = [r for r in records if r.run_id in wanted]
        yield shown
        if not any(r.state in LIVE_STATES for r in shown):
            return
        time.sleep(seconds)
        records = list_jobs(project)
