"""The background cache builder gives exactly the columns a cold parse gives, on tricky lines.

The builder runs in a child process without the project (the parent passes what it needs) and
splits a big file between two processes whose halves are merged; every one of those steps must
be invisible: the same columns, the same problems at the same file:line, the same quarantine,
the same assigned ids, and a killed builder never leaves a cache that is trusted.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brewslm_tui.core.project import load_project
from brewslm_tui.core.rows import STATUS_CODES
from brewslm_tui.core.store import columns as columns_module
from brewslm_tui.core.store.store import Store, column_cache
from tests.conftest import PROJECT_TOML
from tests.helpers import column_state

TRICKY = [
    b'{"id":"b1","prompt":"x",',  # bad JSON
    b'{"id":"b2","prompt":"caf\xe9","completion":"positive"}',  # invalid UTF-8
    b'["not", "an", "object"]',
    b'"a string"',
    b'{"id":"b4","completion":"positive"}',
    b'{"id":"b5","prompt":"p"}',
    b'{"id":"b6","prompt":"p","completion":"positive","review_status":"maybe"}',
    b'{"id":"b7","prompt":"p","completion":"positive","review_status":"dropped"}',
    b'{"id":"b8","prompt":"p","completion":"positive","review_status":["pending"]}',
    b'{"id":"b9","prompt":"p","completion":"positive","review_status":null}',
    b'{"id":"c1","prompt":"p","completion":" Positive ","review_status":"pending"}',
    b'{"id":"c2","prompt":"p","completion":"NEGATIVE","review_status":"approved","run_id":5}',
    b'{"id":"c3","prompt":"p","completion":"neutral","run_id":"5","playbook":["a"]}',
    b'{"id":"c4","prompt":"p","completion":"mixed","run_id":true,"playbook":{"x":1}}',
    b'{"id":"c5","prompt":"p","completion":"pos\\u0069tive","review_status":"rejected","reject_reason":"brand_new"}',
    b'{"id":"c6","prompt":"p","completion":"x","review_status":"rejected","reject_reason":7}',
    b'{"id":"c7","prompt":"p","completion":"x","review_status":"rejected","reject_reason":""}',
    b'{"id":"c8","prompt":"p","completion":"x","review_status":"rejected","reject_reason":"minor_typo","review_note":[1]}',
    b'{"id":"c9","prompt":"p","completion":"x","review_status":"pending","review_status":"rejected","reject_reason":"off_task"}',
    b'{"id":"d1","prompt":"p","completion":"x","run_id":"r-a","run_id":"r-b","playbook":"","review_note":""}',
    b'{"id":"d2","prompt":"p","completion":"x","id":"d2-last"}',
    b'{"i\\u0064":"d3","prompt":"p","completion":"x","id":"d3-last"}',
    b'{"prompt":"p","completion":"positive","run_id":"no-id"}',
    b'{"id":"","prompt":"p","completion":"positive"}',
    b'{"id":12,"prompt":"p","completion":"positive"}',
    b'{"id":"esc\\"aped","prompt":"tab\\there \\ud83d\\ude00","completion":"positive","run_id":"r\\u00e9"}',
    b'{ "id" : "spaced" , "prompt" : "p" , "completion" : "neutral" }',
    b'{"id":"big","prompt":"p","completion":"positive","n":123456789012345678901234567890}',
    b'{"id":"nan","prompt":"p","completion":"positive","n":NaN}',
    b"",
    b"   ",
    b'{"id":"e1","prompt":"p","completion":"\xc4\xb0","review_status":"rejected","reject_reason":"another_new"}',
]


def _rows(n: int, rng: random.Random) -> list[bytes]:
    labels = ["positive", "negative", "neutral", "mixed", "Positive", "unknown"]
    out = []
    for k in range(n):
        row = {
            "id": f"r{k:06d}",
            "prompt": f"review {k}",
            "completion": rng.choice(labels),
            "review_status": rng.choice(["pending", "approved", "rejected"]),
            "run_id": f"run-{rng.randrange(12)}",
            "playbook": f"pb-{rng.randrange(3)}",
        }
        if row["review_status"] == "rejected":
            row["reject_reason"] = rng.choice(["minor_typo", "off_task", "label_ambiguous", f"late_{k % 5}"])
        if k % 13 == 0:
            row["review_note"] = "note"
        out.append(orjson.dumps(row))
    return out


def _write(project, n=3000, seed=0, tail=b"") -> list[bytes]:
    rng = random.Random(seed)
    lines = _rows(n, rng)
    for odd in TRICKY:  # each kind somewhere in the file, some several times
        for _ in range(rng.randrange(1, 3)):
            lines.insert(rng.randrange(len(lines) + 1), odd)
    project.synthetic_path.write_bytes(b"\n".join(lines) + b"\n" + tail)
    return lines


def columns(store):
    """The shared column state, and what a cold parse also fixes: ids, line numbers, problems."""
    return (
        *column_state(store),
        store.reason_codes,
        store.ids.assigned,
        store.ids.override,
        sorted(store.cols.breaks),
        store.cols.malformed,
        store.cols.lineno,
        store.scanned_bytes,
        [str(p) for p in store.problems],
    )


def cold_parse(project, monkeypatch):
    """The reference: one in-process pass, no cache read or written."""
    with monkeypatch.context() as m:
        m.setattr(column_cache, "load", lambda *args: None)
        m.setattr(column_cache, "write", lambda *args: None)
        return Store.open(project, readonly=True)


def quarantine(project):
    qdir = project.state_dir / "quarantine"
    return sorted((p.name, p.read_bytes()) for p in qdir.glob("*.raw")) if qdir.exists() else []


@pytest.mark.parametrize("split", [True, False])
def test_background_build_equals_a_cold_parse(tiny_project, monkeypatch, split):
    _write(tiny_project, tail=b'{"id":"torn","prompt":"no newline yet"')
    reference = cold_parse(tiny_project, monkeypatch)
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 16 << 10)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 8 << 10)
    monkeypatch.setattr(column_cache, "SPLIT_BYTES", 32 << 10 if split else 1 << 40)
    monkeypatch.setattr(column_cache, "MIN_ROWS", 0)
    store = Store.open(tiny_project, readonly=True, background=True)
    assert not store.loaded and 0 < len(store) < len(reference)
    store.finish_loading()
    assert column_cache.cache_path(tiny_project.state_dir).exists()
    assert store.loaded and columns(store) == columns(reference)
    # and the next open, from the cache alone, too
    again = Store.open(tiny_project, readonly=True, background=True)
    assert again.loaded and columns(again) == columns(reference)


def test_halves_merged_at_every_line_boundary_equal_one_pass(tiny_project):
    lines = _write(tiny_project, n=60, seed=1)
    config = column_cache.project_config(tiny_project)
    label_for = column_cache.label_function(config)
    buf = tiny_project.synthetic_path.read_bytes()
    whole = column_cache.new_columns(config)
    end = column_cache.parse_range(whole, buf, 0, None, label_for)
    cut = 0
    for line in lines:
        cut += len(line) + 1
        first, second = column_cache.new_columns(config), column_cache.new_columns(config)
        assert column_cache.parse_range(first, buf, 0, cut, label_for) == cut
        second_end = column_cache.parse_range(second, buf, cut, None, label_for)
        assert first.merge(second.dump(second_end)) == end
        for name in (
            "offsets",
            "status",
            "reason",
            "run",
            "playbook",
            "label",
            "flags",
            "runs",
            "playbooks",
            "reason_codes",
            "counts",
            "reason_counts",
            "lineno",
            "malformed",
            "breaks",
            "bad",
            "noid",
            "dupid",
        ):
            assert getattr(first, name) == getattr(whole, name), (cut, name)


def test_malformed_lines_the_builder_found_are_quarantined(tiny_project, monkeypatch):
    """Lines past the part parsed at open are found by the builder, which does not write the
    quarantine; the store that loads its cache copies them there, byte for byte."""
    _write(tiny_project, n=3000, seed=2)
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 16 << 10)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 8 << 10)
    monkeypatch.setattr(column_cache, "SPLIT_BYTES", 32 << 10)
    monkeypatch.setattr(column_cache, "MIN_ROWS", 0)
    with Store.open(tiny_project, background=True) as store:
        store.finish_loading()
        problems = [str(p) for p in store.problems]
    found = quarantine(tiny_project)
    # the same files a cold writable open leaves
    for path in (tiny_project.state_dir / "quarantine").iterdir():
        path.unlink()
    monkeypatch.setattr(column_cache, "load", lambda *args: None)
    with Store.open(tiny_project) as cold:
        assert [str(p) for p in cold.problems] == problems
    assert found == quarantine(tiny_project) and len(found) >= 10


def test_a_killed_builder_leaves_no_trusted_cache(tiny_project, monkeypatch):
    _write(tiny_project, n=20000, seed=3)
    reference = cold_parse(tiny_project, monkeypatch)
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 16 << 10)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 8 << 10)
    monkeypatch.setattr(column_cache, "SPLIT_BYTES", 64 << 10)
    for delay in (0.0, 0.02, 0.05):
        cache = column_cache.cache_path(tiny_project.state_dir)
        if cache.exists():
            cache.unlink()
        store = Store.open(tiny_project, readonly=True, background=True)
        import time

        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(store._builder.pid, signal.SIGKILL)
        store.finish_loading()
        assert columns(store) == columns(reference)
    # a cache cut short (a crash of the machine after the rename) is not trusted either
    path = column_cache.cache_path(tiny_project.state_dir)
    if not path.exists():
        column_cache.save(reference) if len(reference) >= column_cache.MIN_ROWS else None
        Store.open(tiny_project, readonly=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    assert columns(Store.open(tiny_project, readonly=True)) == columns(reference)


_PROJECTS: dict = {}


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12), scoring=st.sampled_from(["exact_match", "f1"]))
def test_the_builders_label_rule_is_the_projects(tmp_path_factory, text, scoring):
    if scoring not in _PROJECTS:
        root = tmp_path_factory.mktemp("labels")
        (root / "brewslm.toml").write_text(
            PROJECT_TOML.replace('scoring = "exact_match"', f'scoring = "{scoring}"').replace(
                'labels = ["positive", "negative", "neutral", "mixed"]',
                'labels = ["positive", "Negative", "MiXed", "İx", "ß"]',
            )
        )
        project = load_project(root)
        config = orjson.loads(orjson.dumps(column_cache.project_config(project)))  # as the child gets it
        _PROJECTS[scoring] = project, column_cache.label_function(config)
    project, label_for = _PROJECTS[scoring]
    for candidate in (
        text,
        text.upper(),
        " " + text + "\t",
        "NEGATIVE",
        "negative ",
        "mixed",
        "i̇x",
        "İX",
        "SS",
        "ss",
    ):
        assert label_for(candidate) == project.label_for(candidate)


def test_status_names_match_the_row_model():
    assert {k: v for k, v in STATUS_CODES.items() if k != "dropped"} == columns_module.FILE_STATUS


def test_when_the_worker_dies_the_builder_parses_its_half(tiny_project, monkeypatch):
    _write(tiny_project, n=4000, seed=4)
    reference = cold_parse(tiny_project, monkeypatch)
    config = column_cache.project_config(tiny_project)
    config.update(split_bytes=16 << 10, test_worker="fail")
    monkeypatch.setattr(column_cache, "CHUNK", 8 << 10)  # many steps: the worker's death is seen midway
    column_cache.build(config)
    assert columns(Store.open(tiny_project, readonly=True)) == columns(reference)


def test_temp_files_of_killed_writers_are_removed_by_the_next_write(tiny_project, monkeypatch):
    _write(tiny_project, n=200, seed=5)
    monkeypatch.setattr(column_cache, "MIN_ROWS", 0)
    index = column_cache.cache_path(tiny_project.state_dir).parent
    index.mkdir(parents=True)
    dead = index / ".columns.bin.999999999.tmp"  # no such process
    dead.write_bytes(b"x" * 100)
    mine = index / f".columns.bin.{os.getppid()}.tmp"  # a live process: maybe writing right now
    mine.write_bytes(b"y")
    Store.open(tiny_project, readonly=True)
    assert column_cache.cache_path(tiny_project.state_dir).exists()
    assert not dead.exists() and mine.exists()


def _reference_columns(buf: bytes, config: dict) -> dict:
    """What every row's columns must be, computed the plain way: one line, one parse."""
    reasons = [None, *list(config["project_reasons"])]
    labels = [None, *list(config["labels"])]
    runs, books = [], []
    out = {k: [] for k in ("offsets", "status", "reason", "run", "playbook", "label", "flags")}
    bad, noid, breaks = [], [], set()
    pos = 0
    for lineno, raw in enumerate(buf.split(b"\n")[:-1], start=1):
        off, pos = pos, pos + len(raw) + 1
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:  # what orjson refuses and Python's json reads is a row too (lone surrogates, 1e400)
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                bad.append(
                    (lineno, "invalid UTF-8" if "utf-8" in str(exc).lower() else f"bad JSON ({exc})", off)
                )
                breaks.add(len(out["offsets"]))
                continue
        problem = None
        if not isinstance(obj, dict):
            problem = f"not a JSON object (a {type(obj).__name__})"
        elif not isinstance(obj.get("prompt"), str):
            problem = "missing prompt (a string is required)"
        elif not isinstance(obj.get("completion"), str):
            problem = "missing completion (a string is required)"
        elif obj.get("review_status", "pending") not in ("pending", "approved", "rejected") or not isinstance(
            obj.get("review_status", "pending"), str
        ):
            problem = f"unknown review_status {obj.get('review_status', 'pending')!r}"
        if problem:
            bad.append((lineno, problem, off))
            breaks.add(len(out["offsets"]))
            continue
        status = ("pending", "approved", "rejected").index(obj.get("review_status", "pending"))
        reason = 0
        code = obj.get("reject_reason")
        if status == 2 and isinstance(code, str) and code:
            if code not in reasons:
                reasons.append(code)
            reason = reasons.index(code)
        run, book = str(obj.get("run_id") or ""), str(obj.get("playbook") or "")
        for value, table, column in ((run, runs, "run"), (book, books, "playbook")):
            if value not in table:
                table.append(value)
            out[column].append(table.index(value))
        label = None
        if config["labels"]:
            text = obj["completion"].strip()
            text = text.casefold() if config["scoring"] == "exact_match" else text
            label = config["by_label"].get(text)
        out["label"].append(max(k for k, name in enumerate(labels) if name == label) if label else 0)
        out["offsets"].append(off)
        out["status"].append(status)
        out["reason"].append(reason)
        out["flags"].append(1 if obj.get("review_note") else 0)
        if not isinstance(obj.get("id"), str) or not obj.get("id"):
            noid.append((len(out["offsets"]) - 1, lineno, off))
    return {
        **out,
        "runs": runs,
        "playbooks": books,
        "reason_codes": reasons,
        "bad": bad,
        "noid": noid,
        "breaks": breaks,
        "lines": buf.count(b"\n"),
    }


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_parse_range_equals_a_plain_parse(tiny_project, seed):
    _write(tiny_project, n=1500, seed=seed)
    buf = tiny_project.synthetic_path.read_bytes()
    config = column_cache.project_config(tiny_project)
    want = _reference_columns(buf, config)
    part = column_cache.new_columns(config)
    column_cache.parse_range(part, buf, 0, None, column_cache.label_function(config))
    got = {
        "offsets": list(part.offsets),
        "status": list(part.status),
        "reason": list(part.reason),
        "run": list(part.run),
        "playbook": list(part.playbook),
        "label": list(part.label),
        "flags": list(part.flags),
        "runs": part.runs,
        "playbooks": part.playbooks,
        "reason_codes": part.reason_codes,
        "bad": [tuple(b) for b in part.bad],
        "noid": [tuple(n) for n in part.noid],
        "breaks": part.breaks,
        "lines": part.lineno,
    }
    assert got == want
    counts = [want["status"].count(k) for k in range(3)] + [0]
    assert part.counts == counts
    assert part.reason_counts == [
        sum(1 for s, r in zip(want["status"], want["reason"], strict=False) if s == 2 and r == k)
        for k in range(len(want["reason_codes"]))
    ]


@pytest.mark.parametrize("chunk", [4 << 10, 32 << 10, 1 << 22])
def test_builder_and_worker_meeting_anywhere_give_one_pass(tiny_project, monkeypatch, chunk):
    """The builder parses the worker's half backward while the worker goes forward: wherever
    they meet (overlapping, or leaving a gap), the merged columns are those of one pass."""
    _write(tiny_project, n=6000, seed=9, tail=b'{"id":"torn"')
    reference = cold_parse(tiny_project, monkeypatch)
    monkeypatch.setattr(column_cache, "CHUNK", chunk)
    for _ in range(3):
        config = column_cache.project_config(tiny_project)
        config.update(split_bytes=16 << 10)
        column_cache.build(config)
        assert columns(Store.open(tiny_project, readonly=True)) == columns(reference)
