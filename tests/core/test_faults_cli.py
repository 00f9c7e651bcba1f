"""The CLI under I/O faults: one plain line, no acknowledgement before the fsync, nothing changed."""

from __future__ import annotations

import errno
import os

import orjson
import pytest

from brewslm_tui.cli import main
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows
from tests.core.test_faults import FaultFS, installed


class FailJournalFsync(FaultFS):
    """EIO on the journal's first fsync (the bytes were written: the case that used to take effect
    later); the fsync of the cut that takes them back out succeeds."""

    def call(self, op, target, fn, *args):
        if op == "fsync" and self.failed is None and self.journal_fd(args[0]):
            self.failed = (op, str(target))
            raise OSError(self.err, "Input/output error")
        return fn(*args)

    @staticmethod
    def journal_fd(fd: int) -> bool:
        return os.readlink(f"/proc/self/fd/{fd}").endswith("journal.jsonl")


@pytest.fixture
def project(tiny_project):
    append_rows(tiny_project, make_rows(4))
    with Store.open(tiny_project) as store:
        store.reject([0, 1], "label_ambiguous")
    return tiny_project


@pytest.mark.parametrize(
    "argv",
    [
        ["drop", "--status", "rejected"],
        ["approve", "--id", "r000002"],
        ["reject", "--id", "r000003", "--reason", "wrong_label"],
        ["undo"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_decision_that_cannot_be_saved_prints_one_line_and_no_acknowledgement(project, capsys, argv):
    journal = project.state_dir / "journal.jsonl"
    before = journal.read_bytes()
    synthetic = project.synthetic_path.read_bytes()
    with installed(FailJournalFsync(err=errno.EIO)):
        code = main([argv[0], str(project.root), *argv[1:]])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""  # "dropped 2 rows" used to be printed before the entry was on disk
    assert err.count("\n") == 1 and "decision not saved (Input/output error); nothing was changed" in err
    assert "Traceback" not in err
    assert journal.read_bytes() == before and project.synthetic_path.read_bytes() == synthetic
    # and it never takes effect: the next command (a compaction) keeps the rows as they were
    assert main(["compact", str(project.root)]) == 0
    statuses = [
        orjson.loads(line)["review_status"] for line in project.synthetic_path.read_bytes().splitlines()
    ]
    assert statuses == ["rejected", "rejected", "pending", "pending"]
