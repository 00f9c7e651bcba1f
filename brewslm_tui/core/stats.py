"""Counts over the store's columns: C-speed passes, no row parsing. Used by `stats`, the header and Runs.

Rows already moved to dropped.jsonl count as dropped (for their run and reason), except those
restored since: they have a slot again and are counted there.
"""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from brewslm_tui.core.rows import APPROVED, DROPPED, PENDING, REJECTED, STATUS_NAMES
from brewslm_tui.core.store import quarantine
from brewslm_tui.core.store.columns import F_REVIEWED

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store

NO_REASON = "(no reason)"


@dataclass
class RunTally:
    """One run's rows by status, and its reject/drop reasons."""

    run_id: str
    playbook: str = ""
    by_status: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    reasons: Counter = field(default_factory=Counter)  # rejected and dropped rows, per reason
    rejected_reasons: Counter = field(default_factory=Counter)  # rows rejected now (what a drop takes)
    dropped_file: int = 0  # rows of this run already moved to dropped.jsonl

    @property
    def pending(self) -> int:
        return self.by_status[PENDING]

    @property
    def approved(self) -> int:
        return self.by_status[APPROVED]

    @property
    def rejected(self) -> int:
        return self.by_status[REJECTED]

    @property
    def dropped(self) -> int:
        return self.by_status[DROPPED] + self.dropped_file

    @property
    def rows(self) -> int:
        return sum(self.by_status) + self.dropped_file

    @property
    def approval_rate(self) -> float | None:
        """approved / (approved + rejected + dropped): the share of decided rows a person kept."""
        decided = self.approved + self.rejected + self.dropped
        return self.approved / decided if decided else None

    @property
    def unapproved(self) -> int:
        return self.pending + self.rejected

    def as_counts(self) -> dict[str, int]:
        counts = dict(
            zip(STATUS_NAMES, (self.pending, self.approved, self.rejected, self.dropped), strict=True)
        )
        counts["total"] = self.rows
        return counts


def _unrestored_dropped(store: Store) -> list[int]:
    """Positions in dropped.jsonl of the rows not restored since the last compaction."""
    dropped = store.dropped
    return [j for j in range(len(dropped)) if store.restored_slot(dropped.id_of(j)) is None]


def tally_runs(store: Store) -> dict[str, RunTally]:
    """Per-run status counts and reject reasons, in the order runs first appear in the file.

    Over runs' stretches of slots (`_run_stretches`: jobs append their rows together) each
    (status, reason) pair is counted with `bytes.count` (C speed, no object per row); a file
    whose runs are interleaved row by row takes a Counter over the zipped columns. Both give the
    same tallies in the same order (`tests/core/test_stats_fast.py`)."""
    n = len(store)
    runs, codes = store.runs, store.reason_codes
    tallies: dict[str, RunTally] = {}

    def tally_for(run: str) -> RunTally:
        tally = tallies.get(run)
        if tally is None:
            tally = tallies[run] = RunTally(run)
        return tally

    def add(run_k: int, status: int, reason_k: int, k: int) -> None:
        tally = tally_for(runs[run_k])
        tally.by_status[status] += k
        if reason_k and status in (REJECTED, DROPPED):
            tally.reasons[codes[reason_k]] += k
        if status == REJECTED:
            tally.rejected_reasons[codes[reason_k] if reason_k else "(no reason)"] += k

    column = store.run_index_column()
    first_slot: dict[int, int] = {}
    fast = _status_reason_bytes(store, n)
    stretches = _run_stretches(column, n) if fast is not None else None
    if fast is not None and stretches is not None:
        present = [bytes([c]) for c in range(256) if bytes([c]) in fast]
        for a, b in stretches:
            run_k = column[a]
            first_slot.setdefault(run_k, a)
            part = fast[a:b] if (a, b) != (0, n) else fast
            found = sorted((part.find(c), c) for c in present if c in part)
            for _, c in found:  # (the order a Counter of the rows would have met them in)
                add(run_k, c[0] >> 6, c[0] & 63, part.count(c))
    else:
        triples = Counter(zip(column[:n], bytes(store.status[:n]), bytes(store.reason[:n]), strict=True))
        for (run_k, status, reason_k), k in triples.items():
            add(run_k, status, reason_k, k)
    dropped = store.dropped
    for j in _unrestored_dropped(store):
        tally = tally_for(dropped.run_of(j))
        tally.dropped_file += 1
        if not tally.playbook:
            tally.playbook = dropped.playbook_of(j)
        reason = dropped.reason_of(j)
        if reason:
            tally.reasons[reason] += 1
    for run_k, run in enumerate(runs):  # a run's playbook: that of its first slot (array.index is C)
        if run in tallies and not tallies[run].playbook:
            if run_k in first_slot:
                tallies[run].playbook = store.playbook_of(first_slot[run_k])
            else:
                with suppress(ValueError):
                    tallies[run].playbook = store.playbook_of(column.index(run_k))
    return tallies


def _status_reason_bytes(store: Store, n: int) -> bytes | None:
    """One byte per slot, status << 6 | reason, made with two big-integer operations (no loop
    over the rows); None when a reason code does not fit in 6 bits (more than 63 reasons)."""
    status, reason = bytes(store.status[:n]), bytes(store.reason[:n])
    if not n or reason.translate(None, _SIX_BITS) or status.translate(None, _SIX_BITS[:4]):
        return None
    # each status byte shifted by 6 stays in its own byte (it is < 4) and the reason (< 64)
    # fills the 6 bits below: no carry crosses a byte
    joined = (int.from_bytes(status, "little") << 6) | int.from_bytes(reason, "little")
    return joined.to_bytes(n, "little")


