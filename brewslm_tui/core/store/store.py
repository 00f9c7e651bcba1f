"""The row store: `synthetic.jsonl` + the decision journal, held as compact columns.

Slots. A row is addressed by a slot `0 .. len(store)-1`: the rows of `synthetic.jsonl` in file
order, then rows other processes appended since, then rows restored from `dropped.jsonl`
("virtual" slots until the next compaction writes them into `synthetic.jsonl`).

Memory. Per slot the store keeps a byte offset into the memory-mapped file and a few compact
columns (`columns.Columns`). A row's text is parsed only when it is asked for (`row(i)`), so a
million rows cost tens of MB, not a dict each. Edits, notes and restored rows live in the
`applying.Overlay`, small dicts keyed by slot.

Durability. Every decision is one journal entry, fsync'd before the call returns (see
`journal.py`). `compact()` (`compaction.py`) folds the journal into the data files with
`commit.MultiFileCommit` (all files or none), copying unchanged lines as raw bytes. Opening the
store replays the journal over the files, so a SIGKILL at any moment loses no acknowledged
decision.

Concurrency. A writable store holds the project's session lock (one reviewer at a time); each
file change also takes the short write lock, which generation jobs take to append rows.
"""

from __future__ import annotations

import re
import threading
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from subprocess import Popen

import orjson

from brewslm_tui.core.errors import BrewError, ReadOnly
from brewslm_tui.core.project import Project
from brewslm_tui.core.rows import (
    APPROVED,
    DROPPED,
    PENDING,
    REJECTED,
    STATUS_NAMES,
    now_iso,
)
from brewslm_tui.core.store import column_cache, compaction, decisions, fsio
from brewslm_tui.core.store.appending import append_rows, new_row_id
from brewslm_tui.core.store.applying import Overlay, Stamp, UndoLog, effective_op, replay
from brewslm_tui.core.store.change_log import ChangeLog
from brewslm_tui.core.store.columns import (
    F_NOTE,
    F_REVIEWED,
    MAX_REASONS,
    VIRTUAL,
    Columns,
    TooManyReasons,
    assigned_id,
    parse_range,
)
from brewslm_tui.core.store.commit import INTENT_NAME, recover
from brewslm_tui.core.store.compaction import CompactReport
from brewslm_tui.core.store.decisions import Decision
from brewslm_tui.core.store.dropped import DroppedRows
from brewslm_tui.core.store.file_rows import ID_PREFIX, FileKey, FileRows, file_key
from brewslm_tui.core.store.journal import Journal
from brewslm_tui.core.store.jsonl import LoadProblem, Quarantine, bom_warning, data_start, heal_torn_tail
from brewslm_tui.core.store.locking import FileLock, session_lock, write_lock
from brewslm_tui.core.store.reviewer import current_reviewer
from brewslm_tui.core.store.row_ids import RowIds
from brewslm_tui.core.store.row_json import loads_lenient
from brewslm_tui.core.store.splice import line_for

DROP_FIELDS = ("dropped_at", "drop_reason")

__all__ = [
    "CompactReport",
    "Decision",
    "Store",
    "append_rows",
    "new_row_id",
    "now_iso",
]  # (append_rows, new_row_id: appending.py)


