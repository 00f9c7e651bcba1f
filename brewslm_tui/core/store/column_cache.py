"""The per-row columns: the one parse of `synthetic.jsonl`, and their sidecar cache.

`parse_range` is the bulk load path (every parse of the file goes through it: a cold open, the
tail of a grown file, the background builder), so every way of loading gives the same columns.

`.brewslm/index/columns.bin` holds one JSON header line and the raw bytes of the columns
(offsets, status, reason, run, playbook, label, flags). It describes the file only, never the
journal. It is trusted when the file is the same (inode, size, mtime), or when the same inode
only grew (appends) and the cached prefix still has the same bytes at its ends and newlines where
the cached offsets say; then only the new tail is parsed. Anything else, or any doubt (checksum,
lengths, project labels/reasons changed), and the cache is ignored and rebuilt. It is written to
a temp file and renamed, so a killed writer leaves no partial cache; it is never the only copy
of anything.

The builder (`start_builder`) is a child process that imports only this module and orjson (no
pydantic, no project parsing: the parent passes what the columns need), and on a big file
splits the parse between itself and one forked worker (the machine has two cores; the app is
idle after its first paint). The two halves are merged in file order, so the result is the same
as one pass.
"""

from __future__ import annotations

import hashlib
import os
import sys
from array import array
from pathlib import Path

import orjson

from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.jsonl import data_start, remove_stale_temps, write_durably

VERSION = 4
EDGE = 4096  # bytes hashed at the start and end of the cached prefix
COLUMNS = (("offsets", "Q"), ("run", "I"), ("playbook", "I"), ("label", "H"))
BYTE_COLUMNS = ("status", "reason", "flags")
FILE_STATUS = {"pending": 0, "approved": 1, "rejected": 2}  # statuses a line may carry (not "dropped")
REJECTED = 2
F_NOTE = 1  # flags column: the row on disk has a review_note
CHUNK = 1 << 22  # bytes split into lines at a time
SPLIT_BYTES = 4 << 20  # the builder shares a file bigger than this with a forked worker
MIN_ROWS = 20000  # a store does not save the cache of fewer rows (they parse faster than it pays)
NICE = 10  # the builder's worker yields to the app, whose first paint must not wait for it


def assigned_id(lineno: int, raw: bytes) -> str:
    """A stable id for a row that has none: from its line number and bytes, persisted at compaction."""
    return "r_" + hashlib.blake2b(b"%d:" % lineno + raw, digest_size=8).hexdigest()


