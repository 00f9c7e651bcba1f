"""The generation job: run one playbook once, check every candidate, land usable rows.

Candidates stream from a generator (`core.generation.generators`, or a batch engine's output
file, see `batch.py`); each is checked (`core.generation.validate`), and usable rows are
appended in batches as they arrive, each pending with full provenance, so review can start
before the job ends. A batch lands whole and fsynced before it is counted.

Duplicates are checked twice: against the index the validator built when the run started,
and again at append time, under the write lock, against rows other writers appended since
(`OtherWriters`), so two jobs at once cannot land the same prompt twice.

A no-op is not a success: a run that lands nothing fails, with a diagnostic a user can act
on (counts per cause, up to three examples each, the backend's last error).
`generate --resume RUN_ID` continues an interrupted or failed run under its run_id, up to
its count, with ids and seeds that cannot repeat the rows already landed.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

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
from brewslm_tui.core.generation.job_record import (
    FINAL_STATES,
    Diagnostic,
    JobRecord,
    iso,
    lost_text,
    read_record,
    rows_kept,
)
from brewslm_tui.core.generation.job_runner import Clock, JobContext, JobEvent, Stop, run_job
from brewslm_tui.core.generation.playbooks import Playbook, get_playbook
from brewslm_tui.core.generation.validate import CAUSES, DUPLICATE_CAUSES, Validator, prompt_key
from brewslm_tui.core.project import Project
from brewslm_tui.core.rows import SOURCE_SYNTH
from brewslm_tui.core.text import plural, truncate

EXAMPLES_PER_CAUSE = 3
FLUSH_SECONDS = 1.0  # pending usable rows land at least this often
MAX_PENDING_BATCHES = 20  # rows waiting for the disk, in batches, before the job waits for it

_blake2b = hashlib.blake2b

GeneratorFactory = Callable[[GenRequest], Generator]


async def run_generation_job(
    project: Project,
    playbook_name: str | None,
    *,
    count: int | None = None,
    seed: int | None = None,
    like_run_id: str | None = None,
    resume_run_id: str | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: asyncio.Event | Stop | None = None,
    clock: Clock | None = None,
    run_id: str | None = None,
    generator: GeneratorFactory | None = None,
    resume: JobRecord | None = None,
    early_stop: bool = True,
) -> JobRecord:
    """Run one playbook once as a generation job; return its final record.

    `like_run_id` regenerates a run: the same playbook and count, a fresh seed, a new run_id.
    `resume_run_id` continues a run that did not finish (interrupted, failed, cancelled, or
    still `waiting` for a batch) under the same run_id up to its count. A bad playbook or an
    unknown run raises `ProjectError`/`BrewError` before any job starts. `generator` replaces
    the playbook's generator (a batch engine's output, see `batch.py`); `resume` is the
    record to continue as is; `early_stop=False` reads a bounded input (a batch output file)
    to its end instead of stopping at the failure thresholds. `clock` and `run_id` exist for deterministic sample data and tests.
    """
    if resume_run_id:
        resume = resumable_record(project, resume_run_id)
    if resume is not None:
        playbook_name = playbook_name or resume.playbook
        if playbook_name != resume.playbook:
            raise BrewError(f"{resume.run_id} ran playbook {resume.playbook!r}, not {playbook_name!r}")
        book = get_playbook(project, playbook_name or "")
        count = int(resume.params.get("count") or resume.requested or book.count)
        # every round after the first has its own row ids; a generator of its own (a batch
        # output) keeps the run's seed, the playbook's generator gets a new one (not the same rows)
        rounds = int(resume.params.get("resumed", 0)) + 1
        seed = int(resume.params.get("seed", 0)) + (7919 * rounds if generator is None else 0)
        params: dict[str, Any] = {"resumed": rounds}
        runner = _GenerationRun(
            project, book, count, seed, generator=generator, id_round=rounds, early_stop=early_stop
        )
        return await run_job(
            project,
            "generation",
            runner.run,
            params=params,
            on_event=on_event,
            cancel=cancel,
            clock=clock,
            resume=resume,
        )
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
    seed = pick_seed(book, seed, fresh=bool(like_run_id))
    params = generation_params(project, book, count, seed)
    if like_run_id:
        params["like_run_id"] = like_run_id
    runner = _GenerationRun(project, book, count, seed, generator=generator, early_stop=early_stop)
    return await run_job(
        project,
        "generation",
        runner.run,
        playbook=book.name,
        params=params,
        counts=new_counts(count),
        run_id=run_id,
        on_event=on_event,
        cancel=cancel,
        clock=clock,
    )


def pick_seed(book: Playbook, seed: int | None, *, fresh: bool = False) -> int:
    """The seed asked for; else the playbook's own (unless a fresh one is wanted); else random."""
    if seed is not None:
        return seed
    if book.seed is not None and not fresh:
        return book.seed
    return random.SystemRandom().randrange(2**31)


