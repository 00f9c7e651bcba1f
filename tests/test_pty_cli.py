"""Every CLI command, run in a real pseudo-terminal on a hostile project: no byte acts on the terminal.

The project's rows, reject reasons, run ids, playbook names, job records and a backend's error
reply (a real HTTP server on 127.0.0.1) carry OSC 52 (clipboard write), OSC 0 (window title),
OSC 8 (hyperlinks), CSI 2J (clear screen), C1 controls, bidi overrides and Rich markup. Each
command runs as its own process on a pty (so Rich believes it is on a terminal and styles its
output); the bytes that come back may hold only the sequences Rich itself writes for styling and
progress (SGR, cursor hide/show, erase line, cursor up). The hostile text must still be visible,
escaped, so the test cannot pass by printing nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from brewslm_tui.core.text import _DANGEROUS
from tests.conftest import REPO, SAMPLES

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
OSC0 = "\x1b]0;owned title\x07"
OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1b[H"
C1 = "\x9b2J\x9d0;c1 title\x9c"
BIDI = "\u202eevil\u202c"
MARKUP = "[/][link=http://evil.example/]x[/link][bold]"
HOSTILE = OSC52 + OSC0 + OSC8 + CLEAR + C1 + BIDI + MARKUP

# what Rich writes on a terminal: colours/styles, cursor hide/show, erase line, cursor up/down
RICH_SEQUENCES = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[[0-9]*[ABG]|\r")


def _row(i: int, **fields) -> dict:
    return {
        "id": f"r_{i:04d}",
        "prompt": f"Classify the sentiment of this review: {HOSTILE} #{i}",
        "completion": "positive",
        "review_status": "pending",
        "source": "synth_playbook",
        "run_id": "synth-" + OSC0 + "-run",
        "playbook": "pb-" + OSC52,
        "created_at": "2026-05-29T10:00:00Z",
        **fields,
    }


class FailingBackend:
    """An OpenAI-compatible server on 127.0.0.1 that answers every request with `status` and `body`.

    It keeps the Authorization header of each request (`auth`), so a test can see a key was sent.
    """

    def __init__(self, status: int, body: bytes) -> None:
        self.auth: list[str] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                backend.auth.append(self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up first
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def evil_backend() -> FailingBackend:
    """A 500 whose error message carries every hostile sequence, raw bytes included."""
    body = json.dumps({"error": {"message": "backend says " + HOSTILE}}).encode()
    return FailingBackend(500, body.replace(b"\\u001b", b"\x1b").replace(b"\\u0007", b"\x07"))


@pytest.fixture
def backend():
    server = evil_backend()
    yield server
    server.close()


@pytest.fixture
def hostile_project(tmp_path: Path, backend: FailingBackend) -> Path:
    root = tmp_path / "hostile"
    shutil.copytree(
        SAMPLES / "sentiment",
        root,
        ignore=shutil.ignore_patterns(".brewslm", "synthetic.jsonl", "dropped.jsonl"),
    )
    rows = [_row(i) for i in range(4)]
    rows += [_row(i, review_status="rejected", reject_reason=code) for i, code in ((4, "[/]"), (5, OSC52))]
    rows += [_row(6, review_status="rejected", reject_reason="[/]")]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(3, '{"broken": "' + HOSTILE.replace("\\", "") + '", ')  # a malformed line: check names it
    (root / "data" / "synthetic.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    dropped = _row(7, review_status="dropped", drop_reason=OSC52, dropped_at="2026-05-30T10:00:00Z")
    (root / "data" / "dropped.jsonl").write_text(json.dumps(dropped, ensure_ascii=False) + "\n")
    jobs = root / ".brewslm" / "jobs"
    jobs.mkdir(parents=True)
    record = json.loads(
        (SAMPLES / "sentiment" / ".brewslm" / "jobs" / "synth-2026-11-23-71e2aa.json").read_text()
    )
    record.update(playbook="pb-" + OSC52, state="failed", note=HOSTILE)
    record["diagnostic"].update(headline="failed: " + HOSTILE, last_backend_error=HOSTILE)
    (jobs / "synth-2026-11-23-71e2aa.json").write_text(json.dumps(record, ensure_ascii=False))
    playbooks = root / "playbooks"
    (playbooks / "evil-backend.toml").write_text(
        f'description = "a backend that answers with escape sequences"\n'
        f'generator = "openai"\ncount = 3\ninstructions = "write reviews"\n'
        f'[openai]\nbase_url = "{backend.url}"\nmodel = "m"\nretries = 0\ntimeout = 10.0\nconcurrency = 1\n',
        encoding="utf-8",
    )
    (playbooks / "evil-name.toml").write_text(
        'name = "ev\\u001b]0;il\\u0007"\ngenerator = "template"\nfrobnicate = "\\u001b[2J[/]"\n',
        encoding="utf-8",
    )
    return root


def run_in_pty(*args: str, timeout: float = 120.0, term: str = "xterm-256color") -> tuple[int, str]:
    """Run `brewslm-tui ARGS` with stdin, stdout and stderr on a new pty; return (code, output)."""
    master, slave = pty.openpty()
    env = {
        **os.environ,
        "TERM": term,
        "COLUMNS": "160",
        "LINES": "50",
        "PYTHONPATH": str(REPO),
        "NO_COLOR": "",
    }
    env.pop("NO_COLOR")
    proc = subprocess.Popen(
        [sys.executable, "-m", "brewslm_tui", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise AssertionError(f"brewslm-tui {' '.join(args)} printed nothing for {timeout} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    code = proc.wait(timeout=timeout)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def assert_inert(output: str, command: str) -> None:
    assert "Traceback" not in output, f"{command}: {output}"
    rest = RICH_SEQUENCES.sub("", output)
    bad = sorted({f"U+{ord(c):04X}" for c in rest if ord(c) in _DANGEROUS and c not in "\n\r\t"})
    assert not bad, f"{command}: terminal controls reach the terminal: {bad}\n{output!r}"
    for sequence in ("\x1b]", "\x1b[2J", "\x1bP", "\x1b_"):
        assert sequence not in output, f"{command}: {sequence!r} in {output!r}"


def escaped(text: str) -> str:
    """A piece of HOSTILE as the output shows it once made visible."""
    return text.replace("\x1b", "\\x1b").replace("\x07", "\\x07")


COMMANDS: list[tuple[tuple[str, ...], int, list[str]]] = [
    # (arguments after the project, expected exit code, texts the output must show)
    (("check",), 1, ["\\x1b]0;il\\x07", "synthetic.jsonl:4"]),
    (("stats",), 0, ["[/]", escaped(OSC52), escaped(OSC0)]),
    (("stats", "--json"), 0, ['"[/]"', "\\u001b]52"]),
    (("jobs",), 0, [escaped(OSC52), "failed: "]),
    (("jobs", "--json"), 0, ["\\u001b]52", "\\u009b2J"]),
    (("export",), 0, ["imp-"]),
    (("drop", "--reason", "[/]", "--dry-run"), 0, ["would drop", "[/]"]),
    (("drop", "--reason", "[/]"), 0, ["dropped", "[/]"]),
    (("restore", "--id", "r_0007", "--no-compact"), 0, ["restored 1 row"]),
    (("undo",), 0, ["undone: restore of 1 row from dropped"]),
    (("approve", "--id", "r_0000"), 0, ["approve: 1 row"]),
    (("approve", "--run", "synth-" + OSC0 + "-run", "--no-compact"), 0, [escaped(OSC0)]),
    (("approve", "--run", "nope" + OSC52), 2, [escaped(OSC52)]),
    (("approve", "--id", "no" + OSC8), 1, ["no row with id"]),
    (("reject", "--reason", "wrong_label", "--playbook", "pb-" + OSC52), 0, [escaped(OSC52)]),
    (("reject", "--reason", "[/]" + OSC0, "--id", "r_0001"), 2, ["[/]" + escaped(OSC0)]),
    (("compact",), 0, ["compacted"]),
    (("generate", "--like", OSC52), 2, ["is not a name"]),
    (("generate", "--playbook", "evil-backend", "--count", "3"), 1, ["backend says", escaped(OSC52)]),
]


def test_every_command_keeps_the_terminal_safe(hostile_project: Path) -> None:
    for args, expected, texts in COMMANDS:
        command = " ".join(args)
        code, output = run_in_pty(*args[:1], str(hostile_project), *args[1:])
        assert_inert(output, command)
        assert code == expected, f"{command}: exit {code}, expected {expected}\n{output}"
        for text in texts:
            assert text in output, f"{command}: {text!r} not shown in\n{output}"


def test_errors_before_a_project_is_loaded_are_inert_too(tmp_path: Path) -> None:
    bad = tmp_path / ("proj" + OSC0)
    bad.mkdir()
    (bad / "brewslm.toml").write_text('name = "x\\u001b]52;c;eA==\\u0007"\ntask = "qa"\nscoring = "f1"\n')
    for args in (("stats", str(bad)), ("check", str(tmp_path / ("missing" + OSC52))), ("frobnicate" + OSC8,)):
        code, output = run_in_pty(*args)
        assert_inert(output, args[0])
        assert code == 2, output