# ------------------------------------------------------------------ the parse
def parse_range(t, buf, start: int, end: int | None, label_for) -> int:
    """Parse the complete lines of buf[start:end] into the columns of `t` (a `Store` or a `Part`).

    One orjson parse per line, columns filled, no dict kept. Returns the offset after the last
    complete line (a final line with no newline is left for later). Bad lines go to
    `t._bad_line(lineno, raw, reason, offset)`, rows without a usable id to `t._no_id(slot,
    lineno, raw, offset)`. Written tight on purpose (locals, caches for labels and run/playbook
    names): at a million rows every attribute lookup in this loop costs a visible fraction of a
    second.
    """
    end = len(buf) if end is None else min(end, len(buf))
    start = start or data_start(buf)  # a UTF-8 BOM is not part of line 1
    loads = orjson.loads
    status_codes = FILE_STATUS
    label_index = {label: k for k, label in enumerate(t.labels) if label}
    label_cache: dict[str, int] = {}
    run_index, playbook_index, reason_index = t._run_index, t._playbook_index, t._reason_index
    offsets_append = t._offsets.append
    status_append, reason_append = t.status.append, t.reason.append
    run_append, playbook_append = t._run.append, t._playbook.append
    label_append, flags_append = t._label.append, t._flags.append
    counts, reason_counts = t._counts, t._reason_counts
    bad_line, no_id, intern = t._bad_line, t._no_id, t._intern
    lineno = t._lineno
    slot = len(t._offsets)
    pos = start
    while pos < end:
        stop = min(end, pos + CHUNK)
        chunk = buf[pos:stop]
        if chunk.rfind(b"\n") < 0:  # a line longer than a chunk, or no complete line left
            nl = buf.find(b"\n", stop, end)
            if nl < 0:
                break
            chunk = buf[pos : nl + 1]
        lines = chunk.split(b"\n")
        lines.pop()  # what follows the last newline: the next chunk's (or an incomplete line)
        for raw in lines:
            off = pos
            pos += len(raw) + 1
            lineno += 1
            try:
                obj = loads(raw)
            except ValueError as exc:
                msg = str(exc)
                bad_line(lineno, raw, "invalid UTF-8" if "utf-8" in msg.lower() else f"bad JSON ({msg})", off)
                continue
            if type(obj) is not dict:
                bad_line(lineno, raw, f"not a JSON object (a {type(obj).__name__})", off)
                continue
            get = obj.get
            completion = get("completion")
            if type(get("prompt")) is not str or type(completion) is not str:
                which = "prompt" if type(get("prompt")) is not str else "completion"
                bad_line(lineno, raw, f"missing {which} (a string is required)", off)
                continue
            st_name = get("review_status", "pending")
            st = status_codes.get(st_name) if type(st_name) is str else None
            if st is None:
                bad_line(lineno, raw, f"unknown review_status {st_name!r}", off)
                continue
            offsets_append(off)
            rs = 0
            if st == REJECTED:
                code = get("reject_reason")
                if code and type(code) is str:
                    rs = reason_index.get(code)
                    if rs is None:
                        rs = t._add_reason(code)
                        reason_counts = t._reason_counts
                reason_counts[rs] += 1
            status_append(st)
            reason_append(rs)
            counts[st] += 1
            run = get("run_id") or ""
            k = run_index.get(run) if type(run) is str else None
            run_append(k if k is not None else intern(str(run), t.runs, run_index))
            book = get("playbook") or ""
            k = playbook_index.get(book) if type(book) is str else None
            playbook_append(k if k is not None else intern(str(book), t.playbooks, playbook_index))
            if label_for is not None:
                k = label_cache.get(completion)
                if k is None:
                    label = label_for(completion)
                    k = label_cache[completion] = label_index.get(label, 0) if label else 0
                label_append(k)
            else:
                label_append(0)
            flags_append(F_NOTE if get("review_note") else 0)
            row_id = get("id")
            if not row_id or type(row_id) is not str:
                no_id(slot, lineno, raw, off)
            slot += 1
    t._lineno = lineno
    return pos


def normalizer(scoring: str | None):
    """`Project.normalize_label` without the project (the builder does not load pydantic):
    strip; casefold for exact_match. A test holds the two equal."""
    if scoring == "exact_match":
        return lambda text: text.strip().casefold()
    return str.strip


def label_function(config: dict):
    """What `Project.label_for` answers, from the config the parent passed (None: no labels)."""
    if not config["labels"] or not config["label_for"]:
        return None
    by_label, normalize = config["by_label"], normalizer(config["scoring"])
    return lambda text: by_label.get(normalize(text))


class Columns:
    """What `parse_range` fills, whoever holds the columns (a `Store`, or a builder's `Part`):
    the columns themselves, the interning of runs and playbooks, and reason codes met in the
    file but not in the project."""

    def _empty_columns(self, reasons: list[str], labels: list[str]) -> None:
        """No rows yet: the per-row columns, the run/playbook tables and the counts, empty."""
        self.reason_codes: list[str | None] = [None] + list(reasons)
        self._reason_index = {code: k for k, code in enumerate(self.reason_codes) if code}
        self.labels: list[str | None] = [None] + list(labels)
        self.runs: list[str] = []
        self._run_index: dict[str, int] = {}
        self.playbooks: list[str] = []
        self._playbook_index: dict[str, int] = {}
        self._offsets = array("Q")
        self.status = bytearray()
        self.reason = bytearray()
        self._run = array("I")
        self._playbook = array("I")
        self._label = array("H")
        self._flags = bytearray()
        self._counts = [0, 0, 0, 0]
        self._reason_counts: list[int] = [0] * len(self.reason_codes)
        self._lineno = 0
        self._malformed = 0
        self._breaks: set[int] = (
            set()
        )  # slots that follow a malformed line (not contiguous with the one before)

    def _intern(self, value: str, table: list, index: dict) -> int:
        return _intern(value, table, index)

    def _add_reason(self, code: str) -> int:
        self._reason_index[code] = len(self.reason_codes)
        self.reason_codes.append(code)
        self._reason_counts.append(0)
        return len(self.reason_codes) - 1


