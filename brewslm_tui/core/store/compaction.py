"""Compaction: fold the journal into `synthetic.jsonl` and `dropped.jsonl`, all files or none.

Three staged files (the new `synthetic.jsonl`, the new `dropped.jsonl` when it changes, an
empty journal) are renamed into place by `commit.MultiFileCommit` behind an intent record, so a
crash at any point replays to the same rows. Unchanged stretches of rows are copied by the
kernel (`CopyRange`) in as few calls as the touched rows allow: adjacent spans are merged and
the short ones between touched rows are read into the write buffer; only rows the journal
changed are written anew. The store then derives
the new file's columns from the old ones (no re-parse).
"""

from __future__ import annotations

import errno
import os
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import repeat
from operator import sub
from typing import TYPE_CHECKING

from brewslm_tui.core.rows import DROPPED, now_iso
from brewslm_tui.core.store.columns import VIRTUAL, disk_flags
from brewslm_tui.core.store.commit import MultiFileCommit, recover
from brewslm_tui.core.store.dropped import fresh_id
from brewslm_tui.core.store.jsonl import CopyRange, heal_torn_tail

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store

DroppedMeta = tuple[int, str, str | None, str, str]  # (offset, id, reason, run, playbook) in dropped.jsonl


@dataclass
class CompactReport:
    rows: int
    dropped_moved: int
    restored: int
    malformed_removed: int
    seconds: float

    def __str__(self) -> str:
        parts = [f"{self.rows} rows in synthetic.jsonl"]
        if self.dropped_moved:
            parts.append(f"{self.dropped_moved} moved to dropped.jsonl")
        if self.restored:
            parts.append(f"{self.restored} restored from dropped.jsonl")
        if self.malformed_removed:
            parts.append(f"{self.malformed_removed} malformed lines left in quarantine only")
        return ", ".join(parts) + f" ({self.seconds:.2f} s)"


@dataclass
class NewLayout:
    """Where the old slots went in the new `synthetic.jsonl`."""

    pieces: list[list[int]] = field(default_factory=list)  # old slot ranges [a, b) kept, in new order
    offsets: array = field(default_factory=lambda: array("Q"))
    flags: bytearray = field(default_factory=bytearray)
    restored: int = 0

    def keep(self, a: int, b: int) -> None:
        if self.pieces and self.pieces[-1][1] == a:
            self.pieces[-1][1] = b
        else:
            self.pieces.append([a, b])


def compact(store: Store, crash_hook: Callable[[], None] | None = None) -> CompactReport:
    """Fold the journal into the data files (all or nothing) and start a new journal."""
    t0 = time.perf_counter()
    store.finish_loading()
    with store.write_lock:
        _settle(store)
        stamp = now_iso()
        # a malformed last line leaves a break just past the last slot: nothing follows it to copy
        n, status = len(store), store.cols.status
        special = sorted(
            s for s in store.overlay.touched | set(store.ids.assigned) | store.cols.breaks if s < n
        )
        dropped_now = [i for i in special if status[i] == DROPPED]
        commit = MultiFileCommit(store.state_dir)
        layout = NewLayout()
        with open(store.synthetic_path, "rb") if store.file.stat else nullcontext() as source:
            commit.stage(store.synthetic_path, _synthetic_chunks(store, special, layout, source))
        dropped_meta: list[DroppedMeta] | None = None
        if dropped_now or store.overlay.virtual_pos or store.dropped.renamed:
            dropped_meta = []
            commit.stage(store.dropped_path, _dropped_chunks(store, dropped_now, stamp, dropped_meta))
        _stage_new_journal(store, commit)
        store.quarantine.sync()  # malformed lines leave synthetic.jsonl now: their copies first
        try:
            commit.apply(before_rename=crash_hook)
        except BaseException:
            # finish or roll back what was done, and reload from disk: never keep deciding on
            # columns that no longer describe the files
            recover(store.state_dir, store.managed_files())
            store.reload()
            raise
        malformed = store.cols.malformed
        store.adopt_compacted(layout.pieces, layout.offsets, layout.flags, dropped_meta)
    return CompactReport(
        rows=len(store),
        dropped_moved=len(dropped_now),
        restored=layout.restored,
        malformed_removed=malformed,
        seconds=time.perf_counter() - t0,
    )