def generation_params(project: Project, book: Playbook, count: int, seed: int) -> dict[str, Any]:
    return {
        "generator": book.generator,
        "count": count,
        "seed": seed,
        "playbook_file": str(book.path.relative_to(project.root))
        if book.path.is_relative_to(project.root)
        else str(book.path),
    }


def new_counts(count: int) -> dict[str, Any]:
    return {
        "requested": count,
        "candidates": 0,
        "usable": 0,
        "landed": 0,
        "invalid": 0,
        "duplicates": 0,
        "backend_errors": 0,
        "by_cause": {},
    }


def resumable_record(project: Project, run_id: str) -> JobRecord:
    """The record of a generation run that may be continued; BrewError saying why not."""
    record = read_record(project, run_id)
    if record.kind != "generation":
        raise BrewError(f"{run_id} is a {record.kind} job, not a generation run")
    if record.state == "succeeded" and record.landed >= record.requested:
        raise BrewError(f"{run_id} already landed all {record.landed} of its rows: nothing to resume")
    if record.state == "waiting" and "batch_id" not in record.params:
        raise BrewError(
            f"{run_id} waits for a batch engine: land its output with `brewslm-tui ingest PROJECT {run_id} OUTPUT`, "
            f"or submit it to the server's batch API with `generate PROJECT --resume {run_id} --batch`"
        )
    if record.state not in FINAL_STATES and record.state != "waiting":
        raise BrewError(f"{run_id} is still {record.state} (pid {record.pid}): cancel it first")
    return record


class OtherWriters:
    """Prompts other writers appended to synthetic.jsonl since the run's index was built.

    Called by `append_rows` under the write lock with the rows about to land: it reads only
    the bytes appended since its last look (the whole file again after a compaction replaced
    it), skips this run's own rows, and says which rows would repeat a prompt already there.
    `landed` (also under the lock) moves its mark past this run's own append, so a job alone
    on the file reads nothing back; only other writers' bytes are ever read.
    """

    def __init__(self, project: Project, run_id: str) -> None:
        self.path = project.synthetic_path
        self.run_id = run_id
        self.keys: set[int] = set()
        self.inode, self.offset = self._mark()

    def _mark(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0)
        return (st.st_ino, st.st_size)

    def __call__(self, rows: list[dict[str, Any]], keys: list[int] | None = None) -> list[bool]:
        """Keep each row? `keys` are the rows' prompt keys when the caller has them already."""
        inode, size = self._mark()
        start = self.offset if (inode == self.inode and size >= self.offset) else 0
        if size > start:
            self._read(start, size)
        self.inode, self.offset = inode, size
        if keys is None:
            keys = [prompt_key(row["prompt"]) for row in rows]
        keep = []
        seen = self.keys
        for key in keys:
            keep.append(key not in seen)
            seen.add(key)  # and not twice in one batch either
        return keep

    def landed(self, length: int) -> None:
        """This run's own append ended the file at `length` (under the lock: nobody else wrote)."""
        self.offset = length

    def _read(self, start: int, end: int) -> None:
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        own = self.run_id.encode()
        for line in data.splitlines():
            if own in line:  # cheap test first: most lines of a busy file are ours
                try:
                    if orjson.loads(line).get("run_id") == self.run_id:
                        continue
                except (orjson.JSONDecodeError, AttributeError):
                    continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn first line when `start` was not a line start; not ours to judge
            if isinstance(obj, dict) and isinstance(obj.get("prompt"), str):
                self.keys.add(prompt_key(obj["prompt"]))


