"""A row's review history, read back from the decision journal and its archive.

Every decision is a journal entry naming its rows by id, with who (`by`), when (`at`) and what
it set; compaction keeps the folded journals in `.brewslm/journal-archive/`. So the history of
one row is the entries that name it, oldest first, across the archive and the current journal.
The files are searched for the id's bytes (C speed) and only the lines that contain it are
parsed: O(journal bytes), so a caller on a keystroke path runs it off the UI thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from brewslm_tui.core.store.applying import KEEP, entry_time
from brewslm_tui.core.store.journal import check_entry

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store


@dataclass
class HistoryEvent:
    """One decision on the row: what it set, who made it and when."""

    seq: int
    op: str
    by: str | None  # None: a journal written before decisions named their reviewer
    at: str | None
    status: str
    reason: str | None = None
    note: str | None = None
    undone_op: str | None = None
    redone_op: str | None = None
    original: dict = field(default_factory=dict)  # an edit: the fields it changed, as they were

    def text(self) -> str:
        """One plain line, e.g. "rejected wrong_label by ana 2026-05-29 10:02"."""
        if self.op == "undo":  # the state it went back to, in brackets
            now = f"{self.status} {self.reason}" if self.reason else self.status
            what = f"undid {_VERB.get(self.undone_op or '', self.undone_op)} (now {now})"
        elif self.op == "redo":  # the decision again, as it was made
            now = f"{self.status} {self.reason}" if self.reason else self.status
            what = f"redid {_VERB.get(self.redone_op or '', self.redone_op)} (now {now})"
        elif self.op == "edit":
            what = "edited and approved" if self.status == "approved" else "edited"
        elif self.op == "reject" or (self.op == "drop" and self.reason):
            what = f"{_VERB[self.op]} {self.reason}" if self.reason else _VERB[self.op]
        else:
            what = _VERB.get(self.op, self.op)
        if self.note and self.op not in ("undo", "redo"):
            what += f" ({self.note})"
        who = f" by {self.by}" if self.by else ""
        when = f" {self.at[:16].replace('T', ' ')}" if self.at else ""
        return what + who + when


_VERB = {
    "approve": "approved",
    "reject": "rejected",
    "pending": "set back to pending",
    "edit": "edited",
    "drop": "dropped",
    "restore": "restored",
}


def row_history(store: Store, i: int) -> list[HistoryEvent]:
    """The decisions on the row in slot `i`, oldest first (from the archive, then the journal)."""
    row_id = store.id_of(i)
    needle = orjson.dumps(row_id)
    events: list[HistoryEvent] = []
    journal = store.journal
    paths = sorted(journal.archive_dir.glob("journal-*.jsonl")) if journal.archive_dir.is_dir() else []
    seen: set[int] = set()
    for path in [*paths, journal.path]:
        for entry in _entries_naming(path, needle):
            if entry["seq"] in seen:
                continue  # (an archive and the journal it was linked from, during a compaction)
            seen.add(entry["seq"])
            for k, entry_id in enumerate(entry.get("ids") or []):
                if entry_id == row_id:
                    events.append(_event(entry, k))
                    break
    return events


def history_text(events: list[HistoryEvent]) -> str:
    """The history as one line for the detail pane: "rejected wrong_label by ana 2026-05-29
    10:02, edited and approved by ana 2026-05-29 10:05, original completion 'positive'"."""
    parts = [event.text() for event in events]
    originals: dict = {}
    for event in events:
        for key, value in event.original.items():
            originals.setdefault(key, value)  # the first edit saw the original
    parts += [f"original {key} {value!r}" for key, value in originals.items()]
    return ", ".join(parts)


def _entries_naming(path: Path, needle: bytes) -> Iterator[dict]:
    """The parsed entries of `path` whose line contains `needle` (a JSON string: the row id)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return
    pos = data.find(needle)
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        if end < 0:
            return  # a torn tail: never a decision
        with contextlib.suppress(ValueError):  # a corrupt line: replay reported it already
            entry = orjson.loads(data[start:end])
            check_entry(entry)
            if entry["op"] != "header":
                yield entry
        pos = data.find(needle, end)


def _event(entry: dict, k: int) -> HistoryEvent:
    status, reason, note = entry.get("set") or entry["each"][k]
    prev = entry.get("prev") or []
    before = prev[k] if k < len(prev) and isinstance(prev[k], list) and len(prev[k]) == 3 else [None] * 3
    if reason == KEEP:  # a drop keeps the rejection's reason (and note)
        reason = before[1]
    if note == KEEP:
        note = before[2]
    original: dict = {}
    content = entry.get("content")
    prev_content = entry.get("prev_content")
    if entry.get("op") == "edit" and content and content[k] and prev_content and prev_content[k]:
        original = {key: prev_content[k].get(key) for key in ("prompt", "completion") if key in content[k]}
    return HistoryEvent(
        seq=entry["seq"],
        op=str(entry.get("op")),
        by=entry.get("by"),
        at=entry_time(entry),
        status=str(status),
        reason=reason if isinstance(reason, str) else None,
        note=note if isinstance(note, str) else None,
        undone_op=entry.get("undone_op"),
        redone_op=entry.get("redone_op"),
        original=original,
    )