def _settle(store: Store) -> None:
    """Under the write lock: torn tails healed, dropped.jsonl and appended rows read afresh."""
    for path in (store.synthetic_path, store.dropped_path):
        heal = heal_torn_tail(path, store.quarantine)
        if heal:
            store.problems.append(heal)
    store.reread_dropped()
    store.refresh()


def _synthetic_chunks(
    store: Store, special: list[int], layout: NewLayout, source
) -> Iterator[bytes | memoryview | CopyRange]:
    """The new synthetic.jsonl: untouched file rows are copied; touched rows are written anew;
    dropped rows and malformed lines are left out."""
    fd = source.fileno() if source is not None else -1  # no file yet: every row is a new line
    return _coalesced(fd, _synthetic_pieces(store, special, layout))


_RELEASE_EVERY = 32 << 20  # the old file's mapped pages are let go of after each this many bytes

_RELEASE_ROWS = 1024  # ... and after each this many rows read off it from all over the file

FileSpan = tuple[int, int]  # a byte range [start, end) of the old synthetic.jsonl, kept as it is
_COPY_MIN = 256 << 10  # a kept span at least this long is copied by the kernel; shorter ones are read


def _synthetic_pieces(store: Store, special: list[int], layout: NewLayout) -> Iterator[bytes | FileSpan]:
    """The new file in order, as new lines and spans of the old file; `layout` follows along."""
    cols, file = store.cols, store.file
    buf, offsets, flags, status = file.buf, cols.offsets, cols.flags, cols.status
    n = len(cols)
    # the new columns sized once (no growth by reallocation: at 5M rows the offsets are 40 MB)
    m = n - sum(1 for t in special if status[t] == DROPPED)
    new_offsets = layout.offsets = array(cols.offsets.typecode, [0]) * m
    new_flags = layout.flags = bytearray(m)
    k = 0  # slots of the new file so far
    pos = 0
    a = 0
    held = 0  # the file offset past which mapped pages were last let go of
    for t in [*special, n]:
        if t < n and offsets[t] - held > _RELEASE_EVERY and offsets[t] != VIRTUAL:
            file.release()  # the rows read off the map so far (ends found, touched rows parsed)
            held = offsets[t]
        if t > a:  # slots a..t-1: untouched file rows, contiguous in the file
            start, end = offsets[a], buf.find(b"\n", offsets[t - 1]) + 1
            run = offsets[a:t]
            delta = start - pos  # the run moves up by the bytes left out before it
            new_offsets[k : k + t - a] = array(run.typecode, map(sub, run, repeat(delta))) if delta else run
            new_flags[k : k + t - a] = flags[a:t]
            k += t - a
            layout.keep(a, t)
            yield (start, end)
            pos += end - start
        if t == n:
            break
        a = t + 1
        if status[t] == DROPPED:
            continue
        off = offsets[t]
        layout.keep(t, t + 1)
        new_offsets[k] = pos
        if off == VIRTUAL or store.is_dirty(t):
            layout.restored += off == VIRTUAL
            line, row = store.disk_line(t)
            new_flags[k] = disk_flags(row)
            pos += len(line)
            k += 1
            yield line
        else:  # touched but unchanged (an id assigned, a break after it): its bytes as they are
            end = buf.find(b"\n", off) + 1
            new_flags[k] = flags[t]
            pos += end - off
            k += 1
            yield (off, end)
    if k != m:  # never so (every slot is kept or dropped); the columns must still say what was written
        del new_offsets[k:], new_flags[k:]


