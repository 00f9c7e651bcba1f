"""Who decided, and when (issue 10, item 5): `by`/`at` in every journal entry, `reviewed_by` /
`reviewed_at` on the row through replay, compaction, undo and restore, in export and in
`stats --json`, and a row's history read back from the journal and its archive."""

from __future__ import annotations

import getpass
import json

import orjson
import pytest

from brewslm_tui.cli import main
from brewslm_tui.core.export import ExportOptions, export
from brewslm_tui.core.stats import compute_stats
from brewslm_tui.core.store.history import history_text, row_history
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows


def as_reviewer(monkeypatch, name: str | None) -> None:
    if name is None:
        monkeypatch.delenv("BREWSLM_REVIEWER", raising=False)
    else:
        monkeypatch.setenv("BREWSLM_REVIEWER", name)


def journal_entries(project) -> list[dict]:
    path = project.state_dir / "journal.jsonl"
    return [e for e in map(orjson.loads, path.read_bytes().splitlines()) if e["op"] != "header"]


def file_rows(path) -> dict[str, dict]:
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return {row["id"]: row for row in rows}


def stamp(row: dict) -> tuple:
    return row.get("reviewed_by"), row.get("reviewed_at")


def test_each_journal_entry_records_by_and_at(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(3))
    as_reviewer(monkeypatch, "ana")
    with Store.open(tiny_project) as store:
        store.approve([0])
        as_reviewer(monkeypatch, "  ")  # blank: the login name
        store.reject([1], "wrong_label")
        [first, second] = journal_entries(tiny_project)
        assert first["by"] == "ana" and first["at"].endswith("Z") and "ts" not in first
        assert second["by"] == getpass.getuser()
        assert stamp(store.row(0)) == ("ana", first["at"])
        assert stamp(store.row(2)) == (None, None)  # never decided
    with Store.open(tiny_project) as store:  # replayed from the journal
        assert stamp(store.row(0)) == ("ana", first["at"])
        assert stamp(store.row(1)) == (getpass.getuser(), second["at"])


def test_the_stamp_survives_compaction_and_other_fields_keep_their_bytes(tiny_project, monkeypatch):
    odd = b'{"id":"r_odd","prompt":"p","completion":"positive","n":12345678901234567890123,"f":1.10}'
    tiny_project.synthetic_path.write_bytes(odd + b"\n")
    as_reviewer(monkeypatch, "ana")
    with Store.open(tiny_project) as store:
        store.approve([0])
        store.compact()
        at = store.row(0)["reviewed_at"]
    line = tiny_project.synthetic_path.read_bytes()
    assert b'"n":12345678901234567890123,"f":1.10' in line
    assert stamp(orjson.loads(line)) == ("ana", at)
    with Store.open(tiny_project) as store:  # read back from the file, no journal left
        assert stamp(store.row(0)) == ("ana", at) and store.journal_size() == 0


def test_undo_puts_the_previous_stamp_back_also_after_compaction(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(2))
    as_reviewer(monkeypatch, "ana")
    with Store.open(tiny_project) as store:
        store.reject([0], "wrong_label")
        store.compact()
        ana = stamp(store.row(0))
        as_reviewer(monkeypatch, "bob")
        store.approve([0, 1])
        assert stamp(store.row(0))[0] == stamp(store.row(1))[0] == "bob"
        store.undo()
        assert stamp(store.row(0)) == ana and stamp(store.row(1)) == (None, None)
    with Store.open(tiny_project) as store:  # the undo replays the same way
        assert stamp(store.row(0)) == ana and stamp(store.row(1)) == (None, None)
        store.compact()
    rows = file_rows(tiny_project.synthetic_path)
    assert stamp(rows["r000000"]) == ana and "reviewed_by" not in rows["r000001"]


def test_the_stamp_goes_to_dropped_jsonl_and_back_with_a_restore(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(2))
    as_reviewer(monkeypatch, "ana")
    with Store.open(tiny_project) as store:
        store.reject([1], "off_task")
        ana = stamp(store.row(1))
        store.drop([1])
        store.compact()
    dropped = file_rows(tiny_project.dropped_path)
    assert stamp(dropped["r000001"]) == ana  # a drop keeps the rejection's stamp
    as_reviewer(monkeypatch, "bob")
    with Store.open(tiny_project) as store:
        store.restore(["r000001"])
        slot = store.restored_slot("r000001")
        assert slot is not None and store.row(slot)["review_status"] == "pending"
        assert stamp(store.row(slot)) == ana  # it comes back as it left (history: restored by bob)
        store.approve([slot])
        assert stamp(store.row(slot))[0] == "bob"
        store.undo()
        store.undo()
        assert stamp(store.row(slot)) == ana and store.row(slot)["review_status"] == "dropped"
        store.compact()
    assert stamp(file_rows(tiny_project.dropped_path)["r000001"]) == ana
    with Store.open(tiny_project) as store:
        store.restore(["r000001"])
        store.compact()
    assert stamp(file_rows(tiny_project.synthetic_path)["r000001"]) == ana