class Part(Columns):
    """The columns of one stretch of the file, as the builder parses them (a `Store` holds the
    same attributes). Bad lines and rows without an id are noted with their offsets, not
    quarantined: the store that loads the cache does that."""

    def __init__(self, config: dict):
        self._empty_columns(config["project_reasons"], config["labels"])
        self.bad: list[list] = []  # [lineno, reason, offset]
        self.noid: list[list] = []  # [slot, lineno, offset]

    def _bad_line(self, lineno: int, raw: bytes, reason: str, offset: int) -> None:
        self._malformed += 1
        self._breaks.add(len(self._offsets))
        self.bad.append([lineno, reason, offset])

    def _no_id(self, slot: int, lineno: int, raw: bytes, offset: int) -> None:
        self.noid.append([slot, lineno, offset])

    # --- a worker's half, sent to the builder through a pipe
    def dump(self, end: int) -> bytes:
        cols = [
            self._offsets.tobytes(),
            bytes(self.status),
            bytes(self.reason),
            self._run.tobytes(),
            self._playbook.tobytes(),
            self._label.tobytes(),
            bytes(self._flags),
        ]
        head = {
            "end": end,
            "runs": self.runs,
            "playbooks": self.playbooks,
            "reason_codes": self.reason_codes,
            "counts": self._counts,
            "reason_counts": self._reason_counts,
            "lineno": self._lineno,
            "malformed": self._malformed,
            "breaks": sorted(self._breaks),
            "bad": self.bad,
            "noid": self.noid,
            "sizes": [len(c) for c in cols],
        }
        return orjson.dumps(head) + b"\n" + b"".join(cols)

    def merge(self, data: bytes) -> int:
        """Append a later stretch (`dump` of a worker that parsed the lines right after ours)."""
        nl = data.index(b"\n")
        head = orjson.loads(data[:nl])
        body = memoryview(data)[nl + 1 :]
        cols, pos = [], 0
        for size in head["sizes"]:
            cols.append(body[pos : pos + size])
            pos += size
        if pos != len(body):
            raise ValueError("worker output has the wrong length")
        base_slot, base_line = len(self._offsets), self._lineno
        runs = [_intern(v, self.runs, self._run_index) for v in head["runs"]]
        books = [_intern(v, self.playbooks, self._playbook_index) for v in head["playbooks"]]
        remap_reason = []
        for k, code in enumerate(head["reason_codes"]):
            if code is None:
                remap_reason.append(0)
            else:
                j = self._reason_index.get(code)
                remap_reason.append(j if j is not None else self._add_reason(code))
        self._offsets.frombytes(cols[0])
        self.status += cols[1]
        table = bytes(remap_reason + list(range(len(remap_reason), 256)))
        self.reason += bytes(cols[2]).translate(table)
        self._run.extend(_remapped(cols[3], "I", runs))
        self._playbook.extend(_remapped(cols[4], "I", books))
        self._label.frombytes(cols[5])
        self._flags += cols[6]
        for k, n in enumerate(head["counts"]):
            self._counts[k] += n
        for k, n in enumerate(head["reason_counts"]):
            self._reason_counts[remap_reason[k]] += n
        self._malformed += head["malformed"]
        self._breaks.update(base_slot + s for s in head["breaks"])
        self.bad += [[line + base_line, reason, off] for line, reason, off in head["bad"]]
        self.noid += [[slot + base_slot, line + base_line, off] for slot, line, off in head["noid"]]
        self._lineno = base_line + head["lineno"]
        return head["end"]


