"""A sidecar cache of the store's per-row columns, so a second open of a big file is instant.

`.brewslm/index/columns.bin` holds one JSON header line and the raw bytes of the columns the
load pass computed from `synthetic.jsonl` (offsets, status, reason, run, playbook, label,
flags). It describes the file only, never the journal. It is trusted when the file is the
same (inode, size, mtime), or when the same inode only grew (appends) and the cached prefix
still has the same bytes at its ends and newlines where the cached offsets say; then only the
new tail is parsed. Anything else, or any doubt (checksum, lengths, project labels/reasons
changed), and the cache is ignored and rebuilt. It is never the only copy of anything.
"""

from __future__ import annotations

import hashlib
import os
import random
from array import array
from pathlib import Path

import orjson

VERSION = 3
EDGE = 4096  # bytes hashed at the start and end of the cached prefix
COLUMNS = (("offsets", "Q"), ("run", "I"), ("playbook", "I"), ("label", "H"))
BYTE_COLUMNS = ("status", "reason", "flags")


def start_builder(project):
    """Build the cache in a child process (the other core), so the first screen need not wait."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "brewslm_tui.core.column_cache", str(project.root)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _samples(buf, offsets, seed: int | None = None) -> dict:
    """Checksums of 512 rows picked at random: a grown file must still have these exact rows."""
    import zlib

    seed = random.randrange(1 << 30) if seed is None else seed
    n = len(offsets)
    picks = sorted(random.Random(seed).sample(range(n), min(n, 512))) if n else []
    crcs = [zlib.crc32(buf[offsets[k]:buf.find(b"\n", offsets[k])]) for k in picks]
    return {"seed": seed, "crc": crcs}


def cache_path(state_dir: Path) -> Path:
    return state_dir / "index" / "columns.bin"


def _edges(buf, end: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(buf[0:min(EDGE, end)])
    h.update(buf[max(0, end - EDGE):end])
    return h.hexdigest()


def save(store) -> None:
    """Write the columns of the file part of the store (called right after a scan, before replay)."""
    st = store._stat
    if st is None or len(store) < 20000:
        return  # small files parse faster than the cache pays for
    n = len(store)
    parts = [
        store._offsets.tobytes(), bytes(store.status[:n]), bytes(store.reason[:n]), store._run.tobytes(),
        store._playbook.tobytes(), store._label.tobytes(), bytes(store._flags[:n]),
    ]
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
    header = {
        "version": VERSION, "inode": st[0], "size": st[1], "mtime_ns": st[2], "scanned_end": store._scanned_end,
        "lineno": store._lineno, "rows": n, "edges": _edges(store._buf, store._scanned_end),
        "runs": store.runs, "playbooks": store.playbooks, "reason_codes": store.reason_codes[1:],
        "project_reasons": [r.code for r in store.project.reject_reasons], "labels": store.labels[1:],
        "task": store.project.task, "scoring": store.project.scoring, "samples": _samples(store._buf, store._offsets),
        "assigned": {str(k): v for k, v in store._assigned.items()}, "malformed": store._malformed, "breaks": sorted(store._breaks),
        "problems": [[p.line, p.reason] for p in store.problems if p.path == store.synthetic_path],
        "counts": store._counts, "reason_counts": store._reason_counts, "digest": digest.hexdigest(),
        "sizes": [len(p) for p in parts],
    }
    path = cache_path(store.state_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(header) + b"\n")
            for part in parts:
                f.write(part)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache we cannot write only costs time


def load(store) -> bool:
    """Fill the store's columns from the cache if it still describes the file. True if it did."""
    path = cache_path(store.state_dir)
    st = store._stat
    if st is None:
        return False
    try:
        with open(path, "rb") as f:
            header = orjson.loads(f.readline())
            body = f.read()
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
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        if digest != header["digest"]:
            return False
        parts, pos = [], 0
        for size in sizes:
            parts.append(body[pos:pos + size])
            pos += size
        offsets = array("Q")
        offsets.frombytes(parts[0])
        if not same_file:
            buf = store._buf
            n = len(offsets)
            for k in random.sample(range(n), min(n, 2000)):
                off = offsets[k]
                if off and buf[off - 1:off] != b"\n":
                    return False
            if _samples(buf, offsets, header["samples"]["seed"]) != header["samples"]:
                return False  # sampled rows changed: the prefix was edited, not only appended to
        run, playbook, label = array("I"), array("I"), array("H")
        run.frombytes(parts[3])
        playbook.frombytes(parts[4])
        label.frombytes(parts[5])
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
    from brewslm_tui.core.jsonl import LoadProblem

    store.problems.extend(LoadProblem(store.synthetic_path, line, reason) for line, reason in header["problems"])
    return True


if __name__ == "__main__":  # the builder: a read-only open parses the file and saves the cache
    import sys

    from brewslm_tui.core.project import load_project
    from brewslm_tui.core.store import Store

    Store.open(load_project(sys.argv[1]), readonly=True).close()
