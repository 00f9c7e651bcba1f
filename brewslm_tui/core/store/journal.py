"""The decision journal: one fsync'd line per review decision.

`.brewslm/journal.jsonl` starts with a header line `{"op": "header", "next_seq": N}` and then
holds one entry per decision (a bulk decision is one entry). A decision is acknowledged only
after its line is on disk, so a keystroke is durable at once and costs O(1), not a rewrite of
`synthetic.jsonl`. Compaction folds the entries into the data files and starts a new journal
(the old one is archived in `.brewslm/journal-archive/` as an audit trail).

A final line with no newline is a decision whose write was cut off by a crash: it was never
acknowledged, so it is quarantined and cut off before the next append, never completed. An
append that fails (ENOSPC, EIO on fsync) is cut back out of the file before the error is
raised, so its bytes never take effect and its `seq` is used by the next decision alone; if
even the cut fails, no further entry is written until it succeeds. Journals written before
that rule may hold two entries with one `seq`: the earlier one is the decision whose write
failed (the seq is only consumed on success), so it is reported and not replayed.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.jsonl import (
    AppendNotUndone,
    LoadProblem,
    Quarantine,
    append_durably,
    cut_back,
    dumps_line,
    heal_torn_tail,
    replace_durably,
)


class DecisionNotSaved(BrewError):
    """A decision could not be written to the journal; it has not taken effect and never will."""


def os_cause(exc: OSError) -> str:
    """An OSError in words, without the path (the message names the file itself)."""
    return exc.strerror or (errno.errorcode.get(exc.errno or 0) or str(exc))


@dataclass
class JournalContents:
    next_seq: int
    entries: list[dict] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    end: int = 0  # byte offset after the last complete line read
    lines: int = 0  # complete lines up to `end`
    inode: int | None = None


def check_entry(entry) -> None:
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
    if not isinstance(entry.get("by", ""), str):
        raise ValueError("by is not a name")
    for key in ("reviewed", "prev_reviewed"):  # [reviewed_by, reviewed_at] or null, per row
        stamps = entry.get(key)
        if stamps is not None and not (
            isinstance(stamps, list)
            and len(stamps) == len(ids)
            and all(
                s is None or (isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) for x in s))
                for s in stamps
            )
        ):
            raise ValueError(f"{key} does not match ids")
    targets: list = [target] if target is not None else (each or [])
    for t in targets:
        if t[0] not in ("pending", "approved", "rejected", "dropped"):
            raise ValueError(f"unknown status {t[0]!r}")


class Journal:
    """Reads and appends the decision journal of one project."""

    def __init__(self, state_dir: Path, quarantine: Quarantine):
        self.path = state_dir / "journal.jsonl"
        self.archive_dir = state_dir / "journal-archive"
        self.quarantine = quarantine
        self._end = -1  # the file's length after this object's last append (-1: not yet known)
        self._must_cut_to: int | None = None  # set when a failed append could not be cut back

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
        by_seq: dict[int, int] = {}  # seq -> position in entries
        failed: list[int] = []  # positions of entries another entry's seq overrides
        for lineno, raw in enumerate(complete.split(b"\n")[:-1], start=first_line):
            if not raw.strip(b" "):
                continue  # an entry blanked out after its write failed (see `_blank_out`)
            try:
                entry = orjson.loads(raw)
                check_entry(entry)
            except ValueError as exc:
                reason = f"corrupt journal entry ({exc}); that decision could not be replayed"
                self.quarantine.keep(self.path, lineno, raw, reason)
                contents.problems.append(LoadProblem(self.path, lineno, reason))
                continue
            if entry["op"] == "header":
                contents.next_seq = max(contents.next_seq, int(entry.get("next_seq", 1)))
                continue
            seq = int(entry["seq"])
            earlier = by_seq.get(seq)
            if earlier is not None:
                # the earlier line was a failed append that an old version left in place
                failed.append(earlier)
                contents.problems.append(
                    LoadProblem(
                        self.path,
                        lineno,
                        f"journal entry {seq} appears twice; the earlier one was never saved "
                        "in full (its write failed) and is not replayed",
                    )
                )
            by_seq[seq] = len(contents.entries)
            contents.entries.append(entry)
            contents.next_seq = max(contents.next_seq, seq + 1)
        if failed:
            gone = set(failed)
            contents.entries = [e for k, e in enumerate(contents.entries) if k not in gone]
        return contents

    def append(self, entry: dict) -> None:
        """Write one entry and fsync; when this returns the decision is durable. The caller
        holds the write lock.

        `DecisionNotSaved` when it could not be: then the file is as it was before the call (the
        failed bytes were cut back out), or, if even that failed, no entry is written after them
        until a later call manages the cut (until then every append raises).
        """
        try:
            if self._must_cut_to is not None:
                cut_back(self.path, self._must_cut_to)
                self._must_cut_to = None
            try:
                size = os.stat(self.path).st_size
            except FileNotFoundError:
                size = 0
            data = dumps_line(entry)
            if size == 0:
                data = dumps_line({"op": "header", "next_seq": entry["seq"]}) + data
            elif size != self._end:
                # first append of this session (or a file changed behind us): a torn final line
                # is a decision that was never acknowledged; it is quarantined, never completed
                heal_torn_tail(self.path, self.quarantine, complete_whole=False)
            self._end = append_durably(self.path, data)
        except AppendNotUndone as exc:
            if _blank_out(self.path, exc.length):
                raise DecisionNotSaved(
                    f"{self.path}: decision not saved ({os_cause(exc.cause)}); nothing was changed "
                    "(its partial entry is blanked out)"
                ) from exc
            self._must_cut_to = exc.length
            raise DecisionNotSaved(
                f"{self.path}: decision not saved ({os_cause(exc.cause)}), and its partial entry "
                "could not be removed yet; no further decision is saved until it is (free space or "
                "fix the disk, then try again)"
            ) from exc
        except OSError as exc:
            if self._must_cut_to is not None:
                raise DecisionNotSaved(
                    f"{self.path}: decision not saved ({os_cause(exc)}): the partial entry of an earlier "
                    "failed decision could not be removed yet, and nothing is saved after it until it is"
                ) from exc
            raise DecisionNotSaved(
                f"{exc.filename or self.path}: decision not saved ({os_cause(exc)}); nothing was changed"
            ) from exc

    def new_generation_bytes(self, next_seq: int) -> bytes:
        return dumps_line({"op": "header", "next_seq": next_seq})

    def archive_path(self, first_seq: int, last_seq: int) -> Path:
        return self.archive_dir / f"journal-{first_seq:09d}-{last_seq:09d}.jsonl"

    def archive_current(self, first_seq: int, last_seq: int) -> None:
        """Keep the folded journal as an audit trail (a hard link, so it costs no copy)."""
        if not self.path.exists():
            return
        fsio.makedirs(self.archive_dir)
        target = self.archive_path(first_seq, last_seq)
        if target.exists():
            return
        try:
            fsio.link(self.path, target)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT):
                raise
            replace_durably(target, [self.path.read_bytes()])  # no hard links here (EXDEV, EPERM)
            return
        fsio.fsync_dir(self.archive_dir)


def _blank_out(path: Path, length: int) -> bool:
    """Overwrite everything after `length` with spaces and a final newline, and fsync: a failed
    entry that could not be cut off becomes a blank line, which replay skips. Overwriting bytes
    already there needs no new space, so this often works where the truncate did not."""
    try:
        fd = fsio.open_fd(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        if size <= length:
            fsio.fsync(fd)
            return True
        fsio.pwrite(fd, b" " * (size - length - 1) + b"\n", length)
        fsio.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
