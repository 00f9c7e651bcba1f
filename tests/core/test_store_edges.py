"""Odd but legal inputs and sequences at the store's edges (issue 14's store items, issue 9's undo).

Each test failed on the code before its fix."""

from __future__ import annotations

import orjson
import pytest

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.store.store import Store, append_rows, column_cache
from tests.conftest import make_rows


def lines(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_undo_after_its_row_was_edited_away_by_hand_undoes_the_rest(tiny_project):
    append_rows(tiny_project, make_rows(3))
    with Store.open(tiny_project) as store:
        store.approve([0, 1])
        gone = store.id_of(0)
    # someone removes the first row by hand while no session is open
    data = tiny_project.synthetic_path.read_bytes().splitlines(keepends=True)
    tiny_project.synthetic_path.write_bytes(b"".join(data[1:]))
    with Store.open(tiny_project) as store:
        assert any(gone in str(p) for p in store.problems)
        assert store.counts()["approved"] == 1
        decision = store.undo()
        assert decision is not None and decision.count == 1
        assert store.counts() == {"pending": 2, "approved": 0, "rejected": 0, "dropped": 0}
    with Store.open(tiny_project) as store:
        assert store.counts()["pending"] == 2


def write_lines(project, lines: list[bytes]) -> None:
    project.synthetic_path.write_bytes(b"".join(line + b"\n" for line in lines))


def row_line(i: int, **extra) -> bytes:
    return orjson.dumps({"id": f"r{i}", "prompt": f"p{i}", "completion": "positive", **extra})


@pytest.mark.parametrize("last", [b"", b"   ", b"not json", b'{"id":"x","prompt":1}'])
def test_a_malformed_or_blank_last_line_does_not_break_compaction(tiny_project, last):
    write_lines(tiny_project, [row_line(0), row_line(1), last])
    with Store.open(tiny_project) as store:
        assert len(store) == 2 and [p.line for p in store.problems] == [3]
        store.approve([1])
        store.compact()
        append_rows(tiny_project, make_rows(1))
        store.refresh()
        store.reject([2], "minor_typo")
        store.compact()
    rows = lines(tiny_project.synthetic_path)
    assert [r.get("review_status", "pending") for r in rows] == ["pending", "approved", "rejected"]


def test_more_reason_codes_than_the_column_holds_is_a_clear_error(tiny_project, capsys):
    from brewslm_tui.cli import main

    write_lines(
        tiny_project,
        [row_line(i, review_status="rejected", reject_reason=f"code_{i}") for i in range(300)],
    )
    with pytest.raises(BrewError, match="at most 255"):
        Store.open(tiny_project)
    assert main(["stats", str(tiny_project.root)]) != 0
    err = capsys.readouterr().err
    assert "at most 255" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_grown_file_edited_in_place_is_not_trusted_to_the_cache(tiny_project):
    """sed -i of a same-length status, then an append: the cache must not keep the old status."""
    append_rows(tiny_project, make_rows(column_cache.MIN_ROWS + 10))
    with Store.open(tiny_project) as store:
        assert store.counts()["approved"] == 0
    assert column_cache.cache_path(tiny_project.state_dir).exists()
    data = bytearray(tiny_project.synthetic_path.read_bytes())
    start = data.index(b'"completion":"positive"', len(data) // 2)
    data[start : start + 23] = b'"completion":"negative"'
    with open(tiny_project.synthetic_path, "r+b") as f:  # in place: same inode, same size
        f.write(data)
    append_rows(tiny_project, make_rows(1, start=900000))
    with Store.open(tiny_project) as store:
        slot = store.index_of(
            orjson.loads(data[data.rindex(b"\n", 0, start) + 1 : data.index(b"\n", start)])["id"]
        )
        assert store.label_of(slot) == "negative"
        assert store.row(slot)["completion"] == "negative"


ODD_LINE = (
    b'{"id": "r1", "prompt": "caf\\u00e9 \\"q\\"", "completion":"positive",  "big": 12345678901234567890123,'
    b' "f": 1.10, "e": 1e5, "review_status": "pending", "zz": {"id": 1, "review_status": [1.50]}}'
)


def test_a_decided_row_keeps_every_byte_it_does_not_own(tiny_project):
    write_lines(tiny_project, [row_line(0), ODD_LINE])
    approved = ODD_LINE.replace(b'"review_status": "pending"', b'"review_status": "approved"')

    def decide(action) -> tuple[bytes, bytes]:
        """The row's new line, and its owned stamp as it was appended (who decided, when)."""
        with Store.open(tiny_project) as store:
            action(store)
            store.compact()
            by, at = store.row(1)["reviewed_by"], store.row(1)["reviewed_at"]
        line = tiny_project.synthetic_path.read_bytes().splitlines()[1]
        return line, b',"reviewed_by":%s,"reviewed_at":%s' % (orjson.dumps(by), orjson.dumps(at))

    line, stamp = decide(lambda s: s.approve([1]))
    assert line == approved[:-1] + stamp + b"}"
    rejected, stamp = decide(lambda s: s.reject([1], "minor_typo", note="n"))
    assert rejected == approved.replace(b'"approved"', b'"rejected"')[:-1] + stamp + (
        b',"reject_reason":"minor_typo","review_note":"n"}'
    )
    line, stamp = decide(lambda s: s.approve([1]))  # the reason and note are cut out again
    assert line == approved[:-1] + stamp + b"}"
    line, _ = decide(lambda s: s.set_pending([1]))  # the last verdict's stamp stays
    assert line == ODD_LINE[:-1] + stamp + b"}"


def test_a_dropped_and_restored_row_keeps_every_byte_it_does_not_own(tiny_project):
    write_lines(tiny_project, [row_line(0), ODD_LINE])
    with Store.open(tiny_project) as store:
        store.reject([1], "minor_typo")
        by, at = store.row(1)["reviewed_by"], store.row(1)["reviewed_at"]
        store.drop([1])
        store.compact()
    stamp = b',"reviewed_by":%s,"reviewed_at":%s' % (orjson.dumps(by), orjson.dumps(at))
    dropped = tiny_project.dropped_path.read_bytes()
    assert dropped.startswith(
        ODD_LINE.replace(b'"pending"', b'"rejected"')[:-1] + b',"reject_reason":"minor_typo"' + stamp
    )
    with Store.open(tiny_project) as store:
        store.restore(["r1"])
        store.compact()
    # back as it was, with the stamp of the rejection (its owned fields say who judged it)
    assert tiny_project.synthetic_path.read_bytes().splitlines()[1] == ODD_LINE[:-1] + stamp + b"}"


def test_an_edit_changes_only_prompt_completion_and_original(tiny_project):
    write_lines(tiny_project, [ODD_LINE])
    with Store.open(tiny_project) as store:
        store.edit(0, completion="negative")
        store.compact()
    line = tiny_project.synthetic_path.read_bytes().splitlines()[0]
    assert line.startswith(
        b'{"id": "r1", "prompt": "caf\\u00e9 \\"q\\"", "completion":"negative",  "big": 12345678901234567890123,'
    )
    assert b'"f": 1.10, "e": 1e5, "review_status": "approved"' in line
    assert orjson.loads(line)["original"] == {"prompt": 'café "q"', "completion": "positive"}


def test_two_id_keys_in_one_object_follow_one_rule_everywhere(tiny_project):
    """The last "id" counts (as in orjson, Python's json and jq): for decisions, ids, compaction and reopening."""
    twin = b'{"id":"r_first","prompt":"p","completion":"positive","id":"r_second"}'
    write_lines(tiny_project, [row_line(0), twin])
    with Store.open(tiny_project) as store:
        assert store.id_of(1) == "r_second" and store.ids_of(list(range(2)) * 20)[1] == "r_second"
        assert store.index_of("r_first") is None and store.index_of("r_second") == 1
        assert any(p.line == 2 and '"id"' in p.reason for p in store.problems)
        store.approve([1])
        store.compact()
        assert store.id_of(1) == "r_second"
    with Store.open(tiny_project) as store:
        assert store.id_of(1) == "r_second" and store.row(1)["review_status"] == "approved"
        assert any(p.line == 2 for p in store.problems)  # still reported: the line still has both
    assert orjson.loads(tiny_project.synthetic_path.read_bytes().splitlines()[1])["id"] == "r_second"


def test_two_id_keys_survive_the_column_cache(tiny_project):
    append_rows(tiny_project, make_rows(column_cache.MIN_ROWS))
    with open(tiny_project.synthetic_path, "ab") as f:
        f.write(b'{"id":"r_first","prompt":"p","completion":"positive","id":"r_second"}\n')
    with Store.open(tiny_project) as store:
        assert store.id_of(len(store) - 1) == "r_second"
        store.approve([0])
        store.compact()  # writes the cache of the compacted file
    with Store.open(tiny_project) as store:
        assert store.id_of(len(store) - 1) == "r_second"
        assert store.ids_of(range(len(store)))[-1] == "r_second"


def all_rows(project) -> list[dict]:
    out = lines(project.synthetic_path)
    if project.dropped_path.exists():
        out += lines(project.dropped_path)
    return out


def test_twins_dropped_and_restored_are_both_kept(tiny_project, capsys):
    """Same id on two lines; drop both, restore the id: no row may vanish, and each stays addressable."""
    from brewslm_tui.cli import main

    write_lines(tiny_project, [row_line(0), row_line(1, id="r_same"), row_line(2, id="r_same")])
    root = str(tiny_project.root)
    assert main(["reject", root, "--status", "pending", "--reason", "minor_typo"]) == 0
    assert main(["drop", root, "--status", "rejected"]) == 0
    assert sorted(r["prompt"] for r in all_rows(tiny_project)) == ["p0", "p1", "p2"]
    dropped = lines(tiny_project.dropped_path)
    ids = [r["id"] for r in dropped]
    assert len(set(ids)) == 3 and "r_same" in ids  # the later twin has a fresh id ...
    assert [r.get("original_id") for r in dropped if r["id"] not in ("r0", "r_same")] == [
        "r_same"
    ]  # ... and keeps its own
    assert main(["restore", root, "--id", "r_same"]) == 0
    assert sorted(r["prompt"] for r in all_rows(tiny_project)) == ["p0", "p1", "p2"]
    assert main(["restore", root, "--status", "dropped"]) == 0
    rows = lines(tiny_project.synthetic_path)
    assert sorted(r["prompt"] for r in rows) == ["p0", "p1", "p2"] and len({r["id"] for r in rows}) == 3
    assert not tiny_project.dropped_path.read_bytes().strip()


def test_a_dropped_file_with_twins_keeps_both_through_a_restore(tiny_project):
    write_lines(tiny_project, [row_line(0)])
    tiny_project.dropped_path.write_bytes(
        row_line(1, id="r_same", review_status="rejected", reject_reason="minor_typo")
        + b"\n"
        + row_line(2, id="r_same", review_status="rejected", reject_reason="minor_typo")
        + b"\n"
    )
    with Store.open(tiny_project) as store:
        assert any(p.path == tiny_project.dropped_path and p.line == 2 for p in store.dropped.problems)
        assert len({store.dropped.id_of(j) for j in range(len(store.dropped))}) == 2
        store.restore(["r_same"])
        store.compact()
    assert sorted(r["prompt"] for r in all_rows(tiny_project)) == ["p0", "p1", "p2"]
    with Store.open(tiny_project) as store:
        other = [store.dropped.id_of(j) for j in range(len(store.dropped))]
        assert len(other) == 1 and other[0] != "r_same"
        store.restore(other)
        store.compact()
    assert sorted(r["prompt"] for r in lines(tiny_project.synthetic_path)) == ["p0", "p1", "p2"]


def test_an_id_on_two_lines_is_not_an_address(tiny_project, capsys):
    from brewslm_tui.cli import main

    write_lines(tiny_project, [row_line(0), row_line(1, id="r_same"), b"{", row_line(2, id="r_same")])
    before = tiny_project.synthetic_path.read_bytes()
    assert main(["approve", str(tiny_project.root), "--id", "r_same"]) != 0
    err = capsys.readouterr().err
    assert "'r_same' is on 2 rows (lines 2, 4)" in err and len(err.strip().splitlines()) == 1
    assert tiny_project.synthetic_path.read_bytes() == before
    assert main(["approve", str(tiny_project.root), "--id", "r0"]) == 0


LENIENT_LINES = [
    b'{"id":"r_sur","prompt":"lone \\ud800 surrogate","completion":"positive"}',
    b'{"id":"r_big","prompt":"p","completion":"positive","score":1e400}',
    b'{"id":"r_nan","prompt":"p","completion":"positive","score":NaN}',
]


@pytest.mark.parametrize("line", LENIENT_LINES, ids=["surrogate", "1e400", "NaN"])
def test_lines_pythons_json_reads_are_rows_and_keep_their_bytes(tiny_project, line):
    write_lines(tiny_project, [row_line(0), line])
    with Store.open(tiny_project) as store:
        assert len(store) == 2 and not store.problems
        store.approve([1])
        store.compact()
        row = store.row(1)
        assert row["review_status"] == "approved"
    stamp = b',"reviewed_by":%s,"reviewed_at":%s' % (
        orjson.dumps(row["reviewed_by"]),
        orjson.dumps(row["reviewed_at"]),
    )
    on_disk = tiny_project.synthetic_path.read_bytes().splitlines()
    assert on_disk[1] == line[:-1] + b',"review_status":"approved"' + stamp + b"}"
    with Store.open(tiny_project) as store:
        assert len(store) == 2 and store.counts()["approved"] == 1
        store.reject([1], "minor_typo")
        store.drop([1])
        store.compact()
        assert len(store.dropped) == 1
    with Store.open(tiny_project) as store:
        assert len(store.dropped) == 1 and not store.dropped.problems
        store.restore([store.dropped.id_of(0)])
        store.compact()
    assert len(tiny_project.synthetic_path.read_bytes().splitlines()) == 2


def test_a_byte_order_mark_is_skipped_with_a_warning_not_quarantined(tiny_project):
    write_lines(tiny_project, [b"\xef\xbb\xbf" + row_line(0), row_line(1)])
    with Store.open(tiny_project) as store:
        assert len(store) == 2 and store.id_of(0) == "r0"
        assert [(p.line, "byte order mark" in p.reason) for p in store.problems] == [(1, True)]
        store.approve([1])
        store.compact()
    assert not (tiny_project.state_dir / "quarantine").exists()
    assert tiny_project.synthetic_path.read_bytes().startswith(row_line(0) + b"\n")


def test_a_line_nested_deeper_than_any_parser_reads_is_quarantined_and_compaction_works(tiny_project):
    deep = b'{"id":"r_deep","prompt":"p","completion":"positive","x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    write_lines(tiny_project, [row_line(0), deep, row_line(2)])
    with Store.open(tiny_project) as store:
        assert len(store) == 2 and [p.line for p in store.problems] == [2]
        store.approve([0])
        store.compact()
    assert any((tiny_project.state_dir / "quarantine").glob("*.raw"))


def test_a_project_file_with_more_than_255_reasons_is_refused_naming_it(tmp_path):
    from brewslm_tui.core.project import load_project

    lines = ['name = "m"', 'task = "classification"', 'scoring = "exact_match"', 'labels = ["a", "b"]']
    for i in range(300):
        lines += ["[[reject_reasons]]", f'code = "c{i}"', f'title = "t{i}"', f'key = "{chr(0x4E00 + i)}"']
    (tmp_path / "data").mkdir()
    (tmp_path / "brewslm.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(BrewError, match=r"brewslm\.toml: 300 reject reasons; at most 255 are supported"):
        Store.open(load_project(tmp_path))


@pytest.mark.parametrize(
    ("row_id", "last"),
    [
        ("r_inf", b'{"id": "r_inf", "prompt": "p", "completion": "positive", "x": 1e400}'),  # beyond a double
        ("r_sur", b'{"id": "r_sur", "prompt": "p \\ud800 q", "completion": "positive"}'),  # a lone surrogate
    ],
    ids=["1e400", "lone surrogate"],
)
def test_a_newline_less_last_line_pythons_json_reads_is_completed_not_cut(tiny_project, row_id, last):
    """heal_torn_tail reads the last line as the store reads every row (row_json.loads_lenient):
    orjson refuses these, the row parse takes them, so cutting them off would lose a row."""
    tiny_project.synthetic_path.write_bytes(row_line(0) + b"\n" + last)
    with Store.open(tiny_project) as store:
        assert len(store) == 2 and store.id_of(1) == row_id
        assert [p.reason.startswith("final line had no newline") for p in store.problems] == [True]
    assert tiny_project.synthetic_path.read_bytes() == row_line(0) + b"\n" + last + b"\n"
    assert not (tiny_project.state_dir / "quarantine").exists()


def test_a_lone_newline_less_row_after_a_bom_is_completed_not_cut(tiny_project):
    tiny_project.synthetic_path.write_bytes(b"\xef\xbb\xbf" + row_line(0))
    with Store.open(tiny_project) as store:
        assert len(store) == 1 and store.id_of(0) == "r0"
    assert tiny_project.synthetic_path.read_bytes() == b"\xef\xbb\xbf" + row_line(0) + b"\n"
    assert not (tiny_project.state_dir / "quarantine").exists()
