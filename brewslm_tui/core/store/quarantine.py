"""The quarantined lines of a project, until the user deals with them: list, restore, discard.

`jsonl.Quarantine.keep` copies a line that could not be loaded into `.brewslm/quarantine/`
(byte for byte) and records it in `index.jsonl`. A compaction then leaves the line out of the
data file, so the quarantine is the only place it still exists: it must stay in sight until the
user has put a fixed line back (`restore`, validated like any row at an edge) or said it can go
(`discard`). Both are records appended to the same index (`{"resolved": RAW_FILE, "how": ...}`);
the raw copy stays as the audit trail. `stats` and `check` count what is still outstanding.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.store.jsonl import (
    UTF8_BOM,
    LoadProblem,
    Quarantine,
    append_durably,
    heal_torn_tail,
)
from brewslm_tui.core.store.locking import write_lock


@dataclass(frozen=True)
class QuarantinedLine:
    """One line in the quarantine: `id` is the hash in its raw file's name (short, stable)."""

    id: str
    file: Path
    line: int
    reason: str
    raw_path: Path
    size: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def raw(self) -> bytes:
        """The quarantined bytes (never through a symlink, never blocking on a FIFO)."""
        fd = os.open(self.raw_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BrewError(f"{self.raw_path}: not a regular file; left alone")
            return f.read()


def _from_name(name: str) -> tuple[str, str, int] | None:
    """`SOURCE.lineNNNNNNN.HASH.raw` -> (hash, source name, line)."""
    parts = name.rsplit(".", 3)
    if len(parts) != 4 or parts[3] != "raw" or not parts[1].startswith("line") or not parts[1][4:].isdigit():
        return None
    return parts[2], parts[0], int(parts[1][4:])


def outstanding(state_dir: Path) -> list[QuarantinedLine]:
    """The quarantined lines not yet restored or discarded, in the order they were found.

    A raw file the index does not name (an index lost in a crash) is listed too, by its name."""
    q = Quarantine(state_dir)
    entries: dict[str, dict] = {}
    resolved: set[str] = set()
    try:
        data = q.index.read_bytes()
    except FileNotFoundError:
        data = b""
    for raw in data.splitlines():
        try:
            record = orjson.loads(raw)
        except ValueError:
            continue  # a torn last record: its raw file is still found below
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("resolved"), str):
            resolved.add(record["resolved"])
        elif isinstance(record.get("raw_file"), str):
            entries.setdefault(record["raw_file"], record)
    try:  # only regular files are ours: a FIFO would block a read, a symlink shows another file
        sizes = {e.name: e.stat(follow_symlinks=False) for e in os.scandir(q.dir) if e.name.endswith(".raw")}
    except FileNotFoundError:
        sizes = {}
    names = sorted(name for name, st in sizes.items() if stat.S_ISREG(st.st_mode))
    present = set(names)
    out = []
    for name in [*entries, *(n for n in names if n not in entries)]:
        if name in resolved or name not in present:
            continue
        parsed = _from_name(name)
        if parsed is None:
            continue
        digest, source, line = parsed
        record = entries.get(name, {})
        path = q.dir / name
        out.append(
            QuarantinedLine(
                id=digest,
                file=Path(str(record.get("file") or source)),
                line=int(record.get("line") or line),
                reason=str(record.get("reason") or "(reason not recorded)"),
                raw_path=path,
                size=sizes[name].st_size,
            )
        )
    return out


def count(state_dir: Path, problems: list[LoadProblem] | None = None) -> int:
    """How many lines are quarantined or about to be: the outstanding ones, plus the bad lines
    `problems` names that are not in the quarantine yet (a read-only look copies nothing)."""
    lines = outstanding(state_dir)
    seen = {(line.file.name, line.line) for line in lines}
    extra = {
        (p.path.name, p.line)
        for p in problems or []
        if p.line > 0 and not p.reason.startswith("warning:") and (p.path.name, p.line) not in seen
    }
    return len(lines) + len(extra)


def check_lines(state_dir: Path, problems: list[LoadProblem]) -> list[str]:
    """For `check`: one line per outstanding quarantined line the current problems do not name
    (those are lines a compaction already took out of the data file: only the quarantine has them)."""
    named = {(p.path.name, p.line) for p in problems}
    return [
        f"{line.location}: quarantined ({line.reason}); only .brewslm/quarantine/{line.raw_path.name} "
        "holds it: `brewslm-tui quarantine PROJECT` to restore or discard it"
        for line in outstanding(state_dir)
        if (line.file.name, line.line) not in named
    ]