class Store:
    """The rows of one project and every review decision on them. See the module docstring."""

    BACKGROUND_BYTES = 8 << 20  # a file bigger than this (~20k rows) opens partly when it has no cache
    PARTIAL_BYTES = 2 << 20  # how much of it is parsed before the first screen

    def __init__(self, project: Project, *, readonly: bool = False):
        self.project = project
        self.readonly = readonly
        self.state_dir: Path = project.state_dir
        self.synthetic_path: Path = project.synthetic_path
        self.dropped_path: Path = project.dropped_path
        self.quarantine = Quarantine(self.state_dir, enabled=not readonly)
        self.journal = Journal(self.state_dir, self.quarantine)
        self.write_lock = write_lock(self.state_dir)
        self.changes = ChangeLog()
        self.generation = 0
        self.loaded: bool = False  # False while the background column pass is still running
        self.problems: list[LoadProblem] = []
        self.file = FileRows(self.synthetic_path)
        self.cols = self._empty_columns()
        self.overlay = Overlay()
        self.ids = RowIds(self)
        self.undo_log = UndoLog(self.state_dir)
        self.dropped = DroppedRows(self.dropped_path, self.quarantine)
        self._session: FileLock | None = None
        self._background = False
        self._builder: Popen | None = None  # the child process building the column cache, while partly loaded
        self._early_builder: Popen | None = None  # one started before the store was opened (see `open`)
        self._preload: _CacheRead | None = None  # the builder's cache, read in a thread (see `refresh`)
        self._preloaded: tuple[FileKey, column_cache.Cached] | None = None  # (file key, what it read)
        # the last swap to the full columns: (version before, version after, slots before); the
        # slots below it hold the rows they held, so views may keep what they drew of them
        self.kept_rows: tuple[int, int, int] | None = None
        self._next_seq = 1
        self._first_seq = 1
        self._journal_at: tuple[int | None, int, int] = (None, 0, 0)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        project: Project,
        *,
        readonly: bool = False,
        lock_timeout: float = 2.0,
        background: bool = False,
        builder: Popen | None = None,
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
        try:
            if readonly:
                store._load_consistent()
                return store
            fsio.makedirs(store.state_dir)
            store._session = session_lock(store.state_dir)
            store._session.acquire(timeout=lock_timeout)
            try:
                with store.write_lock:
                    recover(store.state_dir, store.managed_files())
                    torn = [
                        heal_torn_tail(path, store.quarantine)
                        for path in (store.synthetic_path, store.dropped_path)
                    ]
                    store._load()
                    store.problems.extend(problem for problem in torn if problem)
            except BaseException:
                store._session.release()
                raise
        except TooManyReasons as exc:
            where = project.file if len(project.reject_reasons) > MAX_REASONS else project.synthetic_path
            raise BrewError(f"{where}: {exc}") from None
        return store

    @classmethod
    def start_early_builder(cls, project: Project) -> Popen | None:
        """Start the column-cache builder before the app is even imported, when a background
        open is coming and would start it anyway (a big file, no cache describing it): it then
        has the interpreter start and the imports (~0.4 s) as a head start. None otherwise."""
        if not column_cache.needs_build(project, cls.BACKGROUND_BYTES):
            return None
        try:
            return column_cache.start_builder(project)
        except OSError:
            return None

    def managed_files(self) -> list[Path]:
        """The files a compaction replaces together."""
        return [self.synthetic_path, self.dropped_path, self.journal.path]

    def close(self) -> None:
        if self._session is not None:
            self._session.release()
            self._session = None
        self.file.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _empty_columns(self) -> Columns:
        try:
            return Columns([r.code for r in self.project.reject_reasons], list(self.project.labels or []))
        except TooManyReasons as exc:
            raise BrewError(f"{self.project.file}: {exc}") from None

    def _load_consistent(self) -> None:
        """A read-only load takes no lock: if a writer replaced a file meanwhile (a compaction), load again."""

        def inodes() -> list[int | None]:
            keys = [file_key(p) for p in (self.synthetic_path, self.journal.path, self.dropped_path)]
            return [key[0] if key else None for key in keys]

        for _ in range(5):
            before = inodes()
            self._load()
            if inodes() == before:
                return

    def reload(self) -> None:
        """Read the files again (after a failed compaction, or a file replaced by another process)."""
        self._load_consistent() if self.readonly else self._load()

    def _load(self) -> None:
        """Read the files and replay the journal: O(rows), at open and after compaction only."""
        self.generation += 1
        self.changes.reset()
        self.problems = []
        self.cols = self._empty_columns()
        self.ids = RowIds(self)
        self.undo_log = UndoLog(self.state_dir)
        self.file = FileRows(self.synthetic_path)
        contents = self.journal.read()
        self._scan(partial=self._background and not contents.entries)
        self.overlay = Overlay(
            disk_status=bytearray(self.cols.status), disk_reason=bytearray(self.cols.reason)
        )
        self.dropped = DroppedRows(self.dropped_path, self.quarantine)
        self.problems.extend(contents.problems)
        self._next_seq = contents.next_seq
        self._first_seq = contents.entries[0]["seq"] if contents.entries else contents.next_seq
        for k, entry in enumerate(contents.entries):
            replay(self, entry)
            if k % 32 == 31:
                self.file.release()  # the rows replay read off the map (a fault maps up to a folio each)
        self.file.release()
        self._journal_at = (contents.inode, contents.end, contents.lines)
        self.loaded = self._builder is None

    def reread_dropped(self) -> None:
        """dropped.jsonl afresh (a compaction is about to rewrite it)."""
        if len(self.dropped) != 0:
            self.dropped = DroppedRows(self.dropped_path, self.quarantine)

    # ------------------------------------------------------------------ scanning
    def _scan(self, partial: bool = False) -> range:
        """Map the file again and parse the complete lines after the last scanned one.

        `partial`: on a cold start of a big file, parse only the first PARTIAL_BYTES and start
        the cache builder (see `open`).
        """
        file, cols = self.file, self.cols
        key = file_key(self.synthetic_path)
        file.stat = key
        first = len(cols)
        if key is None or key[1] <= file.scanned_end:
            return range(first, first)
        file.remap()
        cold = first == 0 and file.scanned_end == 0
        limit = None
        early, self._early_builder = self._early_builder, None
        bad_before, noid_before, dupid_before = len(cols.bad), len(cols.noid), len(cols.dupid)
        cached = None
        if cold:
            preloaded, self._preloaded = self._preloaded, None
            if preloaded is not None and preloaded[0] == key:
                cached = preloaded[1]  # read in a thread for this very file (see `refresh`)
            else:
                cached = column_cache.load(self.project, key, file.buf)
        if cached is not None:
            if early is not None:
                early.wait()  # it wrote the cache just loaded: only its exit is left
            self.cols = cols = cached.columns
            file.scanned_end = cached.scanned_end
        elif cold and partial and key[1] > self.BACKGROUND_BYTES:
            try:
                self._builder = early if early is not None else column_cache.start_builder(self.project)
                limit = self.PARTIAL_BYTES
            except OSError:
                pass  # no child process here: parse it all now
        if file.scanned_end < key[1]:
            label_for = self.project.label_for if len(cols.labels) > 1 else None
            file.scanned_end = parse_range(cols, file.buf, file.scanned_end, limit, label_for)
            if cold and limit is None:
                self._save_cache()
        if cached is not None:
            bad_before = noid_before = dupid_before = 0
        self._note_odd_lines(bad_before, noid_before, dupid_before)
        if cold:
            self.problems.extend(p for p in [bom_warning(self.synthetic_path, file.buf)] if p)
        return range(first, len(cols))

    def _note_odd_lines(self, bad_from: int, noid_from: int, dupid_from: int) -> None:
        """Lines the parse (or the cache) found: bad ones named and quarantined byte for byte,
        rows without a usable id given a stable one."""
        cols, file = self.cols, self.file
        for lineno, reason, off in cols.bad[bad_from:]:
            self.quarantine.keep(self.synthetic_path, lineno, file.line(off), reason)
            self.problems.append(LoadProblem(self.synthetic_path, lineno, reason))
        for slot, lineno, off in cols.noid[noid_from:]:
            self.ids.assigned[slot] = assigned_id(lineno, file.line(off))
        for slot, lineno, off in cols.dupid[dupid_from:]:
            row_id = self.ids.override[slot] = file.parse(off)["id"]
            self.problems.append(
                LoadProblem(
                    self.synthetic_path, lineno, f'two "id" keys: the last one counts ({row_id!r}), as in jq'
                )
            )

    def _save_cache(self) -> None:
        """The cache of the file part (right after a scan, before replay); small files are not worth it."""
        if self.file.stat is not None and len(self.cols) >= column_cache.MIN_ROWS:
            config = column_cache.project_config(self.project)
            column_cache.write(self.cols, config, self.file.stat, self.file.buf, self.file.scanned_end)

    def label_code_of(self, completion: str) -> int:
        """The label column value of a completion (0: not one of the labels)."""
        labels = self.cols.labels
        if len(labels) < 2:
            return 0
        label = self.project.label_for(completion)
        return labels.index(label) if label in labels else 0

    def refresh(self) -> range:
        """Pick up rows appended by other processes (a job); return their new slots. Cheap when nothing changed.

        While partly loaded, it only checks whether the cache builder is done; then it reads the
        cache it wrote in a thread (21 MB and a digest at 1M rows: ~30 ms that would otherwise
        hold up the event loop and any key typed then), and on the call after that read is over
        loads in full, with the columns already read.
        """
        if self._builder is not None:
            if self._builder.poll() is None:
                return range(len(self), len(self))
            if self._preload is None:
                self._preload = _CacheRead(self.project, self.synthetic_path)
                return range(len(self), len(self))
            if not self._preload.done.is_set():
                return range(len(self), len(self))
            return self.finish_loading()
        key = file_key(self.synthetic_path)
        old = self.file.stat
        if key is None or (old is not None and key == old and not self.readonly):
            return range(len(self), len(self))
        if old is not None and (key[0] != old[0] or key[1] < old[1]):
            # the file was replaced (another process compacted, or someone edited it by hand)
            self.reload()
            return range(len(self))
        new = self._scan()
        if self.readonly and self._follow_journal():
            self._load_consistent()
            return range(len(self))
        if len(new):
            self.ids.add_slots(new)
            self.overlay.disk_status.extend(self.cols.status[new.start :])
            self.overlay.disk_reason.extend(self.cols.reason[new.start :])
            self.changes.record(list(new))
        return new

    def finish_loading(self) -> range:
        """Wait for the cache builder (if any) and load every row; the journal is replayed on top."""
        if self._builder is None:
            return range(len(self), len(self))
        self._builder.wait()
        preload, self._preload = self._preload, None
        if preload is not None:
            preload.done.wait()
            self._preloaded = preload.result
        self._builder = None
        self._background = False
        before, kept = self.version, len(self)
        try:
            self._load()
        finally:
            self._preloaded = None
        # the same file and the same journal, replayed: the slots of the partial load hold the
        # same rows, statuses and edits (the journal had no entries when it opened partly)
        self.kept_rows = (before, self.version, kept)
        return range(len(self))

    def _follow_journal(self) -> bool:
        """A read-only store applies the reviewing session's new journal entries as they come.

        Returns True when the journal was replaced (a compaction): then a reload is needed.
        """
        inode, end, lines = self._journal_at
        key = file_key(self.journal.path)
        if key is None:
            return inode is not None
        if inode is None:  # the journal appeared since: follow it from its start
            inode, end, lines = key[0], 0, 0
        if key[0] != inode:
            return True
        if key[1] <= end:
            return False
        contents = self.journal.read(start=end, first_line=lines + 1)
        if contents.inode != inode:
            return True
        self.problems.extend(contents.problems)
        for entry in contents.entries:
            replay(self, entry)
            self._next_seq = max(self._next_seq, entry["seq"] + 1)
        self._journal_at = (inode, contents.end, contents.lines)
        return False

    # ------------------------------------------------------------------ columns and lookups
    def __len__(self) -> int:
        return len(self.cols)

    @property
    def version(self) -> int:
        """Bumps on every change (a decision, new rows, a reload)."""
        return self.changes.version

    def changed_since(self, version: int) -> list[int] | None:
        """Slots changed after `version`, or None when a view should rebuild (too many, or reloaded)."""
        return self.changes.since(version)

    @property
    def status(self) -> bytearray:
        return self.cols.status

    @property
    def reason(self) -> bytearray:
        return self.cols.reason

    @property
    def reason_codes(self) -> list[str | None]:
        return self.cols.reason_codes

    @property
    def labels(self) -> list[str | None]:
        return self.cols.labels

    @property
    def runs(self) -> list[str]:
        return self.cols.runs

    @property
    def playbooks(self) -> list[str]:
        return self.cols.playbooks

    def run_code(self, run: str) -> int:
        """The run column value of a run id (-1: no row has it)."""
        return self.cols.run_index.get(run, -1)

    def playbook_code(self, playbook: str) -> int:
        return self.cols.playbook_index.get(playbook, -1)

    def reason_code(self, code: str) -> int:
        """The reason column value of a reason code (-1: no row or project reason has it)."""
        return self.cols.reason_index.get(code, -1)

    def label_code(self, label: str) -> int:
        labels = self.cols.labels
        return labels.index(label) if label in labels else -1

    def run_index_column(self) -> array:
        return self.cols.run

    def playbook_index_column(self) -> array:
        return self.cols.playbook

    def label_index_column(self) -> array:
        return self.cols.label

    def is_virtual(self, i: int) -> bool:
        """True for a row restored from dropped.jsonl since the last compaction (held in memory)."""
        return self.cols.offsets[i] == VIRTUAL

    def counts(self) -> dict[str, int]:
        c = self.cols.counts
        return {
            "pending": c[PENDING],
            "approved": c[APPROVED],
            "rejected": c[REJECTED],
            "dropped": c[DROPPED] + len(self.dropped) - len(self.overlay.virtual_by_id),
        }

    def reason_counts(self) -> dict[str, int]:
        """Rejected rows per reason, O(reasons)."""
        cols = self.cols
        return {code: n for code, n in zip(cols.reason_codes, cols.reason_counts, strict=True) if code and n}

    def reason_of(self, i: int) -> str | None:
        return self.cols.reason_codes[self.cols.reason[i]]

    def run_of(self, i: int) -> str:
        return self.cols.runs[self.cols.run[i]]

    def playbook_of(self, i: int) -> str:
        return self.cols.playbooks[self.cols.playbook[i]]

    def label_of(self, i: int) -> str | None:
        return self.cols.labels[self.cols.label[i]]

    def restored_slot(self, row_id: str) -> int | None:
        """The slot a row of dropped.jsonl came back to (restored, maybe dropped again since), if any.

        Such a row is represented by its slot until the next compaction; lists of dropped rows
        skip it in dropped.jsonl so that it is not shown or counted twice.
        """
        return self.overlay.virtual_by_id.get(row_id)

    @property
    def restored_count(self) -> int:
        return len(self.overlay.virtual_by_id)

    @property
    def scanned_bytes(self) -> int:
        """How much of synthetic.jsonl is complete lines already read (a torn tail lies beyond)."""
        return self.file.scanned_end

    @property
    def journal_read_end(self) -> int:
        """How much of the journal this store has applied (a read-only window follows it from here)."""
        return self._journal_at[1]

    # ------------------------------------------------------------------ rows and ids
    def raw_line(self, i: int) -> bytes:
        """The row's line as on disk, without the newline (a restored row: its line in dropped.jsonl)."""
        off = self.cols.offsets[i]
        if off == VIRTUAL:
            return self.overlay.virtual_raw[i]  # (its line in dropped.jsonl)
        return self.file.line(off)

    def _disk_row(self, i: int, parsed: dict | None = None) -> dict:
        """The row as its line says (`parsed`: that line already parsed; it is not changed)."""
        off = self.cols.offsets[i]
        if off == VIRTUAL:
            row = dict(self.overlay.virtual[i])
            for key in DROP_FIELDS:
                row.pop(key, None)
            return row
        row = self.file.parse(off) if parsed is None else dict(parsed)
        if i in self.ids.assigned:
            # the row had no usable id (missing, empty, not a string): ours wins, theirs is kept
            original = row.pop("id", None)
            row = {"id": self.ids.assigned[i], **row}
            if original not in (None, ""):
                row["original_id"] = original
        return row

    def id_of(self, i: int) -> str:
        return self.ids.id_of(i)

    def ids_of(self, slots: Iterable[int]) -> list[str]:
        """`[self.id_of(i) for i in slots]`, for many slots at once (`RowIds.ids_of`)."""
        return self.ids.ids_of(slots)

    def repeated_ids(self) -> list[str]:
        """The id of every slot whose id an earlier slot already has, in slot order (`check`).

        One bulk read of the ids and a set; the per-slot loop runs only when some id is
        repeated. The ids are `[self.id_of(i) for i in range(len(self))]` (`_all_ids`)."""
        ids = self._all_ids()
        if len(set(ids)) == len(ids):
            return []
        seen: set = set()
        repeated = []
        for row_id in ids:
            if row_id in seen:
                repeated.append(row_id if type(row_id) is str else row_id.decode())
            seen.add(row_id)
        return repeated

    def _all_ids(self) -> list:
        """Every slot's id: as bytes from one regex pass over the file when every line of it is a
        row in the common layout (`{"id":"` first, no escape in the id) and no slot has an id
        from elsewhere (assigned, a second "id" key, a restored row); else `ids_of` (str). The
        two are equal up to the UTF-8 encoding of the lines (tests/core/test_check_fast.py)."""
        n, cols, file = len(self), self.cols, self.file
        if n < 2 or cols.bad or self.ids.assigned or self.ids.override or self.overlay.virtual:
            return self.ids_of(range(n))
        first = cols.offsets[0]
        if first != data_start(file.buf) or file.buf[first : first + len(ID_PREFIX)] != ID_PREFIX:
            return self.ids_of(range(n))
        rest = later_ids(file, first, file.scanned_end)
        if len(rest) != n - 1:  # some line has another layout: the general way
            return self.ids_of(range(n))
        return [self.id_of(0).encode(), *rest]

    def index_of(self, row_id: str) -> int | None:
        """Slot of a row id (the first, if several rows share it). O(rows) once, for the id map."""
        return self.ids.index_of(row_id)

    def slots_with_id(self, row_id: str) -> list[int]:
        """Every slot whose row has this id: more than one when a file has the id on several lines."""
        return self.ids.slots_with_id(row_id)

    def line_number(self, i: int) -> int | None:
        """The line of synthetic.jsonl a file slot is on (for messages: it counts the lines before)."""
        if self.is_virtual(i):
            return None
        return bytes(self.file.buf[: self.cols.offsets[i]]).count(b"\n") + 1

    def note_of(self, i: int) -> str | None:
        notes = self.overlay.notes
        if i in notes:
            return notes[i]
        if self.cols.flags[i] & F_NOTE:
            return self._disk_row(i).get("review_note")
        return None

    def reviewed_of(self, i: int) -> Stamp | None:
        """(reviewed_by, reviewed_at) of the row now; the file is read only for a row that has them."""
        if i in self.overlay.reviewed:
            return self.overlay.reviewed[i]
        if self.cols.flags[i] & F_REVIEWED:
            row = self._disk_row(i)
            return (str(row.get("reviewed_by") or ""), str(row.get("reviewed_at") or ""))
        return None

    def row(self, i: int, parsed: dict | None = None) -> dict:
        """The row as it is now: on-disk content with edits, status, reason and note applied
        (`parsed`: its line already parsed, to spare a second parse; it is not changed)."""
        row = self._disk_row(i, parsed)
        st = self.cols.status[i]
        row["review_status"] = STATUS_NAMES[st]
        code = self.reason_of(i) if st in (REJECTED, DROPPED) else None
        if code:
            row["reject_reason"] = code
        else:
            row.pop("reject_reason", None)
        notes = self.overlay.notes
        if i in notes:
            note = notes[i]
            if note:
                row["review_note"] = note
            else:
                row.pop("review_note", None)
        if i in self.overlay.reviewed:
            stamp = self.overlay.reviewed[i]
            if stamp:
                row["reviewed_by"], row["reviewed_at"] = stamp
            else:
                row.pop("reviewed_by", None)
                row.pop("reviewed_at", None)
        for key, value in (self.overlay.content.get(i) or {}).items():
            if value is None:
                row.pop(key, None)
            else:
                row[key] = value
        return row

    def rows(self, slots: Iterable[int]) -> Iterator[dict]:
        """`self.row(i)` for each slot, in order: the bulk read of an export or check. A row whose
        line says all there is (not restored, no id assigned, no note, edit or stamp in the
        overlay) is parsed off the mapped line in this one loop; any other takes `row`."""
        overlay = self.overlay
        special = set(overlay.notes) | set(overlay.reviewed) | set(overlay.content) | set(self.ids.assigned)
        offsets, status, reason = self.cols.offsets, self.cols.status, self.cols.reason
        codes, names, buf = self.cols.reason_codes, STATUS_NAMES, self.file.buf
        find, loads, refused = buf.find, orjson.loads, orjson.JSONDecodeError
        for i in slots:
            off = offsets[i]
            if off == VIRTUAL or i in special:
                yield self.row(i)
                continue
            line = buf[off : find(b"\n", off)]
            try:
                row = loads(line)
            except refused:
                row = loads_lenient(line)
            st = status[i]
            row["review_status"] = names[st]
            code = codes[reason[i]] if st in (REJECTED, DROPPED) else None
            if code:
                row["reject_reason"] = code
            else:
                row.pop("reject_reason", None)
            yield row

    def file_row(self, i: int, parsed: dict | None = None) -> dict:
        """The row as it is written to disk (a dropped row keeps review_status "rejected")."""
        row = self.row(i, parsed)
        if row["review_status"] == "dropped":
            row["review_status"] = "rejected"
        return row

    def disk_line(self, i: int, extra: dict | None = None) -> tuple[bytes, dict]:
        """The line (with newline) that writes row `i` as it is now (plus `extra` fields), and
        that row: its old line with only the fields the app owns changed (`splice`)."""
        off = self.cols.offsets[i]
        if off == VIRTUAL:
            target = self.file_row(i)
            raw = self.overlay.virtual_raw[i]
            disk = loads_lenient(raw)
        else:  # the line parsed once: for the row now (a copy) and for what its bytes say
            raw = self.file.line(off)
            disk = loads_lenient(raw)
            target = self.file_row(i, disk)
        if extra:
            target.update(extra)
        return line_for(raw, disk, target), target

    def is_dirty(self, i: int) -> bool:
        """True when the row's line on disk no longer says what the row is."""
        cols, overlay = self.cols, self.overlay
        return (
            cols.status[i] != overlay.disk_status[i]
            or cols.reason[i] != overlay.disk_reason[i]
            or i in overlay.notes
            or i in overlay.content
            or i in overlay.reviewed
            or i in self.ids.assigned
        )

    # ------------------------------------------------------------------ decisions (decisions.py)
    def approve(self, idxs: Iterable[int]) -> Decision:
        return decisions.approve(self, idxs)

    def reject(self, idxs: Iterable[int], reason: str, note: str | None = None) -> Decision:
        return decisions.reject(self, idxs, reason, note)

    def set_pending(self, idxs: Iterable[int]) -> Decision:
        return decisions.set_pending(self, idxs)

    def edit(
        self, i: int, prompt: str | None = None, completion: str | None = None, approve: bool = True
    ) -> Decision:
        """Change prompt and/or completion, keeping the first original under `original`."""
        return decisions.edit(self, i, prompt, completion, approve)

    def drop(self, idxs: Iterable[int]) -> Decision:
        """Take rejected rows out of the queue (to dropped.jsonl at compaction). Others are left alone."""
        return decisions.drop(self, idxs)

    def restore(self, dropped_ids: Iterable[str]) -> Decision:
        """Bring dropped rows back into the queue as pending: one journal entry, undone as a whole."""
        return decisions.restore(self, dropped_ids)

    def undo(self) -> Decision | None:
        """Undo the last decision not yet undone (a bulk one as a whole)."""
        return decisions.undo(self)

    def redo(self) -> Decision | None:
        """Re-apply the decision most recently undone."""
        return decisions.redo(self)

    def forget_history(self) -> None:
        """Undo and redo stop at this point: no decision made so far can be undone any more."""
        decisions.forget_history(self)

    def count_by_reason(self, slots: list[int]) -> dict[str, int]:
        """Rows per reject reason, in the order the rows come ("(no reason)" for none): what a
        drop reports (`Decision.by_reason`) and what its confirmation shows beforehand."""
        return decisions.count_by_reason(self.cols, slots)

    @property
    def can_undo(self) -> bool:
        return self.undo_log.last() is not None

    def last_undone_op(self) -> str | None:
        entry = self.undo_log.last_undone()
        return effective_op(entry) if entry else None

    def last_decision_op(self) -> str | None:
        entry = self.undo_log.last()
        return effective_op(entry) if entry else None

    def writable(self) -> None:
        """Raises `ReadOnly` on a read-only store."""
        if self.readonly:
            raise ReadOnly("this project is open read-only: decisions are not allowed here")

    def append_entry(self, entry: dict) -> dict:
        """Journal `entry` (numbered and stamped here, fsync'd) under the write lock; returns it."""
        with self.write_lock:
            if (self.state_dir / INTENT_NAME).exists():
                raise BrewError("an interrupted compaction is pending; reopen the project to finish it")
            entry = {"seq": self._next_seq, "at": now_iso(), "by": current_reviewer(), **entry}
            self.journal.append(entry)
            self._next_seq += 1
        return entry

    # ------------------------------------------------------------------ compaction
    def compact(self, *, _crash_hook=None) -> CompactReport:
        """Fold the journal into synthetic.jsonl and dropped.jsonl (all or nothing), start a new journal."""
        self.writable()
        return compaction.compact(self, crash_hook=_crash_hook)

    def journal_span(self) -> tuple[int, int]:
        """(first seq in the current journal, next seq to be written)."""
        return self._first_seq, self._next_seq

    def journal_size(self) -> int:
        return self._next_seq - self._first_seq

    def adopt_compacted(
        self, pieces: list[list[int]], offsets: array, flags: bytearray, dropped_meta: list | None
    ) -> None:
        """After compaction: the columns of the new file, derived from the old ones (no re-parse).

        `pieces` are the old slot ranges kept, in their new order; everything the journal had
        changed is now in the file, so the overlay is emptied and the journal starts anew.
        """
        self.cols = self.cols.take(pieces, offsets, flags)
        self.overlay = Overlay(
            disk_status=bytearray(self.cols.status), disk_reason=bytearray(self.cols.reason)
        )
        self.ids = self.ids.after_compaction(pieces)
        self.undo_log = UndoLog(self.state_dir)
        self.problems = [p for p in self.problems if p.path != self.synthetic_path]
        if dropped_meta is not None:
            self.dropped = DroppedRows.from_written(self.dropped_path, dropped_meta)
        self._first_seq = self._next_seq
        self.file = FileRows(self.synthetic_path)
        self.file.remap()
        self.file.stat = file_key(self.synthetic_path)
        self.file.scanned_end = self.file.stat[1] if self.file.stat else 0
        self.generation += 1
        self.changes.record(None)
        self._save_cache()


