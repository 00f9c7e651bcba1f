"""Undo and redo across compaction and restarts (issue 11): every decision since the floor is
reachable, from the CLI (a real process) and the store; drops come back from dropped.jsonl; rows
changed since are refused; `undo --forget-history` sets the floor; a fault at any file operation
of an undo or redo across compaction leaves the state before or after it, never a mix."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.decisions import Decision
from brewslm_tui.core.store.store import Store
from tests.core.test_faults import FaultFS, installed
from tests.helpers import make_project, make_rows, run_cli


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI as its own process (each call a restart)."""
    return run_cli(*args, str(root), env={**os.environ, "BREWSLM_REVIEWER": "ana", "NO_COLOR": "1"})


def on_disk(root: Path) -> dict[str, tuple]:
    """id -> (status, reason, note, completion, original, reviewed_by): rows of synthetic.jsonl
    (journal replayed) and of dropped.jsonl."""
    with Store.open(load_project(root), readonly=True) as store:
        assert store.problems == [], [str(p) for p in store.problems]
        out: dict[str, tuple] = {}
        for j in range(len(store.dropped)):
            if store.restored_slot(store.dropped.id_of(j)) is None:
                row = store.dropped.row(j)
                out[row["id"]] = ("dropped", row.get("reject_reason"), row.get("review_note"))
        for i in range(len(store)):
            row = store.row(i)
            if row["review_status"] == "dropped":
                out[row["id"]] = ("dropped", row.get("reject_reason"), row.get("review_note"))
                continue
            out[row["id"]] = (
                row["review_status"],
                row.get("reject_reason"),
                row.get("review_note"),
                row["completion"],
                row.get("original"),
                row.get("reviewed_by"),
            )
        return out


@pytest.fixture
def root(tmp_path) -> Path:
    return make_project(tmp_path, sample="sentiment", rows=make_rows(8)).root


def done(decision: Decision | None) -> Decision:
    assert decision is not None, "nothing was undone or redone"
    return decision


def slot(store: Store, row_id: str) -> int:
    i = store.index_of(row_id)
    assert i is not None, row_id
    return i


def synthetic_lines(root: Path) -> list[dict]:
    return [orjson.loads(line) for line in (root / "data" / "synthetic.jsonl").read_bytes().splitlines()]


def test_cli_bulk_reject_compacted_then_undo_and_redo_in_new_processes(root):
    before = on_disk(root)
    done = cli(
        root,
        "reject",
        "--reason",
        "label_ambiguous",
        "--note",
        "n",
        "--id",
        "r000001",
        "--id",
        "r000002",
        "--id",
        "r000003",
    )
    assert done.returncode == 0, done.stderr
    assert not (root / ".brewslm" / "journal.jsonl").read_bytes().count(b'"op":"reject"')  # compacted
    rejected = on_disk(root)
    assert {synthetic_lines(root)[k]["review_status"] for k in (1, 2, 3)} == {"rejected"}

    undone = cli(root, "undo")
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.strip() == "undone: reject of 3 rows (label_ambiguous), back to pending"
    assert on_disk(root) == before  # status, reason, note and stamps all back

    redone = cli(root, "redo")
    assert redone.returncode == 0, redone.stderr
    assert redone.stdout.strip() == "redone: reject of 3 rows (label_ambiguous)"
    assert on_disk(root) == rejected  # the same rows, reason, note and reviewer as the decision
    nothing = cli(root, "redo")
    assert nothing.returncode == 1 and "nothing to redo" in nothing.stderr


def test_undo_walks_back_through_several_compacted_decisions_then_redo_forward(root):
    states = [on_disk(root)]
    steps = [
        ("approve", "--id", "r000000"),
        ("reject", "--reason", "wrong_label", "--id", "r000000", "--id", "r000004"),
        ("pending", "--id", "r000004"),
    ]
    for step in steps:
        assert cli(root, *step).returncode == 0
        states.append(on_disk(root))
    for k in range(len(steps) - 1, -1, -1):
        assert cli(root, "undo").returncode == 0
        assert on_disk(root) == states[k]
    assert "nothing to undo" in cli(root, "undo").stderr
    for k in range(1, len(steps) + 1):
        assert cli(root, "redo").returncode == 0
        assert on_disk(root) == states[k]


