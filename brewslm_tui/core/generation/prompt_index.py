"""Prompt keys for duplicate detection, and their persistent index beside the project.

A prompt's key is an 8-byte hash of its normalised text (`core.text.normalize_for_dedup`): two
rows whose prompts normalise alike are the same training example. The keys of a JSONL file are
held as sorted `array('Q')` parts (a million rows: 8 MB, a lookup is a bisect per part).

Reading every prompt of a big file again (parse, NFKC, casefold, hash, sort) took seconds at a
million rows, before a job could land its first row. So the keys of each data file are kept
in a sidecar, `.brewslm/index/prompts-<name>.bin`: one JSON header line and the raw sorted
keys. The header names what the keys cover: the file's device and inode, its size and mtime
when indexed, the end of the last complete line read, checksums of that prefix (its first and
last 4 KiB and 512 sampled lines; the whole prefix when it is under 64 MiB) and of the keys,
and a fingerprint of the normalisation (keys of fixed probe texts, so a change to
`normalize_for_dedup` invalidates every index). It is trusted as is when the file has the
same inode, size and mtime; when the same inode grew (appends: a job's rows, an import), the
prefix checks must still hold and only the new tail is read, its keys kept as a second part
(merged into the first once the tail is a quarter of it). Anything else (another inode, a file
that shrank or was touched without growing, a failed check, a damaged or foreign sidecar) and
the keys are read from the file again. The sidecar is written to a temp file and renamed; it is
never the only copy of anything, so a sidecar that cannot be written (read-only filesystem,
full disk, no permission) only costs time: the keys are used from memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import random
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from brewslm_tui.core.store.jsonl import remove_stale_temps
from brewslm_tui.core.text import normalize_for_dedup

VERSION = 1
EDGE = 4096  # bytes hashed at the start and end of the covered prefix


def edges_digest(buf, end: int) -> str:
    """A hash of the covered prefix's first and last EDGE bytes (a cheap first check)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(buf[0 : min(EDGE, end)])
    h.update(buf[max(0, end - EDGE) : end])
    return h.hexdigest()


SAMPLES = 512  # lines of the covered prefix checked by CRC when it is too big to check whole
WHOLE_CHECK_BYTES = 64 << 20  # a prefix up to this size is checked whole (CRC32, ~2 GB/s)
CHUNK = 1 << 22  # bytes split into lines at a time
MERGE_FRACTION = 4  # a tail part over 1/4 of the base is merged into it
# texts whose keys fingerprint the normalisation: a change to it makes every index stale
_PROBES = (
    "Great product!!",
    "  ＦＵＬＬ　ｗｉｄｔｈ  ",
    "ﬁne ligature",
    "zero\u200bwidth",
    "Straße STRASSE",
    "tab\tand\nnewline",
    "¿Qué?",
    "not, bad",
    "$5",
    "",
)


