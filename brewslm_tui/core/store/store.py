"""The row store: `synthetic.jsonl` + the decision journal, held as compact columns.

Slots. A row is addressed by a slot `0 .. len(store)-1`: the rows of `synthetic.jsonl` in file
order, then rows other processes appended since, then rows restored from `dropped.jsonl`
("virtual" slots until the next compaction writes them into `synthetic.jsonl`).

Memory. Per slot the store keeps a byte offset into the memory-mapped file and a few compact
columns (status and reason codes in `bytearray`s, run/playbook/label indices in `array`s). A
row's text is parsed only when it is asked for (`row(i)`), so a million rows cost tens of MB,
not a dict each. Edits, notes and restored rows live in small dicts keyed by slot.

Durability. Every decision is one journal entry, fsync'd before the call returns (see
`journal.py`). `compact()` folds the journal into the data files with `commit.MultiFileCommit`
(all files or none), copying unchanged lines as raw bytes. Opening the store replays the
journal over the files, so a SIGKILL at any moment loses no acknowledged decision.

Concurrency. A writable store holds the project's session lock (one reviewer at a time); each
file change also takes the short write lock, which generation jobs take to append rows.
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path

import orjson

from brewslm_tui.core.errors import BrewError, ReadOnly
from brewslm_tui.core.rows import (
    APPROVED,
    DROPPED,
    FILE_STATUSES,
    PENDING,
    REJECTED,
    STATUS_CODES,
    STATUS_NAMES,
    Row,
)
from brewslm_tui.core.store import column_cache, fsio
from brewslm_tui.core.store.column_cache import F_NOTE, assigned_id
from brewslm_tui.core.store.commit import INTENT_NAME, MultiFileCommit, recover
from brewslm_tui.core.store.dropped import DroppedRows
from brewslm_tui.core.store.journal import Journal
from brewslm_tui.core.store.jsonl import (
    CopyRange,
    LoadProblem,
    Quarantine,
    append_durably,
    bom_warning,
    dumps_line,
    heal_torn_tail,
    map_file,
)
from brewslm_tui.core.store.locking import FileLock, session_lock, write_lock

VIRTUAL = (1 << 64) - 1  # offset marker of a slot whose row is held in memory (restored)
BIG_CHANGE = 2000
DROP_FIELDS = ("dropped_at", "drop_reason")
APPEND_LOCK_WAIT = 300.0  # seconds a job's append waits for the write lock
ID_PREFIX = b'{"id":"'  # the common layout of a line (orjson, id first): the id is read without a parse
KEEP = "="  # in a journal target: leave the reason / note as it is  # a change of more slots than this tells views to rebuild instead of patch

_LOADS = orjson.loads


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Decision:
    """What a decision did, once it is durable."""

    seq: int
    op: str
    count: int
    idxs: list[int] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)


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


def new_row_id() -> str:
    return "r_" + os.urandom(8).hex()


class Store(column_cache.Columns):
    """The rows of one project and every review decision on them. See the module docstring."""

    BACKGROUND_BYTES = 8 << 20  # a file bigger than this (~20k rows) opens partly when it has no cache
    PARTIAL_BYTES = 2 << 20  # how much of it is parsed before the first screen

    def __init__(self, project, *, readonly: bool = False):
        self.project = project
        self.readonly = readonly
        self.state_dir: Path = project.state_dir
        self.synthetic_path: Path = project.synthetic_path
        self.dropped_path: Path = project.dropped_path
        self.quarantine = Quarantine(self.state_dir, enabled=not readonly)
        self.journal = Journal(self.state_dir, self.quarantine)
        self._session: FileLock | None = None
        self._wlock = write_lock(self.state_dir)
        self.version = 0
        self.generation = 0
        self.loaded = False
        self._background = False
        self._builder = None  # the child process building the column cache, while partly loaded
        self._early_builder = None  # one started before the store was opened (see `open`)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        project,
        *,
        session: bool = False,
        readonly: bool = False,
        lock_timeout: float = 2.0,
        background: bool = False,
        builder=None,
    ) -> Store:
        """Open for review (takes the session lock; `LockBusy` names the holder) or read-only.

        `background=True` (the TUI): when a big file has no valid column cache, only its first
        rows are parsed now (`loaded` is False) and a child process builds the cache on the other
        core; `refresh()` then swaps the full columns in. Everything else waits for it.
        `builder`: that child, already started by `start_early_builder` (it is used instead of
        starting another; if it has finished, its cache is simply loaded).
        """
        store = cls(project, readonly=readonly)
        store._background = background
        store._early_builder = builder
        if not readonly:
            fsio.makedirs(store.state_dir)
            store._session = session_lock(store.state_dir)
            store._session.acquire(timeout=lock_timeout)
            try:
                with store._wlock:
                    recover(store.state_dir, store._managed_files())
                    torn = [
                        heal_torn_tail(path, store.quarantine)
                        for path in (store.synthetic_path, store.dropped_path)
                    ]
                    store._load()
                    store.problems.extend(problem for problem in torn if problem)
            except BaseException:
                store._session.release()
                raise
        else:
            store._load_consistent()
        return store

    @classmethod
    def start_early_builder(cls, project):
        """Start the column-cache builder before the app is even imported, when a background
        open is coming and would start it anyway (a big file, no cache describing it): it then
        has the interpreter start and the imports (~0.4 s) as a head start. None otherwise."""
        if not column_cache.needs_build(project, cls.BACKGROUND_BYTES):
            return None
        try:
            return column_cache.start_builder(project)
        except OSError:
            return None

    def _file_keys(self) -> tuple:
        keys = []
        for path in (self.synthetic_path, self.journal.path, self.dropped_path):
            try:
                st = os.stat(path)
                keys.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                keys.append(None)
        return tuple(keys)

    def _load_consistent(self) -> None:
        """A read-only load takes no lock: if a writer replaced a file meanwhile (a compaction), load again."""
        for _ in range(5):
            before = [key and key[0] for key in self._file_keys()]
            self._load()
            if [key and key[0] for key in self._file_keys()] == before:
                return

    def _data_dirs(self) -> list[Path]:
        return [self.synthetic_path.parent, self.dropped_path.parent]

    def _managed_files(self) -> list[Path]:
        return [self.synthetic_path, self.dropped_path, self.journal.path]

    def close(self) -> None:
        if self._session is not None:
            self._session.release()
            self._session = None
        self._buf = b""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _load(self) -> None:
        """Read the files and replay the journal: O(rows), at open and after compaction only."""
        self.generation += 1
        self.version += 1
        self._changes: list[tuple[int, list[int] | None]] = []
        self.problems: list[LoadProblem] = []
        self._empty_columns(
            [r.code for r in self.project.reject_reasons], getattr(self.project, "labels", []) or []
        )
        self._note: dict[int, str | None] = {}
        self._content: dict[int, dict] = {}
        self._virtual: dict[int, dict] = {}
        self._dropped_at: dict[int, str] = {}
        self._assigned: dict[int, str] = {}
        self._touched: set[int] = set()  # slots any entry changed since the file was written
        self._id_map: dict[str, int] | None = None
        self._undo: list[dict] = []
        self._buf = b""
        self._scanned_end = 0
        self._bad: list[list] = []  # [lineno, reason, offset] of the malformed lines of synthetic.jsonl
        self._stat = None
        contents = self.journal.read()
        partial = self._background and not contents.entries
        self._remap_and_scan(partial=partial)
        self.problems.extend(p for p in [bom_warning(self.synthetic_path, self._buf)] if p)
        self._disk_status = bytearray(self.status)
        self._disk_reason = bytearray(self.reason)
        self.dropped = DroppedRows(self.dropped_path, self.quarantine)
        self._virtual_by_id: dict[str, int] = {}
        self.problems.extend(contents.problems)
        self._next_seq = contents.next_seq
        self._first_seq = contents.entries[0]["seq"] if contents.entries else contents.next_seq
        for entry in contents.entries:
            self._replay(entry)
        self._journal_at = (contents.inode, contents.end, contents.lines)
        self.loaded = self._builder is None

    # ------------------------------------------------------------------ scanning
    def _remap_and_scan(self, partial: bool = False) -> range:
        """Map the file again and parse the complete lines after the last scanned one.

        `partial`: on a cold start of a big file, parse only the first PARTIAL_BYTES and start
        the cache builder (see `open`).
        """
        try:
            st = os.stat(self.synthetic_path)
        except FileNotFoundError:
            self._stat = None
            return range(len(self), len(self))
        self._stat = (st.st_ino, st.st_size, st.st_mtime_ns)
        if st.st_size <= self._scanned_end:
            return range(len(self), len(self))
        self._buf = map_file(self.synthetic_path)
        first = len(self)
        cold = first == 0 and self._scanned_end == 0
        limit = None
        early, self._early_builder = self._early_builder, None
        if cold and column_cache.load(self):
            if early is not None:
                early.wait()  # it wrote the cache just loaded: only its exit is left
            if self._scanned_end == st.st_size:
                return range(len(self))
        elif cold and partial and st.st_size > self.BACKGROUND_BYTES:
            try:
                self._builder = early if early is not None else column_cache.start_builder(self.project)
                limit = self.PARTIAL_BYTES
            except OSError:
                pass  # no child process here: parse it all now
        label_for = getattr(self.project, "label_for", None) if len(self.labels) > 1 else None
        self._scanned_end = column_cache.parse_range(self, self._buf, self._scanned_end, limit, label_for)
        if cold and limit is None:
            column_cache.save(self)  # (not for a small file: see save)
        return range(first, len(self))

    def _label_code(self, completion: str) -> int:
        label_for = getattr(self.project, "label_for", None)
        if label_for is None or len(self.labels) < 2:
            return 0
        label = label_for(completion)
        return self.labels.index(label) if label in self.labels else 0

    def _bad_line(self, lineno: int, raw: bytes, reason: str, offset: int) -> None:
        """(parse_range) A line that is not a row: named, quarantined byte for byte, skipped."""
        self._malformed += 1
        self._breaks.add(len(self._offsets))
        self._bad.append([lineno, reason, offset])
        self.quarantine.keep(self.synthetic_path, lineno, bytes(raw), reason)
        self.problems.append(LoadProblem(self.synthetic_path, lineno, reason))

    def _no_id(self, slot: int, lineno: int, raw: bytes, offset: int) -> None:
        """(parse_range) A row without a usable id gets a stable one."""
        self._assigned[slot] = assigned_id(lineno, bytes(raw))

    def refresh(self) -> range:
        """Pick up rows appended by other processes (a job); return their new slots. Cheap when nothing changed.

        While partly loaded, it only checks whether the cache builder is done, and then loads in full.
        """
        if self._builder is not None:
            if self._builder.poll() is None:
                return range(len(self), len(self))
            return self.finish_loading()
        try:
            st = os.stat(self.synthetic_path)
        except FileNotFoundError:
            return range(len(self), len(self))
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._stat is not None and key == self._stat and not self.readonly:
            return range(len(self), len(self))
        if self._stat is not None and (st.st_ino != self._stat[0] or st.st_size < self._stat[1]):
            # the file was replaced (another process compacted, or someone edited it by hand)
            self._load_consistent() if self.readonly else self._load()
            return range(len(self))
        new = self._remap_and_scan()
        if self.readonly and self._follow_journal():
            self._load_consistent()
            return range(len(self))
        if len(new) and self._id_map is not None:
            for i in new:
                self._id_map[self.id_of(i)] = i
        if len(new):
            self._disk_status.extend(self.status[new.start :])
            self._disk_reason.extend(self.reason[new.start :])
            self._changed(list(new))
        return new

    def finish_loading(self) -> range:
        """Wait for the cache builder (if any) and load every row; the journal is replayed on top."""
        if self._builder is None:
            return range(len(self), len(self))
        self._builder.wait()
        self._builder = None
        self._background = False
        self._load()
        return range(len(self))

    def _follow_journal(self) -> bool:
        """A read-only store applies the reviewing session's new journal entries as they come.

        Returns True when the journal was replaced (a compaction): then a reload is needed.
        """
        inode, end, lines = self._journal_at
        try:
            st = os.stat(self.journal.path)
        except FileNotFoundError:
            return inode is not None
        if inode is None:  # the journal appeared since: follow it from its start
            inode, end, lines = st.st_ino, 0, 0
        if st.st_ino != inode:
            return True
        if st.st_size <= end:
            return False
        contents = self.journal.read(start=end, first_line=lines + 1)
        if contents.inode != inode:
            return True
        self.problems.extend(contents.problems)
        for entry in contents.entries:
            self._replay(entry)
            self._next_seq = max(self._next_seq, entry["seq"] + 1)
        self._journal_at = (inode, contents.end, contents.lines)
        return False

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._offsets)

    def counts(self) -> dict[str, int]:
        c = self._counts
        return {
            "pending": c[PENDING],
            "approved": c[APPROVED],
            "rejected": c[REJECTED],
            "dropped": c[DROPPED] + len(self.dropped) - len(self._virtual_by_id),
        }

    def reason_counts(self) -> dict[str, int]:
        return {code: n for code, n in zip(self.reason_codes, self._reason_counts) if code and n}

    def reason_of(self, i: int) -> str | None:
        return self.reason_codes[self.reason[i]]

    def restored_slot(self, row_id: str) -> int | None:
        """The slot a row of dropped.jsonl came back to (restored, maybe dropped again since), if any.

        Such a row is represented by its slot until the next compaction; lists of dropped rows
        skip it in dropped.jsonl so that it is not shown or counted twice.
        """
        return self._virtual_by_id.get(row_id)

    @property
    def scanned_bytes(self) -> int:
        """How much of synthetic.jsonl is complete lines already read (a torn tail lies beyond)."""
        return self._scanned_end

    @property
    def restored_count(self) -> int:
        return len(self._virtual_by_id)

    def run_of(self, i: int) -> str:
        return self.runs[self._run[i]]

    def playbook_of(self, i: int) -> str:
        return self.playbooks[self._playbook[i]]

    def label_of(self, i: int) -> str | None:
        return self.labels[self._label[i]]

    def run_index_column(self) -> array:
        return self._run

    def playbook_index_column(self) -> array:
        return self._playbook

    def label_index_column(self) -> array:
        return self._label

    def raw_line(self, i: int) -> bytes:
        """The row's line as on disk (for a file slot), without the newline."""
        off = self._offsets[i]
        if off == VIRTUAL:
            return orjson.dumps(self._virtual[i])
        return self._buf[off : self._buf.find(b"\n", off)]

    def _disk_row(self, i: int) -> dict:
        off = self._offsets[i]
        if off == VIRTUAL:
            row = dict(self._virtual[i])
            for key in DROP_FIELDS:
                row.pop(key, None)
            return row
        row = _LOADS(self._buf[off : self._buf.find(b"\n", off)])
        if i in self._assigned:
            # the row had no usable id (missing, empty, not a string): ours wins, theirs is kept
            original = row.pop("id", None)
            row = {"id": self._assigned[i], **row}
            if original not in (None, ""):
                row["original_id"] = original
        return row

    def id_of(self, i: int) -> str:
        if i in self._assigned:
            return self._assigned[i]
        off = self._offsets[i]
        if off == VIRTUAL:
            return self._virtual[i]["id"]
        buf = self._buf
        if buf[off : off + 7] == ID_PREFIX:
            # the common layout (orjson, id first): read the id without parsing the row
            end = buf.find(b'"', off + 7)
            raw = buf[off + 7 : end]
            if end > 0 and b"\\" not in raw:
                return raw.decode()
        return _LOADS(buf[off : buf.find(b"\n", off)])["id"]

    def ids_of(self, slots) -> list[str]:
        """`[self.id_of(i) for i in slots]`, for many slots at once (a bulk decision names every row).

        The common layout (`{"id":"` first, no escape in the id) is read for all slots together:
        the windows from each line start to the quote that closes the id are joined, checked and
        decoded in one go. A slot that does not fit takes `id_of`, so the answers are the same.
        """
        slots = slots if isinstance(slots, list) else list(slots)
        if len(slots) < 32 or not self._buf:
            return [self.id_of(i) for i in slots]
        offs = list(map(self._offsets.__getitem__, slots))
        if not self._assigned and not self._virtual:
            ids = self._plain_ids(offs)
            return ids if ids is not None else [self.id_of(i) for i in slots]
        assigned = self._assigned
        odd = {k for k, off in enumerate(offs) if off == VIRTUAL or slots[k] in assigned}
        plain = [k for k in range(len(slots)) if k not in odd]
        ids = self._plain_ids([offs[k] for k in plain]) if plain else []
        if ids is None:
            return [self.id_of(i) for i in slots]
        out = [""] * len(slots)
        for k, row_id in zip(plain, ids):
            out[k] = row_id
        for k in odd:
            out[k] = self.id_of(slots[k])
        return out

    def _plain_ids(self, offs: list[int]) -> list[str] | None:
        """The ids of the lines starting at `offs`, if every one has the common layout; else None."""
        buf = self._buf
        find = buf.find
        ends = [find(b'"', off + 7, off + 4096) for off in offs]
        if -1 in ends:
            return None
        joined = b"\x00".join(map(buf.__getitem__, map(slice, offs, ends)))
        # each window must start with the prefix (found at most once per window, at its start:
        # its only quotes are in its first 7 bytes), stay inside its line and hold no escape
        if joined.count(ID_PREFIX) != len(offs) or b"\\" in joined or b"\n" in joined:
            return None
        try:
            ids = joined.replace(ID_PREFIX, b"").decode().split("\x00")
        except UnicodeDecodeError:
            return None
        return ids if len(ids) == len(offs) else None

    def index_of(self, row_id: str) -> int | None:
        """Slot of a row id. Builds an id map on first use (O(rows) once; not on the review path)."""
        if self._id_map is None:
            self._id_map = {row_id: i for i, row_id in enumerate(self.ids_of(range(len(self))))}
        return self._id_map.get(row_id)

    def _resolve(self, hint: int, row_id: str) -> int | None:
        if 0 <= hint < len(self) and self.id_of(hint) == row_id:
            return hint
        return self.index_of(row_id)

    def _resolve_many(self, hints: list, ids: list[str]) -> list[int | None]:
        """`[self._resolve(h, row_id) for ...]`, with the ids at the hinted slots read in one pass."""
        try:
            in_range = len(hints) >= 32 and min(hints) >= 0 and max(hints) < len(self)
        except (TypeError, ValueError):
            in_range = False
        if not in_range:
            return [self._resolve(hint, row_id) for hint, row_id in zip(hints, ids)]
        return [
            hint if found == row_id else self.index_of(row_id)
            for hint, found, row_id in zip(hints, self.ids_of(hints), ids)
        ]

    def note_of(self, i: int) -> str | None:
        if i in self._note:
            return self._note[i]
        if self._flags[i] & F_NOTE:
            return self._disk_row(i).get("review_note")
        return None

    def row(self, i: int) -> dict:
        """The row as it is now: on-disk content with edits, status, reason and note applied."""
        row = self._disk_row(i)
        self._overlay(i, row)
        return row

    def _overlay(self, i: int, row: dict) -> None:
        st = self.status[i]
        row["review_status"] = STATUS_NAMES[st]
        if st in (REJECTED, DROPPED):
            code = self.reason_codes[self.reason[i]]
            if code:
                row["reject_reason"] = code
            else:
                row.pop("reject_reason", None)
        else:
            row.pop("reject_reason", None)
        if i in self._note:
            note = self._note[i]
            if note:
                row["review_note"] = note
            else:
                row.pop("review_note", None)
        content = self._content.get(i)
        if content:
            for key, value in content.items():
                if value is None:
                    row.pop(key, None)
                else:
                    row[key] = value

    def _dirty(self, i: int) -> bool:
        return (
            self.status[i] != self._disk_status[i]
            or self.reason[i] != self._disk_reason[i]
            or i in self._note
            or i in self._content
            or i in self._assigned
        )

    # ------------------------------------------------------------------ change log for views
    def _changed(self, slots: list[int] | None) -> None:
        self.version += 1
        if slots is not None and len(slots) > BIG_CHANGE:
            slots = None
        self._changes.append((self.version, slots))
        if len(self._changes) > 256:
            del self._changes[:128]

    def changed_since(self, version: int) -> list[int] | None:
        """Slots changed after `version`, or None when a view should rebuild (too many, or reloaded)."""
        if version == self.version:
            return []
        if not self._changes or self._changes[0][0] > version + 1:
            return None
        out: list[int] = []
        for v, slots in self._changes:
            if v > version:
                if slots is None:
                    return None
                out.extend(slots)
        return out

    # ------------------------------------------------------------------ applying entries
    def _reason_code_index(self, code: str | None) -> int:
        if not code:
            return 0
        k = self._reason_index.get(code)
        return k if k is not None else self._add_reason(code)

    def _state_of(self, i: int) -> list:
        return [STATUS_NAMES[self.status[i]], self.reason_codes[self.reason[i]], self.note_of(i)]

    def _states_of(self, slots: list[int]) -> list[list]:
        """`[self._state_of(i) for i in slots]`. Rows without a note share one list per (status, reason)."""
        names, codes, status, reason = STATUS_NAMES, self.reason_codes, self.status, self.reason
        shared = [[[name, code, None] for code in codes] for name in names]
        out = [shared[status[i]][reason[i]] for i in slots]
        notes, flags = self._note, self._flags
        if notes or any(map(flags.__getitem__, slots)):
            note_of = self.note_of
            for k, i in enumerate(slots):
                if i in notes or flags[i] & F_NOTE:
                    out[k] = [names[status[i]], codes[reason[i]], note_of(i)]
        return out

    def _content_of(self, i: int) -> dict:
        row = self.row(i)
        return {"prompt": row["prompt"], "completion": row["completion"], "original": row.get("original")}

    def _apply(self, entry: dict, slots: list[int], unique: bool = False) -> None:
        """Apply one journal entry to the columns (a bulk entry in one tight loop).

        A target is `[status, reason, note]`; KEEP ("=") for reason or note leaves it as it is.
        `unique`: the slots are known to be distinct (a new decision), so one target for all of
        them is applied column-wise.
        """
        uniform = entry.get("set")
        each = entry.get("each")
        contents = entry.get("content")
        if unique and uniform is not None and contents is None and slots:
            self._apply_uniform(entry, slots)
            return
        is_drop = entry["op"] == "drop"
        ts = entry.get("ts")
        status, reason, counts, reason_counts = self.status, self.reason, self._counts, self._reason_counts
        notes, flags = self._note, self._flags
        keep_codes = (REJECTED, DROPPED)
        for k, i in enumerate(slots):
            st_name, code, note = uniform if uniform is not None else each[k]
            st = STATUS_CODES[st_name]
            old, old_rs = status[i], reason[i]
            if st in keep_codes:
                rs = old_rs if code == KEEP else self._reason_code_index(code)
                reason_counts = self._reason_counts
            else:
                rs = 0
            counts[old] -= 1
            counts[st] += 1
            if old == REJECTED:
                reason_counts[old_rs] -= 1
            if st == REJECTED:
                reason_counts[rs] += 1
            status[i] = st
            reason[i] = rs
            if note != KEEP and (note is not None or i in notes or flags[i] & F_NOTE):
                if note != self.note_of(i):
                    notes[i] = note
            if is_drop and st == DROPPED:
                self._dropped_at[i] = ts
            if contents is not None and contents[k] is not None:
                self._content[i] = {**self._content.get(i, {}), **contents[k]}
                if "completion" in contents[k]:
                    self._label[i] = self._label_code(self._content[i]["completion"] or "")
        self._touched.update(slots)
        self._changed(slots)

    def _apply_uniform(self, entry: dict, slots: list[int]) -> None:
        """`_apply` of one target to distinct slots: the same changes, counted with C-speed passes."""
        st_name, code, note = entry["set"]
        st = STATUS_CODES[st_name]
        status, reason, counts = self.status, self.reason, self._counts
        olds = bytes(map(status.__getitem__, slots))
        old_rs = bytes(map(reason.__getitem__, slots))
        keep_reason = st in (REJECTED, DROPPED) and code == KEEP
        rs = 0
        if st in (REJECTED, DROPPED) and code != KEEP:
            rs = self._reason_code_index(code)
        reason_counts = self._reason_counts
        for k in range(len(counts)):
            counts[k] -= olds.count(k)
        counts[st] += len(slots)
        if REJECTED in olds:
            gone = (
                old_rs
                if olds.count(REJECTED) == len(olds)
                else bytes(r for o, r in zip(olds, old_rs) if o == REJECTED)
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
            notes, flags, note_of = self._note, self._flags, self.note_of
            if note is not None:
                for i in slots:
                    if note != note_of(i):
                        notes[i] = note
            elif notes or any(map(flags.__getitem__, slots)):
                for i in slots:
                    if (i in notes or flags[i] & F_NOTE) and note_of(i) is not None:
                        notes[i] = None
        if entry["op"] == "drop" and st == DROPPED:
            self._dropped_at.update(dict.fromkeys(slots, entry.get("ts")))
        self._touched.update(slots)
        self._changed(slots)

    def _restore_slots(self, ids: list[str], hints: list[int]) -> list[int | None]:
        """Slots of rows being restored: rows dropped this session are still slots (found by id and
        hint); rows in dropped.jsonl get a virtual slot (reused if the row came back before)."""
        slots: list[int | None] = []
        for hint, row_id in zip(hints, ids):
            slot = self._virtual_by_id.get(row_id)
            if slot is None:
                if 0 <= hint < len(self) and self._offsets[hint] != VIRTUAL and self.id_of(hint) == row_id:
                    slots.append(hint)
                    continue
                j = self.dropped.position_of(row_id)
                if j is None:
                    slots.append(self.index_of(row_id))
                    continue
                row = self.dropped.row(j)
                slot = len(self._offsets)
                self._offsets.append(VIRTUAL)
                self._virtual[slot] = row
                self._virtual_by_id[row_id] = slot
                self._touched.add(slot)
                rs = self._reason_code_index(row.get("reject_reason"))
                self.status.append(DROPPED)
                self.reason.append(rs)
                self._disk_status.append(DROPPED)
                self._disk_reason.append(rs)
                self._counts[DROPPED] += 1
                self._run.append(self._intern(str(row.get("run_id") or ""), self.runs, self._run_index))
                self._playbook.append(
                    self._intern(str(row.get("playbook") or ""), self.playbooks, self._playbook_index)
                )
                self._label.append(self._label_code(row.get("completion", "")))
                self._flags.append(F_NOTE if row.get("review_note") else 0)
                if self._id_map is not None:
                    self._id_map[row_id] = slot
            slots.append(slot)
        return slots

    def _replay(self, entry: dict) -> None:
        """Apply a journal entry read from disk; rows it names that cannot be found are reported."""
        ids = entry.get("ids", [])
        hints = entry.get("hints") or [-1] * len(ids)
        if entry["op"] == "restore" or (entry["op"] == "undo" and entry.get("undone_op") == "restore"):
            found = self._restore_slots(ids, hints)
        else:
            found = self._resolve_many(hints, ids)
        missing = [row_id for row_id, slot in zip(ids, found) if slot is None]
        if missing:
            self.problems.append(
                LoadProblem(
                    self.journal.path,
                    0,
                    f"journal entry {entry['seq']} ({entry['op']}) names {len(missing)} row(s) not found, e.g. {missing[0]!r}",
                )
            )
            keep = [k for k, slot in enumerate(found) if slot is not None]
            entry = dict(entry)
            if "each" in entry:
                entry["each"] = [entry["each"][k] for k in keep]
            if entry.get("content") is not None:
                entry["content"] = [entry["content"][k] for k in keep]
            found = [found[k] for k in keep]
        self._apply(entry, found)
        if entry["op"] == "undo":
            self._undo = [e for e in self._undo if e["seq"] != entry.get("undo_of")]
        else:
            self._undo.append(entry)

    # ------------------------------------------------------------------ decisions
    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnly("this project is open read-only: decisions are not allowed here")

    def _commit(
        self,
        op: str,
        slots: list[int],
        *,
        set_=None,
        each=None,
        content=None,
        extra=None,
        unique: bool = False,
    ) -> Decision:
        """Journal one entry (fsync'd) and then apply it: durable before it is acknowledged.

        `unique`: the caller passes distinct slots (`_live`), so the entry may be applied column-wise."""
        self._writable()
        if not slots:
            return Decision(seq=0, op=op, count=0)
        entry: dict = {"op": op, "ids": self.ids_of(slots), "hints": list(slots)}
        if set_ is not None:
            entry["set"] = set_
        if each is not None:
            entry["each"] = each
        if content is not None:
            entry["content"] = content
        entry["prev"] = self._states_of(slots)
        if content is not None:
            entry["prev_content"] = [self._content_of(i) for i in slots]
        if extra:
            entry.update(extra)
        with self._wlock:
            if (self.state_dir / INTENT_NAME).exists():
                raise BrewError("an interrupted compaction is pending; reopen the project to finish it")
            entry = {"seq": self._next_seq, "ts": now_iso(), **entry}
            self.journal.append(entry)
            self._next_seq += 1
        by_reason: dict[str, int] = {}
        if op == "drop":
            rs = bytes(map(self.reason.__getitem__, slots))
            for r in sorted(set(rs), key=rs.index):  # in the order the rows come
                code = self.reason_codes[r] or "(no reason)"
                by_reason[code] = by_reason.get(code, 0) + rs.count(r)
        self._apply(entry, slots, unique=unique)
        if op == "undo":
            self._undo = [e for e in self._undo if e["seq"] != entry["undo_of"]]
        else:
            self._undo.append(entry)
        return Decision(seq=entry["seq"], op=op, count=len(slots), idxs=list(slots), by_reason=by_reason)

    @staticmethod
    def _unique(idxs: Iterable[int]) -> list[int]:
        return sorted(set(idxs))

    def _live(self, idxs: Iterable[int], allowed: tuple[int, ...]) -> list[int]:
        slots = self._unique(idxs)
        ok = [code in allowed for code in range(len(STATUS_NAMES))]
        return list(compress(slots, map(ok.__getitem__, map(self.status.__getitem__, slots))))

    def approve(self, idxs: Iterable[int]) -> Decision:
        slots = self._live(idxs, (PENDING, REJECTED))
        return self._commit("approve", slots, set_=["approved", None, None], unique=True)

    def reject(self, idxs: Iterable[int], reason: str, note: str | None = None) -> Decision:
        if self.project.reason(reason) is None:
            codes = ", ".join(r.code for r in self.project.reject_reasons)
            raise BrewError(f"unknown reject reason {reason!r} (this project's reasons: {codes})")
        slots = self._live(idxs, (PENDING, APPROVED, REJECTED))
        return self._commit("reject", slots, set_=["rejected", reason, note or None], unique=True)

    def set_pending(self, idxs: Iterable[int]) -> Decision:
        slots = self._live(idxs, (APPROVED, REJECTED))
        return self._commit("pending", slots, set_=["pending", None, None], unique=True)

    def edit(
        self, i: int, prompt: str | None = None, completion: str | None = None, approve: bool = True
    ) -> Decision:
        """Change prompt and/or completion, keeping the first original under `original`."""
        if self.status[i] == DROPPED:
            raise BrewError("a dropped row cannot be edited; restore it first")
        current = self._content_of(i)
        change: dict = {}
        if prompt is not None and prompt != current["prompt"]:
            change["prompt"] = prompt
        if completion is not None and completion != current["completion"]:
            change["completion"] = completion
        if change:
            Row.model_validate({**self.row(i), **change})
            change["original"] = current["original"] or {
                "prompt": current["prompt"],
                "completion": current["completion"],
            }
        target = ["approved", None, None] if approve else self._state_of(i)
        return self._commit("edit", [i], set_=target, content=[change or None])

    def drop(self, idxs: Iterable[int]) -> Decision:
        """Take rejected rows out of the queue (to dropped.jsonl at compaction). Others are left alone."""
        slots = self._live(idxs, (REJECTED,))
        return self._commit("drop", slots, set_=["dropped", KEEP, KEEP], unique=True)

    def restore(self, dropped_ids: Iterable[str]) -> Decision:
        """Bring dropped rows back into the queue as pending: one journal entry, undone as a whole."""
        self._writable()
        ids = list(dict.fromkeys(dropped_ids))
        hints = []
        for row_id in ids:
            live = None
            if row_id not in self._virtual_by_id and self.dropped.position_of(row_id) is None:
                live = self.index_of(row_id)
                if live is None or self.status[live] != DROPPED:
                    raise BrewError(f"{self.dropped_path}: no dropped row with id {row_id}")
            hints.append(-1 if live is None else live)
        slots = self._restore_slots(ids, hints)
        slots = [slot for slot in slots if slot is not None and self.status[slot] == DROPPED]
        return self._commit("restore", slots, set_=["pending", None, None])

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> Decision | None:
        """Undo the last decision not yet undone (a bulk one as a whole)."""
        self._writable()
        if not self._undo:
            return None
        entry = self._undo[-1]
        ids = entry["ids"]
        if entry["op"] == "restore":
            slots = self._restore_slots(ids, entry["hints"])
        else:
            slots = [self._resolve(h, row_id) for h, row_id in zip(entry["hints"], ids)]
        content = entry.get("prev_content")
        if content is not None:
            content = [{k: v for k, v in c.items()} for c in content]
        return self._commit(
            "undo",
            slots,
            each=entry["prev"],
            content=content,
            extra={"undo_of": entry["seq"], "undone_op": entry["op"]},
        )

    def last_decision_op(self) -> str | None:
        return self._undo[-1]["op"] if self._undo else None

    # ------------------------------------------------------------------ compaction
    def compact(self, *, _crash_hook=None) -> CompactReport:
        """Fold the journal into synthetic.jsonl and dropped.jsonl (all or nothing), start a new journal."""
        self._writable()
        t0 = time.perf_counter()
        self.finish_loading()
        with self._wlock:
            for path in (self.synthetic_path, self.dropped_path):
                heal = heal_torn_tail(path, self.quarantine)
                if heal:
                    self.problems.append(heal)
            if len(self.dropped) != 0:
                self.dropped = DroppedRows(self.dropped_path, self.quarantine)
            self.refresh()
            stamp = now_iso()
            moved = restored = 0
            commit = MultiFileCommit(self.state_dir)

            pieces: list[list[int]] = []  # old slot ranges [a, b) kept, in new-file order
            new_offsets = array("Q")
            new_flags = bytearray()
            n = len(self)
            special = sorted(self._touched | set(self._assigned) | self._breaks)
            dropped_now = [i for i in special if self.status[i] == DROPPED]
            source = open(self.synthetic_path, "rb") if self._stat else None

            def keep(a: int, b: int) -> None:
                if pieces and pieces[-1][1] == a:
                    pieces[-1][1] = b
                else:
                    pieces.append([a, b])

            def synthetic_chunks():
                """Unchanged stretches of rows are copied by the kernel; only touched rows are re-serialised."""
                nonlocal restored
                buf, offsets, flags, status = self._buf, self._offsets, self._flags, self.status
                pos = 0
                a = 0
                for t in special + [n]:
                    if t > a:  # slots a..t-1: untouched file rows, contiguous in the file
                        start, end = offsets[a], buf.find(b"\n", offsets[t - 1]) + 1
                        delta = start - pos
                        new_offsets.extend(o - delta for o in offsets[a:t]) if delta else new_offsets.extend(
                            offsets[a:t]
                        )
                        keep(a, t)
                        new_flags.extend(flags[a:t])
                        yield CopyRange(source.fileno(), start, end)
                        pos += end - start
                    if t == n:
                        break
                    a = t + 1
                    if status[t] == DROPPED:
                        continue
                    off = offsets[t]
                    if off == VIRTUAL or self._dirty(t):
                        restored += off == VIRTUAL
                        row = self._file_row(t)
                        line = dumps_line(row)
                        new_flags.append(F_NOTE if row.get("review_note") else 0)
                    else:
                        line = buf[off : buf.find(b"\n", off) + 1]
                        new_flags.append(flags[t])
                    keep(t, t + 1)
                    new_offsets.append(pos)
                    pos += len(line)
                    yield line

            try:
                commit.stage(self.synthetic_path, synthetic_chunks())
            finally:
                if source:
                    source.close()
            dropped_meta: list[tuple[int, str, str | None, str, str]] | None = None
            if dropped_now or self._virtual_by_id:
                taken = set(self._virtual_by_id)
                dropped_meta = []

                def dropped_chunks():
                    nonlocal moved
                    pos = 0
                    for j in range(len(self.dropped)):
                        meta = self.dropped.meta(j)
                        if meta[0] not in taken:
                            line = self.dropped.raw(j)
                            dropped_meta.append((pos, *meta))
                            pos += len(line)
                            yield line
                    for i in dropped_now:
                        row = self._file_row(i)
                        moved += 1
                        row["dropped_at"] = (
                            self._dropped_at.get(i) or self._virtual.get(i, {}).get("dropped_at") or stamp
                        )
                        row["drop_reason"] = row.get("reject_reason")
                        line = dumps_line(row)
                        dropped_meta.append(
                            (
                                pos,
                                row["id"],
                                row["drop_reason"],
                                str(row.get("run_id") or ""),
                                str(row.get("playbook") or ""),
                            )
                        )
                        pos += len(line)
                        yield line

                commit.stage(self.dropped_path, dropped_chunks())
            last_seq = self._next_seq - 1
            if last_seq >= self._first_seq:
                self.journal.archive_current(self._first_seq, last_seq)
            commit.stage(self.journal.path, [self.journal.new_generation_bytes(self._next_seq)])
            self.quarantine.sync()  # malformed lines leave synthetic.jsonl now: their copies first
            try:
                commit.apply(before_rename=_crash_hook)
            except BaseException:
                # finish or roll back what was done, and reload from disk: never keep deciding on
                # columns that no longer describe the files
                recover(self.state_dir, self._managed_files())
                self._load()
                raise
            malformed = self._malformed
            self._rebase(pieces, new_offsets, new_flags, dropped_meta)
        return CompactReport(
            rows=len(self),
            dropped_moved=moved,
            restored=restored,
            malformed_removed=malformed,
            seconds=time.perf_counter() - t0,
        )

    def _rebase(self, pieces: list[list[int]], offsets: array, flags: bytearray, dropped_meta) -> None:
        """After compaction: the columns of the new file, derived from the old ones (no re-parse).

        `pieces` are the old slot ranges kept, in their new order; everything the journal had
        changed is now in the file, so the overlays are emptied and the journal starts anew.
        """

        def take(column, kind=None):
            parts = [column[a:b] for a, b in pieces]
            if kind is None:
                return bytearray(b"".join(parts))
            out = array(kind)
            for part in parts:
                out.extend(part)
            return out

        self.status = take(self.status)
        self.reason = take(self.reason)
        self._run = take(self._run, "I")
        self._playbook = take(self._playbook, "I")
        self._label = take(self._label, "H")
        self._offsets = offsets
        self._flags = flags
        self._disk_status = bytearray(self.status)
        self._disk_reason = bytearray(self.reason)
        self._note, self._content, self._virtual, self._dropped_at = {}, {}, {}, {}
        self._virtual_by_id = {}
        self._assigned = {}
        self._touched, self._breaks = set(), set()
        self._id_map = None
        self._undo = []
        self._counts[DROPPED] = 0
        self._malformed = 0
        self._bad = []
        self._lineno = len(offsets)
        self.problems = [p for p in self.problems if p.path != self.synthetic_path]
        if dropped_meta is not None:
            self.dropped = DroppedRows.from_written(self.dropped_path, dropped_meta)
        self._first_seq = self._next_seq
        self._buf = map_file(self.synthetic_path)
        st = os.stat(self.synthetic_path)
        self._stat = (st.st_ino, st.st_size, st.st_mtime_ns)
        self._scanned_end = st.st_size
        self.generation += 1
        self._changed(None)
        column_cache.save(self)

    def _file_row(self, i: int) -> dict:
        """The row as it is written to disk (a dropped row keeps review_status "rejected")."""
        row = self.row(i)
        if row["review_status"] == "dropped":
            row["review_status"] = "rejected"
        return row

    def journal_size(self) -> int:
        return self._next_seq - self._first_seq


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


def append_rows(project, rows: list[dict], *, screen=None) -> int:
    """Append generated rows as whole lines under the write lock (jobs use this). Returns the count.

    Each row is validated at this edge (pydantic `Row`); rows without an id get one.
    `screen(rows) -> [keep?]` runs under the lock (a job's duplicate check against rows other
    writers appended meanwhile); only the rows it keeps are appended and counted.
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
            append_durably(project.synthetic_path, b"".join(lines))
    finally:
        lock.release()
    return len(lines)
