"""The sidecar cache of the per-row columns, and the background process that builds it.

`.brewslm/index/columns.bin` holds one JSON header line and the raw bytes of the columns
(`Columns.raw_columns`). It describes the file only, never the journal. It is trusted when the
file is the same (inode, size, mtime), or when the same inode only grew (appends) and the
CRC-32 of the cached prefix is unchanged (a pass at ~3 GB/s: an edit anywhere in the prefix,
even one that keeps its length, is caught); then only the new tail is parsed. Anything else,
or any doubt (digest, lengths, project labels/reasons changed), and the cache is ignored and
rebuilt: it may be stale, never wrong. It is written to a temp file and renamed, so a killed
writer leaves no partial cache; it is never the only copy of anything.

The builder (`start_builder`) is a child process that imports only this module, `columns` and
orjson (no pydantic, no project parsing: the parent passes what the columns need), and on a big
file splits the parse between itself and one forked worker (the machine has two cores; the app
is idle after its first paint). The two halves are merged in file order, so the result is the
same as one pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.columns import CHUNK, Columns, TooManyReasons, parse_range
from brewslm_tui.core.store.jsonl import remove_stale_temps, write_durably

VERSION = 7  # 7: the flags column has F_REVIEWED
SPLIT_BYTES = 4 << 20  # the builder shares a file bigger than this with a forked worker
MIN_ROWS = 20000  # a store does not save the cache of fewer rows (they parse faster than it pays)
NICE = 10  # the builder's worker yields to the app, whose first paint must not wait for it

FileKey = tuple[int, int, int]  # (inode, size, mtime_ns) of the file the columns describe


def new_columns(config: dict) -> Columns:
    return Columns(config["project_reasons"], config["labels"])


def normalizer(scoring: str | None) -> Callable[[str], str]:
    """`Project.normalize_label` without the project (the builder does not load pydantic):
    strip; casefold for exact_match. A test holds the two equal."""
    if scoring == "exact_match":
        return lambda text: text.strip().casefold()
    return str.strip


def label_function(config: dict) -> Callable[[str], str | None] | None:
    """What `Project.label_for` answers, from the config the parent passed (None: no labels)."""
    if not config["labels"] or not config["label_for"]:
        return None
    by_label, normalize = config["by_label"], normalizer(config["scoring"])
    return lambda text: by_label.get(normalize(text))


# ------------------------------------------------------------------ the builder process
def project_config(project) -> dict:
    """What the builder needs to know of the project (so it need not load it)."""
    labels = list(getattr(project, "labels", []) or [])
    normalize = getattr(project, "normalize_label", None)
    return {
        "synthetic": str(project.synthetic_path),
        "state_dir": str(project.state_dir),
        "project_reasons": [r.code for r in project.reject_reasons],
        "labels": labels,
        "by_label": {normalize(label): label for label in labels} if normalize else {},
        "task": project.task,
        "scoring": project.scoring,
        "label_for": normalize is not None and getattr(project, "label_for", None) is not None,
    }


def needs_build(project, min_bytes: int) -> bool:
    """True for a file bigger than `min_bytes` that the cache does not describe, even as a prefix
    of it (the cheap part of `load`'s checks: the header's version, inode, size and mtime)."""
    try:
        st = os.stat(project.synthetic_path)
    except OSError:
        return False
    if st.st_size <= min_bytes:
        return False
    try:
        with open(cache_path(project.state_dir), "rb") as f:
            header = orjson.loads(f.readline())
        same_inode = header["version"] == VERSION and header["inode"] == st.st_ino
        current = same_inode and (
            header["size"] < st.st_size  # grown: only the tail is parsed
            or (header["size"] == st.st_size and header["mtime_ns"] == st.st_mtime_ns)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return not current


def start_builder(project):
    """Build the cache in a child process (the other core), so the first screen need not wait.

    The child starts without `site` (`-S`; its imports are this module and orjson, found on
    the paths passed to it), which saves most of an interpreter start."""
    import subprocess

    config = project_config(project)
    config["split_bytes"] = SPLIT_BYTES
    paths = [str(Path(__file__).resolve().parents[3]), str(Path(orjson.__file__).resolve().parents[1])]
    code = f"import sys; sys.path[:0] = {paths!r}; from brewslm_tui.core.store.column_cache import main; main(['-'])"
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stdin = proc.stdin
    assert stdin is not None  # (stdin=PIPE)
    # the config on stdin (a command line has a length limit; a project's labels do not); if the
    # child died at once, it exits non-zero and the store parses the file itself
    with contextlib.suppress(OSError):
        stdin.write(orjson.dumps(config))
        stdin.close()
    return proc


def build(config: dict) -> None:
    """Parse the whole file (two processes when it is big) and write the cache.

    The builder parses the first half; a forked worker parses the second half forward from its
    start. The worker runs at a lower priority than the app, so it may get little CPU while the
    app paints or takes keys; the builder does not wait idle for it: after its own half it
    parses the second half backward from the end, a chunk at a time. Each side publishes how far
    it got (one writer per number, in shared memory); each stops where the other has been, and
    whatever both or neither parsed is sorted out at the merge, which takes the parts in file order.
    """
    import mmap

    try:
        with open(config["synthetic"], "rb") as f:
            st = os.fstat(f.fileno())  # of the very file that is mapped
            if st.st_size == 0:
                return
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return
    size = min(len(buf), st.st_size)
    label_for = label_function(config)
    main_part = new_columns(config)
    mid = buf.find(b"\n", size // 2, size) + 1 if size > config.get("split_bytes", SPLIT_BYTES) else 0
    worker = None
    if mid > 0 and hasattr(os, "fork"):
        worker = _fork_worker(config, buf, mid, size, label_for)
    if worker is None:
        end = parse_range(main_part, buf, 0, size, label_for)
    else:
        end = parse_range(main_part, buf, 0, mid, label_for)
        for data in _second_half(config, buf, mid, size, label_for, *worker):
            end = main_part.merge(data)
    write(main_part, config, (st.st_ino, st.st_size, st.st_mtime_ns), buf, end)


def _line_start_at_or_after(buf, pos: int, size: int) -> int:
    if pos <= 0:
        return 0
    nl = buf.find(b"\n", pos - 1, size)
    return size if nl < 0 else nl + 1


def _second_half(config, buf, start: int, size: int, label_for, pid: int, fd: int, shared) -> list[bytes]:
    """The parts of buf[start:size] in file order (as `Columns.dump`s): the worker's, forward from
    `start`, then what this process parsed backward from the end, with any gap parsed here."""
    import select
    import struct

    stolen: list[tuple[int, int, bytes]] = []  # (start, end, dump), found from the end backward
    low = size
    while True:
        if select.select([fd], [], [], 0)[0]:
            break  # the worker is done (or dead): it takes no more
        (worker_at,) = struct.unpack_from("Q", shared, 8)  # the end of what the worker has taken
        if low <= worker_at or low <= start:
            break
        c_start = _line_start_at_or_after(buf, max(low - CHUNK, worker_at, start), size)
        if c_start >= low:
            break
        struct.pack_into("Q", shared, 0, c_start)  # taken: the worker stops where this begins
        part = new_columns(config)
        c_end = parse_range(part, buf, c_start, low, label_for)
        stolen.append((c_start, c_end, part.dump(c_end)))
        low = c_start
    with os.fdopen(fd, "rb") as f:
        data = f.read()  # the worker stops within a chunk of where we began, and sends its part
    status = _reap(pid, kill=False)
    parts: list[bytes] = []
    cur = start
    if status == 0 and data:
        head = orjson.loads(data[: data.index(b"\n")])
        parts.append(data)
        cur = head["end"]
    for c_start, c_end, dump in sorted(stolen):
        if c_start < cur:
            continue  # the worker parsed (part of) it too: its copy is the one taken
        if c_start > cur:
            parts.append(_parse_dump(config, buf, cur, c_start, label_for))  # a gap nobody parsed
        parts.append(dump)
        cur = c_end
    if cur < size:
        gap = _parse_dump(config, buf, cur, size, label_for)
        if orjson.loads(gap[: gap.index(b"\n")])["end"] > cur:
            parts.append(gap)
    return parts


def _parse_dump(config, buf, start: int, end: int, label_for) -> bytes:
    part = new_columns(config)
    stop = parse_range(part, buf, start, end, label_for)
    return part.dump(stop)


def _reap(pid: int, kill: bool) -> int:
    if kill:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return -1


def _fork_worker(config, buf, start: int, end: int, label_for):
    import mmap
    import struct

    try:
        shared = mmap.mmap(-1, 16)  # [builder's low end, worker's position], shared after the fork
        struct.pack_into("QQ", shared, 0, end, start)
        r, w = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the worker: parse forward until the builder's part, send it, exit without cleanup
        code = 1
        try:
            os.close(r)
            with contextlib.suppress(AttributeError, OSError):
                os.nice(NICE)
            if config.get("test_worker") == "fail":  # tests: a worker that dies without a result
                os._exit(3)
            part = new_columns(config)
            pos = start
            while pos < end:
                (low,) = struct.unpack_from("Q", shared, 0)  # where the builder's part begins
                if pos >= low:
                    break
                nl = buf.find(b"\n", pos + CHUNK, end)
                step_end = min(low, end if nl < 0 else nl + 1)
                struct.pack_into("Q", shared, 8, step_end)  # taken (the builder starts above it)
                stop = parse_range(part, buf, pos, step_end, label_for)
                if stop == pos:
                    break
                pos = stop
            view = memoryview(part.dump(pos))
            while view:
                view = view[os.write(w, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r, shared


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["-"]:  # from start_builder: the config on stdin
        build(orjson.loads(sys.stdin.buffer.read()))
        return
    # by hand: python -m brewslm_tui.core.store.column_cache PROJECT_DIR
    from brewslm_tui.core.project import load_project

    build(project_config(load_project(argv[0])))


# ------------------------------------------------------------------ the cache file
def cache_path(state_dir: Path) -> Path:
    return Path(state_dir) / "index" / "columns.bin"


def prefix_crc(buf, end: int) -> int:
    """CRC-32 of buf[:end], in slices (no copy of the whole prefix).

    A mapped file's pages are let go of after each slice (MADV_DONTNEED: a read-only mapping
    faults them back in from the page cache if they are read again), so checking a 2 GB file
    does not leave 2 GB in the process's resident set."""
    crc = 0
    release = getattr(buf, "madvise", None) if hasattr(mmap, "MADV_DONTNEED") else None
    with memoryview(buf) as view:
        for pos in range(0, end, _CRC_SLICE):
            stop = min(end, pos + _CRC_SLICE)
            crc = zlib.crc32(view[pos:stop], crc)
            if release is not None:
                release(mmap.MADV_DONTNEED, pos, stop - pos)
    return crc