def _intern(value: str, table: list, index: dict) -> int:
    k = index.get(value)
    if k is None:
        k = index[value] = len(table)
        table.append(value)
    return k


def _remapped(raw, kind: str, mapping: list[int]) -> array:
    """The column in `raw` with every value v replaced by mapping[v]."""
    col = array(kind)
    col.frombytes(raw)
    if mapping == list(range(len(mapping))):
        return col
    size = col.itemsize
    if len(mapping) <= 256 and max(mapping) < 256:
        # all values fit in their low byte: translate those bytes, at C speed
        low = slice(0, None, size) if sys.byteorder == "little" else slice(size - 1, None, size)
        wide = bytearray(len(raw))
        wide[low] = bytes(raw[low]).translate(bytes(mapping + [0] * (256 - len(mapping))))
        out = array(kind)
        out.frombytes(wide)
        return out
    return array(kind, map(mapping.__getitem__, col))


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
    try:  # the config on stdin (a command line has a length limit; a project's labels do not)
        proc.stdin.write(orjson.dumps(config))
        proc.stdin.close()
    except OSError:
        pass  # the child died at once: it exits non-zero, and the store parses the file itself
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
    main_part = Part(config)
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
    """The parts of buf[start:size] in file order (as `Part.dump`s): the worker's, forward from
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
        part = Part(config)
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
    part = Part(config)
    stop = parse_range(part, buf, start, end, label_for)
    return part.dump(stop)


def _reap(pid: int, kill: bool) -> int:
    if kill:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
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
            try:
                os.nice(NICE)
            except (AttributeError, OSError):
                pass
            if config.get("test_worker") == "fail":  # tests: a worker that dies without a result
                os._exit(3)
            part = Part(config)
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
def _samples(buf, offsets, seed: int | None = None) -> dict:
    """Checksums of 512 rows picked at random: a grown file must still have these exact rows."""
    import random
    import zlib

    seed = random.randrange(1 << 30) if seed is None else seed
    n = len(offsets)
    picks = sorted(random.Random(seed).sample(range(n), min(n, 512))) if n else []
    crcs = [zlib.crc32(buf[offsets[k] : buf.find(b"\n", offsets[k])]) for k in picks]
    return {"seed": seed, "crc": crcs}


def cache_path(state_dir: Path) -> Path:
    return Path(state_dir) / "index" / "columns.bin"


def _edges(buf, end: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(buf[0 : min(EDGE, end)])
    h.update(buf[max(0, end - EDGE) : end])
    return h.hexdigest()


def _digest(parts) -> str:
    digest = hashlib.sha256()  # hardware-accelerated where the CPU has SHA extensions
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:32]


def save(store) -> None:
    """Write the columns of the file part of the store (called right after a scan, before replay)."""
    st = store._stat
    if st is None or len(store) < MIN_ROWS:
        return  # small files parse faster than the cache pays for
    write(
        store,
        project_config(store.project),
        st,
        store._buf,
        store._scanned_end,
        bad=store._bad,
        assigned=store._assigned,
    )


def write(t, config: dict, st, buf, scanned_end: int, bad=None, assigned=None) -> None:
    """The cache file for columns `t` of the file `buf` (stat `st`), parsed up to `scanned_end`."""
    n = len(t._offsets)
    if assigned is None:
        assigned = {
            slot: assigned_id(line, bytes(buf[off : buf.find(b"\n", off)])) for slot, line, off in t.noid
        }
    bad = t.bad if bad is None else bad
    parts = [
        t._offsets.tobytes(),
        bytes(t.status[:n]),
        bytes(t.reason[:n]),
        t._run.tobytes(),
        t._playbook.tobytes(),
        t._label.tobytes(),
        bytes(t._flags[:n]),
    ]
    header = {
        "version": VERSION,
        "inode": st[0],
        "size": st[1],
        "mtime_ns": st[2],
        "scanned_end": scanned_end,
        "lineno": t._lineno,
        "rows": n,
        "edges": _edges(buf, scanned_end),
        "runs": t.runs,
        "playbooks": t.playbooks,
        "reason_codes": t.reason_codes[1:],
        "project_reasons": config["project_reasons"],
        "labels": config["labels"],
        "task": config["task"],
        "scoring": config["scoring"],
        "samples": _samples(buf, t._offsets),
        "assigned": {str(k): v for k, v in assigned.items()},
        "malformed": t._malformed,
        "breaks": sorted(t._breaks),
        "problems": [[line, reason, off] for line, reason, off in bad],
        "counts": t._counts,
        "reason_counts": t._reason_counts,
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


def load(store) -> bool:
    """Fill the store's columns from the cache if it still describes the file. True if it did.

    Malformed lines the cache names are put in the quarantine (a no-op for those already there):
    the builder that found them does not write there."""
    import mmap
    import random

    path = cache_path(store.state_dir)
    st = store._stat
    if st is None:
        return False
    try:
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # no copy of the whole file
        nl = mapped.find(b"\n")
        header = orjson.loads(mapped[:nl])
        body = memoryview(mapped)[nl + 1 :]
    except (OSError, ValueError):
        return False
    try:
        if header["version"] != VERSION or header["inode"] != st[0] or header["size"] > st[1]:
            return False
        if header["project_reasons"] != [r.code for r in store.project.reject_reasons]:
            return False
        if header["labels"] != store.labels[1:]:
            return False
        if header["task"] != store.project.task or header["scoring"] != store.project.scoring:
            return False  # labels are normalised by the scoring mode
        end = header["scanned_end"]
        same_file = header["size"] == st[1] and header["mtime_ns"] == st[2]
        if not same_file and header["size"] == st[1]:
            return False  # same length, touched since: edited in place
        if not same_file and _edges(store._buf, end) != header["edges"]:
            return False
        sizes = header["sizes"]
        if sum(sizes) != len(body):
            return False
        parts, pos = [], 0
        for size in sizes:
            parts.append(body[pos : pos + size])
            pos += size
        if _digest(parts) != header["digest"]:
            return False
        offsets = array("Q")
        offsets.frombytes(parts[0])
        if not same_file:
            buf = store._buf
            n = len(offsets)
            for k in random.sample(range(n), min(n, 2000)):
                off = offsets[k]
                if off and buf[off - 1 : off] != b"\n":
                    return False
            if _samples(buf, offsets, header["samples"]["seed"]) != header["samples"]:
                return False  # sampled rows changed: the prefix was edited, not only appended to
        run, playbook, label = array("I"), array("I"), array("H")
        run.frombytes(parts[3])
        playbook.frombytes(parts[4])
        label.frombytes(parts[5])
        problems = [(int(line), str(reason), int(off)) for line, reason, off in header["problems"]]
    except (KeyError, TypeError, ValueError, IndexError):
        return False
    store._offsets = offsets
    store.status = bytearray(parts[1])
    store.reason = bytearray(parts[2])
    store._run, store._playbook, store._label = run, playbook, label
    store._flags = bytearray(parts[6])
    store.runs = list(header["runs"])
    store._run_index = {v: k for k, v in enumerate(store.runs)}
    store.playbooks = list(header["playbooks"])
    store._playbook_index = {v: k for k, v in enumerate(store.playbooks)}
    store.reason_codes = [None] + list(header["reason_codes"])
    store._reason_index = {code: k for k, code in enumerate(store.reason_codes) if code}
    store._assigned = {int(k): v for k, v in header["assigned"].items()}
    store._malformed = header["malformed"]
    store._breaks = set(header["breaks"])
    store._counts = list(header["counts"])
    store._reason_counts = list(header["reason_counts"])
    store._scanned_end = end
    store._lineno = header["lineno"]
    store._bad = [list(p) for p in problems]
    from brewslm_tui.core.store.jsonl import LoadProblem

    buf = store._buf
    for line, reason, off in problems:
        store.quarantine.keep(store.synthetic_path, line, bytes(buf[off : buf.find(b"\n", off)]), reason)
        store.problems.append(LoadProblem(store.synthetic_path, line, reason))
    return True


if __name__ == "__main__":
    main()
