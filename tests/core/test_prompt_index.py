"""The persistent prompt-key index: always the answer of a plain scan of the file, however the
file changed since it was indexed (appends, edits, another file in its place, a damaged index),
and usable where it cannot be written."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.generation import prompt_index
from brewslm_tui.core.generation.prompt_index import (
    PromptSet,
    index_path,
    indexed_prompt_keys,
    prompt_key,
)
from brewslm_tui.core.generation.validate import Validator
from brewslm_tui.core.project import load_project
from brewslm_tui.core.text import normalize_for_dedup

# prompts that normalise alike in pairs (NFKC, case, whitespace, format characters, edge punctuation)
TRICKY = [
    "Great product!!",
    "great product",
    "  GREAT\tproduct ",
    "ＧＲＥＡＴ　ｐｒｏｄｕｃｔ",  # full-width letters and ideographic space
    "ﬁne print",  # ligature
    "fine print",
    "Stra\u00dfe",
    "STRASSE",
    "zero\u200bwidth",
    "zerowidth",
    "line\none\r\ntwo",
    "line one two",
    "not, bad",
    "not bad",
    "$5",
    "5",
    "e\u0301",  # combining acute
    "\u00e9",
    "İstanbul",
    "i\u0307stanbul",
    "\u00a0nbsp\u00a0",
    "nbsp",
    "…ellipsis…",
    "ellipsis",
    "",
    "   ",
    "😀 emoji",
    "😀  EMOJI",
]


def reference_keys(path: Path) -> set[int]:
    """The plain scan, written out independently: every complete line, parsed on its own, its
    prompt normalised and hashed."""
    keys: set[int] = set()
    if not path.exists():
        return keys
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("prompt"), str):
                text = normalize_for_dedup(obj["prompt"])
                keys.add(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))
    return keys


def random_prompt(rng: random.Random) -> str:
    pieces = [
        rng.choice(TRICKY),
        "".join(rng.choice("abcXYZ  \t!?.,ßﬁ\u200bＡ") for _ in range(rng.randrange(0, 12))),
        str(rng.randrange(1000)),
    ]
    rng.shuffle(pieces)
    return " ".join(pieces)


def lines_of(rng: random.Random, n: int) -> bytes:
    """n lines: mostly rows, some malformed, not objects, without a string prompt, or blank."""
    out = []
    for k in range(n):
        roll = rng.random()
        if roll < 0.04:
            out.append(b'{"prompt": "broken')
        elif roll < 0.06:
            out.append(b'["a list"]')
        elif roll < 0.08:
            out.append(orjson.dumps({"prompt": k, "completion": "x"}))
        elif roll < 0.09:
            out.append(b"")
        else:
            out.append(orjson.dumps({"id": f"r{k}", "prompt": random_prompt(rng), "completion": "positive"}))
    return b"".join(line + b"\n" for line in out)


def header(state: Path, name: str = "synthetic") -> dict:
    with open(index_path(state, name), "rb") as f:
        return orjson.loads(f.readline())


def check(path: Path, state: Path, name: str = "synthetic", **kw) -> PromptSet:
    """The index's answer, asserted equal to the plain scan's (as a set and by lookup)."""
    found = indexed_prompt_keys(path, state, name, **kw)
    expected = reference_keys(path)
    assert set(found) == expected
    probes = [prompt_key(p) for p in TRICKY] + list(expected)[:50]
    assert [k in found for k in probes] == [k in expected for k in probes]
    return found


@pytest.fixture
def files(tmp_path):
    data, state = tmp_path / "data.jsonl", tmp_path / ".brewslm"
    return data, state


@pytest.mark.parametrize("seed", range(4))
def test_index_equals_the_plain_scan_on_random_and_tricky_rows(files, seed):
    data, state = files
    rng = random.Random(seed)
    rows = [{"prompt": p, "completion": "x"} for p in TRICKY]
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows) + lines_of(rng, 400))
    check(data, state)  # built
    assert index_path(state, "synthetic").exists()
    check(data, state)  # read back from the sidecar


def test_tricky_variants_collide_exactly_as_the_normalisation_says():
    for a in TRICKY:
        for b in TRICKY:
            assert (prompt_key(a) == prompt_key(b)) == (normalize_for_dedup(a) == normalize_for_dedup(b))
    assert prompt_key("Great product!!") == prompt_key("ＧＲＥＡＴ　ｐｒｏｄｕｃｔ")
    assert prompt_key("not, bad") != prompt_key("not bad")
    assert unicodedata.normalize("NFKC", "ﬁ") == "fi"


def test_appended_rows_extend_the_index_without_a_rebuild(files):
    data, state = files
    rng = random.Random(7)
    data.write_bytes(lines_of(rng, 300))
    check(data, state)
    first = header(state)
    assert first["keys"][1] == 0  # one part
    with open(data, "ab") as f:
        f.write(lines_of(rng, 20))
    check(data, state)
    grown = header(state)
    assert grown["covered"] > first["covered"]
    assert grown["keys"][0] == first["keys"][0] and grown["keys"][1] > 0  # the tail kept apart
    with open(data, "ab") as f:
        f.write(lines_of(rng, 200))  # the tail outgrows a quarter of the base: merged
    check(data, state)
    assert header(state)["keys"][1] == 0


def test_a_torn_last_line_is_read_once_it_is_complete(files):
    data, state = files
    data.write_bytes(lines_of(random.Random(1), 50) + b'{"prompt": "half a ro')
    check(data, state)
    with open(data, "ab") as f:
        f.write(b'w", "completion": "x"}\n')
    found = check(data, state)
    assert prompt_key("half a row") in found


@pytest.mark.parametrize("whole", [True, False], ids=["whole-checksum", "sampled"])
def test_an_edit_before_the_tail_rebuilds(files, monkeypatch, whole):
    data, state = files
    if not whole:
        monkeypatch.setattr(prompt_index, "WHOLE_CHECK_BYTES", 0)  # a big file's checks
    rng = random.Random(3)
    data.write_bytes(lines_of(rng, 300))
    check(data, state)
    text = data.read_bytes()
    cut = text.index(b"\n", len(text) // 2) + 1
    edited = text[:cut] + orjson.dumps({"prompt": "inserted in the middle"}) + b"\n" + text[cut:]
    with open(data, "r+b") as f:  # in place: same inode, then grown
        f.write(edited)
    with open(data, "ab") as f:
        f.write(lines_of(rng, 5))
    assert prompt_key("inserted in the middle") in check(data, state)


def test_a_same_size_edit_in_place_rebuilds(files):
    data, state = files
    data.write_bytes(orjson.dumps({"prompt": "aaaa"}) + b"\n" + lines_of(random.Random(4), 50))
    check(data, state)
    text = data.read_bytes()
    with open(data, "r+b") as f:
        f.write(text.replace(b'"aaaa"', b'"bbbb"', 1))
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # even within one tick
    found = check(data, state)
    assert prompt_key("bbbb") in found and prompt_key("aaaa") not in found


def test_another_file_in_its_place_or_a_shorter_one_rebuilds(files):
    data, state = files
    rng = random.Random(5)
    data.write_bytes(lines_of(rng, 200))
    check(data, state)
    other = data.with_name("other.jsonl")
    other.write_bytes(lines_of(rng, 250))
    os.replace(other, data)  # as compaction does: a new inode
    check(data, state)
    data.write_bytes(lines_of(rng, 10))  # truncated and rewritten
    check(data, state)
    data.write_bytes(b"")
    assert set(indexed_prompt_keys(data, state, "synthetic")) == set()
    data.unlink()
    assert set(indexed_prompt_keys(data, state, "synthetic")) == set()


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "garbage",
        "flipped key",
        "header only",
        "foreign fingerprint",
        "other version",
        "covered not a number",
        "checks not an object",
        "negative key count",
    ],
)
def test_a_damaged_or_foreign_index_is_ignored_and_rebuilt(files, damage):
    data, state = files
    data.write_bytes(lines_of(random.Random(6), 200))
    check(data, state)
    sidecar = index_path(state, "synthetic")
    raw = bytearray(sidecar.read_bytes())
    nl = raw.index(b"\n")
    head = orjson.loads(raw[:nl])
    if damage == "truncated":
        raw = raw[: len(raw) - 5]
    elif damage == "garbage":
        raw = bytearray(b"\x00\xff not json\n" + bytes(raw))
    elif damage == "flipped key":
        raw[nl + 9] ^= 0x40
    elif damage == "header only":
        raw = raw[: nl + 1]
    else:
        if damage == "foreign fingerprint":
            head["fingerprint"] = [0] * len(head["fingerprint"])
        elif damage == "other version":
            head["version"] = 999
        elif damage == "covered not a number":
            head["covered"] = head["covered"] - 0.5
        elif damage == "checks not an object":
            head["checks"], head["size"] = [], head["size"] - 1  # (so that the checks are read)
        else:
            head["keys"] = [-1, head["keys"][0] + 1]
        raw = bytearray(orjson.dumps(head) + raw[nl:])
    sidecar.write_bytes(bytes(raw))
    # the damaged sidecar names the same file, unchanged: only its own checks can catch it
    check(data, state)
    assert header(state)["version"] == prompt_index.VERSION


def test_it_works_where_the_index_cannot_be_written(files):
    data, state = files
    data.write_bytes(lines_of(random.Random(8), 100))
    state.mkdir()
    (state / "index").write_text("a file where the folder should be\n")
    check(data, state)
    assert (state / "index").read_text() == "a file where the folder should be\n"


def test_an_index_folder_that_is_a_symlink_is_not_written_through(files, tmp_path):
    data, state = files
    data.write_bytes(lines_of(random.Random(9), 100))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state.mkdir()
    (state / "index").symlink_to(elsewhere)
    check(data, state)
    assert list(elsewhere.iterdir()) == []


def test_a_dry_run_reads_the_index_but_writes_nothing(files):
    data, state = files
    data.write_bytes(lines_of(random.Random(10), 100))
    check(data, state, persist=False)
    assert not state.exists()


def test_on_a_read_only_filesystem(files, tmp_path):
    """A real read-only mount where the machine allows one (root in a container may not)."""
    data, _ = files
    mnt = tmp_path / "ro"
    mnt.mkdir()
    data.write_bytes(lines_of(random.Random(11), 100))
    (mnt / "data.jsonl").write_bytes(data.read_bytes())
    mounted = subprocess.run(["mount", "--bind", str(mnt), str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("no bind mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], capture_output=True).returncode:
            pytest.skip("no read-only remount here")
        check(mnt / "data.jsonl", mnt / ".brewslm")
        assert not (mnt / ".brewslm").exists()
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_writer_killed_mid_write_leaves_a_correct_index(files):
    """A real process, SIGKILLed while it writes the sidecar: the next reader is right and
    removes the dead writer's temp file."""
    data, state = files
    data.write_bytes(lines_of(random.Random(12), 3000))
    code = (
        "import os, sys, signal\n"
        "from pathlib import Path\n"
        "from brewslm_tui.core.generation import prompt_index as pi\n"
        "real = os.replace\n"
        "def die(*a):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "pi.os.replace = die\n"
        "pi.indexed_prompt_keys(Path(sys.argv[1]), Path(sys.argv[2]), 'synthetic')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(data), str(state)], timeout=120)
    assert proc.returncode == -9
    temps = list((state / "index").glob(".prompts-synthetic.bin.*.tmp"))
    assert temps and not index_path(state, "synthetic").exists()
    check(data, state)
    assert not any(t.exists() for t in temps)


def test_the_validator_sees_imported_synthetic_and_dropped_prompts_through_the_index(sample_copy):
    root = sample_copy("sentiment")
    project = load_project(root)
    rng = random.Random(13)
    project.synthetic_path.write_bytes(project.synthetic_path.read_bytes() + lines_of(rng, 100))
    with open(project.dropped_path, "ab") as f:
        f.write(orjson.dumps({"id": "d1", "prompt": "A DROPPED prompt.", "completion": "positive"}) + b"\n")
    imported = next(orjson.loads(line) for line in project.imported_path.read_bytes().splitlines())
    synthetic = [orjson.loads(line) for line in project.synthetic_path.read_bytes().splitlines()[:3]]
    for _ in range(2):  # built, then read back
        validator = Validator.for_project(project)
        assert validator.duplicate_cause(imported["prompt"].upper() + "!") == "duplicate_imported"
        assert validator.duplicate_cause(" a dropped PROMPT ") == "duplicate_synthetic"
        for row in synthetic:
            assert validator.duplicate_cause(row["prompt"]) == "duplicate_synthetic"
        assert validator.duplicate_cause("a prompt nobody has written yet 1234") is None
        expected = reference_keys(project.synthetic_path) | reference_keys(project.dropped_path)
        assert set(validator.synthetic) == expected
        assert set(validator.imported) == reference_keys(project.imported_path)
    names = sorted(p.name for p in (project.state_dir / "index").glob("prompts-*.bin"))
    assert names == ["prompts-dropped.bin", "prompts-imported.bin", "prompts-synthetic.bin"]
    shutil.rmtree(project.state_dir / "index")


def test_an_import_writes_the_index_only_once_it_has_committed(tiny_project, tmp_path):
    from brewslm_tui.core.importing import ImportOptions, run_import

    project = tiny_project
    src = tmp_path / "more.jsonl"
    src.write_text('{"prompt": "Classify: Brand NEW!", "completion": "positive"}\n')
    options = ImportOptions.from_args([], None, None)
    run_import(project, [src], options, dry_run=True)
    assert not (project.state_dir / "index").exists()  # a dry run writes nothing
    result = run_import(project, [src], options)
    assert result.accepted == 1
    assert index_path(project.state_dir, "imported").exists()
    again = tmp_path / "again.jsonl"
    again.write_text('{"prompt": "classify: brand new", "completion": "negative"}\n')
    second = run_import(project, [again], options)  # the index, grown by the first import's rows
    assert second.accepted == 0 and [r.cause for r in second.rejects] == ["duplicate_imported"]
    assert set(Validator.for_project(project).imported) == reference_keys(project.imported_path)