def test_undo_of_a_compacted_drop_brings_rows_back_from_dropped_and_undo_of_the_restore_drops_them(root):
    project = load_project(root)
    with Store.open(project) as store:
        store.reject([1, 2, 5], "wrong_label", "typo")
        store.compact()
    rejected = on_disk(root)
    assert cli(root, "drop", "--reason", "wrong_label").returncode == 0
    dropped_ids = [orjson.loads(line)["id"] for line in project.dropped_path.read_bytes().splitlines()]
    assert dropped_ids == ["r000001", "r000002", "r000005"]
    after_drop = on_disk(root)

    undone = cli(root, "undo")
    assert undone.stdout.strip() == "undone: drop of 3 rows (wrong_label), back to rejected"
    assert on_disk(root) == rejected
    assert project.dropped_path.read_bytes() == b""  # compacted back into synthetic.jsonl
    assert cli(root, "redo").stdout.strip() == "redone: drop of 3 rows (wrong_label)"
    assert on_disk(root) == after_drop

    assert cli(root, "restore", "--id", "r000002").returncode == 0
    restored = on_disk(root)
    assert restored["r000002"][0] == "pending"
    assert cli(root, "undo").stdout.strip() == "undone: restore of 1 row from dropped"
    assert on_disk(root) == after_drop
    assert cli(root, "redo").stdout.strip() == "redone: restore of 1 row from dropped"
    assert on_disk(root) == restored


def test_undo_of_a_compacted_edit_brings_the_original_text_back(root):
    project = load_project(root)
    before = on_disk(root)
    with Store.open(project) as store:
        store.edit(slot(store, "r000003"), completion="positive")
        store.compact()
    edited = on_disk(root)
    assert edited["r000003"][3] == "positive" and edited["r000003"][4] is not None
    with Store.open(project) as store:
        assert done(store.undo()).text == "undone: edit of 1 row, back to pending"
        store.compact()
    assert on_disk(root) == before
    assert "original" not in synthetic_lines(root)[3]
    with Store.open(project) as store:
        assert done(store.redo()).text == "redone: edit of 1 row"
    assert on_disk(root) == edited


