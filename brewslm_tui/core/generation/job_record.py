"""A job's record: `.brewslm/jobs/<run_id>.json`, the one truth every process follows.

A job of any kind (generation now; training or evaluation later) is a process that rewrites
its record as it goes. The app, `jobs`, `jobs --follow` and `cancel` read these files and
nothing else, so a job started anywhere (the TUI, a terminal, a cluster node sharing the
folder) is followed the same way, and a record tells the truth after a crash: one that says
`running` whose process is gone, or whose heartbeat went stale, is shown as `interrupted`.

Writing is atomic (temp file, fsync, rename, fsync the folder). When the disk is full that
cannot work, so every record is padded to whole 4 KiB blocks with JSON whitespace: the
blocks it owns can be rewritten in place, and a job that hit ENOSPC can still record what
happened and how many rows landed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.validate import CAUSES
from brewslm_tui.core.project import Project
from brewslm_tui.core.store.jsonl import fsync_dir
from brewslm_tui.core.text import plural

JobState = Literal["queued", "waiting", "running", "succeeded", "failed", "cancelled", "interrupted"]
JOB_STATES: tuple[str, ...] = (
    "queued",
    "waiting",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "interrupted",
)
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
LIVE_STATES = frozenset({"queued", "running"})  # a process is behind them (`waiting` has none)

STALE_SECONDS = 60.0  # a running record whose heartbeat is older than this is interrupted
RECORD_BLOCK = 4096  # records are padded to whole blocks (see the module docstring)
_TEMP_NAME = re.compile(r"^\..+\.json\.(\d+)\.tmp$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def jobs_dir(project: Project) -> Path:
    return project.state_dir / "jobs"


def record_path(project: Project, run_id: str) -> Path:
    return jobs_dir(project) / f"{run_id}.json"


class Diagnostic(BaseModel):
    """What happened, in words a user can act on: a headline, causes with examples, advice."""

    headline: str
    causes: dict[str, int] = Field(default_factory=dict)
    examples: dict[str, list[str]] = Field(default_factory=dict)
    last_backend_error: str | None = None
    backend_output: str | None = None  # e.g. the tail of a command's stderr
    advice: list[str] = Field(default_factory=list)


class JobRecord(BaseModel):
    """One job, as stored in `.brewslm/jobs/<run_id>.json`.

    `tokens_prompt`, `tokens_completion`, `requests` and `structured_mode` are set by model
    backends that report them (None otherwise); the rates derive from `elapsed_seconds`.
    """

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
    elapsed_seconds: float = 0.0
    tokens_prompt: int | None = None
    tokens_completion: int | None = None
    requests: int | None = None
    structured_mode: str | None = None
    cost: float | None = None  # from the playbook's prices, when it gives them
    pid: int | None = None
    host: str | None = None

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

    @property
    def tokens(self) -> int | None:
        if self.tokens_prompt is None and self.tokens_completion is None:
            return None
        return (self.tokens_prompt or 0) + (self.tokens_completion or 0)

    @property
    def tokens_per_second(self) -> float | None:
        tokens = self.tokens
        if tokens is None or self.elapsed_seconds <= 0:
            return None
        return tokens / self.elapsed_seconds

    @property
    def requests_per_second(self) -> float | None:
        if self.requests is None or self.elapsed_seconds <= 0:
            return None
        return self.requests / self.elapsed_seconds

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["tokens_per_second"] = _rounded(self.tokens_per_second)
        data["requests_per_second"] = _rounded(self.requests_per_second)
        return data

    def summary(self) -> str:
        """One or two lines for people: state, rows landed, and why when it matters."""
        c = self.counts
        head = f"{self.run_id} ({self.playbook or self.kind}): {self.state}"
        if self.kind == "generation":
            head += (
                f", {c.get('landed', 0):,} of {plural(c.get('requested', 0), 'row')} landed"
                f" from {plural(c.get('candidates', 0), 'candidate')}"
            )
            lost = lost_text(c)
            if lost:
                head += f" ({lost})"
        rates = self.rates_text()
        if rates:
            head += f"; {rates}"
        if self.diagnostic and self.state != "succeeded":
            return f"{head}\n{self.diagnostic.headline}"
        if self.note:
            return f"{head}\n{self.note}"
        return head

    def rates_text(self) -> str:
        """'12,345 tokens, 210 tokens/s, 3.1 requests/s' when the backend reported them, else ''."""
        parts = []
        if self.tokens is not None:
            parts.append(f"{self.tokens:,} tokens")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:,.0f} tokens/s")
        if self.requests_per_second is not None:
            parts.append(f"{self.requests_per_second:,.1f} requests/s")
        return ", ".join(parts)

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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def lost_text(c: dict[str, Any]) -> str:
    parts = []
    if c.get("invalid"):
        parts.append(f"{c['invalid']} invalid")
    if c.get("duplicates"):
        parts.append(plural(c["duplicates"], "duplicate"))
    if c.get("backend_errors"):
        parts.append(plural(c["backend_errors"], "backend error"))
    return ", ".join(parts)


def rows_kept(n: int, how: str) -> str:
    """'The 3 rows {how} are kept and reviewable.', in the right number ('The 1 row ... is'),
    or 'It landed no rows.' for none: the end of every stopped job's headline."""
    if n == 0:
        return "It landed no rows."
    return f"The {plural(n, 'row')} {how} {'is' if n == 1 else 'are'} kept and reviewable."


