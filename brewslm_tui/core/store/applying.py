"""Journal entries applied to the store: the overlay of what changed since the file was written.

An entry's target is `[status, reason, note]`, one for all its rows (`set`) or one per row
(`each`); KEEP ("=") for reason or note leaves it as it is. The status and reason columns are
changed in place (with their counts); notes, edited content and restored rows live in the
`Overlay`, keyed by slot, until compaction writes them into the files. Replay applies targets,
so applying an entry twice gives the same state.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from brewslm_tui.core.rows import DROPPED, REJECTED, STATUS_CODES
from brewslm_tui.core.store.columns import F_NOTE, VIRTUAL
from brewslm_tui.core.store.journal import check_entry
from brewslm_tui.core.store.jsonl import LoadProblem, replace_durably

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store

KEEP = "="  # in a journal target: leave the reason / note as it is
# the verdicts, which stamp their rows with the entry's `by` and `at` (reviewed_by / reviewed_at):
# a row's stamp says who last judged it and when. Moves leave it alone: back to pending, a drop
# (it adds dropped_at), a restore (the row comes back with the stamp it left with)
STAMPING = frozenset({"approve", "reject", "edit"})

Stamp = tuple[str, str]  # (reviewed_by, reviewed_at)


def effective_op(entry: dict) -> str:
    """What an entry did: its op, or for a redo the op it re-applied."""
    return str(entry.get("redone_op") or entry["op"])


def entry_time(entry: dict) -> str | None:
    """When a decision was made: `at` (journals written before it was named so have `ts`)."""
    return entry.get("at") or entry.get("ts")


@dataclass
class Overlay:
    """What the journal changed since `synthetic.jsonl` was written, by slot."""

    disk_status: bytearray = field(default_factory=bytearray)  # the status / reason the file has
    disk_reason: bytearray = field(default_factory=bytearray)
    notes: dict[int, str | None] = field(default_factory=dict)
    content: dict[int, dict] = field(default_factory=dict)  # edited prompt/completion/original
    virtual: dict[int, dict] = field(default_factory=dict)  # restored rows, held in memory
    virtual_raw: dict[int, bytes] = field(default_factory=dict)  # their lines in dropped.jsonl
    virtual_pos: dict[int, int] = field(default_factory=dict)  # and their positions there
    virtual_by_id: dict[str, int] = field(default_factory=dict)
    dropped_at: dict[int, str] = field(default_factory=dict)
    reviewed: dict[int, Stamp | None] = field(default_factory=dict)  # None: no stamp (undone)
    touched: set[int] = field(default_factory=set)  # slots any entry changed


def apply_entry(store: Store, entry: dict, slots: list[int], unique: bool = False) -> None:
    """Apply one journal entry to the columns (a bulk entry in one tight loop).

    `unique`: the slots are known to be distinct (a new decision), so one target for all of
    them is applied column-wise.
    """
    uniform = entry.get("set")
    each: list = entry.get("each") or []
    contents = entry.get("content")
    if unique and uniform is not None and contents is None and slots:
        _apply_uniform(store, entry, slots)
        return
    cols, overlay = store.cols, store.overlay
    is_drop = effective_op(entry) == "drop"
    ts = entry_time(entry)
    status, reason, counts = cols.status, cols.reason, cols.counts
    notes, flags = overlay.notes, cols.flags
    for k, i in enumerate(slots):
        st_name, code, note = uniform if uniform is not None else each[k]
        st = STATUS_CODES[st_name]
        old, old_rs = status[i], reason[i]
        if st in (REJECTED, DROPPED):
            rs = old_rs if code == KEEP else cols.reason_code(code)
        else:
            rs = 0
        counts[old] -= 1
        counts[st] += 1
        if old == REJECTED:
            cols.reason_counts[old_rs] -= 1
        if st == REJECTED:
            cols.reason_counts[rs] += 1
        status[i] = st
        reason[i] = rs
        if (
            note != KEEP
            and (note is not None or i in notes or flags[i] & F_NOTE)
            and note != store.note_of(i)
        ):
            notes[i] = note
        if is_drop and st == DROPPED and ts is not None:
            overlay.dropped_at[i] = ts
        if contents is not None and contents[k] is not None:
            overlay.content[i] = {**overlay.content.get(i, {}), **contents[k]}
            if "completion" in contents[k]:
                cols.label[i] = store.label_code_of(overlay.content[i]["completion"] or "")
    _stamp(overlay, entry, slots)
    overlay.touched.update(slots)
    store.changes.record(slots)


def _stamp(overlay: Overlay, entry: dict, slots: list[int]) -> None:
    """Who decided and when, on the rows: the entry's `by`/`at`, or (an undo) each row's stamp
    from before the decision it undoes (`reviewed`). Entries written before `by` stamp nothing."""
    stamps = entry.get("reviewed")
    if stamps is not None:
        for i, stamp in zip(slots, stamps, strict=True):
            overlay.reviewed[i] = (stamp[0], stamp[1]) if stamp else None
    elif entry["op"] in STAMPING and entry.get("by"):  # (a redo carries its `reviewed`)
        overlay.reviewed.update(dict.fromkeys(slots, (entry["by"], entry_time(entry) or "")))


def _apply_uniform(store: Store, entry: dict, slots: list[int]) -> None:
    """`apply_entry` of one target to distinct slots: the same changes, counted with C-speed passes."""
    cols, overlay = store.cols, store.overlay
    st_name, code, note = entry["set"]
    st = STATUS_CODES[st_name]
    status, reason, counts = cols.status, cols.reason, cols.counts
    olds = bytes(map(status.__getitem__, slots))
    old_rs = bytes(map(reason.__getitem__, slots))
    keep_reason = st in (REJECTED, DROPPED) and code == KEEP
    rs = 0
    if st in (REJECTED, DROPPED) and code != KEEP:
        rs = cols.reason_code(code)
    reason_counts = cols.reason_counts
    for k in range(len(counts)):
        counts[k] -= olds.count(k)
    counts[st] += len(slots)
    if REJECTED in olds:
        gone = (
            old_rs
            if olds.count(REJECTED) == len(olds)
            else bytes(r for o, r in zip(olds, old_rs, strict=True) if o == REJECTED)
        )
        for r in set(gone):
            reason_counts[r] -= gone.count(r)
    if st == REJECTED:
        if keep_reason:
            for r in set(old_rs):
                reason_counts[r] += old_rs.count(r)
        else:
            reason_counts[rs] += len(slots)
    for i in slots:
        status[i] = st
    if not keep_reason:
        for i in slots:
            reason[i] = rs
    if note != KEEP:
        notes, flags, note_of = overlay.notes, cols.flags, store.note_of
        if note is not None:
            for i in slots:
                if note != note_of(i):
                    notes[i] = note
        elif notes or any(map(flags.__getitem__, slots)):
            for i in slots:
                if (i in notes or flags[i] & F_NOTE) and note_of(i) is not None:
                    notes[i] = None
    at = entry_time(entry)
    if effective_op(entry) == "drop" and st == DROPPED and at:
        overlay.dropped_at.update(dict.fromkeys(slots, at))
    _stamp(overlay, entry, slots)
    overlay.touched.update(slots)
    store.changes.record(slots)


def restore_slots(store: Store, ids: list[str], hints: list[int]) -> list[int | None]:
    """Slots of rows being restored: rows dropped this session are still slots (found by id and
    hint); rows in dropped.jsonl get a virtual slot (reused if the row came back before)."""
    cols, overlay = store.cols, store.overlay
    slots: list[int | None] = []
    for hint, row_id in zip(hints, ids, strict=True):
        slot = overlay.virtual_by_id.get(row_id)
        if slot is None:
            if 0 <= hint < len(cols) and cols.offsets[hint] != VIRTUAL and store.id_of(hint) == row_id:
                slots.append(hint)
                continue
            j = store.dropped.position_of(row_id)
            if j is None:
                slots.append(store.index_of(row_id))
                continue
            row = store.dropped.row(j)
            slot = cols.append_row(DROPPED, row, store.label_code_of(row.get("completion", "")))
            overlay.virtual[slot] = row
            overlay.virtual_raw[slot] = store.dropped.raw(j).rstrip(b"\n")
            overlay.virtual_pos[slot] = j
            overlay.virtual_by_id[row_id] = slot
            overlay.touched.add(slot)
            overlay.disk_status.append(DROPPED)
            overlay.disk_reason.append(cols.reason[slot])
            store.ids.add(row_id, slot)
        slots.append(slot)
    return slots


def find_rows(store: Store, entry: dict, anywhere: bool = False) -> list[int | None]:
    """The slots of the rows an entry names, wherever they are now.

    A restore looks in dropped.jsonl first. An undo or a redo may name rows that a compaction
    moved there since (an undo of a drop, a redo of a restore): rows not found among the live
    ones are looked up in dropped.jsonl and come back as virtual slots (still dropped until the
    entry is applied). `anywhere`: look there too (an undo or redo of `entry` is being made)."""
    ids = entry.get("ids", [])
    hints = entry.get("hints") or [-1] * len(ids)
    if entry["op"] == "restore":
        return restore_slots(store, ids, hints)
    found = store.ids.resolve_many(hints, ids)
    if (anywhere or entry["op"] in ("undo", "redo")) and None in found:
        for k, slot in enumerate(found):
            if slot is None and store.dropped.position_of(ids[k]) is not None:
                found[k] = restore_slots(store, [ids[k]], [-1])[0]
    return found


def replay(store: Store, entry: dict) -> None:
    """Apply a journal entry read from disk; rows it names that cannot be found are reported."""
    ids = entry.get("ids", [])
    found = find_rows(store, entry)
    slots = [slot for slot in found if slot is not None]
    if len(slots) < len(found):
        missing = [row_id for row_id, slot in zip(ids, found, strict=True) if slot is None]
        store.problems.append(
            LoadProblem(
                store.journal.path,
                0,
                f"journal entry {entry['seq']} ({entry['op']}) names {len(missing)} row(s) not found,"
                f" e.g. {missing[0]!r}",
            )
        )
        keep = [k for k, slot in enumerate(found) if slot is not None]
        entry = dict(entry)
        if "each" in entry:
            entry["each"] = [entry["each"][k] for k in keep]
        for key in ("content", "reviewed"):
            if entry.get(key) is not None:
                entry[key] = [entry[key][k] for k in keep]
    apply_entry(store, entry, slots)
    store.undo_log.push(entry)


FLOOR_NAME = "undo-floor.json"  # in .brewslm/: {"seq": N}: undo and redo never reach before N


class UndoLog:
    """The undo and redo stacks, folded from every journal entry since the floor.

    A decision goes on the undo stack (and empties the redo stack); an undo entry moves the
    decision it undid onto the redo stack; a redo entry takes it off and goes on the undo stack
    itself (so it is undone like any decision). Entries of this session are pushed as they are
    applied; the entries before them (the journal archive, left by compactions) are folded in
    the first time a stack is consulted, once per load: O(archive) once, O(1) after. So undo
    reaches back across compactions and restarts, until the user forgets the history
    (`forget`, `brewslm-tui undo --forget-history`), which sets the floor.
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = state_dir
        self.pushed: list[dict] = []  # this load's entries, in order
        self.entries: list[dict] = []  # the undo stack, most recent last
        self.redo_entries: list[dict] = []  # the redo stack, most recent last
        self._folded = state_dir is None

    def push(self, entry: dict) -> None:
        self.pushed.append(entry)
        if self._folded:
            self._fold(entry)

    def last(self) -> dict | None:
        self._ensure()
        return self.entries[-1] if self.entries else None

    def last_undone(self) -> dict | None:
        self._ensure()
        return self.redo_entries[-1] if self.redo_entries else None

    def floor(self) -> int:
        if self.state_dir is None:
            return 0
        try:
            value = orjson.loads((self.state_dir / FLOOR_NAME).read_bytes()).get("seq", 0)
        except (OSError, ValueError, AttributeError):
            return 0
        return value if isinstance(value, int) else 0

    def forget(self, next_seq: int) -> None:
        """Undo and redo never reach before `next_seq` again (durable: the floor file is fsync'd)."""
        if self.state_dir is None:
            return
        replace_durably(self.state_dir / FLOOR_NAME, [orjson.dumps({"seq": next_seq}) + b"\n"])
        self.entries, self.redo_entries = [], []

    def _fold(self, entry: dict) -> None:
        op = entry["op"]
        if op == "undo":
            for k in range(len(self.entries) - 1, -1, -1):
                if self.entries[k]["seq"] == entry.get("undo_of"):
                    self.redo_entries.append(self.entries.pop(k))
                    break
        elif op == "redo":
            self.redo_entries = [e for e in self.redo_entries if e["seq"] != entry.get("redo_of")]
            self.entries.append(entry)
        else:
            self.entries.append(entry)
            self.redo_entries.clear()

    def _ensure(self) -> None:
        if self._folded:
            return
        self._folded = True
        floor = self.floor()
        seen = {e["seq"] for e in self.pushed}
        earlier = [e for e in _archived_entries(self.state_dir) if e["seq"] not in seen]  # type: ignore[arg-type]
        earlier.sort(key=lambda e: e["seq"])
        for entry in [*earlier, *self.pushed]:
            if entry["seq"] >= floor:
                self._fold(entry)


def _archived_entries(state_dir: Path) -> list[dict]:
    """Every readable entry of `.brewslm/journal-archive/` (a corrupt line was reported when
    its journal was replayed, and is skipped here)."""
    archive = state_dir / "journal-archive"
    out: list[dict] = []
    seen: set[int] = set()
    paths = sorted(archive.glob("journal-*.jsonl")) if archive.is_dir() else []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for raw in data.split(b"\n")[:-1]:
            if not raw.strip(b" "):
                continue
            with contextlib.suppress(ValueError):
                entry = orjson.loads(raw)
                check_entry(entry)
                if entry["op"] != "header" and entry["seq"] not in seen:
                    seen.add(entry["seq"])
                    out.append(entry)
    return out