def _coalesced(fd: int, pieces: Iterator[bytes | FileSpan]) -> Iterator[bytes | memoryview | CopyRange]:
    """The pieces with adjacent spans merged; a long span becomes one `CopyRange`, a short one
    (the rows between two touched rows) is taken from a window read ahead of it, so it joins the
    written buffer instead of costing a flush and a copy call of its own, and a window's one read
    serves the many short spans in it. At most one window is held, never the file."""
    reader = _SpanReader(fd)
    start = end = -1
    for piece in pieces:
        if type(piece) is tuple:
            if piece[0] == end:
                end = piece[1]
                continue
            if end > start:
                yield reader.span(start, end)
            start, end = piece
        else:
            if end > start:
                yield reader.span(start, end)
                start = end = -1
            yield piece  # type: ignore[misc]
    if end > start:
        yield reader.span(start, end)


class _SpanReader:
    """Spans of the old file, in file order: long ones as `CopyRange`, short ones as views of a
    window of _WINDOW bytes read in one `pread` (the old bytes of touched rows in it are skipped)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.window = b""
        self.at = 0  # file offset of window[0]

    def span(self, start: int, end: int) -> memoryview | CopyRange:
        if end - start >= _COPY_MIN:
            return CopyRange(self.fd, start, end)
        if not (self.at <= start and end <= self.at + len(self.window)):
            self.window = os.pread(self.fd, max(_WINDOW, end - start), start)
            self.at = start
            if len(self.window) < end - start:
                missing = end - start - len(self.window)
                raise OSError(errno.EIO, f"synthetic.jsonl ended {missing} bytes early")
        return memoryview(self.window)[start - self.at : end - self.at]


_WINDOW = 1 << 20


def _dropped_chunks(
    store: Store, dropped_now: list[int], stamp: str, meta: list[DroppedMeta]
) -> Iterator[bytes]:
    """The new dropped.jsonl: its rows not restored since, then the rows dropped since.

    A restored row is left out by its position (not its id: two rows may share one), and a row
    moving in whose id is already there gets a fresh one (its own kept as `original_id`), so
    every row of the file stays addressable and none is ever left out by another's id."""
    restored = set(store.overlay.virtual_pos.values())
    dropped = store.dropped
    ids: set[str] = set()
    pos = 0
    for j in range(len(dropped)):
        if j not in restored:
            line = dropped.raw(j)
            row_meta = dropped.meta(j)
            ids.add(row_meta[0])
            meta.append((pos, *row_meta))
            pos += len(line)
            yield line
    overlay = store.overlay
    dropped_at, virtual = overlay.dropped_at, overlay.virtual
    shared: dict[str, str] = {}
    row_ids = store.ids.ids_of(dropped_now)  # in one pass (the common layout read off the map)
    for k, i in enumerate(dropped_now):
        if k % _RELEASE_ROWS == _RELEASE_ROWS - 1:
            store.file.release()  # the dropped rows' lines read off the map so far
        when = dropped_at.get(i) or (virtual[i].get("dropped_at") if i in virtual else None) or stamp
        extra = {"dropped_at": when, "drop_reason": store.reason_of(i)}
        row_id = row_ids[k]
        if row_id in ids:
            extra["id"] = fresh_id(i, store.raw_line(i), ids)
            if "original_id" not in store.row(i):
                extra["original_id"] = row_id
        line, row = store.disk_line(i, extra)
        ids.add(row["id"])
        run, playbook, reason = (
            str(row.get("run_id") or ""),
            str(row.get("playbook") or ""),
            row["drop_reason"],
        )
        # one str object per distinct run, playbook and reason, not three per row (100k rows: ~18 MB)
        run, playbook = shared.setdefault(run, run), shared.setdefault(playbook, playbook)
        reason = shared.setdefault(reason, reason) if reason is not None else None
        meta.append((pos, row["id"], reason, run, playbook))
        pos += len(line)
        yield line


def _stage_new_journal(store: Store, commit: MultiFileCommit) -> None:
    """The folded journal is kept in the archive; an empty one (its header) takes its place."""
    first_seq, next_seq = store.journal_span()
    if next_seq - 1 >= first_seq:
        store.journal.archive_current(first_seq, next_seq - 1)
    commit.stage(store.journal.path, [store.journal.new_generation_bytes(next_seq)])