def test_a_row_changed_since_is_left_alone_and_said(root):
    """A rejection compacted, then one of its rows changed by hand in the file: undo refuses
    that row (never overwrites it) and undoes the others."""
    project = load_project(root)
    with Store.open(project) as store:
        store.reject([0, 1], "off_task")
        store.compact()
    lines = synthetic_lines(root)
    lines[1]["review_status"] = "approved"
    del lines[1]["reject_reason"]
    (root / "data" / "synthetic.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    with Store.open(project) as store:
        decision = done(store.undo())
        assert decision.count == 1
        assert decision.text == (
            "undone: reject of 2 rows (off_task), back to pending; 1 row left alone: has changed since"
        )
    state = on_disk(root)
    assert state["r000000"][0] == "pending" and state["r000001"][0] == "approved"


def test_every_row_changed_since_undoes_nothing_and_moves_past(root):
    project = load_project(root)
    with Store.open(project) as store:
        store.approve([0])
        store.compact()
        store.reject([3], "off_task")
        store.compact()
    lines = synthetic_lines(root)
    lines[3]["review_status"] = "pending"
    del lines[3]["reject_reason"]
    (root / "data" / "synthetic.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    out = cli(root, "undo")
    assert out.returncode == 1
    assert (
        out.stdout.strip()
        == "nothing undone: reject of 1 row (off_task); 1 row left alone: has changed since"
    )
    assert cli(root, "undo").stdout.strip() == "undone: approve of 1 row, back to pending"


def test_a_new_decision_empties_the_redo_stack(root):
    project = load_project(root)
    with Store.open(project) as store:
        store.approve([0])
        store.compact()
    with Store.open(project) as store:
        store.undo()
        store.reject([1], "off_task")
        store.compact()
    with Store.open(project) as store:
        assert store.redo() is None
        assert done(store.undo()).text == "undone: reject of 1 row (off_task), back to pending"
        assert store.undo() is None  # the approve was undone already
        assert done(store.redo()).text == "redone: reject of 1 row (off_task)"


def test_forget_history_is_the_floor_across_restarts(root):
    assert cli(root, "approve", "--id", "r000000").returncode == 0
    forgot = cli(root, "undo", "--forget-history")
    assert forgot.returncode == 0 and "forgotten" in forgot.stdout
    assert "nothing to undo" in cli(root, "undo").stderr
    assert on_disk(root)["r000000"][0] == "approved"  # forgetting changes no row
    assert cli(root, "approve", "--id", "r000001").returncode == 0
    assert cli(root, "undo").stdout.strip() == "undone: approve of 1 row, back to pending"
    assert "nothing to undo" in cli(root, "undo").stderr
    assert (root / ".brewslm" / "journal-archive").is_dir()  # the audit trail is kept


def test_undo_and_redo_refused_on_a_read_only_store(root):
    assert cli(root, "approve", "--id", "r000000").returncode == 0
    with Store.open(load_project(root), readonly=True) as store, pytest.raises(BrewError):
        store.undo()


# ------------------------------------------------------------------ faults
def _prepared(tmp_path: Path, which: str) -> Path:
    """A project where the next undo (or redo) reaches across a compaction, of a drop."""
    root = make_project(tmp_path / "template", sample="sentiment", rows=make_rows(6)).root
    with Store.open(load_project(root)) as store:
        store.reject([1, 2], "wrong_label")
        store.compact()
        store.drop([1, 2])
        store.compact()
        if which == "redo":
            store.undo()
            store.compact()
    return root


@pytest.mark.parametrize("which", ["undo", "redo"])
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO])
def test_a_fault_at_any_call_of_an_undo_across_compaction_leaves_before_or_after(tmp_path, which, err):
    template = _prepared(tmp_path, which)
    clean = tmp_path / "clean"
    shutil.copytree(template, clean)
    before = on_disk(clean)
    counter = FaultFS()
    with Store.open(load_project(clean)) as store, installed(counter):
        getattr(store, which)()
    after = on_disk(clean)
    assert after != before and counter.calls > 0
    for n in range(1, counter.calls + 1):
        root = tmp_path / f"run-{n}"
        shutil.copytree(template, root)
        fault = FaultFS(fail_at=n, err=err)
        acknowledged = False
        with Store.open(load_project(root)) as store:
            try:
                with installed(fault):
                    getattr(store, which)()
                acknowledged = True
            except (BrewError, OSError):
                pass
            now = on_disk(root)
            assert now == (after if acknowledged else before), f"call {n} {fault.failed}"
        assert on_disk(root) in (before, after), f"call {n} {fault.failed}: reopened"
        if not acknowledged:
            assert on_disk(root) == before, f"call {n}: a failed {which} took effect later"
            with Store.open(load_project(root)) as store:  # and the same step still works
                getattr(store, which)()
            assert on_disk(root) == after


def test_a_rows_history_names_the_undo_and_the_redo_across_compactions(root):
    from brewslm_tui.core.store.history import history_text, row_history

    project = load_project(root)
    with Store.open(project) as store:
        store.reject([2], "off_task")
        store.compact()
        store.undo()
        store.compact()
        store.redo()
        store.compact()
    with Store.open(project, readonly=True) as store:
        events = row_history(store, slot(store, "r000002"))
    assert [e.op for e in events] == ["reject", "undo", "redo"]
    text = history_text(events)
    assert "undid rejected (now pending)" in text and "redid rejected (now rejected off_task)" in text
