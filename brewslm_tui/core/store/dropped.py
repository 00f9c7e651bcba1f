"""`data/dropped.jsonl`: rows taken out of the queue by a bulk drop, with when and why.

Never lost: every dropped row keeps its full content and can be restored. The file is small
next to `synthetic.jsonl`, but it is still read as offsets over a mapped file, not as dicts.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from brewslm_tui.core.store.jsonl import LoadProblem, Quarantine, line_starts, map_file


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
        for lineno, start in enumerate(line_starts(self._buf)[0], start=1):
            raw = self._line(start)
            try:
                obj = orjson.loads(raw)
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                    raise ValueError("not a row object with an id")
            except ValueError as exc:
                reason = f"dropped row could not be read: {exc}"
                self._quarantine.keep(self.path, lineno, bytes(raw), reason)
                self._problems.append(LoadProblem(self.path, lineno, reason))
                continue
            self._starts.append(start)
            self._ids.append(obj["id"])
            self._reasons.append(obj.get("drop_reason") or obj.get("reject_reason"))
            self._runs.append(str(obj.get("run_id") or ""))
            self._playbooks.append(str(obj.get("playbook") or ""))
        self._by_id = {row_id: j for j, row_id in enumerate(self._ids)}

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
        return orjson.loads(self._line(self._starts[j]))

    def raw(self, j: int) -> bytes:
        self._ensure()
        return self._line(self._starts[j]) + b"\n"

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
