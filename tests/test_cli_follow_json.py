"""`jobs --follow --json` prints a line per change that a terminal cannot act on: the untrusted
fields of a record (note, diagnostic, params) keep their value, with C1 controls and bidi
overrides written as JSON escapes (orjson alone escapes only what is below U+0020)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from brewslm_tui.core.generation.job_record import JobRecord, save_record
from tests.helpers import REPO, make_project

HOSTILE = "csi \x9b31m red, bidi \u202eevil\u202c, esc \x1b[2J"


def test_follow_json_lines_are_inert_and_keep_the_value(tmp_path):
    project = make_project(tmp_path)
    # a live job: this test's own process stands for the job's (alive, on this host)
    record = JobRecord(
        run_id="synth-2026-12-02-f0110w",
        playbook="hard-cases",
        state="running",
        note=HOSTILE,
        params={"like_run_id": HOSTILE},
        pid=os.getpid(),
        host=socket.gethostname(),
    )
    save_record(project, record)
    follow = subprocess.Popen(
        [sys.executable, "-m", "brewslm_tui", "jobs", str(project.root), "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        first = follow.stdout.readline()  # the running record, printed at once
        save_record(project, record.model_copy(update={"state": "succeeded"}))
        rest, err = follow.communicate(timeout=120)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, err
    out = first + rest
    for raw in ("\x9b", "\u202e", "\u202c", "\x1b"):
        assert raw.encode() not in out, raw
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["state"] for r in lines] == ["running", "succeeded"]
    assert all(r["note"] == HOSTILE and r["params"]["like_run_id"] == HOSTILE for r in lines)
