"""Two real processes: one appends rows while another approves and compacts.

The end state must equal the serial result: every appended row present exactly once, every
approval kept, no line interleaved with another.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from brewslm_tui.core.errors import LockBusy
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows

REPO = Path(__file__).resolve().parents[2]

APPENDER = """
import sys
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import append_rows
project = load_project(sys.argv[1])
for batch in range(60):
    rows = [{"id": f"a{batch}-{k}", "prompt": "appended " + "x" * (k * 37 % 900), "completion": "neutral",
             "run_id": "appender"} for k in range(25)]
    append_rows(project, rows)
"""

REVIEWER = """
import sys, time
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store
project = load_project(sys.argv[1])
store = Store.open(project, lock_timeout=10)
approved = set()
for step in range(40):
    store.refresh()
    todo = [i for i in range(len(store)) if store.status[i] == 0][:30]
    approved |= {store.id_of(i) for i in todo}
    store.approve(todo)
    if step % 7 == 0:
        store.compact()
store.compact()
print("\\n".join(sorted(approved)))
"""


def test_appender_and_reviewer_end_in_the_serial_state(tiny_project):
    append_rows(tiny_project, make_rows(100))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    root = str(tiny_project.root)
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, root], env=env)
    reviewer = subprocess.run([sys.executable, "-c", REVIEWER, root], env=env, capture_output=True, text=True)
    assert appender.wait() == 0
    assert reviewer.returncode == 0, reviewer.stderr
    approved = set(reviewer.stdout.split())
    lines = tiny_project.synthetic_path.read_bytes().splitlines()
    rows = [orjson.loads(line) for line in lines]  # every line whole
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 100 + 60 * 25
    for row in rows:
        assert row.get("review_status", "pending") == ("approved" if row["id"] in approved else "pending")
    assert approved


def test_second_reviewer_waits_briefly_then_names_the_holder(tiny_project):
    with Store.open(tiny_project):
        try:
            Store.open(tiny_project, lock_timeout=0.2)
        except LockBusy as exc:
            message = str(exc)
        else:
            raise AssertionError("a second writable store opened while the first held the session")
    assert f"pid {os.getpid()}" in message and "review session" in message
    # and a read-only look is always allowed
    with Store.open(tiny_project):
        assert len(Store.open(tiny_project, readonly=True)) == 0
