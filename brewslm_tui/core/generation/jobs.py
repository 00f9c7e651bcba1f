"""Background jobs: the general framework, and the first kind of job, synthetic generation.

A job has a kind (`generation` now; training or evaluation later), a `run_id`, a state and
counts, and leaves a record in `.brewslm/jobs/<run_id>.json`, rewritten atomically at every
step and on a heartbeat, so the record survives restarts and tells the truth after a crash:
a record that says `running` but whose process is gone (or whose heartbeat went stale) is
shown as `interrupted` by `list_jobs`.

`run_job` owns what every kind shares: the record and its states, the heartbeat, events,
cancellation (an `asyncio.Event` or cancelling the task) and turning an exception into a
failed record. A kind is an async body that gets a `JobContext`, updates its counts and sets
its outcome. `run_generation_job` is the generation kind: it runs one playbook once, checks
every candidate (`core.validate`), and appends usable rows in batches as they arrive, each
pending with full provenance, so review can start before the job ends.

A no-op is not a success: a run that lands nothing fails, with a diagnostic a user can act
on (counts per cause, up to three examples each, the backend's last error).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import random
import secrets
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import orjson
from pydantic import BaseModel, Field

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.generators import (
    RAW_KEEP,
    BackendError,
    Generator,
    GeneratorFailed,
    GenRequest,
    Issue,
    generator_class,
)
from brewslm_tui.core.generation.playbooks import Playbook, get_playbook
from brewslm_tui.core.generation.validate import CAUSES, DUPLICATE_CAUSES, Validator
from brewslm_tui.core.project import Project
from brewslm_tui.core.rows import SOURCE_SYNTH
from brewslm_tui.core.store.jsonl import replace_durably
from brewslm_tui.core.text import truncate

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
JOB_STATES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})

HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 60.0  # a running record whose heartbeat is older than this is interrupted
EXAMPLES_PER_CAUSE = 3
FLUSH_SECONDS = 1.0  # pending usable rows land at least this often
RUN_PREFIX = {"generation": "synth"}

_blake2b = hashlib.blake2b

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def jobs_dir(project: Project) -> Path:
    return project.state_dir / "jobs"


# --- the record ---------------------------------------------------------------------------


class Diagnostic(BaseModel):
    """What happened, in words a user can act on: a headline, causes with examples, advice."""

    headline: str
    causes: dict[str, int] = Field(default_factory=dict)
    examples: dict[str, list[str]] = Field(default_factory=dict)
    last_backend_error: str | None = None
    backend_output: str | None = None  # e.g. the tail of a command's stderr
    advice: list[str] = Field(default_factory=list)


class JobRecord(BaseModel):
    """One job, as stored in `.brewslm/jobs/<run_id>.json`."""

    run_id: str
    kind: str = "generation"
    playbook: str | None = None
    state: JobState = "queued"
    counts: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat_at: str | None = None
    diagnostic: Diagnostic | None = None
    note: str | None = None
    rows_per_second: float = 0.0
    pid: int | None = None
    host: str | None = None
    # a model backend's figures (generators' `usage`, `structured_mode`, `cost()`)
    tokens_prompt: int = 0
    tokens_completion: int = 0
    requests: int = 0
    structured_mode: str | None = None
    cost: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def requested(self) -> int:
        return int(self.counts.get("requested", 0))

    @property
    def usable(self) -> int:
        return int(self.counts.get("usable", 0))

    @property
    def landed(self) -> int:
        return int(self.counts.get("landed", 0))

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def summary(self) -> str:
        """One or two lines for people: state, rows landed, and why when it matters."""
        c = self.counts
        head = f"{self.run_id} ({self.playbook or self.kind}): {self.state}"
        if self.kind == "generation":
            head += (
                f", {c.get('landed', 0)} of {c.get('requested', 0)} rows landed"
                f" from {c.get('candidates', 0)} candidates"
            )
            lost = _lost_text(c)
            if lost:
                head += f" ({lost})"
        if self.diagnostic and self.state != "succeeded":
            return f"{head}\n{self.diagnostic.headline}"
        if self.note:
            return f"{head}\n{self.note}"
        return head

    def diagnostic_text(self) -> str:
        """The full diagnostic: each cause with examples, the backend's words, what to do.

        Meant to be shown after `summary()`, so the headline is repeated only when the summary
        does not already say it.
        """
        d = self.diagnostic
        if d is None:
            return ""
        lines = [d.headline] if d.headline and d.headline not in self.summary() else []
        if d.causes:
            lines.append("Why candidates were not used:")
            for cause, n in sorted(d.causes.items(), key=lambda kv: -kv[1]):
                lines.append(f"  {n:>6}  {cause}: {CAUSES.get(cause, cause)}")
                for example in d.examples.get(cause, []):
                    lines.append(f"          e.g. {example}")
        if d.last_backend_error:
            lines.append(f"Backend's last error: {d.last_backend_error}")
        if d.backend_output:
            lines.append("Backend output (tail):")
            lines.extend(f"  | {line}" for line in d.backend_output.splitlines())
        if d.advice:
            lines.append("What to do:")
            lines.extend(f"  - {a}" for a in d.advice)
        return "\n".join(lines)


def _lost_text(c: dict[str, Any]) -> str:
    parts = []
    if c.get("invalid"):
        parts.append(f"{c['invalid']} invalid")
    if c.get("duplicates"):
        parts.append(f"{c['duplicates']} duplicates")
    if c.get("backend_errors"):
        parts.append(f"{c['backend_errors']} backend errors")
    return ", ".join(parts)


def save_record(project: Project, record: JobRecord) -> None:
    """Write the record atomically (temp file, fsync, os.replace, fsync the folder)."""
    path = jobs_dir(project) / f"{record.run_id}.json"
    replace_durably(path, [orjson.dumps(record.to_json(), option=orjson.OPT_INDENT_2) + b"\n"])


def read_record(project: Project, run_id: str) -> JobRecord:
    """The record of `run_id` as stored, with `interrupted` applied; BrewError if there is none."""
    path = jobs_dir(project) / f"{run_id}.json"
    try:
        record = JobRecord.model_validate(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        known = ", ".join(r.run_id for r in list_jobs(project)[:5]) or "none yet"
        raise BrewError(f"no job {run_id!r} in {path.parent} (recent: {known})") from None
    except (ValueError, OSError) as exc:
        raise BrewError(f"{path}: unreadable job record: {exc}") from None
    return _seen_now(record)


def list_jobs(project: Project) -> list[JobRecord]:
    """Every job record of the project, newest first; dead `running` jobs show as `interrupted`."""
    folder = jobs_dir(project)
    records = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            records.append(_seen_now(JobRecord.model_validate(orjson.loads(path.read_bytes()))))
        except (ValueError, OSError):
            continue  # records are written atomically; anything else here is not ours
    records.sort(key=lambda r: (r.started_at or "", r.run_id), reverse=True)
    return records


def _seen_now(record: JobRecord) -> JobRecord:
    """A `running`/`queued` record whose process died is shown (not rewritten) as interrupted."""
    if record.state not in ("running", "queued"):
        return record
    alive = record.pid is not None and (
        record.host not in (None, socket.gethostname()) or _pid_alive(record.pid)
    )
    stale = False
    if record.heartbeat_at:
        try:
            beat = datetime.fromisoformat(record.heartbeat_at.replace("Z", "+00:00"))
            stale = (utc_now() - beat).total_seconds() > STALE_SECONDS
        except ValueError:
            stale = True
    if alive and not stale:
        return record
    why = (
        f"the process running it (pid {record.pid}) is gone: it was killed or crashed"
        if not alive
        else f"no heartbeat since {record.heartbeat_at}: its process stopped responding"
    )
    kept = record.landed
    return record.model_copy(
        update={
            "state": "interrupted",
            "diagnostic": Diagnostic(
                headline=f"Interrupted: {why}. The {kept} rows it landed are kept and reviewable.",
                causes=(record.diagnostic.causes if record.diagnostic else {}),
                examples=(record.diagnostic.examples if record.diagnostic else {}),
                advice=[
                    "Run it again with `generate --like "
                    + record.run_id
                    + "` for a fresh run with the same settings."
                ],
            ),
        }
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) is not running anything
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


# --- events -------------------------------------------------------------------------------


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
        text = (
            f"{self.run_id} {self.state}: {self.usable}/{self.requested} usable, "
            f"{self.candidates} candidates, {self.invalid_total} invalid, {self.duplicates} duplicates, "
            f"{self.backend_errors} backend errors, {self.rows_per_second:.1f} rows/s"
        )
        return text


# --- the framework ------------------------------------------------------------------------


class JobContext:
    """What a job body works with: its record (counts, params), events and saving."""

    def __init__(
        self, project: Project, record: JobRecord, clock: Clock, on_event: Callable[[JobEvent], None] | None
    ) -> None:
        self.project = project
        self.record = record
        self.clock = clock
        self.on_event = on_event
        self.started = clock()
        self._last_progress = 0.0
        self.event_error: str | None = None  # the first exception an on_event callback raised

    @property
    def counts(self) -> dict[str, Any]:
        return self.record.counts

    def elapsed(self) -> float:
        return max(0.0, (self.clock() - self.started).total_seconds())

    def save(self) -> None:
        rec = self.record
        elapsed = self.elapsed()
        rec.rows_per_second = round(rec.usable / elapsed, 2) if elapsed > 0 else 0.0
        rec.heartbeat_at = iso(self.clock())
        save_record(self.project, rec)

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
            rows_per_second=(rec.usable / elapsed if elapsed > 0 else 0.0),
            elapsed=elapsed,
            rows=rows,
            record=rec.model_copy(deep=True) if kind == "finished" else None,
        )
        try:
            self.on_event(event)
        except Exception as exc:
            if self.event_error is None:
                self.event_error = f"{type(exc).__name__}: {exc}"


JobBody = Callable[[JobContext], Awaitable[None]]


def new_run_id(project: Project, kind: str, clock: Clock) -> str:
    prefix = RUN_PREFIX.get(kind, kind)
    day = clock().astimezone(UTC).strftime("%Y-%m-%d")
    while True:
        run_id = f"{prefix}-{day}-{secrets.token_hex(3)}"
        if not (jobs_dir(project) / f"{run_id}.json").exists():
            return run_id


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
    cancel: asyncio.Event | None = None,
    clock: Clock | None = None,
) -> JobRecord:
    """Run `body` as a job of `kind`: record, heartbeat, events, cancellation, failure capture.

    The body sets `ctx.record.state` to `succeeded` or `failed` (and `diagnostic`/`note`);
    if it returns without doing so the job succeeded. A `BrewError` fails the job with its
    message; a cancel (the event, or cancelling this coroutine) ends it `cancelled`; any other
    exception fails it with an internal-error diagnostic. The final record is returned (and,
    when this coroutine itself was cancelled, saved before the cancellation propagates).
    """
    clock = clock or utc_now
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
    ctx = JobContext(project, record, clock, on_event)
    record.started_at = iso(ctx.started)
    ctx.save()
    record.state = "running"
    ctx.save()
    ctx.emit("started")

    task = asyncio.ensure_future(body(ctx))
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    beat = asyncio.ensure_future(_heartbeat(ctx))
    outer_cancelled = False
    try:
        try:
            waits = {task} | ({waiter} if waiter else set())
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            outer_cancelled = True
            done = set()
        if task not in done:
            task.cancel()
        try:
            await task
            if record.state == "running":
                record.state = "succeeded"
        except asyncio.CancelledError:
            record.state = "cancelled"
            record.diagnostic = record.diagnostic or Diagnostic(
                headline=f"Cancelled by the user; the {record.landed} rows it landed are kept and reviewable."
            )
        except BrewError as exc:
            record.state = "failed"
            record.diagnostic = Diagnostic(headline=str(exc))
        except Exception as exc:
            record.state = "failed"
            tb = traceback.format_exception(exc)
            record.diagnostic = Diagnostic(
                headline=f"Internal error: {type(exc).__name__}: {exc}",
                backend_output="".join(tb[-6:])[-2000:],
                advice=["This is a bug in brewslm-tui; please report it with the text above."],
            )
    finally:
        beat.cancel()
        if waiter:
            waiter.cancel()
        if not record.finished:
            record.state = "cancelled" if outer_cancelled else "failed"
        if ctx.event_error:
            record.diagnostic = record.diagnostic or Diagnostic(headline=f"{kind} job {record.state}")
            record.diagnostic.advice.append(
                f"The progress display failed ({ctx.event_error}); the job itself "
                "was not affected. This is a bug in brewslm-tui."
            )
        record.finished_at = iso(clock())
        ctx.save()
        ctx.emit("finished")
    if outer_cancelled:
        raise asyncio.CancelledError
    return record


async def _heartbeat(ctx: JobContext) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        if ctx.record.state == "running":
            ctx.save()


# --- generation ---------------------------------------------------------------------------


async def run_generation_job(
    project: Project,
    playbook_name: str | None,
    *,
    count: int | None = None,
    seed: int | None = None,
    like_run_id: str | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: asyncio.Event | None = None,
    clock: Clock | None = None,
    run_id: str | None = None,
) -> JobRecord:
    """Run one playbook once as a generation job; return its final record.

    `like_run_id` regenerates a run: the same playbook and count, a fresh seed, a new run_id.
    A bad playbook or an unknown run raises `ProjectError`/`BrewError` before any job starts.
    `clock` and `run_id` exist for deterministic sample data and tests.
    """
    like_params: dict[str, Any] = {}
    if like_run_id:
        liked = read_record(project, like_run_id)
        if liked.kind != "generation":
            raise BrewError(f"{like_run_id} is a {liked.kind} job, not a generation run")
        playbook_name = playbook_name or liked.playbook
        like_params = liked.params
    if not playbook_name:
        raise BrewError("name a playbook (or a run to regenerate with --like)")
    book = get_playbook(project, playbook_name)
    count = count or like_params.get("count") or book.count
    if seed is None:
        seed = (
            book.seed
            if (book.seed is not None and not like_run_id)
            else random.SystemRandom().randrange(2**31)
        )
    params = {
        "generator": book.generator,
        "count": count,
        "seed": seed,
        "playbook_file": str(book.path.relative_to(project.root))
        if book.path.is_relative_to(project.root)
        else str(book.path),
    }
    if like_run_id:
        params["like_run_id"] = like_run_id
    counts = {
        "requested": count,
        "candidates": 0,
        "usable": 0,
        "landed": 0,
        "invalid": 0,
        "duplicates": 0,
        "backend_errors": 0,
        "by_cause": {},
    }
    runner = _GenerationRun(project, book, count, seed)
    return await run_job(
        project,
        "generation",
        runner.run,
        playbook=book.name,
        params=params,
        counts=counts,
        run_id=run_id,
        on_event=on_event,
        cancel=cancel,
        clock=clock,
    )


class _GenerationRun:
    """The body of a generation job: stream candidates, validate, land in batches, judge the run."""

    def __init__(self, project: Project, book: Playbook, count: int, seed: int) -> None:
        self.project, self.book, self.count, self.seed = project, book, count, seed
        self.pending: list[dict[str, Any]] = []
        self.examples: dict[str, list[str]] = {}
        self.stop_reason: str | None = None  # why the run failed early, if it did
        self.in_a_row = 0  # backend errors with no success between them
        self.seq = 0
        self._iso_second, self._iso_text = None, ""  # the last created_at, and its second
        self.cancelled = False
        self.generator: Generator | None = None

    async def run(self, ctx: JobContext) -> None:
        self.ctx = ctx
        project, book, c = self.project, self.book, ctx.counts
        validator = await asyncio.to_thread(
            Validator.for_project, project, max_answer_words=book.limits.max_answer_words
        )
        examples = await asyncio.to_thread(_example_rows, project, self.seed)
        generator = generator_class(book.generator)(
            GenRequest(project, book, self.count, self.seed, examples)
        )
        self.generator = generator
        limit = book.max_candidates(self.count)
        stream = generator.stream()
        fatal: GeneratorFailed | None = None
        flusher = asyncio.ensure_future(self._flush_every(FLUSH_SECONDS))
        check, feedback, batch_rows = validator.check, generator.feedback, book.limits.batch_rows
        try:
            async for item in stream:
                if isinstance(item, BackendError):
                    c["backend_errors"] += 1
                    generator.last_error = item.message
                    self.in_a_row += 1
                elif isinstance(item, Issue):
                    self._count(item.cause, truncate(item.detail, RAW_KEEP))
                    self.in_a_row = 0
                else:
                    self.in_a_row = 0
                    c["candidates"] += 1
                    verdict = check(item)
                    row = verdict.row
                    feedback(item, row is not None)
                    if row is not None:
                        c["usable"] += 1
                        self.pending.append(self._row(row, ctx))
                    else:
                        self._count(verdict.cause, verdict.detail)
                if len(self.pending) >= batch_rows:
                    await self._flush()
                ctx.emit("progress", force=False)
                if c["usable"] >= self.count or self._should_stop(limit):
                    break
        except GeneratorFailed as exc:
            fatal = exc
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            try:
                await stream.aclose()
            finally:
                await generator.aclose()
                await self._flush()
                self._copy_usage()
                if self.cancelled:
                    self._judge_cancelled()
        self._judge(fatal, limit)

    def _copy_usage(self) -> None:
        """The generator's tokens, requests, structured mode and cost, into the record."""
        gen, rec = self.generator, self.ctx.record
        if gen is not None:
            rec.tokens_prompt, rec.tokens_completion = gen.usage.prompt_tokens, gen.usage.completion_tokens
            rec.requests, rec.structured_mode, rec.cost = gen.usage.requests, gen.structured_mode, gen.cost()

    async def _flush_every(self, seconds: float) -> None:
        """Land what is pending at least every `seconds`, so a slow backend's rows are reviewable
        without waiting for a full batch."""
        while True:
            await asyncio.sleep(seconds)
            await self._flush()

    def _row(self, row: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        self.seq += 1
        rid = ctx.record.run_id
        out = {
            "id": "r_" + _blake2b(f"{rid}:{self.seq}".encode(), digest_size=10).hexdigest(),
            "prompt": row.pop("prompt"),
            "completion": row.pop("completion"),
            "review_status": "pending",
            "source": SOURCE_SYNTH,
            "run_id": rid,
            "playbook": self.book.name,
            "created_at": self._created_at(ctx.clock()),
        }
        if row:
            for key, value in row.items():
                out.setdefault(key, value)
        return out

    def _created_at(self, moment: datetime) -> str:
        """`iso(moment)`, formatted once per second of a UTC clock (rows arrive thousands a second)."""
        if moment.tzinfo is not UTC:
            return iso(moment)
        second = math.floor(moment.timestamp())
        if second != self._iso_second:
            self._iso_second, self._iso_text = second, iso(moment)
        return self._iso_text

    def _count(self, cause: str, detail: str) -> None:
        c = self.ctx.counts
        c["by_cause"][cause] = c["by_cause"].get(cause, 0) + 1
        if cause in DUPLICATE_CAUSES:
            c["duplicates"] += 1
        else:
            c["invalid"] += 1
        kept = self.examples.setdefault(cause, [])
        if len(kept) < EXAMPLES_PER_CAUSE:
            kept.append(detail)

    async def _flush(self) -> None:
        """Append the pending rows (whole lines, under the store's lock), off the event loop."""
        if not self.pending:
            return
        from brewslm_tui.core.store.store import append_rows  # the store pulls in more than jobs need

        rows, self.pending = self.pending, []
        writing = asyncio.ensure_future(asyncio.to_thread(append_rows, self.project, rows))
        try:
            landed = await asyncio.shield(writing)
        except asyncio.CancelledError:
            landed = await writing  # the lines are going down anyway: count them, then stop
            self._landed(landed)
            raise
        self._landed(landed)

    def _landed(self, n: int) -> None:
        self.ctx.counts["landed"] += n
        self._copy_usage()
        self.ctx.save()
        self.ctx.emit("rows_landed", rows=n)

    def _attempts(self) -> int:
        c = self.ctx.counts
        by_cause = c["by_cause"]
        attempts = c["candidates"] + c["backend_errors"]
        if by_cause:
            attempts += sum(
                by_cause.get(k, 0) for k in ("unparseable_reply", "unparseable_line", "reply_cut_short")
            )
        return attempts

    def _should_stop(self, limit: int) -> bool:
        c, lim = self.ctx.counts, self.book.limits
        if self.in_a_row >= lim.max_backend_errors_in_a_row:
            self.stop_reason = (
                f"Stopped: {self.in_a_row} backend requests in a row failed "
                f"(limit {lim.max_backend_errors_in_a_row}); the backend looks down or misconfigured."
            )
            return True
        attempts = self._attempts()
        if attempts >= lim.min_candidates:
            failed = attempts - c["usable"]
            if failed / attempts > lim.max_failure_rate:
                self.stop_reason = (
                    f"Stopped early: {failed} of {attempts} attempts were not usable "
                    f"({failed / attempts:.0%}, limit {lim.max_failure_rate:.0%} after "
                    f"{lim.min_candidates} attempts)."
                )
                return True
        return attempts >= limit

    def _diagnostic(self, headline: str) -> Diagnostic:
        c, gen = self.ctx.counts, self.generator
        last_error = gen.last_error if gen else None
        return Diagnostic(
            headline=headline,
            causes=dict(c["by_cause"]),
            examples=self.examples,
            last_backend_error=last_error,
            backend_output=gen.notes() if gen else None,
            advice=(gen.advice() if gen else [])
            + _advice(self.project, self.book, c, last_error, gen.error_advice if gen else None),
        )

    def _judge_cancelled(self) -> None:
        self.ctx.record.diagnostic = self._diagnostic(
            f"Cancelled by the user; the {self.ctx.counts['landed']} rows it landed are kept and reviewable."
        )

    def _judge(self, fatal: GeneratorFailed | None, limit: int) -> None:
        """Set the final state: failed (nothing usable, stopped early, backend failed) or succeeded."""
        record, c = self.ctx.record, self.ctx.counts
        landed, usable = c["landed"], c["usable"]
        diag = self._diagnostic("")
        if fatal is not None:
            record.state = "failed"
            diag.headline = f"The generator failed: {fatal}"
        elif usable == 0:
            record.state = "failed"
            diag.headline = _nothing_usable(c) + (f" {self.stop_reason}" if self.stop_reason else "")
        elif self.stop_reason:
            record.state = "failed"
            top = _top_cause(c)
            diag.headline = (
                self.stop_reason
                + (f" Most were {top}." if top else "")
                + f" The {landed} rows landed before the stop are kept."
            )
        else:
            record.state = "succeeded"
            if usable < self.count:
                why = _lost_text(c) or "nothing else came"
                record.note = (
                    f"Landed {landed} of {self.count} requested rows: the generator stopped after "
                    f"{self._attempts()} attempts (limit {limit}); the rest were lost to {why}."
                )
                diag.headline = record.note
            elif c["by_cause"] or c["backend_errors"]:
                diag.headline = f"Landed all {landed} rows; {_lost_text(c)} along the way."
        record.diagnostic = diag if (diag.headline or diag.causes) else None


def _top_cause(c: dict[str, Any]) -> str:
    """'not_a_label (40): the completion is not ...' for the commonest cause, or ''."""
    if not c["by_cause"]:
        return ""
    top, n = max(c["by_cause"].items(), key=lambda kv: kv[1])
    return f"{top} ({n}): {CAUSES.get(top, top)}"


def _nothing_usable(c: dict[str, Any]) -> str:
    if c["candidates"] == 0 and c["backend_errors"] and not c["by_cause"]:
        return f"No usable rows: the backend never answered ({c['backend_errors']} failed requests)."
    if c["candidates"] == 0 and not c["by_cause"]:
        return "No usable rows: the generator produced no candidates at all."
    if c["by_cause"]:
        return f"No usable rows from {c['candidates']} candidates; most were {_top_cause(c)}."
    return f"No usable rows from {c['candidates']} candidates."


def _advice(
    project: Project,
    book: Playbook,
    c: dict[str, Any],
    last_error: str | None,
    error_advice: str | None = None,
) -> list[str]:
    causes = c["by_cause"]
    where = f"playbooks/{book.path.name}"
    out = []
    if causes.get("not_a_label"):
        out.append(
            f"Completions must be exactly one of: {', '.join(project.labels)}. "
            + (
                "Check the label keys of [hard_cases.templates] in " + where
                if book.generator == "template"
                else f"Say so in `instructions` in {where}."
            )
        )
    if causes.get("bad_json") or causes.get("wrong_fields"):
        out.append(
            f"Completions must be one JSON object with exactly these keys: {', '.join(project.fields)} "
            f"(null for a value the text does not state)."
        )
    if causes.get("answer_too_long"):
        out.append(
            f"Answers must be short (at most {book.limits.max_answer_words or project.limits.qa_max_answer_words}"
            " words); ask for the answer only, or raise limits.max_answer_words in " + where + "."
        )
    if causes.get("too_long"):
        out.append(
            f"Rows must fit the project's limits (max_prompt_chars {project.limits.max_prompt_chars}, "
            f"max_completion_chars {project.limits.max_completion_chars} in brewslm.toml)."
        )
    if causes.get("control_chars"):
        out.append("The backend emits control characters (escape codes, NUL); clean its output.")
    if causes.get("empty_prompt") or causes.get("empty_completion") or causes.get("malformed_candidate"):
        out.append('Every candidate needs a non-empty text "prompt" and "completion".')
    if causes.get("unparseable_reply"):
        out.append(
            'The model\'s replies could not be parsed: it must answer with one JSON object {"rows": [...]} of '
            'objects with "prompt" and "completion" (structured = "auto" asks the server to enforce it).'
        )
    if causes.get("unparseable_line"):
        out.append("The command must print one JSON object per line on stdout (send logs to stderr).")
    dups = sum(causes.get(k, 0) for k in DUPLICATE_CAUSES)
    if dups and dups >= max(1, c["candidates"]) // 3:
        if causes.get("duplicate_in_run", 0) >= dups / 2:
            out.append(
                "Many candidates repeat each other: the playbook cannot make this many different rows; "
                "add templates or vocabulary (or hard cases), or ask for fewer rows."
            )
        else:
            out.append(
                "Many candidates repeat rows the project already has: add templates or vocabulary, "
                "or regenerate with a fresh seed (generate --like RUN_ID)."
            )
    if c["backend_errors"] and error_advice:
        out.append(error_advice)
    elif c["backend_errors"]:
        target = (
            _safe_url(book.openai.base_url) if (book.generator == "openai" and book.openai) else "the backend"
        )
        out.append(
            f"Check that {target} is up and reachable (the backend's last error is above); "
            f"retries and timeout are set in {where}."
        )
    return out


def _safe_url(url: str) -> str:
    """The URL without any user:password@ part (never written to a record)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _example_rows(project: Project, seed: int, n: int = 5) -> list[dict[str, Any]]:
    """A few imported rows (prompt/completion only) for model-backed generators to imitate."""
    rows: list[dict[str, Any]] = []
    try:
        with open(project.imported_path, "rb") as f:
            for i, line in enumerate(f):
                if i >= 2000:
                    break
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if (
                    isinstance(obj, dict)
                    and isinstance(obj.get("prompt"), str)
                    and isinstance(obj.get("completion"), str)
                ):
                    rows.append({"prompt": obj["prompt"], "completion": obj["completion"]})
    except OSError:
        return []
    rng = random.Random(seed)
    return rng.sample(rows, min(n, len(rows)))
