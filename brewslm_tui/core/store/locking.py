"""Project locks that name their holder.

Two locks, both `flock` on files in `.brewslm/`:

- the *session* lock (`session.lock`): held for as long as a process reviews (the TUI, or a CLI
  decision command). Only one reviewer at a time, because the journal is applied in its memory.
- the *write* lock (`write.lock`): held for each short critical section that changes files
  (a job appending rows, a journal append, a compaction).

A process that cannot get a lock waits briefly, then fails with `LockBusy` naming the holder
(pid, command, since when). Nothing ever writes around a lock.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from brewslm_tui.core.errors import LockBusy


def _describe_self() -> dict:
    cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:4])) or "python"
    return {"pid": os.getpid(), "cmd": cmd, "since": datetime.now(UTC).isoformat(timespec="seconds")}


def describe_holder(lock_path: Path) -> str:
    """Who holds the lock, in words, from the note the holder wrote next to it."""
    try:
        info = orjson.loads(lock_path.with_suffix(".holder").read_bytes())
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

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 2.0) -> None:
        if self._fd is not None:
            self._depth += 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
        holder = self.path.with_suffix(".holder")
        tmp = holder.with_name(holder.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(_describe_self()))
        os.replace(tmp, holder)

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
