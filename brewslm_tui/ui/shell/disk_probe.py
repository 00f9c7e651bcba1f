"""What the app's one-second poll reads from disk, read in a thread, off the UI's event loop.

A `stat` of the data files (and, in a read-only window, a try of the session lock) can block
for seconds on a slow disk (NFS): done on the event loop, that froze every key. The probe runs
in a thread worker and hands back a `DiskState`; the app calls `store.refresh()` (which reads
the new bytes) only when the files did change, so a quiet second costs the loop nothing.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from brewslm_tui.core.store.store import Store

FileKey = tuple[int, int, int] | None  # (inode, size, mtime_ns), None when the file is missing


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


def probe(store: Store, *, ask_session: bool) -> DiskState:
    """Run in a thread: stat the files `store.refresh()` reads; try the session lock if asked."""
    files = (file_key(store.synthetic_path), file_key(store.journal.path))
    return DiskState(files, session_lock_free(store.state_dir) if ask_session else None)
