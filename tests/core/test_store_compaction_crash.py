"""A crash between any two steps of a compaction replays to the same rows.

A real child process compacts and exits hard (`os._exit`, no cleanup) just before the k-th
rename; then a fresh open must show exactly the state from before the compaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import os, sys
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store
store = Store.open(load_project(sys.argv[1]))
k = int(sys.argv[2]); seen = []
def hook(target):
    seen.append(target)
    if len(seen) == k:
        os._exit(9)
store.compact(_crash_hook=hook)
os._exit(0)
"""


def snapshot(project):
    with Store.open(project) as store:
        live = {store.row(i)["id"]: store.row(i) for i in range(len(store)) if store.status[i] != 3}
        dropped = {store.id_of(i) for i in range(len(store)) if store.status[i] == 3}
        dropped |= {store.dropped.id_of(j) for j in range(len(store.dropped))} - set(live)
        return live, dropped, store.counts()


@pytest.mark.parametrize("crash_at", [1, 2, 3, 99])
def test_crash_between_compaction_renames(tiny_project, crash_at):
    append_rows(tiny_project, make_rows(40))
    with Store.open(tiny_project) as store:
        store.reject(range(20), "minor_typo", note="fix me")
        store.drop(range(10))
        store.approve(range(20, 30))
        store.edit(31, completion="negative")
        store.compact()
        store.restore([store.dropped.id_of(0), store.dropped.id_of(1)])
        store.drop(range(10, 14))
        store.reject([25], "label_ambiguous")
    before = snapshot(tiny_project)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tiny_project.root), str(crash_at)], env=env)
    assert proc.returncode in (0, 9)
    after = snapshot(tiny_project)
    assert after == before
    # and the next compaction from the recovered state is clean
    with Store.open(tiny_project) as store:
        store.compact()
    assert snapshot(tiny_project) == before