def find(state_dir: Path, key: str) -> QuarantinedLine:
    """The outstanding line named by `key`: its id (or 4+ leading characters of it), its raw file's
    name, or FILE:LINE (FILE as listed, or just its name)."""
    lines = outstanding(state_dir)
    file, sep, number = key.rpartition(":")
    if sep and number.isdigit():
        found = [q for q in lines if q.line == int(number) and file in (str(q.file), q.file.name, q.location)]
    else:
        found = [q for q in lines if q.raw_path.name == key or (len(key) >= 4 and q.id.startswith(key))]
    if not found:
        raise BrewError(
            f"no outstanding quarantined line {key!r} (`brewslm-tui quarantine PROJECT` lists them)"
        )
    if len(found) > 1:
        raise BrewError(
            f"{key!r} names {len(found)} quarantined lines; use an id: {', '.join(q.id for q in found)}"
        )
    return found[0]


def resolve(state_dir: Path, line: QuarantinedLine, how: str, **details) -> None:
    """Record (durably) that the user dealt with `line`."""
    record = {"resolved": line.raw_path.name, "how": how, **details}
    record["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    Quarantine(state_dir).append_index(record)


def restore(project, key: str, text: bytes | None = None, *, store=None) -> tuple[QuarantinedLine, str]:
    """Put a fixed line back where the quarantined one came from (synthetic.jsonl or
    dropped.jsonl), validated like a row at any edge, appended as a whole line under the locks.

    `text`: the fixed line (None: the quarantined bytes themselves, e.g. a line that only failed
    because of a byte-order mark). Its id must not be in the project already. Returns the line
    and where it went; a compaction then takes the malformed original out of the data file.
    `store`: the caller's own writable store (the TUI holds the session lock), used instead of
    opening one."""
    from brewslm_tui.core.generation.validate import validate_row
    from brewslm_tui.core.rows import Row

    state_dir = project.state_dir
    line = find(state_dir, key)
    targets = {
        project.synthetic_path.name: project.synthetic_path,
        project.dropped_path.name: project.dropped_path,
    }
    target = targets.get(line.file.name)
    if target is None:
        raise BrewError(
            f"{line.location}: a journal entry cannot be put back (replaying an old decision now could "
            "undo later ones); make the decision again, then `--discard` it"
        )
    fixed = _one_line(line.raw() if text is None else text, line)
    try:
        row = orjson.loads(fixed)
        if not isinstance(row, dict):
            raise ValueError(f"not a JSON object (a {type(row).__name__})")
        Row.model_validate(row)
        problems = validate_row(project, row)  # what an import or an edit refuses, a restore too
        if problems:
            raise ValueError(str(problems[0]))
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        hint = "" if text is not None else "; give the fixed line with --line or --from"
        raise BrewError(f"{line.location}: the line is still not a valid row ({first}){hint}") from None
    with _session_store(project, store) as store:  # no other reviewer holds these rows in memory
        if store.index_of(row["id"]) is not None or store.dropped.position_of(row["id"]) is not None:
            raise BrewError(
                f"{line.location}: row id {row['id']!r} is already in the project (restored before?); "
                "give the line another id, or `--discard` it"
            )
        with write_lock(state_dir):
            heal_torn_tail(target, store.quarantine)
            append_durably(target, fixed + b"\n")
        where = f"{target} (row {row['id']})"
        resolve(state_dir, line, "restored", to=where)
        store.compact()
    return line, where


def discard(project, key: str, *, store=None) -> QuarantinedLine:
    """The user says the line can go: it stops being counted (its raw copy stays, as a record),
    and a compaction takes it out of the data file if it is still there. `store`: as for `restore`."""
    line = find(project.state_dir, key)
    with _session_store(project, store) as store:
        resolve(project.state_dir, line, "discarded")
        store.compact()
    return line


def _session_store(project, store):
    """The caller's writable store as it is (left open), or one opened with the session lock."""
    from brewslm_tui.core.store.store import Store

    if store is not None:
        return contextlib.nullcontext(store)
    return Store.open(project)


def _one_line(data: bytes, line: QuarantinedLine) -> bytes:
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    data = data.rstrip(b"\r\n")
    if b"\n" in data:
        raise BrewError(f"{line.location}: the fixed row must be one line (JSONL)")
    return data
