"""Counts over the store's columns: C-speed passes, no row parsing. Used by `stats`, the header and Runs.

Rows already moved to dropped.jsonl count as dropped (for their run and reason), except those
restored since: they have a slot again and are counted there.
"""

from __future__ import annotations

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
    """Per-run status counts and reject reasons: one C-speed pass (Counter over zipped columns)."""
    n = len(store)
    runs, codes = store.runs, store.reason_codes
    triples = Counter(
        zip(store.run_index_column()[:n], bytes(store.status[:n]), bytes(store.reason[:n]), strict=True)
    )
    tallies: dict[str, RunTally] = {}

    def tally_for(run: str) -> RunTally:
        tally = tallies.get(run)
        if tally is None:
            tally = tallies[run] = RunTally(run)
        return tally

    for (run_k, status, reason_k), k in triples.items():
        tally = tally_for(runs[run_k])
        tally.by_status[status] += k
        if reason_k and status in (REJECTED, DROPPED):
            tally.reasons[codes[reason_k]] += k
        if status == REJECTED:
            tally.rejected_reasons[codes[reason_k] if reason_k else "(no reason)"] += k
    dropped = store.dropped
    for j in _unrestored_dropped(store):
        tally = tally_for(dropped.run_of(j))
        tally.dropped_file += 1
        if not tally.playbook:
            tally.playbook = dropped.playbook_of(j)
        reason = dropped.reason_of(j)
        if reason:
            tally.reasons[reason] += 1
    column = store.run_index_column()
    for run_k, run in enumerate(runs):  # a run's playbook: that of its first slot (array.index is C)
        if run in tallies and not tallies[run].playbook:
            with suppress(ValueError):
                tallies[run].playbook = store.playbook_of(column.index(run_k))
    return tallies


def run_table(store: Store) -> dict[str, dict[str, int]]:
    """Per run_id: total and count per status (dropped includes rows already in dropped.jsonl)."""
    return {run: tally.as_counts() for run, tally in tally_runs(store).items()}


def dropped_by_reason(store: Store) -> dict[str, int]:
    """Dropped rows per reason: those in dropped.jsonl and those dropped since the last compaction."""
    counts: Counter = Counter()
    dropped = store.dropped
    counts.update(dropped.reason_of(j) or NO_REASON for j in _unrestored_dropped(store))
    status = bytes(store.status)
    slots = [i for i in range(len(status)) if status[i] == DROPPED] if DROPPED in status else []
    for code, n in store.count_by_reason(slots).items():
        counts[code] += n
    return dict(counts)


def label_counts(store: Store) -> dict[str, int]:
    """Rows per label over every row not dropped ("(not a label)" for completions that are none)."""
    labels = store.labels
    if len(labels) < 2:
        return {}
    status = bytes(store.status)
    column = store.label_index_column()
    tally = Counter(k for k, st in zip(column, status, strict=True) if st != DROPPED)
    out = {label: tally[k] for k, label in enumerate(labels) if label is not None and tally[k]}
    if tally[0]:
        out["(not a label)"] = tally[0]
    return out


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