_CRC_SLICE = 1 << 24  # a multiple of the page size (madvise wants an aligned start)


def _digest(parts) -> str:
    digest = hashlib.sha256()  # hardware-accelerated where the CPU has SHA extensions
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:32]


def write(columns: Columns, config: dict, st: FileKey, buf, scanned_end: int) -> None:
    """The cache file for `columns` of the file `buf` (stat `st`), parsed up to `scanned_end`."""
    parts = columns.raw_columns()
    header = {
        "version": VERSION,
        "inode": st[0],
        "size": st[1],
        "mtime_ns": st[2],
        "scanned_end": scanned_end,
        "prefix_crc": prefix_crc(buf, scanned_end),
        "lineno": columns.lineno,
        "rows": len(columns),
        "runs": columns.runs,
        "playbooks": columns.playbooks,
        "reason_codes": columns.reason_codes[1:],
        "project_reasons": config["project_reasons"],
        "labels": config["labels"],
        "task": config["task"],
        "scoring": config["scoring"],
        "malformed": columns.malformed,
        "breaks": sorted(columns.breaks),
        "bad": columns.bad,
        "noid": columns.noid,
        "dupid": columns.dupid,
        "counts": columns.counts,
        "reason_counts": columns.reason_counts,
        "digest": _digest(parts),
        "sizes": [len(p) for p in parts],
    }
    path = cache_path(Path(config["state_dir"]))
    try:
        fsio.makedirs(path.parent)
        remove_stale_temps([path.parent])  # each is a whole cache's size
        tmp = write_durably(path, [orjson.dumps(header) + b"\n", *parts], sync=False)
        try:
            fsio.replace(tmp, path)
        except OSError:
            fsio.remove_quietly(tmp)
    except OSError:
        pass  # a cache we cannot write only costs time


