"""`synthetic.jsonl` as mapped bytes: where it ends, and the lines and ids read straight off it.

A row's id is read without a parse when the line has the common layout (`{"id":"...` first,
no escape in the id; what orjson writes); many ids at once are read in one joined pass.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from brewslm_tui.core.store.jsonl import map_file
from brewslm_tui.core.store.row_json import loads_lenient

ID_PREFIX = b'{"id":"'  # the common layout of a line (orjson, id first): the id is read without a parse

FileKey = tuple[int, int, int]  # (inode, size, mtime_ns)
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
_IDS_AT_ONCE = 256  # a bulk id read holds the pages of this many rows at most (a fault maps a folio)


def file_key(path: Path) -> FileKey | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class FileRows:
    """The mapped file, the stat it had when mapped, and how much of it is complete lines read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.buf: mmap.mmap | bytes = b""
        self.stat: FileKey | None = None
        self.scanned_end = 0

    def remap(self) -> None:
        self.buf = map_file(self.path)

    def close(self) -> None:
        self.buf = b""

    def line(self, off: int) -> bytes:
        """The line starting at `off`, without its newline."""
        buf = self.buf
        return buf[off : buf.find(b"\n", off)]

    def parse(self, off: int) -> dict:
        return loads_lenient(self.line(off))

    def id_at(self, off: int):
        """The id of the line at `off` (whatever JSON value it is; None when absent)."""
        buf = self.buf
        if buf[off : off + 7] == ID_PREFIX:
            end = buf.find(b'"', off + 7)
            raw = buf[off + 7 : end]
            if end > 0 and b"\\" not in raw:
                return bytes(raw).decode()
        return self.parse(off).get("id")

    def release(self) -> None:
        """Let go of the mapped pages this process holds (MADV_DONTNEED: a read-only shared
        mapping faults them back in from the page cache if they are read again, with the same
        bytes), so reading rows spread over a big file does not leave it all in the resident set."""
        buf = self.buf
        if _DONTNEED is not None and isinstance(buf, mmap.mmap) and len(buf):
            buf.madvise(_DONTNEED)

    def plain_ids(self, offs: list[int]) -> list[str] | None:
        """The ids of the lines starting at `offs`, if every one has the common layout; else None.

        Read _IDS_AT_ONCE lines at a time, the pages they touched let go of after each."""
        if len(offs) <= _IDS_AT_ONCE:
            return self._plain_ids(offs)
        out: list[str] = []
        for k in range(0, len(offs), _IDS_AT_ONCE):
            ids = self._plain_ids(offs[k : k + _IDS_AT_ONCE])
            self.release()
            if ids is None:
                return None
            out += ids
        return out

    def _plain_ids(self, offs: list[int]) -> list[str] | None:
        buf = self.buf
        find = buf.find
        ends = [find(b'"', off + 7, off + 4096) for off in offs]
        if -1 in ends:
            return None
        joined = b"\x00".join(map(buf.__getitem__, map(slice, offs, ends)))
        # each window must start with the prefix (found at most once per window, at its start:
        # its only quotes are in its first 7 bytes), stay inside its line and hold no escape
        if joined.count(ID_PREFIX) != len(offs) or b"\\" in joined or b"\n" in joined:
            return None
        try:
            ids = joined.replace(ID_PREFIX, b"").decode().split("\x00")
        except UnicodeDecodeError:
            return None
        return ids if len(ids) == len(offs) else None
