"""Rows appended by generation jobs: validated at this edge, written as whole lines under the write lock.

Appends never rewrite anything: one `append_durably` (one write, one fsync) of whole lines, after
finishing any interrupted compaction and healing a torn tail, so readers (which ignore a final
line with no newline) never see half a row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from brewslm_tui.core.project import Project
from brewslm_tui.core.rows import FILE_STATUSES, Row
from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.commit import recover
from brewslm_tui.core.store.jsonl import Quarantine, append_durably, dumps_line, heal_torn_tail
from brewslm_tui.core.store.locking import write_lock

APPEND_LOCK_WAIT = 300.0  # seconds a job's append waits for the write lock

Screen = Callable[[list[dict]], Sequence[bool]]  # rows -> keep each? (run under the write lock)
Landed = Callable[[int], None]  # the file's length after this append (run under the write lock)


def new_row_id() -> str:
    return "r_" + os.urandom(8).hex()


_ROW_TEXT = ("id", "prompt", "completion")
_ROW_OPTIONAL_TEXT = ("source", "run_id", "playbook", "created_at", "reject_reason", "review_note")


def _plainly_valid(row: dict) -> bool:
    """True when `Row.model_validate(row)` certainly accepts `row`, checked without building a model.

    `Row` asks for str id/prompt/completion, str-or-None optional fields and a known
    review_status (absent means "pending"); extra fields are allowed. False means "ask pydantic".
    """
    for key in _ROW_TEXT:
        if type(row.get(key)) is not str:
            return False
    if row.get("review_status", "pending") not in FILE_STATUSES:
        return False
    for key in _ROW_OPTIONAL_TEXT:
        value = row.get(key)
        if value is not None and type(value) is not str:
            return False
    return True


def append_rows(
    project: Project, rows: list[dict], *, screen: Screen | None = None, landed: Landed | None = None
) -> int:
    """Append generated rows as whole lines under the write lock (jobs use this). Returns the count.

    Each row is validated at this edge (pydantic `Row`); rows without an id get one.
    `screen(rows) -> [keep?]` runs under the lock (a job's duplicate check against rows other
    writers appended meanwhile); only the rows it keeps are appended and counted.
    `landed(length)` is told synthetic.jsonl's length after the append, still under the lock
    (so a screen need not read back the rows its own writer just appended).
    """
    if not rows:
        return 0
    lines = []
    for row in rows:
        if not row.get("id"):
            row = {"id": new_row_id(), **row}
        if not _plainly_valid(row):
            Row.model_validate(
                row
            )  # raises the full pydantic error (or accepts what the fast check cannot tell)
        lines.append(dumps_line(row))
    state_dir = project.state_dir
    fsio.makedirs(state_dir)
    quarantine = Quarantine(state_dir)
    lock = write_lock(state_dir)
    lock.acquire(timeout=APPEND_LOCK_WAIT)  # a compaction of a big file may hold it for seconds
    try:
        recover(state_dir, [project.synthetic_path, project.dropped_path, state_dir / "journal.jsonl"])
        heal_torn_tail(project.synthetic_path, quarantine)
        if screen is not None:
            lines = [line for line, keep in zip(lines, screen(rows), strict=True) if keep]
        if lines:
            length = append_durably(project.synthetic_path, b"".join(lines))
            if landed is not None:
                landed(length)
    finally:
        lock.release()
    return len(lines)
