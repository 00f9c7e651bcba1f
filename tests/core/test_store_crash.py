"""Crash safety with real processes: SIGKILL a child at random moments, many times.

After every kill, reopening the project must show every acknowledged decision (and the one in
flight either wholly applied or not at all), no duplicated or half rows, and files that a
line-by-line JSON reader (what `jq` does) accepts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.store.store import Store

CHILD = Path(__file__).with_name("crash_child.py")
REPO = Path(__file__).resolve().parents[2]


def apply(model: dict, step: dict) -> None:
    op, ids = step["op"], step["ids"]
    for i in ids:
        if op == "append":
            model[i] = ("pending", None, "positive")
            continue
        status, reason, completion = model[i]
        if op == "approve" and status in ("pending", "rejected"):
            model[i] = ("approved", None, completion)
        elif op == "reject" and status in ("pending", "approved", "rejected"):
            model[i] = ("rejected", step["reason"], completion)
        elif op == "pending" and status in ("approved", "rejected"):
            model[i] = ("pending", None, completion)
        elif op == "drop" and status == "rejected":
            model[i] = ("dropped", reason, completion)
        elif op == "edit" and status != "dropped":
            model[i] = ("approved", None, step["completion"])


def on_disk(project) -> dict:
    """State of every row as a fresh reader sees it; also checks the files line by line."""
    for path in (project.synthetic_path, project.dropped_path):
        if path.exists():
            data = path.read_bytes()
            assert data == b"" or data.endswith(b"\n"), f"{path.name} ends in a half line after reopen"
            for n, line in enumerate(data.splitlines(), 1):
                assert isinstance(orjson.loads(line), dict), f"{path.name}:{n}"
    store = Store.open(project, lock_timeout=10)
    try:
        state = {}
        for i in range(len(store)):
            row = store.row(i)
            assert row["id"] not in state, f"duplicated row {row['id']}"
            state[row["id"]] = (row["review_status"], row.get("reject_reason"), row["completion"])
        live = set(state)
        for j in range(len(store.dropped)):
            row = store.dropped.row(j)
            if row["id"] in live:
                continue
            assert row["id"] not in state, f"duplicated dropped row {row['id']}"
            state[row["id"]] = ("dropped", row.get("reject_reason"), row["completion"])
        return state
    finally:
        store.close()


def read_lines(child: subprocess.Popen, buf: bytearray) -> list[str]:
    """The complete lines the child has printed since the last call (non-blocking)."""
    buf += child.stdout.read() or b""
    *done, rest = bytes(buf).split(b"\n")
    buf[:] = rest
    return [line.decode() for line in done]


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_random_moments_loses_no_acknowledged_decision(tiny_project, seed):
    rng = random.Random(seed)
    model: dict = {}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 12
    for round_no in range(kills):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(tiny_project.root), str(seed * 100 + round_no)],
            stdout=subprocess.PIPE,
            env=env,
        )
        # The kill moment is random but counted in the child's own progress, not from its
        # spawn: after a random number of acknowledged steps (0 = during the first one), a
        # random part of a step later. A clock from the spawn killed every child of a loaded
        # machine before its interpreter had started, and the test then checked nothing.
        acks_before_kill = rng.randint(0, 6)
        jitter = rng.uniform(0.0, 0.3)
        os.set_blocking(child.stdout.fileno(), False)
        buf = bytearray()
        lines: list[str] = []
        give_up = time.monotonic() + 120  # a broken child fails the test instead of hanging it
        while lines.count("ACK") < acks_before_kill or "READY" not in lines:
            assert child.poll() is None, f"round {round_no}: the child exited ({child.returncode})"
            assert time.monotonic() < give_up, f"round {round_no}: the child made no progress"
            lines += read_lines(child, buf)
            time.sleep(0.005)
        deadline = time.monotonic() + jitter
        while time.monotonic() < deadline:
            lines += read_lines(child, buf)
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        # what it printed before it died; a final line without its newline was cut off
        # mid-print and stays in buf, ignored
        lines += read_lines(child, buf)
        child.stdout.close()
        in_flight = None
        for line in lines:
            if line.startswith("BEGIN "):
                in_flight = orjson.loads(line[6:])
            elif line == "ACK":
                apply(model, in_flight)
                in_flight = None
        state = on_disk(tiny_project)
        if in_flight is None or in_flight["op"] == "compact":
            assert state == model, f"round {round_no}: acknowledged decisions differ from disk"
        else:
            with_it = dict(model)
            apply(with_it, in_flight)
            assert state in (model, with_it), (
                f"round {round_no}: state is neither before nor after {in_flight['op']}"
            )
            model = state
    assert model, "the child never acknowledged anything"