def landed_rows_of(project: Project, run_id: str) -> int:
    """How many rows of `run_id` landed: in synthetic.jsonl, or dropped since by review (a resume
    trusts the files, not the record, which may lag; a dropped row was landed all the same)."""
    needles = (f'"run_id":"{run_id}"'.encode(), f'"run_id": "{run_id}"'.encode())
    n = 0
    for path in (project.synthetic_path, project.dropped_path):
        try:
            with open(path, "rb") as f:
                n += sum(1 for line in f if line.endswith(b"\n") and any(k in line for k in needles))
        except FileNotFoundError:
            continue
    return n


class _GenerationRun:
    """The body of a generation job: stream candidates, validate, land in batches, judge the run."""

    def __init__(
        self,
        project: Project,
        book: Playbook,
        count: int,
        seed: int,
        *,
        generator: GeneratorFactory | None = None,
        id_round: int = 0,
        early_stop: bool = True,
    ) -> None:
        self.early_stop = early_stop
        self.project, self.book, self.count, self.seed = project, book, count, seed
        self.make_generator = generator or generator_class(book.generator)
        self.id_round = id_round  # > 0 on a resume: row ids that cannot repeat earlier rounds'
        self.other_writers: OtherWriters | None = None
        self.screened: list[dict[str, Any]] = []  # rows the append-time check found duplicated
        self.pending: list[dict[str, Any]] = []
        self.pending_keys: list[int] = []  # their prompt keys (the validator's), for the append-time screen
        self.batch_rows = book.limits.batch_rows
        self._writing: asyncio.Task[None] | None = None  # the append under way, if any
        self._write_error: Exception | None = None  # a failed append, raised in the job's own task
        self.examples: dict[str, list[str]] = {}
        self.stop_reason: str | None = None  # why the run failed early, if it did
        self.in_a_row = 0  # backend errors with no success between them
        self.seq = 0
        self._iso_second: int | None = None  # the second of the last created_at
        self._iso_text = ""
        self.cancelled = False
        self.generator: Generator | None = None
        self.usage_before: tuple[int, int, int] = (0, 0, 0)
        self.cost_before: float | None = None
        self.base_attempts = self.base_usable = 0

    async def run(self, ctx: JobContext) -> None:
        self.ctx = ctx
        project, book, c = self.project, self.book, ctx.counts
        self.other_writers = OtherWriters(project, ctx.record.run_id)  # marked before the index
        validator = await asyncio.to_thread(
            Validator.for_project, project, max_answer_words=book.limits.max_answer_words
        )
        if self.id_round:  # resumed: what is on disk is what landed (the record may lag)
            c["landed"] = await asyncio.to_thread(landed_rows_of, project, ctx.record.run_id)
            c["usable"] = c["landed"]
            ctx.save()
        self.base_attempts, self.base_usable = self._attempts(), c["usable"]
        examples = await asyncio.to_thread(example_rows, project, self.seed)
        remaining = max(1, self.count - c["usable"])  # a resumed run asks only for what is missing
        generator = self.make_generator(GenRequest(project, book, remaining, self.seed, examples))
        self.generator = generator
        rec = self.ctx.record  # a resumed run adds this round's usage to the earlier rounds'
        self.usage_before = (rec.tokens_prompt or 0, rec.tokens_completion or 0, rec.requests or 0)
        self.cost_before = rec.cost
        limit = book.max_candidates(remaining)
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
                        self.pending_keys.append(validator.last_key)
                    else:
                        self._count(verdict.cause or "invalid", verdict.detail)
                if len(self.pending) >= batch_rows:
                    self._kick()
                    if self._write_error is not None:
                        raise self._take_error()
                    if len(self.pending) >= batch_rows * MAX_PENDING_BATCHES:
                        await self._flush()  # the disk is behind: let it catch up
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
                await _close_stream(stream)
            finally:
                await generator.aclose()
                await self._flush()
                self._copy_usage()
                if self.cancelled:
                    self._judge_cancelled()
        self._judge(fatal, limit)

    async def _flush_every(self, seconds: float) -> None:
        """Land what is pending at least every `seconds`, so a slow backend's rows are reviewable
        without waiting for a full batch."""
        while True:
            await asyncio.sleep(seconds)
            self._kick()  # (a failed append is raised in the job's own task, not here)

    def _row(self, row: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        self.seq += 1
        rid = ctx.record.run_id
        key = f"{rid}:{self.seq}" if not self.id_round else f"{rid}:{self.id_round}:{self.seq}"
        out = {
            "id": "r_" + _blake2b(key.encode(), digest_size=10).hexdigest(),
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

    def _kick(self) -> None:
        """Start appending everything pending, unless an append is under way: then the rows
        wait, and the next append takes all that came meanwhile (group commit: one write and
        one fsync for every row ready, however many batches that is; candidates keep being
        checked while the disk works)."""
        if self._writing is not None or not self.pending or self._write_error is not None:
            return
        rows, self.pending = self.pending, []
        keys, self.pending_keys = self.pending_keys, []
        self._writing = asyncio.ensure_future(self._write(rows, keys))
        self._writing.add_done_callback(self._wrote)

    def _wrote(self, task: asyncio.Task[None]) -> None:
        """The append `task` ended: keep its error, or start the next group. Once per task
        (`_flush` may see it done before this callback runs)."""
        if self._writing is not task:
            return
        self._writing = None
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, Exception):  # (retrieved here, so it is never lost with the task)
            self._write_error = self._write_error or exc
        elif len(self.pending) >= self.batch_rows:
            self._kick()

    def _take_error(self) -> Exception:
        exc, self._write_error = self._write_error, None
        assert exc is not None
        return exc

    async def _flush(self) -> None:
        """Land every pending row now: wait for the append under way, then append the rest.

        An append is never cancelled (the rows are going down anyway): a cancel waits for it,
        so its rows are counted, then propagates. A failed append raises its error here."""
        while True:
            writing = self._writing
            if writing is None:
                if self._write_error is not None:
                    raise self._take_error()
                if not self.pending:
                    return
                self._kick()
                continue
            if writing.done():
                self._wrote(writing)
                continue
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                await asyncio.wait({writing})
                raise
            except Exception:
                pass  # kept by `_wrote`, raised at the top of the loop

    async def _write(self, rows: list[dict[str, Any]], keys: list[int]) -> None:
        """Append `rows` (whole lines, under the store's lock) in a thread; count what landed."""
        try:
            landed = await asyncio.to_thread(self._append, rows, keys)
        except OSError as exc:
            if not exc.filename:
                exc.filename = str(self.project.synthetic_path)
            self.ctx.counts["usable"] -= len(rows)  # they did not land (none of them: see append_durably)
            failed = {id(row) for row in rows}
            self.screened = [row for row in self.screened if id(row) not in failed]
            self.ctx.record.diagnostic = self._diagnostic("")
            raise
        self._landed(landed)

    def _append(self, rows: list[dict[str, Any]], keys: list[int]) -> int:
        """In a thread: append under the write lock, screening rows other writers made duplicates."""
        from brewslm_tui.core.store.store import append_rows  # the store pulls in more than jobs need

        screen = self.other_writers
        if screen is None:
            return append_rows(self.project, rows)

        def keep(batch: list[dict[str, Any]]) -> list[bool]:
            flags = screen(batch, keys if len(keys) == len(batch) else None)
            self.screened.extend(row for row, ok in zip(batch, flags, strict=True) if not ok)
            return flags

        return append_rows(self.project, rows, screen=keep, landed=screen.landed)

    def _landed(self, n: int) -> None:
        c = self.ctx.counts
        screened, self.screened = self.screened, []
        for row in screened:  # counted here, on the job's loop, not in the writing thread
            c["usable"] -= 1
            self._count(
                "duplicate_synthetic",
                f"{truncate(row['prompt'], 120)!r} (landed meanwhile by another writer)",
            )
        c["landed"] += n
        self._copy_usage()
        self.ctx.save()
        self.ctx.emit("rows_landed", rows=n)

    def _copy_usage(self) -> None:
        """The generator's tokens, requests, structured mode and cost, into the record."""
        gen, rec = self.generator, self.ctx.record
        if gen is None or not gen.usage.requests:
            return
        prompt, completion, requests = self.usage_before
        rec.tokens_prompt = prompt + gen.usage.prompt_tokens
        rec.tokens_completion = completion + gen.usage.completion_tokens
        rec.requests = requests + gen.usage.requests
        rec.structured_mode = gen.structured_mode
        cost = gen.cost()
        if cost is not None:
            rec.cost = (self.cost_before or 0.0) + cost

    def _attempts(self) -> int:
        """Attempts of all rounds (a resumed run's earlier ones too)."""
        c = self.ctx.counts
        by_cause = c["by_cause"]
        attempts = c["candidates"] + c["backend_errors"]
        if by_cause:  # (no generator expression: this runs for every candidate)
            get = by_cause.get
            attempts += get("unparseable_reply", 0) + get("unparseable_line", 0) + get("reply_cut_short", 0)
        return attempts

    def _should_stop(self, limit: int) -> bool:
        if not self.early_stop:
            return False
        c, lim = self.ctx.counts, self.book.limits
        if self.in_a_row >= lim.max_backend_errors_in_a_row:
            self.stop_reason = (
                f"Stopped: {self.in_a_row} backend requests in a row failed "
                f"(limit {lim.max_backend_errors_in_a_row}); the backend looks down or misconfigured."
            )
            return True
        attempts = self._attempts() - self.base_attempts  # this round's
        if attempts >= lim.min_candidates:
            failed = attempts - (c["usable"] - self.base_usable)
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
        """The causes so far; `run_job` writes the headline (who stopped it, rows kept)."""
        self.ctx.record.diagnostic = self._diagnostic("")

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
                + " "
                + rows_kept(landed, "landed before the stop")
            )
        else:
            record.state = "succeeded"
            if usable < self.count:
                why = lost_text(c) or "nothing else came"
                record.note = (
                    f"Landed {landed:,} of {plural(self.count, 'requested row')}: the generator stopped"
                    f" after {plural(self._attempts(), 'attempt')} (limit {limit}); the rest were lost to"
                    f" {why}."
                )
                diag.headline = record.note
            elif c["by_cause"] or c["backend_errors"]:
                every = "the 1 row" if landed == 1 else f"all {landed:,} rows"
                diag.headline = f"Landed {every}; {lost_text(c)} along the way."
        record.diagnostic = diag if (diag.headline or diag.causes) else None


async def _close_stream(stream: AsyncIterator[Any]) -> None:
    """End a generator's stream early (an async generator has `aclose`; other iterators do not)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _top_cause(c: dict[str, Any]) -> str:
    """'not_a_label (40): the completion is not ...' for the commonest cause, or ''."""
    if not c["by_cause"]:
        return ""
    top, n = max(c["by_cause"].items(), key=lambda kv: kv[1])
    return f"{top} ({n}): {CAUSES.get(top, top)}"


def _nothing_usable(c: dict[str, Any]) -> str:
    if c["candidates"] == 0 and c["backend_errors"] and not c["by_cause"]:
        return (
            f"No usable rows: the backend never answered ({plural(c['backend_errors'], 'failed request')})."
        )
    if c["candidates"] == 0 and not c["by_cause"]:
        return "No usable rows: the generator produced no candidates at all."
    if c["by_cause"]:
        return f"No usable rows from {plural(c['candidates'], 'candidate')}; most were {_top_cause(c)}."
    return f"No usable rows from {plural(c['candidates'], 'candidate')}."


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


def example_rows(project: Project, seed: int, n: int = 5) -> list[dict[str, Any]]:
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