# --- writing --------------------------------------------------------------------------------


def _padded(record: JobRecord) -> bytes:
    data = orjson.dumps(record.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    return data + b" " * (-len(data) % RECORD_BLOCK)


def save_record(project: Project, record: JobRecord) -> None:
    """Write the record durably: atomically, or in place within its own blocks when the disk
    is full (ENOSPC, EDQUOT, EFBIG). Raises OSError when neither works."""
    path = record_path(project, record.run_id)
    data = _padded(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        _rewrite_in_place(path, record, data, exc)
        return
    fsync_dir(path.parent)


def _rewrite_in_place(path: Path, record: JobRecord, data: bytes, cause: OSError) -> None:
    """The disk is full: overwrite the record's own blocks (it was padded for this). When the
    new record does not fit, the examples and backend output go first: the state and counts
    matter more."""
    try:
        size = path.stat().st_size
    except OSError:
        raise cause from None
    if len(data) > size and record.diagnostic is not None:
        slim = record.diagnostic.model_copy(update={"examples": {}, "backend_output": None})
        data = _padded(record.model_copy(update={"diagnostic": slim}))
    if len(data) > size:
        raise cause
    with open(path, "r+b") as f:
        f.write(data.rstrip(b" ") + b" " * (size - len(data.rstrip(b" "))))
        f.flush()
        os.fsync(f.fileno())


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def clean_stale_temps(project: Project) -> int:
    """Remove `jobs/.RUN.json.PID.tmp` files left by writers that died mid-write; returns how many.

    A temp file whose pid is alive on this machine (this process too) may be a write in
    progress and is kept.
    """
    folder = jobs_dir(project)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid_alive(pid):  # this process's own threads included
            continue
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


# --- reading --------------------------------------------------------------------------------


RECORD_MAX = 16 * 1024 * 1024  # a record is a few KiB; anything this big is not one of ours


def load_record_file(path: Path) -> JobRecord:
    """One record file as stored (no liveness check). Raises OSError or ValueError.

    Only a regular file is read (a FIFO among the records of an untrusted project would
    block every listing), never through a symlink, and at most RECORD_MAX bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = f.read(RECORD_MAX + 1)
    if len(data) > RECORD_MAX:
        raise ValueError(f"larger than {RECORD_MAX // (1024 * 1024)} MiB")
    return JobRecord.model_validate(orjson.loads(data))


def read_record(project: Project, run_id: str) -> JobRecord:
    """The record of `run_id` as stored, with `interrupted` applied; BrewError if there is none."""
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise BrewError(f"not a run id: {run_id!r}")
    path = record_path(project, run_id)
    try:
        record = load_record_file(path)
    except FileNotFoundError:
        known = ", ".join(r.run_id for r in list_jobs(project)[:5]) or "none yet"
        raise BrewError(f"no job {run_id!r} in {path.parent} (recent: {known})") from None
    except (ValueError, OSError) as exc:
        raise BrewError(f"{path}: unreadable job record: {exc}") from None
    return seen_now(record)


def list_jobs(project: Project) -> list[JobRecord]:
    """Every job record of the project, newest first; dead `running` jobs show as `interrupted`."""
    folder = jobs_dir(project)
    records = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            records.append(seen_now(load_record_file(path)))
        except (ValueError, OSError):
            continue  # records are written atomically; anything else here is not ours
    records.sort(key=lambda r: (r.started_at or "", r.run_id), reverse=True)
    return records


def on_this_host(record: JobRecord) -> bool:
    return record.host in (None, socket.gethostname())


def seen_now(record: JobRecord) -> JobRecord:
    """A `running`/`queued` record whose process died is shown (not rewritten) as interrupted."""
    if record.state not in LIVE_STATES:
        return record
    alive = record.pid is not None and (not on_this_host(record) or pid_alive(record.pid))
    beat = parse_iso(record.heartbeat_at)
    stale = record.heartbeat_at is not None and (
        beat is None or (utc_now() - beat).total_seconds() > STALE_SECONDS
    )
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
                headline=(f"Interrupted: {why}. {rows_kept(kept, 'it recorded as landed')}"),
                causes=(record.diagnostic.causes if record.diagnostic else {}),
                examples=(record.diagnostic.examples if record.diagnostic else {}),
                advice=[
                    f"Continue it with `generate --resume {record.run_id}` (same run, up to its count), "
                    f"or start a fresh run like it with `generate --like {record.run_id}`."
                ],
            ),
        }
    )


def pid_alive(pid: int) -> bool:
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
