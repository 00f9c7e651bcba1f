"""Running a job: its record kept current, its heartbeat, events, stopping, failure capture.

`run_job` owns what every kind of job shares. A kind is an async body that gets a
`JobContext`, updates its counts and sets its outcome; `run_generation_job` is one.

The record is rewritten by one keeper task, off the event loop (a thread), at most once per
RECORD_SECONDS and at least every HEARTBEAT_SECONDS: a body calls `ctx.save()` as often as
it likes and only marks the record dirty, so a 20k-row run costs a few dozen rewrites, not
thousands. The first `running` record and the final one are written at once and durably.
The rows' own durability is the body's (a batch is appended and fsynced before it counts).

A job stops when asked (`Stop.request`): by the user (`cancel`, the app's `c`, Ctrl-C, a
cancel file the keeper looks for at every tick, so a job on another host can be cancelled
through a shared folder too), or by something else (SIGTERM, SIGHUP), which is recorded as
`interrupted` with the reason, never as the user's cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from brewslm_tui.core.errors import BrewError, LockBusy
from brewslm_tui.core.generation.job_record import (
    Diagnostic,
    JobRecord,
    clean_stale_temps,
    iso,
    jobs_dir,
    load_record_file,
    record_path,
    rows_kept,
    save_record,
    seen_now,
    utc_now,
)
from brewslm_tui.core.generation.validate import DUPLICATE_CAUSES
from brewslm_tui.core.project import Project
from brewslm_tui.core.store.locking import FileLock, describe_holder
from brewslm_tui.core.text import plural

HEARTBEAT_SECONDS = 2.0
RECORD_SECONDS = 0.75  # the record is rewritten at most this often while the job runs
RUN_PREFIX = {"generation": "synth"}
USER_CANCEL = "Cancelled by the user"

Clock = Callable[[], datetime]


def cancel_path(project: Project, run_id: str):
    """The file that asks the job `run_id` to stop (written by `request_cancel`)."""
    return jobs_dir(project) / f"{run_id}.cancel"


class Stop:
    """Why a job is asked to stop; the first request wins.

    `state` is `cancelled` for the user's own cancel and `interrupted` otherwise (a signal
    from the system): the record says which, in `why`.
    """

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.state: Literal["cancelled", "interrupted"] = "cancelled"
        self.why = USER_CANCEL

    def request(self, why: str = USER_CANCEL, *, by_user: bool = True) -> None:
        if self.event.is_set():
            return
        self.state = "cancelled" if by_user else "interrupted"
        self.why = why
        self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()


EventKind = Literal["started", "progress", "rows_landed", "finished"]


@dataclass(frozen=True)
class JobEvent:
    """What a progress line needs. `rows` is how many rows landed in a `rows_landed` event.

    `invalid` is invalid candidates by cause (duplicates apart: `duplicates` is their total;
    `by_cause` has every cause); `invalid_total` is the sum, as `counts["invalid"]` in the
    record. `record` is set on `finished` only.
    """

    kind: EventKind
    run_id: str
    job_kind: str
    playbook: str | None
    state: str
    requested: int = 0
    candidates: int = 0
    usable: int = 0
    landed: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    backend_errors: int = 0
    by_cause: dict[str, int] = field(default_factory=dict)
    rows_per_second: float = 0.0
    elapsed: float = 0.0
    rows: int = 0
    record: JobRecord | None = None

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())

    @property
    def fraction(self) -> float:
        """Progress 0..1 (usable rows of those requested)."""
        return min(1.0, self.usable / self.requested) if self.requested else 0.0

    def line(self) -> str:
        """A plain progress line, for logs and non-terminal output."""
        return (
            f"{self.run_id} {self.state}: {self.usable}/{self.requested} usable, "
            f"{plural(self.candidates, 'candidate')}, {self.invalid_total} invalid, "
            f"{plural(self.duplicates, 'duplicate')}, {plural(self.backend_errors, 'backend error')}, "
            f"{self.rows_per_second:.1f} rows/s"
        )


class JobContext:
    """What a job body works with: its record (counts, params), events, saving, stopping."""

    def __init__(
        self,
        project: Project,
        record: JobRecord,
        clock: Clock,
        on_event: Callable[[JobEvent], None] | None,
        stop: Stop,
    ) -> None:
        self.project = project
        self.record = record
        self.clock = clock
        self.on_event = on_event
        self.stop = stop
        self.started = clock()
        self.elapsed_before = float(record.elapsed_seconds or 0.0)  # a resumed run's earlier time
        self.usable_before = record.usable  # and its earlier rows (rates are this round's)
        self._last_progress = 0.0
        self._dirty = False
        self._writing = asyncio.Lock()
        self.event_error: str | None = None  # the first exception an on_event callback raised
        self.record_error: OSError | None = None  # the last failed record write

    @property
    def counts(self) -> dict[str, Any]:
        return self.record.counts

    def elapsed(self) -> float:
        return max(0.0, (self.clock() - self.started).total_seconds())

    def rate(self) -> float:
        """Usable rows a second, this round."""
        elapsed = self.elapsed()
        return max(0, self.record.usable - self.usable_before) / elapsed if elapsed > 0 else 0.0

    def save(self) -> None:
        """Mark the record changed; the keeper writes it within RECORD_SECONDS."""
        self._dirty = True

    async def write(self) -> None:
        """Write the record now, off the loop, durably; a failure is kept, not raised."""
        async with self._writing:
            self._dirty = False
            snapshot = self._stamped()
            try:
                await asyncio.to_thread(save_record, self.project, snapshot)
                self.record_error = None
            except OSError as exc:
                self.record_error = exc
                self._dirty = True  # try again at the next tick

    def _stamped(self) -> JobRecord:
        rec = self.record
        elapsed = self.elapsed()
        rec.elapsed_seconds = round(self.elapsed_before + elapsed, 3)
        rec.rows_per_second = round(self.rate(), 2)
        rec.heartbeat_at = iso(self.clock())
        return rec.model_copy(deep=True)

    async def keep(self) -> None:
        """The keeper: rewrites the record when dirty or due a heartbeat; notices cancel files."""
        last = time.monotonic()
        cancel_file = cancel_path(self.project, self.record.run_id)
        while True:
            await asyncio.sleep(RECORD_SECONDS)
            if not self.stop.requested and await asyncio.to_thread(cancel_file.exists):
                why = await asyncio.to_thread(read_reason, cancel_file)
                self.stop.request(why, by_user=True)
            if self._dirty or time.monotonic() - last >= HEARTBEAT_SECONDS:
                last = time.monotonic()
                await self.write()

    def emit(self, kind: EventKind, *, rows: int = 0, force: bool = True) -> None:
        """Send an event; `progress` events are throttled to ten a second unless `force`."""
        if self.on_event is None:
            return
        if kind == "progress" and not force:
            now = time.monotonic()
            if now - self._last_progress < 0.1:
                return
            self._last_progress = now
        rec, c = self.record, self.record.counts
        elapsed = self.elapsed()
        by_cause = dict(c.get("by_cause", {}))
        event = JobEvent(
            kind=kind,
            run_id=rec.run_id,
            job_kind=rec.kind,
            playbook=rec.playbook,
            state=rec.state,
            requested=int(c.get("requested", 0)),
            candidates=int(c.get("candidates", 0)),
            usable=int(c.get("usable", 0)),
            landed=int(c.get("landed", 0)),
            invalid={k: v for k, v in by_cause.items() if k not in DUPLICATE_CAUSES},
            duplicates=int(c.get("duplicates", 0)),
            backend_errors=int(c.get("backend_errors", 0)),
            by_cause=by_cause,
            rows_per_second=self.rate(),
            elapsed=elapsed,
            rows=rows,
            record=rec.model_copy(deep=True) if kind == "finished" else None,
        )
        try:
            self.on_event(event)
        except Exception as exc:
            if self.event_error is None:
                self.event_error = f"{type(exc).__name__}: {exc}"


def read_reason(path) -> str:
    """Why the cancel file at `path` asks the job to stop."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text[:200] or USER_CANCEL