class _CacheRead:
    """The column cache the builder just wrote, read (and its digest checked) in a thread.

    It only reads files: the result is the file's key and the `Cached` columns it describes,
    or None; `Store._scan` uses it only if the file's key is still the same when the full load
    runs (on the event loop), and the journal is replayed there as before, so a decision made
    while the cache was being read is not lost.
    """

    def __init__(self, project: Project, path: Path) -> None:
        self.result: tuple[FileKey, column_cache.Cached] | None = None
        self.done = threading.Event()
        self._project, self._path = project, path
        threading.Thread(target=self._run, name="brewslm-cache-read", daemon=True).start()

    def _run(self) -> None:
        try:
            key = file_key(self._path)
            if key is not None:
                file = FileRows(self._path)
                file.remap()
                try:
                    cached = column_cache.load(self._project, key, file.buf)
                finally:
                    file.close()
                if cached is not None:
                    self.result = (key, cached)
        except (OSError, ValueError):
            self.result = None  # the full load reads it again on the loop (and reports what failed)
        finally:
            self.done.set()


# the id of every line after the first, in the common layout (what `FileRows.id_at` reads)
_LATER_IDS = re.compile(rb'\n\{"id":"([^"\\\n]*)"')
_IDS_WINDOW = 32 << 20


def later_ids(file: FileRows, start: int, end: int) -> list[bytes]:
    """`_LATER_IDS` over `file.buf[start:end]`, a window at a time, the window's mapped pages let
    go of after it: one pass over a 2 GB file then holds ~32 MB resident, not the file. A window
    ends at a newline and no match holds one past its start, so none is cut in two."""
    buf, out = file.buf, []
    while start < end:
        cut = buf.find(b"\n", min(start + _IDS_WINDOW, end), end) if start + _IDS_WINDOW < end else -1
        stop = end if cut < 0 else cut
        out += _LATER_IDS.findall(buf, start, stop)
        file.release()
        start = stop
    return out