def test_export_and_stats_include_the_reviewers(tiny_project, monkeypatch, tmp_path, capsys):
    append_rows(tiny_project, make_rows(4))
    with Store.open(tiny_project) as store:
        as_reviewer(monkeypatch, "ana")
        store.approve([0, 1])
        store.reject([2], "wrong_label")
        as_reviewer(monkeypatch, "bob")
        store.approve([3])
        store.compact()
        as_reviewer(monkeypatch, "cy")
        store.reject([1], "minor_typo")  # in the journal only, over ana's stamp in the file
        store.drop([1])
        store.compact()
        store.reject([0], "off_task")  # not compacted: the overlay's stamp counts
        counts = compute_stats(store)["by_reviewer"]
    assert counts == {
        "ana": {"pending": 0, "approved": 0, "rejected": 1, "dropped": 0},
        "bob": {"pending": 0, "approved": 1, "rejected": 0, "dropped": 0},
        "cy": {"pending": 0, "approved": 0, "rejected": 1, "dropped": 1},
    }
    assert main(["stats", str(tiny_project.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["by_reviewer"] == counts

    out = tmp_path / "out.jsonl"
    with Store.open(tiny_project, readonly=True) as store:
        export(store, out, ExportOptions())
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["reviewed_by"] for r in rows if r.get("source") != "imported"] == ["bob"]
    assert rows[-1]["reviewed_at"].endswith("Z")


def test_row_history_reads_the_archive_and_the_journal(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(2))
    as_reviewer(monkeypatch, "ana")
    with Store.open(tiny_project) as store:
        assert store.row(0)["completion"] == "positive"
        store.reject([0, 1], "wrong_label", note="looks negative")
        store.compact()  # that entry is in the archive now
        store.edit(0, completion="negative")
        as_reviewer(monkeypatch, "bob")
        store.set_pending([1])
        assert stamp(store.row(1))[0] == "ana"  # back to pending: the last verdict's stamp stays
        store.undo()
        events = row_history(store, 0)
        text = history_text(events)
        assert [e.op for e in events] == ["reject", "edit"]
        assert [e.by for e in events] == ["ana", "ana"]
        assert text.startswith("rejected wrong_label (looks negative) by ana ")
        assert ", edited and approved by ana " in text
        assert text.endswith(", original completion 'positive'")
        assert events[0].at and events[0].at[:16].replace("T", " ") in text
        other = history_text(row_history(store, 1))
        assert other.startswith("rejected wrong_label (looks negative) by ana")
        assert (
            "set back to pending by bob" in other
            and "undid set back to pending (now rejected wrong_label) by bob" in other
        )


def test_an_old_journal_without_by_replays_and_stamps_nothing(tiny_project):
    append_rows(tiny_project, make_rows(1))
    with Store.open(tiny_project):
        pass
    entry = {"seq": 1, "ts": "2026-05-29T10:00:00.000Z", "op": "approve", "ids": ["r000000"], "hints": [0]}
    entry |= {"set": ["approved", None, None], "prev": [["pending", None, None]]}
    (tiny_project.state_dir / "journal.jsonl").write_bytes(orjson.dumps(entry) + b"\n")
    with Store.open(tiny_project) as store:
        assert store.row(0)["review_status"] == "approved" and "reviewed_by" not in store.row(0)
        assert history_text(row_history(store, 0)) == "approved 2026-05-29 10:00"


@pytest.mark.parametrize("bad", [{"by": 7}, {"prev_reviewed": [["ana"]]}, {"reviewed": "ana"}])
def test_a_journal_entry_with_a_malformed_stamp_is_reported_not_applied(tiny_project, bad):
    append_rows(tiny_project, make_rows(1))
    with Store.open(tiny_project):
        pass
    entry = {"seq": 1, "at": "2026-05-29T10:00:00.000Z", "op": "approve", "ids": ["r000000"], "hints": [0]}
    entry |= {"set": ["approved", None, None], "prev": [["pending", None, None]], **bad}
    (tiny_project.state_dir / "journal.jsonl").write_bytes(orjson.dumps(entry) + b"\n")
    with Store.open(tiny_project) as store:
        assert store.row(0)["review_status"] == "pending"
        assert any("corrupt journal entry" in p.reason for p in store.problems)