@dataclass
class Cached:
    """Columns read from the cache, and how far into the file they go."""

    columns: Columns
    scanned_end: int


def load(project, st: FileKey, buf) -> Cached | None:
    """The columns of the file `buf` (stat `st`) from the cache, if it still describes the file.

    Lines the cache names as bad or without an id are in `columns.bad` / `columns.noid`, by
    offset, as after a parse: the store quarantines them (the builder writes nowhere else)."""
    import mmap
    from array import array

    try:
        with open(cache_path(project.state_dir), "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # no copy of the whole file
        nl = mapped.find(b"\n")
        header = orjson.loads(mapped[:nl])
        body = memoryview(mapped)[nl + 1 :]
    except (OSError, ValueError):
        return None
    try:
        config = project_config(project)
        if header["version"] != VERSION or header["inode"] != st[0] or header["size"] > st[1]:
            return None
        for key in ("project_reasons", "labels", "task", "scoring"):  # labels are normalised by scoring
            if header[key] != config[key]:
                return None
        end = header["scanned_end"]
        same_file = header["size"] == st[1] and header["mtime_ns"] == st[2]
        if not same_file and header["size"] == st[1]:
            return None  # same length, touched since: edited in place
        if not same_file and (end > len(buf) or prefix_crc(buf, end) != header["prefix_crc"]):
            return None  # the prefix changed, not only the tail: rebuild
        sizes = header["sizes"]
        if sum(sizes) != len(body):
            return None
        parts, pos = [], 0
        for size in sizes:
            parts.append(body[pos : pos + size])
            pos += size
        if _digest(parts) != header["digest"]:
            return None
        columns = Columns(config["project_reasons"], config["labels"])
        columns.offsets = array("Q", bytes(parts[0]))
        columns.status = bytearray(parts[1])
        columns.reason = bytearray(parts[2])
        columns.run = array("I", bytes(parts[3]))
        columns.playbook = array("I", bytes(parts[4]))
        columns.label = array("H", bytes(parts[5]))
        columns.flags = bytearray(parts[6])
        columns.runs = list(header["runs"])
        columns.run_index = {v: k for k, v in enumerate(columns.runs)}
        columns.playbooks = list(header["playbooks"])
        columns.playbook_index = {v: k for k, v in enumerate(columns.playbooks)}
        columns.reason_codes = [None, *header["reason_codes"]]
        columns.reason_index = {code: k for k, code in enumerate(columns.reason_codes) if code}
        columns.malformed = int(header["malformed"])
        columns.breaks = {int(slot) for slot in header["breaks"]}
        columns.bad = [[int(line), str(reason), int(off)] for line, reason, off in header["bad"]]
        columns.noid = [[int(slot), int(line), int(off)] for slot, line, off in header["noid"]]
        columns.dupid = [[int(slot), int(line), int(off)] for slot, line, off in header["dupid"]]
        columns.counts = [int(n) for n in header["counts"]]
        columns.reason_counts = [int(n) for n in header["reason_counts"]]
        columns.lineno = int(header["lineno"])
        if len(columns.reason_counts) != len(columns.reason_codes) or len(columns.status) != len(columns):
            return None
    except (KeyError, TypeError, ValueError, IndexError, TooManyReasons):
        return None
    return Cached(columns, end)


if __name__ == "__main__":
    main()
