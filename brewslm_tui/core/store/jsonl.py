"""JSONL files on disk: line scanning, malformed-line reports, quarantine, durable writes.

Readers never build a dict per row here; they find line boundaries in the mapped file and
parse only what they need. Writers put whole lines down and fsync; a file is replaced by
writing a temp file in the same folder, fsyncing it, `os.replace`, and fsyncing the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True)
class LoadProblem:
    """A line that is not a row: where it is and why. Its raw bytes are in the quarantine."""

    path: Path
    line: int  # 1-based
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def map_file(path: Path) -> mmap.mmap | bytes:
    """The file's bytes, memory-mapped (b"" for a missing or empty file)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return b""
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return b""


def line_starts(buf, start: int = 0, end: int | None = None) -> tuple[array, int]:
    """Start offsets of the complete lines in buf[start:end] and the offset after the last one.

    A final line with no newline is not included: it is either being written right now by an
    appender, or a torn write that a writer will quarantine.
    """
    end = len(buf) if end is None else end
    starts = array("Q")
    pos = start
    find = buf.find
    append = starts.append
    while pos < end:
        nl = find(b"\n", pos, end)
        if nl < 0:
            break
        append(pos)
        pos = nl + 1
    return starts, pos


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by path (a folder: so a rename or a new entry in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class CopyRange:
    """A chunk that is a byte range of an open file: copied by the kernel, not through Python."""

    fd: int
    start: int
    end: int


def _copy_range(chunk: CopyRange, out) -> None:
    out.flush()
    offset, remaining = chunk.start, chunk.end - chunk.start
    while remaining > 0:
        try:
            n = os.copy_file_range(chunk.fd, out.fileno(), remaining, offset)
        except OSError:
            n = 0
        if n <= 0:  # not supported here (or EOF): fall back to an ordinary copy
            out.write(os.pread(chunk.fd, min(remaining, 1 << 24), offset))
            out.flush()
            n = min(remaining, 1 << 24)
        offset += n
        remaining -= n
    out.seek(0, os.SEEK_END)


def write_durably(path: Path, chunks) -> Path:
    """Write chunks (bytes or CopyRange) to a temp file beside `path`, fsync it; return the temp path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        for chunk in chunks:
            if type(chunk) is CopyRange:
                _copy_range(chunk, f)
            else:
                f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def replace_durably(path: Path, chunks) -> None:
    """Atomically give `path` the new content: temp file, fsync, os.replace, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_durably(path, chunks)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def append_durably(path: Path, data: bytes) -> None:
    """Append whole lines in one write and fsync. The caller holds the write lock.

    All or nothing: when a write or the fsync fails (ENOSPC, EFBIG, EIO) the file is cut
    back to its length before, so no part of a failed append is ever counted or read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)


class Quarantine:
    """`.brewslm/quarantine/`: raw bytes of every line that could not be loaded, byte for byte.

    One file per bad line, named after the source file, its line number and a hash of the bytes,
    so loading the same file twice does not copy twice; `index.jsonl` says where each came from.
    """

    def __init__(self, state_dir: Path, enabled: bool = True):
        self.dir = state_dir / "quarantine"
        self.enabled = enabled  # a read-only look reports bad lines but writes nothing

    def keep(self, source: Path, line: int, raw: bytes, reason: str) -> Path | None:
        if not self.enabled:
            return None
        digest = hashlib.blake2b(raw, digest_size=6).hexdigest()
        target = self.dir / f"{source.name}.line{line:07d}.{digest}.raw"
        if target.exists():
            return target
        self.dir.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        entry = {
            "file": str(source),
            "line": line,
            "reason": reason,
            "raw_file": target.name,
            "bytes": len(raw),
        }
        with open(self.dir / "index.jsonl", "ab") as f:
            f.write(orjson.dumps(entry) + b"\n")
        return target

    def count(self) -> int:
        if not self.dir.exists():
            return 0
        return sum(1 for p in self.dir.iterdir() if p.suffix == ".raw")


def heal_torn_tail(path: Path, quarantine: Quarantine) -> LoadProblem | None:
    """Move a final line that has no newline (a torn write) into the quarantine and cut it off.

    Only a writer holding the write lock may call this: then no appender is mid-write, so the
    partial line can only be the remains of a crash. The next append starts on a clean line.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return None
        # find the start of the torn line
        block = 1 << 16
        pos = size
        tail_start = 0
        while pos > 0:
            read_from = max(0, pos - block)
            f.seek(read_from)
            chunk = f.read(pos - read_from)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                tail_start = read_from + nl + 1
                break
            pos = read_from
        f.seek(tail_start)
        raw = f.read()
        line_no = _count_newlines(f, tail_start) + 1
        if _is_whole_object(raw):
            # a complete row that only lacks its newline (a file written by hand): complete it
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
            return LoadProblem(
                path, line_no, "final line had no newline; added one (the row itself is whole)"
            )
        reason = "torn write: final line has no newline (quarantined, not parsed)"
        kept = quarantine.keep(path, line_no, raw, reason)
        if kept is None:
            return LoadProblem(path, line_no, reason)
        fsync_path(kept)  # the quarantined copy is on disk before the bytes it saves are cut
        fsync_dir(kept.parent)
        f.truncate(tail_start)
        f.flush()
        os.fsync(f.fileno())
    return LoadProblem(path, line_no, reason)


def _is_whole_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except ValueError:
        return False


def fsync_dir(path: Path) -> None:
    fsync_path(path)


def _count_newlines(f, upto: int) -> int:
    f.seek(0)
    count = 0
    remaining = upto
    while remaining > 0:
        chunk = f.read(min(1 << 20, remaining))
        if not chunk:
            break
        count += chunk.count(b"\n")
        remaining -= len(chunk)
    return count


def dumps_line(obj: dict) -> bytes:
    """One row as a JSONL line (UTF-8, no ASCII escaping, newline-terminated)."""
    return orjson.dumps(obj) + b"\n"
