"""JSONL files on disk: line scanning, malformed-line reports, quarantine, durable writes.

Readers never build a dict per row here; they find line boundaries in the mapped file and
parse only what they need. Writers put whole lines down and fsync; a file is replaced by
writing a temp file in the same folder, fsyncing it, `os.replace`, and fsyncing the folder.
An append that fails is cut back to the old length before the error is raised, and a file's
first creation is followed by an fsync of its folder. Every change goes through `fsio`.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import orjson

from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.row_json import loads_lenient


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


UTF8_BOM = b"\xef\xbb\xbf"


def data_start(buf) -> int:
    """Where the first line of a file starts: after a UTF-8 BOM (an editor's mark, not data), else 0.

    Every scan from the start of a file begins here (`line_starts`, the store's parse), so the
    BOM is neither part of row 1 nor a malformed line; the next rewrite of the file drops it.
    """
    return len(UTF8_BOM) if buf[:3] == UTF8_BOM else 0


def bom_warning(path: Path, buf) -> LoadProblem | None:
    """The warning a file with a BOM gets (it is stripped, not quarantined)."""
    if not data_start(buf):
        return None
    return LoadProblem(
        path, 1, "warning: a UTF-8 byte order mark starts the file; ignored (the next compaction removes it)"
    )


def line_starts(buf, start: int = 0, end: int | None = None) -> tuple[array, int]:
    """Start offsets of the complete lines in buf[start:end] and the offset after the last one.

    A final line with no newline is not included: it is either being written right now by an
    appender, or a torn write that a writer will quarantine.
    """
    end = len(buf) if end is None else end
    starts = array("Q")
    pos = start or data_start(buf)
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
    """fsync a file by path (its content, not its name: `fsync_dir` makes a new name durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fsio.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class CopyRange:
    """A chunk that is a byte range of an open file: copied by the kernel, not through Python."""

    fd: int
    start: int
    end: int


TEMP_SUFFIX = ".tmp"
_WRITE_BUFFER = 1 << 20  # small chunks (re-serialised rows) are gathered into writes of this size


def temp_path(path: Path) -> Path:
    """The temp file a writer of `path` stages into: `.NAME.PID.tmp` beside it (see `remove_stale_temps`)."""
    return path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")


def _copy_range(chunk: CopyRange, fd: int) -> None:
    offset, remaining = chunk.start, chunk.end - chunk.start
    while remaining > 0:
        try:
            n = fsio.copy_range(chunk.fd, fd, remaining, offset)
        except OSError as exc:
            if exc.errno not in _NO_COPY_RANGE:
                raise  # ENOSPC, EIO: a real failure, not a missing feature
            n = 0
        if n <= 0:  # not supported here (or EOF): fall back to an ordinary copy
            data = os.pread(chunk.fd, min(remaining, 1 << 24), offset)
            if not data:
                raise OSError(errno.EIO, f"source ended {remaining} bytes early")
            fsio.write_file(fd, data)
            n = len(data)
        offset += n
        remaining -= n


_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF, errno.EPERM}


def write_durably(path: Path, chunks, *, sync: bool = True) -> Path:
    """Write chunks (bytes or CopyRange) to a temp file beside `path`, fsync it; return the temp path.

    On any failure the temp is removed and the error raised: nothing is left behind. `sync=False`
    for a file that may be lost (a cache that is checked before it is trusted)."""
    tmp = temp_path(path)
    fd = fsio.open_fd(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        pending = bytearray()
        for chunk in chunks:
            if type(chunk) is CopyRange:
                if pending:
                    fsio.write_file(fd, pending)
                    pending.clear()
                _copy_range(chunk, fd)
            else:
                pending += chunk
                if len(pending) >= _WRITE_BUFFER:
                    fsio.write_file(fd, pending)
                    pending.clear()
        if pending:
            fsio.write_file(fd, pending)
        if sync:
            fsio.fsync(fd)
    except BaseException:
        os.close(fd)
        fsio.remove_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def replace_durably(path: Path, chunks) -> None:
    """Atomically give `path` the new content: temp file, fsync, os.replace, fsync the folder."""
    fsio.makedirs(path.parent)
    tmp = write_durably(path, chunks)
    try:
        fsio.replace(tmp, path)
    except BaseException:
        fsio.remove_quietly(tmp)
        raise
    fsio.fsync_dir(path.parent)


class AppendNotUndone(OSError):
    """An append failed and its bytes could not be taken back out: the file is longer than
    `length` by bytes nobody acknowledged. The caller must cut it back before writing again."""

    def __init__(self, path: Path, length: int, cause: OSError):
        super().__init__(cause.errno, cause.strerror, str(path))
        self.length = length
        self.cause = cause


def append_durably(path: Path, data: bytes) -> int:
    """Append whole lines in one write and fsync; returns the file's new length.

    The caller holds the write lock. A new file's folder entry is fsynced too. If anything fails
    (ENOSPC mid-write, EIO on fsync), the file is cut back to its old length and that is fsynced,
    so the bytes of a failed append never take effect; the original error is raised. If even
    that fails, `AppendNotUndone` says how long the file must be.
    """
    created = not path.exists()
    if created:
        fsio.makedirs(path.parent)
    fd = fsio.open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        before = os.fstat(fd).st_size
        try:
            fsio.write_file(fd, data)
            fsio.fsync(fd)
            if created:
                fsio.fsync_dir(path.parent)
        except OSError as exc:
            try:
                fsio.truncate(fd, before)
                fsio.fsync(fd)
            except OSError:
                raise AppendNotUndone(path, before, exc) from exc
            raise
        return before + len(data)
    finally:
        os.close(fd)


def cut_back(path: Path, length: int) -> None:
    """Cut `path` back to `length` bytes and fsync (after an `AppendNotUndone`)."""
    fd = fsio.open_fd(path, os.O_WRONLY)
    try:
        fsio.truncate(fd, length)
        fsio.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(folders, names=None) -> list[Path]:
    """Remove the `.NAME.PID.tmp` files left in `folders` by writers that died before their rename.

    A temp of a live process other than this one may be in the middle of being written and is left
    alone. This process's own temps are removed only when `names` says they are files the caller
    alone writes (it holds the write lock): a thread of this process may be writing another.
    Returns what it removed.
    """
    me = os.getpid()
    removed = []
    for folder in folders:
        try:
            candidates = [p for p in Path(folder).iterdir() if p.name.endswith(TEMP_SUFFIX)]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for tmp in candidates:
            hidden = tmp.name.startswith(".")
            base, _, pid_text = tmp.name[int(hidden) : -len(TEMP_SUFFIX)].rpartition(".")
            if not base or not pid_text.isdigit() or not (hidden or base.endswith(".holder")):
                continue  # (`X.holder.PID.tmp`: the lock notes of older versions)
            pid = int(pid_text)
            if pid == me:
                if names is None or base not in names:
                    continue
            elif _alive(pid):
                continue
            if fsio.remove_quietly(tmp):
                removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's): not ours to judge
    return True


class Quarantine:
    """`.brewslm/quarantine/`: raw bytes of every line that could not be loaded, byte for byte.

    One file per bad line, named after the source file, its line number and a hash of the bytes,
    so loading the same file twice does not copy twice; `index.jsonl` says where each came from
    (and, later, how the user dealt with it: see `core/store/quarantine.py`). Copies are written
    without an fsync each (a file of many bad lines must not cost an fsync per line); `sync()`
    makes them durable, and must run before the source line can disappear (a compaction, a cut).
    """

    def __init__(self, state_dir: Path, enabled: bool = True):
        self.dir = state_dir / "quarantine"
        self.index = self.dir / "index.jsonl"
        self.enabled = enabled  # a read-only look reports bad lines but writes nothing
        self._unsynced: list[Path] = []

    @staticmethod
    def name_for(source: Path, line: int, raw: bytes) -> str:
        digest = hashlib.blake2b(raw, digest_size=6).hexdigest()
        return f"{source.name}.line{line:07d}.{digest}.raw"

    def keep(self, source: Path, line: int, raw: bytes, reason: str) -> Path | None:
        if not self.enabled:
            return None
        target = self.dir / self.name_for(source, line, raw)
        if target.exists():
            return target
        fsio.makedirs(self.dir)
        fd = fsio.open_fd(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            fsio.write_file(fd, raw)
        finally:
            os.close(fd)
        entry = {
            "file": str(source),
            "line": line,
            "reason": reason,
            "raw_file": target.name,
            "bytes": len(raw),
        }
        self._unsynced.append(target)
        self.append_index(entry, sync=False)
        return target

    def append_index(self, entry: dict, sync: bool = True) -> None:
        """One record in `index.jsonl` (whole line, one write)."""
        if sync:
            fsio.makedirs(self.dir)
            append_durably(self.index, dumps_line(entry))
            return
        fd = fsio.open_fd(self.index, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            fsio.write_file(fd, dumps_line(entry))
        finally:
            os.close(fd)
        self._unsynced.append(self.index)

    def sync(self) -> None:
        """Make every copy kept since the last sync durable (files, index, folder entries)."""
        if not self._unsynced:
            return
        for path in dict.fromkeys(self._unsynced):
            fsync_path(path)
        fsio.fsync_dir(self.dir)
        fsio.fsync_dir(self.dir.parent)
        self._unsynced.clear()

    def count(self) -> int:
        if not self.dir.exists():
            return 0
        return sum(1 for p in self.dir.iterdir() if p.suffix == ".raw")


def heal_torn_tail(path: Path, quarantine: Quarantine, *, complete_whole: bool = True) -> LoadProblem | None:
    """Move a final line that has no newline (a torn write) into the quarantine and cut it off.

    Only a writer holding the write lock may call this: then no appender is mid-write, so the
    partial line can only be the remains of a crash. The next append starts on a clean line.
    `complete_whole`: a final line that is a whole JSON object (a data file written by hand) gets
    its newline instead. Never for the journal: there such a line is a decision that was never
    acknowledged, and completing it would apply it.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb") as f:
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
    if complete_whole and _is_whole_object(raw[data_start(raw) if tail_start == 0 else 0 :]):
        # a complete row that only lacks its newline (a file written by hand): complete it
        append_durably(path, b"\n")
        return LoadProblem(path, line_no, "final line had no newline; added one (the row itself is whole)")
    reason = "torn write: final line has no newline (quarantined, not parsed)"
    kept = quarantine.keep(path, line_no, raw, reason)
    if kept is None:
        return LoadProblem(path, line_no, reason)
    quarantine.sync()  # the quarantined copy is on disk before the bytes it saves are cut
    cut_back(path, tail_start)
    return LoadProblem(path, line_no, reason)


def _is_whole_object(raw: bytes) -> bool:
    """True when the store would read `raw` as an object (the same lenient parse as every row:
    a line Python's json reads is completed, not cut)."""
    try:
        return isinstance(loads_lenient(raw), dict)
    except ValueError:
        return False


def fsync_dir(path: Path) -> None:
    fsio.fsync_dir(path)


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
