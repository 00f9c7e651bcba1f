"""The disk probe reads what grew (new rows, a read-only window's new journal entries) in its
thread, so `store.refresh()` on the event loop finds the bytes in memory; a quiet second reads
nothing. Measured with the kernel's own count of bytes this process read (/proc/self/io)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.shell.disk_probe import probe
from tests.helpers import make_project, make_rows

ROOT = Path(__file__).resolve().parents[2]


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def append_in_another_process(root: Path, n: int, start: int) -> None:
    code = (
        "import sys; from brewslm_tui.core.project import load_project;"
        "from brewslm_tui.core.store.store import append_rows; from tests.helpers import make_rows;"
        f"append_rows(load_project(sys.argv[1]), make_rows({n}, run='synth-2026-06-01-ffff', start={start}))"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, cwd=ROOT)


def test_the_probe_reads_the_appended_rows_and_nothing_when_quiet(tmp_path):
    project = make_project(tmp_path, rows=make_rows(50))
    with Store.open(load_project(project.root)) as store:
        before_size = store.synthetic_path.stat().st_size
        append_in_another_process(project.root, 400, 50)
        grown = store.synthetic_path.stat().st_size - before_size
        assert grown > 10_000
        t = bytes_read()
        probe(store, ask_session=False)
        assert bytes_read() - t >= grown  # the new rows, read in the probe's thread
        assert len(store.refresh()) == 400
        t = bytes_read()
        probe(store, ask_session=False)
        assert bytes_read() - t < 1_000  # nothing grew: a stat, no read


def test_a_read_only_window_s_probe_reads_the_new_journal_entries(tmp_path):
    project = make_project(tmp_path, rows=make_rows(300))
    with (
        Store.open(load_project(project.root)) as writer,
        Store.open(load_project(project.root), readonly=True) as window,
    ):
        before = writer.journal.path.stat().st_size if writer.journal.path.exists() else 0
        for k in range(0, 300, 3):
            writer.approve([k])
        grown = writer.journal.path.stat().st_size - before
        assert grown > 5_000
        t = bytes_read()
        probe(window, ask_session=True)
        assert bytes_read() - t >= grown
        window.refresh()
        assert window.counts()["approved"] == 100
        t = bytes_read()
        probe(window, ask_session=False)
        assert bytes_read() - t < 1_000