JobBody = Callable[[JobContext], Awaitable[None]]


def new_run_id(project: Project, kind: str, clock: Clock | None = None) -> str:
    prefix = RUN_PREFIX.get(kind, kind)
    day = (clock or utc_now)().astimezone(UTC).strftime("%Y-%m-%d")
    while True:
        run_id = f"{prefix}-{day}-{secrets.token_hex(3)}"
        if not (jobs_dir(project) / f"{run_id}.json").exists():
            return run_id


def describe_os_error(exc: OSError, landed: int) -> Diagnostic:
    """An I/O failure in words: which file, what the system said, what it means, what to do."""
    code = errno.errorcode.get(exc.errno or 0, "")
    where = f" {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    advice = {
        errno.ENOSPC: "The disk is full: free space, then continue with `generate --resume RUN_ID`.",
        errno.EDQUOT: "Your disk quota is used up: free space, then continue with `generate --resume RUN_ID`.",
        errno.EFBIG: "A file size limit was reached (see `ulimit -f`); continue with `generate --resume RUN_ID`.",
        errno.EIO: "The disk reported an I/O error: check the device (dmesg, SMART) before writing more.",
        errno.EROFS: "The filesystem is read-only: remount it writable or copy the project elsewhere.",
        errno.EACCES: "Permission denied: check who owns the project folder.",
    }.get(
        exc.errno or 0,
        "Check the disk and the project folder, then continue with `generate --resume RUN_ID`.",
    )
    return Diagnostic(
        headline=(
            f"Could not write{where}: {what}{f' ({code})' if code else ''}. "
            + rows_kept(landed, "that landed before it")
        ),
        advice=[advice],
    )


