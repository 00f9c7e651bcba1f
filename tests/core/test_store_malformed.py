"""Bad lines: each kind is named by file:line, copied byte for byte to quarantine, the rest loads."""

from __future__ import annotations

from brewslm_tui.core.store.store import Store, append_rows

GOOD = b'{"id":"g1","prompt":"Classify: fine","completion":"positive","review_status":"pending"}\n'
BAD = [
    (b'{"id":"b1","prompt":"x",\n', "bad JSON"),
    (b'{"id":"b2","prompt":"caf\xe9","completion":"positive"}\n', "invalid UTF-8"),
    (b'["not", "an", "object"]\n', "not a JSON object"),
    (b'{"id":"b4","completion":"positive"}\n', "missing prompt"),
    (b'{"id":"b5","prompt":"p"}\n', "missing completion"),
    (b'{"id":"b6","prompt":"p","completion":"positive","review_status":"maybe"}\n', "unknown review_status"),
]


def write_file(project, torn: bytes = b""):
    lines = [GOOD]
    for raw, _ in BAD:
        lines += [raw, GOOD.replace(b'"g1"', b'"g%d"' % (len(lines) + 1))]
    project.synthetic_path.write_bytes(b"".join(lines) + torn)
    return lines


def test_every_bad_line_is_named_and_quarantined_byte_for_byte(tiny_project):
    lines = write_file(tiny_project)
    look = Store.open(tiny_project, readonly=True)
    assert len(look.problems) == len(BAD)
    assert not (tiny_project.state_dir / "quarantine").exists()  # a read-only look writes nothing
    store = Store.open(tiny_project)
    store.close()
    assert len(store) == len(BAD) + 1
    problems = {p.line: p for p in store.problems}
    for lineno, raw in enumerate(lines, 1):
        expected = next((why for bad, why in BAD if bad == raw), None)
        if expected is None:
            assert lineno not in problems
            continue
        problem = problems[lineno]
        assert expected in problem.reason
        assert str(problem).startswith(f"{tiny_project.synthetic_path}:{lineno}: ")
        copies = list((tiny_project.state_dir / "quarantine").glob(f"synthetic.jsonl.line{lineno:07d}.*.raw"))
        assert len(copies) == 1 and copies[0].read_bytes() == raw.rstrip(b"\n")
    # loading again does not copy again
    Store.open(tiny_project).close()
    assert len(list((tiny_project.state_dir / "quarantine").glob("*.raw"))) == len(BAD)


def test_torn_final_line_is_quarantined_and_next_append_starts_clean(tiny_project):
    write_file(tiny_project, torn=b'{"id":"torn","prompt":"half a ro')
    reader = Store.open(tiny_project, readonly=True)
    assert len(reader) == len(BAD) + 1  # a reader ignores the partial line, no problem yet
    Store.open(tiny_project, readonly=True)
    assert not list(tiny_project.state_dir.glob("quarantine/*.raw"))
    append_rows(tiny_project, [{"id": "new1", "prompt": "p new", "completion": "negative"}])
    data = tiny_project.synthetic_path.read_bytes()
    assert b"half a ro" not in data and data.endswith(b"\n")
    assert data.splitlines()[-1].startswith(b'{"id":"new1"')
    torn = list((tiny_project.state_dir / "quarantine").glob("*.raw"))
    assert any(p.read_bytes() == b'{"id":"torn","prompt":"half a ro' for p in torn)
    store = Store.open(tiny_project)
    assert store.index_of("new1") is not None
    store.close()


def test_rows_without_id_get_a_stable_id_that_compaction_persists(tiny_project):
    tiny_project.synthetic_path.write_bytes(
        b'{"prompt":"one","completion":"positive"}\n{"prompt":"two","completion":"negative","x":[1,{"y":null}]}\n'
    )
    first = Store.open(tiny_project, readonly=True)
    ids = [first.id_of(0), first.id_of(1)]
    again = Store.open(tiny_project, readonly=True)
    assert [again.id_of(0), again.id_of(1)] == ids and ids[0] != ids[1]
    with Store.open(tiny_project) as store:
        store.compact()
    lines = tiny_project.synthetic_path.read_bytes().splitlines()
    assert [__import__("orjson").loads(line)["id"] for line in lines] == ids
    assert b'"x":[1,{"y":null}]' in lines[1]  # unknown fields kept untouched


def test_malformed_lines_do_not_stop_decisions_or_compaction(tiny_project):
    write_file(tiny_project)
    with Store.open(tiny_project) as store:
        store.approve(range(len(store)))
        report = store.compact()
    assert report.malformed_removed == len(BAD)
    assert len(list((tiny_project.state_dir / "quarantine").glob("*.raw"))) == len(BAD)
    with Store.open(tiny_project, readonly=True) as store:
        assert store.counts()["approved"] == len(BAD) + 1 and not store.problems
