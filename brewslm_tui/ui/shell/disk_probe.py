"""What the app's one-second poll reads from disk, read in a thread, off the UI's event loop.

A `stat` of the data files (and, in a read-only window, a try of the session lock) can block
for seconds on a slow disk (NFS): done on the event loop, that froze every key. The probe runs
in a thread worker and hands back a `DiskState`; the app calls `store.refresh()` only when the
files did change, so a quiet second costs the loop nothing. When they did change, the probe
first reads the new bytes (a job's appended rows, the reviewing window's new journal entries)
in the thread, so the pages are in memory when `refresh()` reads them on the loop: the wait
for a slow disk is the thread's, not the keys'.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from brewslm_tui.core.store.store import Store

FileKey = tuple[int, int, int] | None  # (inode, size, mtime_ns), None when the file is missing

WARM_CHUNK = 1 << 20
WARM_LIMIT = 256 << 20  # per file and probe: a huge append is read on, a chunk at a time, by refresh()


@dataclass(frozen=True)
class DiskState:
    """The data files as the probe saw them, and whether the session lock was free."""

    files: tuple[FileKey, ...]
    session_free: bool | None  # None: not asked (a writable window holds the lock itself)


def file_key(path: Path) -> FileKey:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def session_lock_free(state_dir: Path) -> bool:
    """True when no process holds the project's review session (its holder quit or died).

    Tried with a non-blocking `flock` on a descriptor of our own, released at once: the holder
    note next to the lock is not touched (only taking the session over rewrites it).
    """
    try:
        fd = os.open(state_dir / "session.lock", os.O_RDONLY)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def warm(path: Path, start: int, end: int) -> int:
    """Read `path` from `start` to `end` (at most WARM_LIMIT bytes) and drop the bytes: the point
    is the page cache. Returns how many bytes were read; 0 when the file went away."""
    end = min(end, start + WARM_LIMIT)
    if end <= start:
        return 0
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    done = 0
    try:
        while start + done < end:
            got = len(os.pread(fd, min(WARM_CHUNK, end - start - done), start + done))
            if not got:
                break
            done += got
    except OSError:
        pass  # refresh() meets the error itself, on the loop, and reports it once
    finally:
        os.close(fd)
    return done


def probe(store: Store, *, ask_session: bool) -> DiskState:
    """Run in a thread: stat the files `store.refresh()` reads, read what grew, try the session lock if asked."""
    rows, journal = store.synthetic_path, store.journal.path
    files = (file_key(rows), file_key(journal))
    # the store's read positions are plain ints, read once: a stale one only means a few
    # bytes too many are read ahead
    if files[0] is not None:
        warm(rows, store.scanned_bytes, files[0][1])
    if files[1] is not None and store.readonly:
        warm(journal, store.journal_read_end, files[1][1])
    return DiskState(files, session_lock_free(store.state_dir) if ask_session else None)