async def run_job(
    project: Project,
    kind: str,
    body: JobBody,
    *,
    playbook: str | None = None,
    params: dict[str, Any] | None = None,
    counts: dict[str, Any] | None = None,
    run_id: str | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: asyncio.Event | Stop | None = None,
    clock: Clock | None = None,
    resume: JobRecord | None = None,
) -> JobRecord:
    """Run `body` as a job of `kind`: record, heartbeat, events, stopping, failure capture.

    The body sets `ctx.record.state` to `succeeded` or `failed` (and `diagnostic`/`note`);
    if it returns without doing so the job succeeded. A `BrewError` fails the job with its
    message, an `OSError` with what the system said about which file; a stop ends it
    `cancelled` (the user) or `interrupted` (a signal), with the reason; any other exception
    fails it with an internal-error diagnostic. `resume` continues that record (same run_id,
    counts and start). The final record is returned (and, when this coroutine itself was
    cancelled, saved before the cancellation propagates).
    """
    clock = clock or utc_now
    stop = cancel if isinstance(cancel, Stop) else Stop()
    if resume is not None:
        record = resume.model_copy(
            update={
                "state": "queued",
                "finished_at": None,
                "diagnostic": None,
                "note": None,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "counts": {**resume.counts, **(counts or {})},
                "params": {**resume.params, **(params or {})},
            },
            deep=True,
        )
    else:
        record = JobRecord(
            run_id=run_id or new_run_id(project, kind, clock),
            kind=kind,
            playbook=playbook,
            state="queued",
            counts=dict(counts or {}),
            params=dict(params or {}),
            pid=os.getpid(),
            host=socket.gethostname(),
        )
    claim = await asyncio.to_thread(claim_run, project, record.run_id, resume)
    try:
        return await _run_claimed(project, kind, body, record, on_event, cancel, clock, stop, resume)
    finally:
        claim.release()


_CLAIMS: dict[str, FileLock] = {}  # the claims this process holds, by path (re-entered, not re-taken)


def claim(project: Project, run_id: str) -> FileLock:
    """Hold `jobs/RUN.claim` (an flock: it goes with the process): whoever works on a run
    (runs a round, submits or polls its batch) holds it, so no other process does meanwhile.
    Re-entrant within this process (a batch poller then ingests); BrewError when busy."""
    path = jobs_dir(project) / f"{run_id}.claim"
    held = _CLAIMS.get(str(path))
    if held is not None and held.held:
        held.acquire()
        return held
    lock = FileLock(path, f"run {run_id}")
    try:
        lock.acquire(timeout=0)
    except LockBusy:
        raise BrewError(
            f"{run_id} is already being run by {describe_holder(path)}: wait for it, or `brewslm-tui cancel` it"
        ) from None
    _CLAIMS[str(path)] = lock
    return lock


def claim_run(project: Project, run_id: str, resume: JobRecord | None) -> FileLock:
    """`claim` the run for a round; a resume of a record that changed since the caller read
    it (another process ran a round meanwhile) is refused: it would overwrite that round's record."""
    lock = claim(project, run_id)
    if resume is None:
        return lock
    try:
        now = seen_now(load_record_file(record_path(project, run_id)))  # as the caller saw it
    except FileNotFoundError:
        now = None
    except (OSError, ValueError) as exc:
        lock.release()
        raise BrewError(f"{record_path(project, run_id)}: unreadable job record: {exc}") from None
    if now is not None and _round_of(now) != _round_of(resume):
        lock.release()
        raise BrewError(
            f"{run_id} changed since it was read (another process resumed, ingested or cancelled it): "
            f"it is now {now.state}; see `brewslm-tui jobs`"
        )
    return lock