_SIX_BITS = bytes(range(64))
_NONZERO = bytes([0]) + bytes([1]) * 255
MAX_STRETCHES = 1 << 14  # more stretches than this: the runs are interleaved, a Counter is as fast


def _run_stretches(column, n: int) -> list[tuple[int, int]] | None:
    """The maximal stretches [a, b) of slots with one run each, in order; None when there are
    more than MAX_STRETCHES. Where the run changes is found by XOR-ing the column with itself
    shifted by one slot, as two big integers."""
    if n == 0:
        return []
    raw = column[:n].tobytes()
    width = column.itemsize
    if n == 1:
        return [(0, 1)]
    x = int.from_bytes(raw[width:], "little") ^ int.from_bytes(raw[:-width], "little")
    marks = x.to_bytes(len(raw) - width, "little").translate(_NONZERO)
    changed = 0
    for j in range(width):  # a slot changed if any byte of it did
        changed |= int.from_bytes(marks[j::width], "little")
    flags = changed.to_bytes(n - 1, "little")
    stretches, a = [], 0
    i = flags.find(1)
    while i >= 0:
        stretches.append((a, i + 1))
        if len(stretches) > MAX_STRETCHES:
            return None
        a = i + 1
        i = flags.find(1, a)
    stretches.append((a, n))
    return stretches


def run_table(store: Store) -> dict[str, dict[str, int]]:
    """Per run_id: total and count per status (dropped includes rows already in dropped.jsonl)."""
    return {run: tally.as_counts() for run, tally in tally_runs(store).items()}


def dropped_by_reason(store: Store) -> dict[str, int]:
    """Dropped rows per reason: those in dropped.jsonl and those dropped since the last compaction."""
    counts: Counter = Counter()
    dropped = store.dropped
    counts.update(dropped.reason_of(j) or NO_REASON for j in _unrestored_dropped(store))
    status = bytes(store.status)
    slots = _slots_with(status, DROPPED)
    for code, n in store.count_by_reason(slots).items():
        counts[code] += n
    return dict(counts)


def label_counts(store: Store) -> dict[str, int]:
    """Rows per label over every row not dropped ("(not a label)" for completions that are none).

    Counted with `bytes.count` over the label column narrowed to one byte a slot (C speed); the
    dropped slots (found with `bytes.find`) are then taken off."""
    labels = store.labels
    if len(labels) < 2:
        return {}
    status = bytes(store.status)
    column = store.label_index_column()
    if len(column) != len(status):
        raise ValueError("the label and status columns differ in length")
    tally: Counter = Counter()
    narrow = _one_byte_each(column)
    if narrow is not None:
        for k in range(len(labels)):
            tally[k] = narrow.count(bytes([k]))
        for i in _slots_with(status, DROPPED):
            tally[narrow[i]] -= 1
    else:
        tally = Counter(k for k, st in zip(column, status, strict=True) if st != DROPPED)
    out = {label: tally[k] for k, label in enumerate(labels) if label is not None and tally[k]}
    if tally[0]:
        out["(not a label)"] = tally[0]
    return out


def _one_byte_each(column) -> bytes | None:
    """The column's values as one byte each, when every one is below 256 (else None)."""
    raw = column.tobytes()
    width = column.itemsize
    low = 0 if sys.byteorder == "little" else width - 1
    narrow = raw[low::width]
    if width > 1 and len(narrow) * width != len(raw):
        return None
    for j in range(width):
        if j != low and raw[j::width].count(0) != len(narrow):
            return None
    return narrow


def _slots_with(status: bytes | bytearray, code: int) -> list[int]:
    """The slots whose status is `code`, found by `find` (C speed; few rows are dropped)."""
    slots, mark = [], bytes([code])
    i = status.find(mark)
    while i >= 0:
        slots.append(i)
        i = status.find(mark, i + 1)
    return slots


_REVIEWED_BIT = bytes(int(bool(f & F_REVIEWED)) for f in range(256))


def reviewer_counts(store: Store) -> dict[str, dict[str, int]]:
    """Rows per reviewer (`reviewed_by`) and current status, dropped.jsonl included.

    Only stamped rows are read (the flags column and this session's stamps say which), so it
    costs O(decided rows), not O(rows)."""
    tally: dict[str, list[int]] = {}
    flags, status, stamped = store.cols.flags, store.status, store.overlay.reviewed
    marks = bytes(flags).translate(_REVIEWED_BIT)  # 1 where the line on disk has a stamp
    on_disk, i = [], marks.find(1)
    while i >= 0:  # (find is C speed: a million unstamped rows cost milliseconds)
        on_disk.append(i)
        i = marks.find(1, i + 1)
    candidates = sorted(set(on_disk) | set(stamped))
    for i in candidates:
        stamp = store.reviewed_of(i)
        if stamp and stamp[0]:
            tally.setdefault(stamp[0], [0, 0, 0, 0])[status[i]] += 1
    dropped = store.dropped
    for j in _unrestored_dropped(store):
        by = dropped.row(j).get("reviewed_by")
        if isinstance(by, str) and by:
            tally.setdefault(by, [0, 0, 0, 0])[DROPPED] += 1
    return {by: dict(zip(STATUS_NAMES, counts, strict=True)) for by, counts in sorted(tally.items())}


def compute_stats(store: Store) -> dict:
    counts = store.counts()
    return {
        "project": store.project.name,
        "total": sum(counts.values()),
        "by_status": counts,
        "by_reason": store.reason_counts(),
        "dropped_by_reason": dropped_by_reason(store),
        "by_run": run_table(store),
        "by_label": label_counts(store),
        "by_reviewer": reviewer_counts(store),
        "quarantined": quarantine.count(store.state_dir, store.problems + store.dropped.problems),
        "journal_entries": store.journal_size(),
    }
