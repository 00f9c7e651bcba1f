"""The real app in a real pseudo-terminal: a key decides, then the process is signalled.

SIGTERM and SIGHUP (the SSH connection dropped; the terminal is closed first) end the app
cleanly: exit status 0, the journal folded into synthetic.jsonl, the session lock released.
SIGKILL loses no acknowledged decision either (the journal is replayed on the next open).
Waits are bounded polls for an event (a line in the journal, the process exit), not timings.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import orjson
import pytest
from conftest import statuses

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store, append_rows
from tests.helpers import make_rows

pytestmark = [pytest.mark.pty, pytest.mark.slow]

LAUNCH = "import sys; from brewslm_tui.ui.shell.app import build_app; build_app(sys.argv[1]).run()"


class PtyApp:
    """The app in a real pty, started by `launch` (a `python -c` script given the project's path)."""

    launch = LAUNCH

    def __init__(self, root):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": ""}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.launch, str(root)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.output = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output.extend(data)

    def wait_for(self, predicate, what: str, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"app exited ({self.proc.returncode}) while waiting for {what}:\n"
                    f"{bytes(self.output[-2000:]).decode(errors='replace')}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            time.sleep(0.05)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close_terminal(self) -> None:
        os.close(self.master)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def approved_count(root) -> int:
    return list(statuses(root).values()).count("approved")


@pytest.mark.parametrize("way_out", ["q", "ctrl+q", "SIGTERM", "SIGHUP"])
def test_every_way_out_ends_cleanly_with_decisions_compacted(project_dir, way_out):
    """q and ctrl+q compact too (they did not: `BrewApp._closed` shadowed Textual's own
    `_closed`, already true when `run()` returned, so the final compaction was skipped)."""
    app = PtyApp(project_dir)
    try:
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        app.type("a")
        app.wait_for(lambda: approved_count(project_dir) == 1, "the approval in the journal")
        if way_out.startswith("SIG"):
            if way_out == "SIGHUP":
                app.close_terminal()  # the SSH connection is gone: the terminal cannot be written
            app.proc.send_signal(getattr(signal, way_out))
        else:
            app.type("\x11" if way_out == "ctrl+q" else "q")
        assert app.proc.wait(timeout=60) == 0
    finally:
        app.kill()
    # compacted: the decision is in synthetic.jsonl itself, the journal is empty again
    rows = [
        orjson.loads(line) for line in (project_dir / "data" / "synthetic.jsonl").read_bytes().splitlines()
    ]
    assert [r["review_status"] for r in rows].count("approved") == 1
    journal = project_dir / ".brewslm" / "journal.jsonl"
    assert not journal.exists() or b'"op":"approve"' not in journal.read_bytes()
    # and the session lock is free for the next reviewer
    Store.open(load_project(project_dir)).close()


@pytest.mark.crash
def test_sigkill_loses_no_decision(project_dir):
    app = PtyApp(project_dir)
    try:
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        app.type("ax1")
        app.wait_for(lambda: "rejected" in statuses(project_dir).values(), "the rejection in the journal")
    finally:
        app.kill()
    on = statuses(project_dir)
    assert sorted(on.values()).count("approved") == 1
    assert sorted(on.values()).count("rejected") == 1


def test_keys_typed_ahead_in_one_burst(project_dir):
    """Over a slow link `x1` arrives in one read: the 1 must still pick the reason."""
    app = PtyApp(project_dir)
    try:
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        app.type("x1x3")
        app.wait_for(lambda: list(statuses(project_dir).values()).count("rejected") == 2, "two rejections")
    finally:
        app.kill()
    store = Store.open(load_project(project_dir), readonly=True)
    assert sorted(store.reason_counts().items()) == [("label_ambiguous", 1), ("minor_typo", 1)]


def test_256_colour_terminal_gets_palette_colours(project_dir):
    """Over SSH TERM is often xterm-256color with no COLORTERM: the app must speak 256 colours
    (the theme is picked from that palette, so nothing is approximated into mud)."""
    app = PtyApp(project_dir)
    try:
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        out = bytes(app.output)
    finally:
        app.kill()
    assert b"\x1b[38;5;" in out and b"\x1b[48;5;" in out
    assert b"\x1b[38;2;" not in out and b"\x1b[48;2;" not in out


def session_is_free(root) -> bool:
    try:
        Store.open(load_project(root), lock_timeout=5).close()
    except Exception:
        return False
    return True


def test_a_closed_terminal_never_blocks_the_app(project_dir):
    """The terminal goes away and the app keeps drawing (new rows arrive): Textual's writer
    thread died on the first failed write and every frame after the 30th blocked the loop in a
    futex wait, so the SIGHUP that followed was never handled and the session stayed locked."""
    app = PtyApp(project_dir)
    try:
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        app.type("a")
        app.wait_for(lambda: approved_count(project_dir) == 1, "the approval in the journal")
        app.close_terminal()
        project = load_project(project_dir)
        for k in range(100):  # ten seconds of new rows: repaints the dead terminal cannot take
            append_rows(project, make_rows(1, start=500 + k))
            time.sleep(0.1)
        assert app.proc.poll() is None
        app.proc.send_signal(signal.SIGHUP)
        assert app.proc.wait(timeout=90) == 0
    finally:
        app.kill()
    assert session_is_free(project_dir)
    assert b'"review_status":"approved"' in (project_dir / "data" / "synthetic.jsonl").read_bytes()


@pytest.mark.parametrize("delay", [0.0, 0.2, 0.5, 0.9, 1.4, 2.0])
def test_sighup_during_startup_ends_the_process(project_dir, delay):
    """The terminal closed in the first seconds, at whatever stage startup was: the process
    ends (killed by the signal before the app handles it, or cleanly after) and frees the lock."""
    app = PtyApp(project_dir)
    try:
        time.sleep(delay)
        app.close_terminal()
        app.proc.send_signal(signal.SIGHUP)
        assert app.proc.wait(timeout=90) in (0, -signal.SIGHUP)
    finally:
        app.kill()
    assert session_is_free(project_dir)


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3, 0.5, 0.7, 1.0])
def test_keys_typed_while_the_app_starts_are_replayed_in_order(project_dir, delay):
    """Typeahead: `2` typed `delay` s after launch, before the first frame, still shows the
    Rejected tab, and the keys after it land where they would have (issue 11.4)."""
    app = PtyApp(project_dir)
    try:
        time.sleep(delay)
        app.type("2")
        app.wait_for(lambda: b"pending" in app.output, "the first screen")
        # on Rejected (empty) `a` does nothing; `1` goes back to the Queue, where `a` approves
        # one row and `x1` rejects the next: had `2` been lost, two rows would be approved
        app.type("a1ax1")
        app.wait_for(lambda: list(statuses(project_dir).values()).count("rejected") == 1, "a rejection")
    finally:
        app.kill()
    assert approved_count(project_dir) == 1
