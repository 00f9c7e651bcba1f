"""The decision journal: one fsync'd line per review decision.

`.brewslm/journal.jsonl` starts with a header line `{"op": "header", "next_seq": N}` and then
holds one entry per decision (a bulk decision is one entry). A decision is acknowledged only
after its line is on disk, so a keystroke is durable at once and costs O(1), not a rewrite of
`synthetic.jsonl`. Compaction folds the entries into the data files and starts a new journal
(the old one is archived in `.brewslm/journal-archive/` as an audit trail).

A final line with no newline is a decision whose write was cut off by a crash: it was never
acknowledged, so it is quarantined and cut off before the next append.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from brewslm_tui.core.store.jsonl import LoadProblem, Quarantine, append_durably, dumps_line, heal_torn_tail


@dataclass
class JournalContents:
    next_seq: int
    entries: list[dict] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    end: int = 0  # byte offset after the last complete line read
    lines: int = 0  # complete lines up to `end`
    inode: int | None = None


def _check_entry(entry) -> None:
    """The shape replay relies on; anything else is a corrupt entry (reported, never applied)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("op"), str):
        raise ValueError("not a journal entry")
    if entry["op"] == "header":
        return
    ids = entry.get("ids")
    if (
        not isinstance(entry.get("seq"), int)
        or not isinstance(ids, list)
        or not all(isinstance(i, str) for i in ids)
    ):
        raise ValueError("entry without seq or ids")
    hints = entry.get("hints")
    if hints is not None and (not isinstance(hints, list) or len(hints) != len(ids)):
        raise ValueError("hints do not match ids")
    target = entry.get("set")
    each = entry.get("each")
    if target is not None:
        if not (isinstance(target, list) and len(target) == 3):
            raise ValueError("bad target")
    elif not (
        isinstance(each, list)
        and len(each) == len(ids)
        and all(isinstance(t, list) and len(t) == 3 for t in each)
    ):
        raise ValueError("entry without a target")
    content = entry.get("content")
    if content is not None and (not isinstance(content, list) or len(content) != len(ids)):
        raise ValueError("content does not match ids")
    for t in [target] if target is not None else each:
        if t[0] not in ("pending", "approved", "rejected", "dropped"):
            raise ValueError(f"unknown status {t[0]!r}")


class Journal:
    """Reads and appends the decision journal of one project."""

    def __init__(self, state_dir: Path, quarantine: Quarantine):
        self.path = state_dir / "journal.jsonl"
        self.archive_dir = state_dir / "journal-archive"
        self.quarantine = quarantine

    def read(self, start: int = 0, first_line: int = 1) -> JournalContents:
        """Every complete entry in order (from byte `start`, for a reader following the journal).

        A corrupt line is reported, never skipped silently.
        """
        try:
            with open(self.path, "rb") as f:
                inode = os.fstat(f.fileno()).st_ino
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            return JournalContents(next_seq=1)
        contents = JournalContents(next_seq=1, inode=inode)
        complete = data[: data.rfind(b"\n") + 1]
        contents.end = start + len(complete)
        contents.lines = first_line - 1 + complete.count(b"\n")
        for lineno, raw in enumerate(complete.split(b"\n")[:-1], start=first_line):
            try:
                entry = orjson.loads(raw)
                _check_entry(entry)
            except ValueError as exc:
                reason = f"corrupt journal entry ({exc}); that decision could not be replayed"
                self.quarantine.keep(self.path, lineno, raw, reason)
                contents.problems.append(LoadProblem(self.path, lineno, reason))
                continue
            if entry["op"] == "header":
                contents.next_seq = max(contents.next_seq, int(entry.get("next_seq", 1)))
                continue
            contents.entries.append(entry)
            contents.next_seq = max(contents.next_seq, int(entry["seq"]) + 1)
        return contents

    def append(self, entry: dict) -> None:
        """Write one entry and fsync. The caller holds the write lock."""
        if not self.path.exists():
            append_durably(self.path, dumps_line({"op": "header", "next_seq": entry["seq"]}))
        else:
            heal_torn_tail(self.path, self.quarantine)
        append_durably(self.path, dumps_line(entry))

    def new_generation_bytes(self, next_seq: int) -> bytes:
        return dumps_line({"op": "header", "next_seq": next_seq})

    def archive_path(self, first_seq: int, last_seq: int) -> Path:
        return self.archive_dir / f"journal-{first_seq:09d}-{last_seq:09d}.jsonl"

    def archive_current(self, first_seq: int, last_seq: int) -> None:
        """Keep the folded journal as an audit trail (a hard link, so it costs no copy)."""
        if not self.path.exists():
            return
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        target = self.archive_path(first_seq, last_seq)
        if target.exists():
            return
        try:
            os.link(self.path, target)
        except OSError:
            target.write_bytes(self.path.read_bytes())
