"""The per-row columns of `synthetic.jsonl` and the one parse that fills them.

Per slot: the byte offset of its line, status and reason codes (`bytearray`s), run, playbook
and label indices (`array`s) and a flags byte. `parse_range` is the bulk load path (a cold
open, the tail of a grown file, the background builder and its worker all go through it), so
every way of loading gives the same columns. It imports only orjson and the store's line
helpers (the builder process starts without pydantic or the project).
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Callable

import orjson

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.store.jsonl import data_start
from brewslm_tui.core.store.row_json import loads_lenient, two_id_keys

FILE_STATUS = {"pending": 0, "approved": 1, "rejected": 2}  # statuses a line may carry (not "dropped")
REJECTED = 2
F_NOTE = 1  # flags column: the row on disk has a review_note
F_REVIEWED = 2  # flags column: the row on disk has reviewed_by / reviewed_at
VIRTUAL = (1 << 64) - 1  # offset marker of a slot whose row is held in memory (restored)
MAX_REASONS = 255  # reason codes are one byte per row; code 0 is "no reason"
CHUNK = 1 << 22  # bytes split into lines at a time


class TooManyReasons(BrewError):
    """More distinct reject reasons than a reason column can hold (see `MAX_REASONS`)."""


def assigned_id(lineno: int, raw: bytes) -> str:
    """A stable id for a row that has none: from its line number and bytes, persisted at compaction."""
    return "r_" + hashlib.blake2b(b"%d:" % lineno + raw, digest_size=8).hexdigest()


def disk_flags(row: dict) -> int:
    """The flags column value of a row as written (what `parse_range` sets for its line)."""
    return (F_NOTE if row.get("review_note") else 0) | (F_REVIEWED if row.get("reviewed_by") else 0)


def intern(value: str, table: list[str], index: dict[str, int]) -> int:
    """The index of `value` in `table`, appended if new (`index` maps value -> index)."""
    k = index.get(value)
    if k is None:
        k = index[value] = len(table)
        table.append(value)
    return k


class Columns:
    """Everything `parse_range` fills: the per-row columns, the run/playbook/reason tables and
    their counts, and what the parse noted about odd lines (by offset, so whoever holds the
    file's bytes can quarantine them or derive their ids)."""

    def __init__(self, reasons: list[str], labels: list[str]) -> None:
        if len(reasons) > MAX_REASONS:
            raise TooManyReasons(f"{len(reasons)} reject reasons; at most {MAX_REASONS} are supported")
        self.reason_codes: list[str | None] = [None, *reasons]
        self.reason_index: dict[str, int] = {code: k for k, code in enumerate(self.reason_codes) if code}
        self.labels: list[str | None] = [None, *labels]
        self.runs: list[str] = []
        self.run_index: dict[str, int] = {}
        self.playbooks: list[str] = []
        self.playbook_index: dict[str, int] = {}
        self.offsets = array("Q")
        self.status = bytearray()
        self.reason = bytearray()
        self.run = array("I")
        self.playbook = array("I")
        self.label = array("H")
        self.flags = bytearray()
        self.counts = [0, 0, 0, 0]
        self.reason_counts: list[int] = [0] * len(self.reason_codes)
        self.lineno = 0  # lines parsed so far (good and bad)
        self.malformed = 0
        self.breaks: set[int] = (
            set()
        )  # slots that follow a malformed line (not contiguous with the one before)
        self.bad: list[list] = []  # [lineno, reason, offset] of lines that are not rows
        self.noid: list[list] = []  # [slot, lineno, offset] of rows without a usable id
        self.dupid: list[list] = []  # [slot, lineno, offset] of rows with two "id" keys (see `two_id_keys`)

    def __len__(self) -> int:
        return len(self.offsets)

    def add_reason(self, code: str) -> int:
        """A reason code met in the file (or a journal entry) but not in the project."""
        if len(self.reason_codes) > MAX_REASONS:
            raise TooManyReasons(
                f"more than {MAX_REASONS} distinct reject reasons; at most {MAX_REASONS} are supported"
            )
        self.reason_index[code] = len(self.reason_codes)
        self.reason_codes.append(code)
        self.reason_counts.append(0)
        return len(self.reason_codes) - 1

    def reason_code(self, code: str | None) -> int:
        """The column value of a reason code (0 for none), added if new."""
        if not code:
            return 0
        k = self.reason_index.get(code)
        return k if k is not None else self.add_reason(code)

    def append_row(self, status: int, row: dict, label: int) -> int:
        """One slot for a row held in memory (a restored row, `VIRTUAL` offset); returns it."""
        slot = len(self.offsets)
        self.offsets.append(VIRTUAL)
        self.status.append(status)
        self.reason.append(self.reason_code(row.get("reject_reason")))
        self.counts[status] += 1
        self.run.append(intern(str(row.get("run_id") or ""), self.runs, self.run_index))
        self.playbook.append(intern(str(row.get("playbook") or ""), self.playbooks, self.playbook_index))
        self.label.append(label)
        self.flags.append(disk_flags(row))
        return slot

    def take(self, pieces: list[list[int]], offsets: array, flags: bytearray) -> Columns:
        """The columns of the slot ranges `pieces` [a, b) in that order, with new offsets and flags
        (after compaction: the new file's columns derived from the old ones, no re-parse)."""

        def cut(column):
            if isinstance(column, bytearray):
                return bytearray(b"".join(column[a:b] for a, b in pieces))
            out = array(column.typecode)
            for a, b in pieces:
                out.extend(column[a:b])
            return out

        new = Columns([], [])
        new.reason_codes, new.reason_index = self.reason_codes, self.reason_index
        new.labels = self.labels
        new.runs, new.run_index = self.runs, self.run_index
        new.playbooks, new.playbook_index = self.playbooks, self.playbook_index
        new.offsets, new.flags = offsets, flags
        new.status, new.reason = cut(self.status), cut(self.reason)
        new.run, new.playbook, new.label = cut(self.run), cut(self.playbook), cut(self.label)
        new.counts = [new.status.count(code) for code in range(4)]
        new.reason_counts = list(self.reason_counts)  # dropped rows were not counted there
        new.lineno = len(offsets)
        new.dupid = [
            [slot, slot + 1, offsets[slot]] for slot, _old in moved_slots(pieces, [d[0] for d in self.dupid])
        ]
        return new

    # --- a worker's stretch, sent to the builder through a pipe
    def dump(self, end: int) -> bytes:
        cols = self.raw_columns()
        head = {
            "end": end,
            "runs": self.runs,
            "playbooks": self.playbooks,
            "reason_codes": self.reason_codes,
            "counts": self.counts,
            "reason_counts": self.reason_counts,
            "lineno": self.lineno,
            "malformed": self.malformed,
            "breaks": sorted(self.breaks),
            "bad": self.bad,
            "noid": self.noid,
            "dupid": self.dupid,
            "sizes": [len(c) for c in cols],
        }
        return orjson.dumps(head) + b"\n" + b"".join(cols)

    def raw_columns(self) -> list[bytes]:
        """The seven columns as bytes, in the order `dump` and the cache file store them."""
        n = len(self.offsets)
        return [
            self.offsets.tobytes(),
            bytes(self.status[:n]),
            bytes(self.reason[:n]),
            self.run.tobytes(),
            self.playbook.tobytes(),
            self.label.tobytes(),
            bytes(self.flags[:n]),
        ]

    def merge(self, data: bytes) -> int:
        """Append a later stretch (`dump` of a worker that parsed the lines right after ours)."""
        nl = data.index(b"\n")
        head = orjson.loads(data[:nl])
        body = memoryview(data)[nl + 1 :]
        cols, pos = [], 0
        for size in head["sizes"]:
            cols.append(body[pos : pos + size])
            pos += size
        if pos != len(body):
            raise ValueError("worker output has the wrong length")
        base_slot, base_line = len(self.offsets), self.lineno
        runs = [intern(v, self.runs, self.run_index) for v in head["runs"]]
        books = [intern(v, self.playbooks, self.playbook_index) for v in head["playbooks"]]
        remap_reason = [0 if code is None else self.reason_code(code) for code in head["reason_codes"]]
        self.offsets.frombytes(cols[0])
        self.status += cols[1]
        table = bytes(remap_reason + list(range(len(remap_reason), 256)))
        self.reason += bytes(cols[2]).translate(table)
        self.run.extend(_remapped(cols[3], "I", runs))
        self.playbook.extend(_remapped(cols[4], "I", books))
        self.label.frombytes(cols[5])
        self.flags += cols[6]
        for k, n in enumerate(head["counts"]):
            self.counts[k] += n
        for k, n in enumerate(head["reason_counts"]):
            self.reason_counts[remap_reason[k]] += n
        self.malformed += head["malformed"]
        self.breaks.update(base_slot + s for s in head["breaks"])
        self.bad += [[line + base_line, reason, off] for line, reason, off in head["bad"]]
        self.noid += [[slot + base_slot, line + base_line, off] for slot, line, off in head["noid"]]
        self.dupid += [[slot + base_slot, line + base_line, off] for slot, line, off in head["dupid"]]
        self.lineno = base_line + head["lineno"]
        return head["end"]


def moved_slots(pieces: list[list[int]], slots) -> list[tuple[int, int]]:
    """(new slot, old slot) for each old slot that compaction's `pieces` (old ranges [a, b) in
    their new order) kept."""
    out: list[tuple[int, int]] = []
    base = 0
    for a, b in pieces:
        out.extend((base + old - a, old) for old in slots if a <= old < b)
        base += b - a
    return out


def _remapped(raw, kind: str, mapping: list[int]) -> array:
    """The column in `raw` with every value v replaced by mapping[v]."""
    col = array(kind)
    col.frombytes(raw)
    if mapping == list(range(len(mapping))):
        return col
    size = col.itemsize
    if len(mapping) <= 256 and max(mapping) < 256:
        # all values fit in their low byte: translate those bytes, at C speed
        low = slice(0, None, size) if sys.byteorder == "little" else slice(size - 1, None, size)
        wide = bytearray(len(raw))
        wide[low] = bytes(raw[low]).translate(bytes(mapping + [0] * (256 - len(mapping))))
        out = array(kind)
        out.frombytes(wide)
        return out
    return array(kind, map(mapping.__getitem__, col))


def parse_range(
    t: Columns, buf, start: int, end: int | None, label_for: Callable[[str], str | None] | None
) -> int:
    """Parse the complete lines of buf[start:end] into the columns `t`.

    One orjson parse per line, columns filled, no dict kept. Returns the offset after the last
    complete line (a final line with no newline is left for later). Lines that are not rows
    are noted in `t.bad`, rows without a usable id in `t.noid`. Written tight on purpose
    (locals, caches for labels and run/playbook names): at a million rows every attribute
    lookup in this loop costs a visible fraction of a second.
    """
    end = len(buf) if end is None else min(end, len(buf))
    loads = orjson.loads
    status_codes = FILE_STATUS
    label_index = {label: k for k, label in enumerate(t.labels) if label}
    label_cache: dict[str, int] = {}
    run_index, playbook_index, reason_index = t.run_index, t.playbook_index, t.reason_index
    offsets_append = t.offsets.append
    status_append, reason_append = t.status.append, t.reason.append
    run_append, playbook_append = t.run.append, t.playbook.append
    label_append, flags_append = t.label.append, t.flags.append
    counts = t.counts
    bad, noid, dupid = t.bad.append, t.noid.append, t.dupid.append
    lineno = t.lineno
    slot = len(t.offsets)
    pos = start or data_start(buf)  # a UTF-8 BOM is not part of line 1 (the store warns of it)

    def bad_line(reason: str, off: int) -> None:
        t.malformed += 1
        t.breaks.add(len(t.offsets))
        bad([lineno, reason, off])

    while pos < end:
        stop = min(end, pos + CHUNK)
        chunk = buf[pos:stop]
        if chunk.rfind(b"\n") < 0:  # a line longer than a chunk, or no complete line left
            nl = buf.find(b"\n", stop, end)
            if nl < 0:
                break
            chunk = buf[pos : nl + 1]
        lines = chunk.split(b"\n")
        lines.pop()  # what follows the last newline: the next chunk's (or an incomplete line)
        for raw in lines:
            off = pos
            pos += len(raw) + 1
            lineno += 1
            try:
                obj = loads(raw)
            except ValueError as exc:
                try:
                    obj = loads_lenient(raw)
                except ValueError:
                    msg = str(exc)
                    bad_line("invalid UTF-8" if "utf-8" in msg.lower() else f"bad JSON ({msg})", off)
                    continue
            if type(obj) is not dict:
                bad_line(f"not a JSON object (a {type(obj).__name__})", off)
                continue
            get = obj.get
            completion = get("completion")
            if type(get("prompt")) is not str or type(completion) is not str:
                which = "prompt" if type(get("prompt")) is not str else "completion"
                bad_line(f"missing {which} (a string is required)", off)
                continue
            st_name = get("review_status", "pending")
            st = status_codes.get(st_name) if type(st_name) is str else None
            if st is None:
                bad_line(f"unknown review_status {st_name!r}", off)
                continue
            offsets_append(off)
            rs = 0
            if st == REJECTED:
                code = get("reject_reason")
                if code and type(code) is str:
                    known = reason_index.get(code)
                    rs = known if known is not None else t.add_reason(code)
                t.reason_counts[rs] += 1
            status_append(st)
            reason_append(rs)
            counts[st] += 1
            run = get("run_id") or ""
            k = run_index.get(run) if type(run) is str else None
            run_append(k if k is not None else intern(str(run), t.runs, run_index))
            book = get("playbook") or ""
            k = playbook_index.get(book) if type(book) is str else None
            playbook_append(k if k is not None else intern(str(book), t.playbooks, playbook_index))
            if label_for is not None:
                k = label_cache.get(completion)
                if k is None:
                    label = label_for(completion)
                    k = label_cache[completion] = label_index.get(label, 0) if label else 0
                label_append(k)
            else:
                label_append(0)
            flags_append((F_NOTE if get("review_note") else 0) | (F_REVIEWED if get("reviewed_by") else 0))
            row_id = get("id")
            if not row_id or type(row_id) is not str:
                noid([slot, lineno, off])
            elif (raw.count(b'"id"') > 1 or b'"\\u0069' in raw or b'\\u0064"' in raw) and two_id_keys(raw):
                dupid([slot, lineno, off])
            slot += 1
    t.lineno = lineno
    return pos
