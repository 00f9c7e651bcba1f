"""Odd and bad lines stay in sight: a BOM is a warning, a quarantined line is counted by `stats`
and `check` until the user restores a fixed line or discards it (`brewslm-tui quarantine`)."""

from __future__ import annotations

import orjson
import pytest

from brewslm_tui.core.store import quarantine
from brewslm_tui.core.store.store import Store
from tests.conftest import make_rows
from tests.helpers import run_main as run


def write_rows(project, lines: list[bytes]) -> None:
    project.synthetic_path.write_bytes(b"".join(line + b"\n" for line in lines))


def row_line(i: int) -> bytes:
    return orjson.dumps(make_rows(1, start=i)[0])


BAD = b'{"id": "r_bad", "prompt": "Classify: fine", "completion": "positive"'  # no closing brace


def test_a_bom_is_stripped_and_reported_as_a_warning_not_quarantined(tiny_project, capsys):
    write_rows(tiny_project, [b"\xef\xbb\xbf" + row_line(0), row_line(1)])
    with Store.open(tiny_project) as store:
        assert [store.id_of(i) for i in range(len(store))] == ["r000000", "r000001"]
        assert [(p.line, p.reason.split(":")[0]) for p in store.problems] == [(1, "warning")]
        store.approve([0])
        store.compact()
    data = tiny_project.synthetic_path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert [orjson.loads(line)["id"] for line in data.splitlines()] == ["r000000", "r000001"]
    assert not (tiny_project.state_dir / "quarantine").exists()
    _, out, _ = run(capsys, "stats", tiny_project.root)
    assert "0 quarantined lines" in out


def test_a_quarantined_line_is_counted_until_restored(tiny_project, capsys):
    write_rows(tiny_project, [row_line(0), BAD, row_line(2)])
    with Store.open(tiny_project) as store:
        store.compact()  # the bad line leaves synthetic.jsonl: only the quarantine has it now
    assert BAD not in tiny_project.synthetic_path.read_bytes()
    code, out, _ = run(capsys, "stats", tiny_project.root)
    assert "1 quarantined line\n" in out  # it said 0 once the line was compacted away
    code, out, _ = run(capsys, "check", tiny_project.root)
    assert code == 1 and "synthetic.jsonl:2: quarantined (bad JSON" in out and "1 problem in 1 file" in out

    code, out, _ = run(capsys, "quarantine", tiny_project.root)
    [q] = quarantine.outstanding(tiny_project.state_dir)
    assert code == 0 and f"{q.id}  {tiny_project.synthetic_path}:2: bad JSON" in out
    assert '{"id": "r_bad"' in out

    code, out, err = run(capsys, "quarantine", tiny_project.root, "--restore", q.id)
    assert code == 1 and err.count("\n") == 1 and "still not a valid row" in err and "--line" in err

    fixed = BAD.decode() + "}"
    code, out, err = run(
        capsys, "quarantine", tiny_project.root, "--restore", "synthetic.jsonl:2", "--line", fixed
    )
    assert code == 0, err
    assert "restored" in out
    ids = [orjson.loads(line)["id"] for line in tiny_project.synthetic_path.read_bytes().splitlines()]
    assert ids == ["r000000", "r000002", "r_bad"]
    assert quarantine.outstanding(tiny_project.state_dir) == []
    code, out, _ = run(capsys, "stats", tiny_project.root)
    assert "0 quarantined lines" in out
    code, out, _ = run(capsys, "check", tiny_project.root)
    assert code == 0 and "no problems" in out
    code, out, err = run(capsys, "quarantine", tiny_project.root, "--restore", q.id, "--line", fixed)
    assert code == 1 and "no outstanding quarantined line" in err


def test_a_restore_that_would_duplicate_an_id_is_refused(tiny_project, capsys):
    write_rows(tiny_project, [row_line(0), BAD])
    Store.open(tiny_project).close()
    [q] = quarantine.outstanding(tiny_project.state_dir)
    clash = orjson.dumps({**make_rows(1)[0], "completion": "negative"}).decode()
    code, _, err = run(capsys, "quarantine", tiny_project.root, "--restore", q.id, "--line", clash)
    assert code == 1 and "already in the project" in err
    assert len(tiny_project.synthetic_path.read_bytes().splitlines()) == 2
    assert len(quarantine.outstanding(tiny_project.state_dir)) == 1


def test_a_discarded_line_stops_being_counted_but_its_bytes_stay(tiny_project, capsys):
    write_rows(tiny_project, [row_line(0), BAD, row_line(2)])  # (a bad LAST line: issue 14.15)
    Store.open(tiny_project).close()
    [q] = quarantine.outstanding(tiny_project.state_dir)
    code, out, _ = run(capsys, "quarantine", tiny_project.root, "--discard", q.id[:6])
    assert code == 0 and "discarded" in out
    assert quarantine.outstanding(tiny_project.state_dir) == []
    assert q.raw_path.read_bytes() == BAD
    assert BAD not in tiny_project.synthetic_path.read_bytes()  # compacted out of the data file
    code, out, _ = run(capsys, "stats", tiny_project.root)
    assert "0 quarantined lines" in out
    code, out, _ = run(capsys, "quarantine", tiny_project.root)
    assert "no quarantined lines" in out


