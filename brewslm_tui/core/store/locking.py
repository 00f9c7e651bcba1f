"""Project locks that name their holder.

Two locks, both `flock` on files in `.brewslm/`:

- the *session* lock (`session.lock`): held for as long as a process reviews (the TUI, or a CLI
  decision command). Only one reviewer at a time, because the journal is applied in its memory.
- the *write* lock (`write.lock`): held for each short critical section that changes files
  (a job appending rows, a journal append, a compaction).

A process that cannot get a lock waits briefly, then fails with `LockBusy` naming the holder
(pid, command, since when). Nothing ever writes around a lock.

The holder's note is written into the lock file itself (one `pwrite`, no temp file, no rename,
no fsync: it is a courtesy to the next process, not data). A lock object writes it on its first
acquire and again only when another process has written its own note since (one `pread` tells),
so a session's thousand decisions do not rewrite it a thousand times.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from brewslm_tui.core.errors import LockBusy
from brewslm_tui.core.store import fsio


def _describe_self() -> dict:
    cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:4])) or "python"
    return {"pid": os.getpid(), "cmd": cmd, "since": datetime.now(UTC).isoformat(timespec="seconds")}


NOTE_MAX = 4096


_NOTES: dict[int, bytes] = {}  # pid -> its note: every lock object of a process writes the same bytes


def _own_note() -> bytes:
    """This process's note (the same for all its locks, so they do not rewrite each other's):
    its "since" is when the process first took a lock of the project (its session, for a TUI)."""
    pid = os.getpid()
    note = _NOTES.get(pid)
    if note is None:
        note = _NOTES[pid] = orjson.dumps(_describe_self())
    return note


def describe_holder(lock_path: Path) -> str:
    """Who holds the lock, in words, from the note the holder wrote into the lock file."""
    try:
        with open(lock_path, "rb") as f:
            info = orjson.loads(f.read(NOTE_MAX))
        return f"pid {info['pid']} ({info['cmd']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class FileLock:
    """An exclusive `flock` on `path`; re-entrant within one object (a depth count)."""

    def __init__(self, path: Path, purpose: str):
        self.path = Path(path)
        self.purpose = purpose
        self._fd: int | None = None
        self._depth = 0
        self._note = b""  # what this object writes into the lock file (set on the first acquire)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 2.0) -> None:
        if self._fd is not None:
            self._depth += 1
            return
        fsio.makedirs(self.path.parent)
        fd = self._open()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockBusy(
                        f"{self.path.parent.parent.name}: {self.purpose} is locked by "
                        f"{describe_holder(self.path)}; waited {timeout:g} s. Try again when it is done."
                    ) from None
                time.sleep(0.02)
        self._fd = fd
        self._depth = 1
        self._write_note(fd)

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            fd = fsio.open_fd(self.path, os.O_RDWR | os.O_CREAT)
            with contextlib.suppress(OSError):  # a lock file lost in a power cut is simply made again
                fsio.fsync_dir(self.path.parent)
            return fd

    def _write_note(self, fd: int) -> None:
        """Name this process in the lock file, unless the note there is already ours."""
        if not self._note:
            self._note = _own_note()
        try:
            if os.pread(fd, NOTE_MAX, 0) == self._note:
                return
            fsio.pwrite(fd, self._note, 0)
            fsio.truncate(fd, len(self._note))
        except OSError:
            with contextlib.suppress(OSError):  # better no name than another process's name
                os.ftruncate(fd, 0)

    def release(self) -> None:
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def session_lock(state_dir: Path) -> FileLock:
    return FileLock(state_dir / "session.lock", "the review session")


def write_lock(state_dir: Path) -> FileLock:
    return FileLock(state_dir / "write.lock", "writing")