def prompt_key(prompt: str) -> int:
    """An 8-byte hash of the normalised prompt: the identity of a row for dedup."""
    digest = hashlib.blake2b(normalize_for_dedup(prompt).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _fingerprint() -> list[int]:
    return [prompt_key(p) for p in _PROBES]


class PromptSet:
    """A compact set of prompt keys: sorted `array('Q')` parts, each looked up by bisection."""

    def __init__(self, keys: Iterable[int] = (), *, parts: Sequence[array] = ()) -> None:
        """`keys` in any order, or `parts` that are already sorted arrays (kept, not copied)."""
        sorted_keys = array("Q", sorted(set(keys)))
        self._parts = [p for p in (sorted_keys, *parts) if len(p)]
        self._unsaved: list[tuple[Path, bytes]] = []  # sidecars not written yet (persist=False)

    def __len__(self) -> int:
        """How many keys are held (a key in two parts counts twice)."""
        return sum(len(p) for p in self._parts)

    def __contains__(self, key: int) -> bool:
        for part in self._parts:
            i = bisect_left(part, key)
            if i < len(part) and part[i] == key:
                return True
        return False

    def __iter__(self) -> Iterator[int]:
        for part in self._parts:
            yield from part

    def __or__(self, other: PromptSet) -> PromptSet:
        union = PromptSet(parts=[*self._parts, *other._parts])
        union._unsaved = [*self._unsaved, *other._unsaved]
        return union

    def save_index(self) -> None:
        """Write the sidecars that `indexed_prompt_keys(..., persist=False)` held back (once the
        caller knows its work is being kept: an import that committed)."""
        for sidecar, content in self._unsaved:
            _write(sidecar, content)
        self._unsaved = []


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[tuple[os.stat_result | None, Any, int]]:
    """(stat, mapped bytes, size) of the file at `path`; size 0 and no map when it is missing
    or empty (other errors are the caller's)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below; a missing file is not an error)
    except FileNotFoundError:
        yield None, b"", 0
        return
    with f:
        st = os.fstat(f.fileno())  # of the very file that is read
        if st.st_size == 0:
            yield st, b"", 0
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield st, buf, min(len(buf), st.st_size)


def _keys_of(buf, start: int, end: int) -> tuple[list[int], int]:
    """Keys of the complete lines of buf[start:end] that are objects with a string prompt, and
    the offset after the last complete line (a final line without a newline is left out)."""
    loads, key_of = orjson.loads, prompt_key
    keys: list[int] = []
    append = keys.append
    pos = start
    while pos < end:
        stop = min(end, pos + CHUNK)
        chunk = buf[pos:stop]
        cut = chunk.rfind(b"\n")
        if cut < 0:  # a line longer than a chunk, or no complete line left
            nl = buf.find(b"\n", stop, end)
            if nl < 0:
                break
            chunk = buf[pos : nl + 1]
            cut = len(chunk) - 1
        lines = chunk[:cut].split(b"\n")
        pos += cut + 1
        for raw in lines:
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError:
                continue
            if type(obj) is dict:
                prompt = obj.get("prompt")
                if type(prompt) is str:
                    append(key_of(prompt))
    return keys, pos


def index_path(state_dir: Path, name: str) -> Path:
    return Path(state_dir) / "index" / f"prompts-{name}.bin"


def indexed_prompt_keys(path: Path, state_dir: Path, name: str, *, persist: bool = True) -> PromptSet:
    """The prompt keys of the JSONL file `path` (every complete row that parses with a string
    prompt; malformed lines are the store's to report), from the
    sidecar `prompts-<name>.bin` under `state_dir/index` where it still describes the file,
    reading only what it does not cover; the sidecar is brought up to date when it can be
    (and `persist`: a dry run reads it but writes nothing)."""
    with _mapped(path) as (st, buf, size):
        if st is None or size == 0:
            return PromptSet()
        sidecar = index_path(state_dir, name)
        found = _load(sidecar, st, buf, size)
        base, tail, covered, unchanged = found or (array("Q"), array("Q"), 0, False)
        new_keys, end = _keys_of(buf, covered, size)
        if unchanged and end == covered:
            return PromptSet(parts=[base, tail])  # nothing new: the sidecar stays as it is
        if new_keys:
            tail = array("Q", sorted(set(new_keys).union(tail)))
        if not base:
            base, tail = tail, array("Q")
        elif len(tail) * MERGE_FRACTION > len(base):
            base, tail = array("Q", sorted(set(base).union(tail))), array("Q")
        keys = PromptSet(parts=[base, tail])
        content = _sidecar(st, buf, end, base, tail)
        if persist:
            _write(sidecar, content)
        else:
            keys._unsaved.append((sidecar, content))
        return keys


def _prefix_checks(buf, end: int, seed: int) -> dict:
    """What must still hold of buf[:end] for the keys read from it to be the file's."""
    checks: dict = {"edges": edges_digest(buf, end), "seed": seed}
    if end <= WHOLE_CHECK_BYTES:
        checks["crc"] = _crc(buf, 0, end)
        return checks
    rng = random.Random(seed)
    samples = []
    for _ in range(SAMPLES):
        start = buf.rfind(b"\n", 0, rng.randrange(end)) + 1  # the line around a random offset
        stop = buf.find(b"\n", start, end)
        samples.append([start, stop, _crc(buf, start, stop)])
    checks["samples"] = samples
    return checks


def _prefix_holds(buf, end: int, checks: dict) -> bool:
    if end > len(buf) or (end and buf[end - 1 : end] != b"\n"):
        return False
    if checks.get("edges") != edges_digest(buf, end):
        return False
    if "crc" in checks:
        return bool(checks["crc"] == _crc(buf, 0, end))
    return all(_crc(buf, a, b) == crc for a, b, crc in checks["samples"])


def _crc(buf, start: int, end: int) -> int:
    """CRC32 of buf[start:end] read in place (slicing a 45 MB map copies it: 4x the time)."""
    with memoryview(buf) as view, view[start:end] as part:
        return zlib.crc32(part)


def _load(sidecar: Path, st: os.stat_result, buf, size: int) -> tuple[array, array, int, bool] | None:
    """(base keys, tail keys, bytes covered, file unchanged since) from the sidecar if it
    describes a prefix of the file `buf` (stat `st`); None when it is missing, damaged, or of
    another file or version."""
    try:
        with open(sidecar, "rb") as f:
            header = orjson.loads(f.readline())
            body = f.read()
    except (OSError, ValueError):
        return None
    try:
        covered = header["covered"]
        if header["version"] != VERSION or header["fingerprint"] != _fingerprint():
            return None
        n_base, n_tail = header["keys"]
        numbers = (covered, header["size"], header["mtime_ns"], n_base, n_tail)
        if not all(type(v) is int and v >= 0 for v in numbers) or type(header["checks"]) is not dict:
            return None  # (a sidecar written by this code never fails this)
        if [header["dev"], header["inode"]] != [st.st_dev, st.st_ino] or not 0 <= covered <= size:
            return None
        unchanged = header["size"] == st.st_size and header["mtime_ns"] == st.st_mtime_ns
        if not unchanged:
            if st.st_size <= header["size"]:
                return None  # shrank, or touched without growing: not an append
            if not _prefix_holds(buf, covered, header["checks"]):
                return None
        if len(body) != 8 * (n_base + n_tail) or zlib.crc32(body) != header["keys_crc"]:
            return None
        base, tail = array("Q"), array("Q")
        base.frombytes(body[: 8 * n_base])
        tail.frombytes(body[8 * n_base :])
    except (KeyError, TypeError, ValueError):
        return None
    return base, tail, covered, unchanged


def _sidecar(st: os.stat_result, buf, covered: int, base: array, tail: array) -> bytes:
    """The sidecar's bytes: its header (what the keys cover and how to check it), then the keys."""
    body = base.tobytes() + tail.tobytes()
    header = {
        "version": VERSION,
        "fingerprint": _fingerprint(),
        "dev": st.st_dev,
        "inode": st.st_ino,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "covered": covered,
        "checks": _prefix_checks(buf, covered, random.randrange(1 << 30)),
        "keys": [len(base), len(tail)],
        "keys_crc": zlib.crc32(body),
    }
    return orjson.dumps(header) + b"\n" + body


def _write(sidecar: Path, content: bytes) -> None:
    """Write the sidecar (temp file, then rename); any failure leaves the keys in memory only."""
    folder = sidecar.parent
    tmp = folder / f".{sidecar.name}.{os.getpid()}.tmp"
    try:
        if folder.is_symlink() or folder.parent.is_symlink():
            return  # an index folder that points elsewhere is not written through
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps([folder])
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, sidecar)
    except OSError:  # an index we cannot write only costs time
        with contextlib.suppress(OSError):
            os.unlink(tmp)
