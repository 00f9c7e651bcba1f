"""The store's file operations, in one place, so that a test can fail or record any of them.

Every call that changes a file of a project (open for writing, write, fsync, rename, truncate,
unlink, mkdir, fsync of a folder) goes through this module, in the spirit of SQLite's I/O-error
tests: a test installs a `hook` (`install(hook)`) that sees each call before it runs, may raise
ENOSPC or EIO instead of it, counts the calls per operation and records the order of writes and
fsyncs (see `tests/core/test_faults.py`). With no hook installed a call costs one `is None` check:
no wrapper objects, no per-call bookkeeping.

`hook.call(op, target, fn, *args)` must run `fn(*args)` (or raise) and return its result; `op`
is one of OPS, `target` is the path or file descriptor the call changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

OPS = ("open", "write", "fsync", "fsync_dir", "rename", "truncate", "unlink", "mkdir")


class Hook(Protocol):
    def call(self, op: str, target, fn, *args): ...


_hook: Hook | None = None


def install(hook: Hook | None) -> Hook | None:
    """Put `hook` in front of every file operation (None: take it away). Returns the previous one."""
    global _hook
    previous, _hook = _hook, hook
    return previous


def open_fd(path: Path | str, flags: int, mode: int = 0o644) -> int:
    """os.open for a file the store will change (reads of data go around the seam)."""
    if _hook is None:
        return os.open(path, flags, mode)
    return _hook.call("open", path, os.open, path, flags, mode)


def write(fd: int, data) -> int:
    if _hook is None:
        return os.write(fd, data)
    return _hook.call("write", fd, os.write, fd, data)


def pwrite(fd: int, data: bytes, offset: int) -> int:
    if _hook is None:
        return os.pwrite(fd, data, offset)
    return _hook.call("write", fd, os.pwrite, fd, data, offset)


def copy_range(src: int, dst: int, count: int, offset: int) -> int:
    """os.copy_file_range from `src` at `offset` to the end of `dst`: a write done by the kernel."""
    if _hook is None:
        return os.copy_file_range(src, dst, count, offset)
    return _hook.call("write", dst, os.copy_file_range, src, dst, count, offset)


def fsync(fd: int) -> None:
    if _hook is None:
        return os.fsync(fd)
    return _hook.call("fsync", fd, os.fsync, fd)


def truncate(fd: int, length: int) -> None:
    if _hook is None:
        return os.ftruncate(fd, length)
    return _hook.call("truncate", fd, os.ftruncate, fd, length)


def replace(src: Path | str, dst: Path | str) -> None:
    if _hook is None:
        return os.replace(src, dst)
    return _hook.call("rename", dst, os.replace, src, dst)


def link(src: Path | str, dst: Path | str) -> None:
    """A hard link: a new directory entry, so it counts as a rename."""
    if _hook is None:
        return os.link(src, dst)
    return _hook.call("rename", dst, os.link, src, dst)


def unlink(path: Path | str) -> None:
    if _hook is None:
        return os.unlink(path)
    return _hook.call("unlink", path, os.unlink, path)


def fsync_dir(path: Path | str) -> None:
    """fsync a folder, so that the entries created, renamed or removed in it are durable."""
    if _hook is None:
        return _fsync_dir(path)
    return _hook.call("fsync_dir", path, _fsync_dir, path)


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs(path: Path) -> None:
    """Create `path` and any missing parents, each new folder made durable in its parent."""
    path = Path(path)
    if path.is_dir():
        return
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            if _hook is None:
                os.mkdir(d)
            else:
                _hook.call("mkdir", d, os.mkdir, d)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        fsync_dir(d.parent)


def write_file(fd: int, data) -> None:
    """Write all of `data` to `fd` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        n = write(fd, view)
        view = view[n:]


def remove_quietly(path: Path | str) -> bool:
    """Unlink a file that may or may not be there (a temp after a failure). True if it is gone."""
    try:
        unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