def _round_of(record: JobRecord) -> tuple[Any, ...]:
    """What a round of a run changes in its record (a resume must start from what is stored)."""
    return (
        record.state,
        record.params.get("resumed"),
        record.started_at,
        record.finished_at,
        record.counts,
        record.pid,
    )


async def _run_claimed(
    project: Project,
    kind: str,
    body: JobBody,
    record: JobRecord,
    on_event: Callable[[JobEvent], None] | None,
    cancel: asyncio.Event | Stop | None,
    clock: Clock,
    stop: Stop,
    resume: JobRecord | None,
) -> JobRecord:
    await asyncio.to_thread(clean_stale_temps, project)
    if resume is not None:  # a cancel left from an earlier round is not meant for this one
        await asyncio.to_thread(discard_cancel, project, record.run_id)
    ctx = JobContext(project, record, clock, on_event, stop)
    if resume is None:
        record.started_at = iso(ctx.started)
    record.state = "running"
    await ctx.write()
    if ctx.record_error is not None:
        raise BrewError(f"cannot write the job record: {ctx.record_error}")
    ctx.emit("started")

    task = asyncio.ensure_future(body(ctx))
    watchers = [asyncio.ensure_future(stop.event.wait())]
    if isinstance(cancel, asyncio.Event):
        watchers.append(asyncio.ensure_future(cancel.wait()))
    keeper = asyncio.ensure_future(ctx.keep())
    outer_cancelled = False
    try:
        try:
            done, _ = await asyncio.wait({task, *watchers}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            outer_cancelled = True
            done = set()
        if task not in done:
            if not stop.requested and not outer_cancelled:
                stop.request()  # the caller's own Event: the user's cancel
            task.cancel()
        try:
            await task
            if record.state == "running":
                record.state = "succeeded"
        except asyncio.CancelledError:
            why = stop.why if stop.requested else "Cancelled: the program running it stopped the job"
            record.state = stop.state if stop.requested else "cancelled"
            headline = f"{why.rstrip('. ')}. {rows_kept(record.landed, 'it landed')}"
            if record.diagnostic is None:
                record.diagnostic = Diagnostic(headline=headline)
            else:
                record.diagnostic.headline = headline
        except BrewError as exc:
            record.state = "failed"
            record.diagnostic = Diagnostic(headline=str(exc))
        except OSError as exc:
            record.state = "failed"
            described = describe_os_error(exc, record.landed)
            if record.diagnostic is not None:  # keep the body's causes and examples
                described = record.diagnostic.model_copy(
                    update={"headline": described.headline, "advice": described.advice}
                )
            record.diagnostic = described
        except Exception as exc:
            record.state = "failed"
            tb = traceback.format_exception(exc)
            record.diagnostic = Diagnostic(
                headline=f"Internal error: {type(exc).__name__}: {exc}",
                backend_output="".join(tb[-6:])[-2000:],
                advice=["This is a bug in brewslm-tui; please report it with the text above."],
            )
    finally:
        keeper.cancel()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(keeper, *watchers, return_exceptions=True)
        if not record.finished:
            record.state = "cancelled" if outer_cancelled else "failed"
        if ctx.event_error:
            record.diagnostic = record.diagnostic or Diagnostic(headline=f"{kind} job {record.state}")
            record.diagnostic.advice.append(
                f"The progress display failed ({ctx.event_error}); the job itself "
                "was not affected. This is a bug in brewslm-tui."
            )
        record.finished_at = iso(clock())
        await asyncio.shield(_final_write(ctx))
        ctx.emit("finished")
    if outer_cancelled:
        raise asyncio.CancelledError
    return record


async def _final_write(ctx: JobContext) -> None:
    """The final record, durable; a few tries when the disk is failing (it may be freed)."""
    for attempt in range(3):
        await ctx.write()
        if ctx.record_error is None:
            break
        await asyncio.sleep(0.2 * (attempt + 1))
    await asyncio.to_thread(discard_cancel, ctx.project, ctx.record.run_id)
    if ctx.record_error is not None:
        ctx.record.note = (
            f"The final record could not be written ({ctx.record_error}); "
            "the file on disk shows an earlier state."
        )


def discard_cancel(project: Project, run_id: str) -> None:
    with contextlib.suppress(OSError):
        cancel_path(project, run_id).unlink()