def test_a_journal_entry_cannot_be_restored(tiny_project, capsys):
    write_rows(tiny_project, [row_line(0)])
    with Store.open(tiny_project) as store:
        store.approve([0])
    journal = tiny_project.state_dir / "journal.jsonl"
    journal.write_bytes(journal.read_bytes() + b'{"seq": "x"}\n')
    Store.open(tiny_project).close()
    [q] = quarantine.outstanding(tiny_project.state_dir)
    code, _, err = run(capsys, "quarantine", tiny_project.root, "--restore", q.id, "--line", "{}")
    assert code == 1 and "journal entry cannot be put back" in err


@pytest.mark.parametrize("key", ["nope", "synthetic.jsonl:99"])
def test_an_unknown_key_is_one_plain_line(tiny_project, capsys, key):
    write_rows(tiny_project, [row_line(0), BAD])
    Store.open(tiny_project).close()
    code, _, err = run(capsys, "quarantine", tiny_project.root, "--discard", key)
    assert code == 1 and err.count("\n") == 1 and "no outstanding quarantined line" in err


def test_a_restore_under_faults_never_loses_the_line(tiny_project):
    """ENOSPC / EIO at each file operation of a restore: the row is back in the project, or the
    line is still outstanding in the quarantine (or both, for a retry to refuse): never neither."""
    import errno
    import shutil

    from brewslm_tui.core.errors import BrewError
    from brewslm_tui.core.project import load_project
    from tests.core.test_faults import FaultFS, installed

    write_rows(tiny_project, [row_line(0), BAD, row_line(2)])
    with Store.open(tiny_project) as store:
        store.compact()
    [q] = quarantine.outstanding(tiny_project.state_dir)
    fixed = BAD + b"}"
    template = tiny_project.root
    counter = FaultFS()
    clean = load_project(shutil.copytree(template, template.parent / "clean"))
    with installed(counter):
        quarantine.restore(clean, q.id, fixed)
    outcomes = set()
    for err in (errno.ENOSPC, errno.EIO):
        for n in range(1, counter.calls + 1):
            target = template.parent / "run"
            shutil.rmtree(target, ignore_errors=True)
            project = load_project(shutil.copytree(template, target))
            try:
                with installed(FaultFS(fail_at=n, err=err)):
                    quarantine.restore(project, q.id, fixed)
            except (OSError, BrewError):
                pass  # reported; what matters is what is on disk
            Store.open(project).close()
            with Store.open(project, readonly=True) as store:
                back = store.index_of("r_bad") is not None
            listed = bool(quarantine.outstanding(project.state_dir))
            assert back or listed, (
                f"{errno.errorcode[err]} at call {n}: {counter.log[n - 1]}: the line is gone"
            )
            outcomes.add((back, listed))
            leftovers = [p for p in project.root.rglob("*") if p.name.endswith(".tmp")]
            assert leftovers == []
            assert all(orjson.loads(line) for line in project.synthetic_path.read_bytes().splitlines())
    assert (True, False) in outcomes and (False, True) in outcomes


@pytest.mark.parametrize(
    "prompt,completion,cause",
    [
        ("Classify: evil \x1b]52;c;cHduZWQ=\x07 title", "positive", "control_chars"),
        ("Classify: fine", "furious", "not_a_label"),
    ],
)
def test_a_restored_line_passes_the_projects_validator(tiny_project, capsys, prompt, completion, cause):
    """A hand-fixed line is a row at an edge like an import or an edit: a prompt with terminal
    escapes, or a label the project does not have, is refused and the line stays quarantined."""
    write_rows(tiny_project, [row_line(0), BAD, row_line(2)])
    Store.open(tiny_project).close()
    [q] = quarantine.outstanding(tiny_project.state_dir)
    before = tiny_project.synthetic_path.read_bytes()
    hostile = orjson.dumps({**orjson.loads(BAD + b"}"), "prompt": prompt, "completion": completion}).decode()
    code, _, err = run(capsys, "quarantine", tiny_project.root, "--restore", q.id, "--line", hostile)
    assert code == 1 and err.count("\n") == 1 and cause in err and "\x1b" not in err, err
    assert tiny_project.synthetic_path.read_bytes() == before
    assert [line.id for line in quarantine.outstanding(tiny_project.state_dir)] == [q.id]


def test_a_hostile_quarantine_folder_neither_hangs_nor_shows_other_files(tiny_project, capsys, tmp_path):
    """An untrusted project's `.brewslm/quarantine/` holding a FIFO, a dangling symlink and a
    symlink to a file outside the project, all named like raw lines: none is ours (the store
    writes regular files), so none is listed, read (a FIFO would block forever) or restored."""
    import os

    secret = tmp_path / "outside-secret.json"
    secret.write_bytes(orjson.dumps(make_rows(1, start=7)[0]))
    folder = tiny_project.state_dir / "quarantine"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "synthetic.jsonl.line0000001.aaaa1111.raw")
    (folder / "synthetic.jsonl.line0000002.bbbb2222.raw").symlink_to(tmp_path / "nowhere")
    (folder / "synthetic.jsonl.line0000003.cccc3333.raw").symlink_to(secret)
    write_rows(tiny_project, [row_line(0)])
    assert quarantine.outstanding(tiny_project.state_dir) == []
    code, out, err = run(capsys, "quarantine", tiny_project.root)
    assert code == 0 and "no quarantined lines" in out and "r000007" not in out, out + err
    code, _, err = run(capsys, "quarantine", tiny_project.root, "--restore", "cccc3333")
    assert code == 1 and "no outstanding quarantined line" in err
    assert b"r000007" not in tiny_project.synthetic_path.read_bytes()
