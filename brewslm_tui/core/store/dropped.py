"""`data/dropped.jsonl`: rows taken out of the queue by a bulk drop, with when and why.

Never lost: every dropped row keeps its full content and can be restored. The file is small
next to `synthetic.jsonl`, but it is still read as offsets over a mapped file, not as dicts.

Rows are addressed by id, so ids here are unique: a later row whose id an earlier one already
has (a file edited or merged by hand) is reported by file:line and addressed by a fresh stable
id, its own kept as `original_id`; a compaction that rewrites the file writes that into its line.
"""

from __future__ import annotations

from pathlib import Path

from brewslm_tui.core.store.columns import assigned_id
from brewslm_tui.core.store.jsonl import LoadProblem, Quarantine, line_starts, map_file
from brewslm_tui.core.store.row_json import loads_lenient
from brewslm_tui.core.store.splice import line_for


def fresh_id(lineno: int, raw: bytes, taken) -> str:
    """A stable id for a row whose id is taken: from its line number and bytes, unique in `taken`."""
    salt = lineno
    row_id = assigned_id(salt, raw)
    while row_id in taken:
        salt += 1 << 32
        row_id = assigned_id(salt, raw)
    return row_id


class DroppedRows:
    """The rows of `dropped.jsonl`, by position `0..len-1`."""

    def __init__(self, path: Path, quarantine: Quarantine):
        self.path = path
        self._quarantine = quarantine
        self._buf = map_file(path)
        buf = self._buf
        self._line_count = sum(buf[k : k + (1 << 24)].count(b"\n") for k in range(0, len(buf), 1 << 24))
        self._parsed = False  # rows are read on first use: a big dropped.jsonl must not slow the start

    def _ensure(self) -> None:
        if self._parsed:
            return
        self._parsed = True
        self._starts: list[int] = []
        self._ids: list[str] = []
        self._reasons: list[str | None] = []
        self._runs: list[str] = []
        self._playbooks: list[str] = []
        self._problems: list[LoadProblem] = []
        self._renamed: dict[int, str] = {}  # position -> the row's own id, when it has a fresh one
        self._by_id: dict[str, int] = {}
        for lineno, start in enumerate(line_starts(self._buf)[0], start=1):
            raw = self._line(start)
            try:
                obj = loads_lenient(raw)
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                    raise ValueError("not a row object with an id")
            except ValueError as exc:
                reason = f"dropped row could not be read: {exc}"
                self._quarantine.keep(self.path, lineno, bytes(raw), reason)
                self._problems.append(LoadProblem(self.path, lineno, reason))
                continue
            row_id = obj["id"]
            if row_id in self._by_id:
                own, row_id = row_id, fresh_id(lineno, bytes(raw), self._by_id)
                self._renamed[len(self._ids)] = own
                self._problems.append(
                    LoadProblem(
                        self.path,
                        lineno,
                        f"id {own!r} is also on an earlier line: this row is {row_id!r} now"
                        " (its own id kept as original_id)",
                    )
                )
            self._by_id[row_id] = len(self._ids)
            self._starts.append(start)
            self._ids.append(row_id)
            self._reasons.append(obj.get("drop_reason") or obj.get("reject_reason"))
            self._runs.append(str(obj.get("run_id") or ""))
            self._playbooks.append(str(obj.get("playbook") or ""))

    @property
    def problems(self) -> list[LoadProblem]:
        self._ensure()
        return self._problems

    @classmethod
    def from_written(cls, path: Path, meta: list[tuple[int, str, str | None, str, str]]) -> DroppedRows:
        """The index of a file this process just wrote, from what it wrote (no re-parse)."""
        self = cls.__new__(cls)
        self.path = path
        self._buf = map_file(path)
        self._parsed = True
        self._problems = []
        self._starts = [m[0] for m in meta]
        self._ids = [m[1] for m in meta]
        self._reasons = [m[2] for m in meta]
        self._runs = [m[3] for m in meta]
        self._playbooks = [m[4] for m in meta]
        self._renamed = {}
        self._by_id = {row_id: j for j, row_id in enumerate(self._ids)}
        return self

    def meta(self, j: int) -> tuple[str, str | None, str, str]:
        self._ensure()
        return self._ids[j], self._reasons[j], self._runs[j], self._playbooks[j]

    def _line(self, start: int) -> bytes:
        end = self._buf.find(b"\n", start)
        return self._buf[start:end]

    def __len__(self) -> int:
        if not self._parsed:
            return self._line_count  # exact unless a line is malformed (then known on first use)
        return len(self._starts)

    def row(self, j: int) -> dict:
        self._ensure()
        row = loads_lenient(self._line(self._starts[j]))
        if j in self._renamed:
            row.pop("id", None)
            row = {"id": self._ids[j], **row}
            row.setdefault("original_id", self._renamed[j])
        return row

    def raw(self, j: int) -> bytes:
        """The row's line (with its newline), as it is to be written: a fresh id spliced in."""
        self._ensure()
        line = self._line(self._starts[j])
        if j in self._renamed:
            return line_for(line, loads_lenient(line), self.row(j))
        return line + b"\n"

    @property
    def renamed(self) -> bool:
        """True when a row read so far has a fresh id not yet written into the file."""
        return self._parsed and bool(self._renamed)

    def id_of(self, j: int) -> str:
        self._ensure()
        return self._ids[j]

    def reason_of(self, j: int) -> str | None:
        self._ensure()
        return self._reasons[j]

    def run_of(self, j: int) -> str:
        self._ensure()
        return self._runs[j]

    def playbook_of(self, j: int) -> str:
        self._ensure()
        return self._playbooks[j]

    def position_of(self, row_id: str) -> int | None:
        self._ensure()
        return self._by_id.get(row_id)
