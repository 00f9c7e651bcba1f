"""Bugs a durability review found, each pinned by a test that failed before its fix."""

from __future__ import annotations

import os

import orjson
import pytest

from brewslm_tui.core.store.commit import INTENT_NAME
from brewslm_tui.core.store.store import Store, append_rows, column_cache
from tests.conftest import make_rows


def lines(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_rows_whose_id_is_not_a_string_keep_every_decision(tiny_project):
    tiny_project.synthetic_path.write_bytes(
        b'{"id":0,"prompt":"a","completion":"positive"}\n{"id":5,"prompt":"b","completion":"positive"}\n'
        b'{"id":"","prompt":"c","completion":"positive"}\n'
    )
    with Store.open(tiny_project) as store:
        store.approve([0])
        store.compact()
        store.approve([1, 2])
    with Store.open(tiny_project) as store:
        assert store.counts()["approved"] == 3 and not store.problems
        store.compact()
    rows = lines(tiny_project.synthetic_path)
    assert [r.get("original_id") for r in rows] == [0, 5, None]
    assert all(r["id"].startswith("r_") for r in rows)


def test_a_failed_compaction_leaves_a_store_that_loses_nothing(tiny_project):
    append_rows(tiny_project, make_rows(5))
    store = Store.open(tiny_project)
    store.approve([0])

    def fail_on_journal(target):
        if target.name == "journal.jsonl":
            raise OSError("disk said no")

    with pytest.raises(OSError):
        store.compact(_crash_hook=fail_on_journal)
    assert not (tiny_project.state_dir / INTENT_NAME).exists()
    store.approve([1])
    store.close()
    with Store.open(tiny_project) as again:
        assert again.counts()["approved"] == 2


def test_dropped_file_without_final_newline_keeps_its_last_row(tiny_project):
    append_rows(tiny_project, make_rows(3))
    tiny_project.dropped_path.write_bytes(
        b'{"id":"d1","prompt":"p","completion":"positive","review_status":"rejected","reject_reason":"minor_typo"}\n'
        b'{"id":"d2","prompt":"q","completion":"positive","review_status":"rejected","reject_reason":"minor_typo"}'
    )
    with Store.open(tiny_project) as store:
        store.restore(["d2"])
        store.reject([0], "off_task")
        store.drop([0])
        store.compact()
    assert [r["id"] for r in lines(tiny_project.dropped_path)] == ["d1", "r000000"]
    assert "d2" in {r["id"] for r in lines(tiny_project.synthetic_path)}


def test_cache_is_not_trusted_after_a_same_length_edit_or_a_scoring_change(tiny_project):
    append_rows(tiny_project, make_rows(21000))
    Store.open(tiny_project, readonly=True)
    assert column_cache.cache_path(tiny_project.state_dir).exists()
    data = tiny_project.synthetic_path.read_bytes()
    k = data.index(b'"completion":"positive"', data.index(b'"id":"r010000"'))
    with open(tiny_project.synthetic_path, "r+b") as f:  # same length, same inode
        f.seek(k)
        f.write(b'"completion":"negative"')
    os.utime(tiny_project.synthetic_path, ns=(5, 5))
    fresh = Store.open(tiny_project, readonly=True)
    assert fresh.label_of(10000) == "negative"
    toml = tiny_project.file.read_text().replace('scoring = "exact_match"', 'scoring = "f1"')
    tiny_project.file.write_text(toml)
    from brewslm_tui.core.project import load_project

    project = load_project(tiny_project.root)
    cached = Store.open(project, readonly=True)
    header = orjson.loads(column_cache.cache_path(project.state_dir).read_bytes().split(b"\n", 1)[0])
    assert header["scoring"] == "f1" and cached.label_of(10000) == "negative"


def test_restore_of_mixed_rows_is_one_entry_and_undoes_as_a_whole(tiny_project):
    append_rows(tiny_project, make_rows(4))
    with Store.open(tiny_project) as store:
        store.reject([0, 1], "minor_typo")
        store.drop([0])
        store.compact()  # r000000 now lives in dropped.jsonl
        store.drop([store.index_of("r000001")])  # dropped this session, still a slot
        decision = store.restore(["r000000", "r000001"])
        assert decision.count == 2 and store.counts()["dropped"] == 0
        store.undo()
        assert store.counts()["dropped"] == 2 and store.last_decision_op() == "drop"
        store.restore(["r000000", "r000001"])
    with Store.open(tiny_project) as store:
        assert store.counts() == {"pending": 4, "approved": 0, "rejected": 0, "dropped": 0}
        store.compact()
    assert not lines(tiny_project.dropped_path)


def test_recovery_leaves_other_writers_temp_files_alone(tiny_project):
    other = tiny_project.synthetic_path.parent / ".train.jsonl.4242.tmp"
    other.write_bytes(b"an export in progress")
    append_rows(tiny_project, make_rows(1))
    assert other.exists()


@pytest.mark.parametrize(
    "entry",
    [
        b'{"op":"approve"}',
        b'{"op":"approve","seq":3,"ids":["r000001"]}',
        b'{"op":"approve","seq":3,"ids":"r1","set":["approved",null,null]}',
    ],
)
def test_a_journal_entry_of_the_wrong_shape_is_reported_not_fatal(tiny_project, entry):
    append_rows(tiny_project, make_rows(3))
    with Store.open(tiny_project) as store:
        store.approve([0])
    with open(tiny_project.state_dir / "journal.jsonl", "ab") as f:
        f.write(entry + b"\n")
    with Store.open(tiny_project) as store:
        store.approve([2])
    with Store.open(tiny_project) as store:
        assert store.counts()["approved"] == 2
        assert any("corrupt journal entry" in p.reason for p in store.problems)


def test_a_whole_last_row_without_newline_is_completed_not_cut(tiny_project):
    tiny_project.synthetic_path.write_bytes(b'{"id":"a","prompt":"p","completion":"positive"}')
    with Store.open(tiny_project) as store:
        assert len(store) == 1
    assert tiny_project.synthetic_path.read_bytes().endswith(b"}\n")
    assert not list(tiny_project.state_dir.glob("quarantine/*.raw"))


def test_unknown_rows_in_replay_are_reported_and_the_rest_applies(tiny_project):
    append_rows(tiny_project, make_rows(3))
    with Store.open(tiny_project) as store:
        store.approve([0, 1])
    journal = tiny_project.state_dir / "journal.jsonl"
    journal.write_bytes(journal.read_bytes().replace(b'"r000001"', b'"ghost"'))
    with Store.open(tiny_project) as store:
        assert store.counts()["approved"] == 1
        # exactly one problem: replaying the entry twice would report it twice
        assert [p.reason for p in store.problems] == [
            "journal entry 1 (approve) names 1 row(s) not found, e.g. 'ghost'"
        ]


def test_a_read_only_store_follows_the_session_journal_without_reloading(tiny_project):
    append_rows(tiny_project, make_rows(6))
    look = Store.open(tiny_project, readonly=True)
    generation = look.generation
    with Store.open(tiny_project) as store:
        store.approve([0, 1])
        look.refresh()
        assert look.counts()["approved"] == 2 and look.generation == generation  # followed, not reloaded
        store.reject([2], "minor_typo")
        append_rows(tiny_project, make_rows(2, start=6))
        store.refresh()
        store.approve([7])
        look.refresh()
        assert look.counts() == {"pending": 4, "approved": 3, "rejected": 1, "dropped": 0}
        store.compact()
        look.refresh()
        assert look.counts() == {"pending": 4, "approved": 3, "rejected": 1, "dropped": 0}
