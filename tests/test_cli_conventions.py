"""One rule for exit codes and error lines, per command; --version, completion, progress, --verbose.

Exit codes: 0 ok, 1 the command ran and found problems (or an I/O error), 2 bad usage or a bad
project. Errors are one line each on stderr, `brewslm-tui: ...`, never doubled, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.store.store import append_rows
from tests.conftest import REPO, SAMPLES, make_rows
from tests.helpers import run_main as run
from tests.test_pty_cli import FailingBackend, run_in_pty


@pytest.fixture
def project(tiny_project):
    rows = make_rows(6, run="synth-a-1") + make_rows(6, run="synth-b-2", start=6)
    rows[0] |= {"review_status": "approved"}
    rows[1] |= {"review_status": "rejected", "reject_reason": "minor_typo"}
    append_rows(tiny_project, rows)
    return tiny_project


def assert_one_error_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("brewslm-tui") and "brewslm-tui: brewslm-tui" not in lines[0], err
    assert "Traceback" not in err


# --- exit codes, command by command ----------------------------------------------------------

BAD_USAGE = [
    ("approve", "--status", "nonsense"),
    ("pending", "--status", "nonsense"),
    ("reject", "--reason", "nonsense", "--status", "pending"),
    ("reject", "--reason", "minor_typo", "--where-reason", "nonsense"),
    ("drop", "--reason", "nonsense"),
    ("drop", "--status", "nonsense"),
    ("restore", "--reason", "nonsense"),
    ("approve", "--run", "no-such-run"),
    ("reject", "--reason", "minor_typo", "--playbook", "no-such-playbook"),
    ("approve",),
    ("drop",),
    ("generate", "--like", "no-such-run"),
    ("generate", "--playbook", "no-such-playbook"),
    ("generate",),
    ("generate", "--playbook", "x", "--count", "0"),
    ("stats", "--frobnicate"),
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=" ".join)
def test_bad_usage_exits_2_with_one_line(project, capsys, argv) -> None:
    before = project.synthetic_path.read_bytes()
    code, out, err = run(capsys, argv[0], project.root, *argv[1:])
    assert code == 2, (out, err)
    assert_one_error_line(err)
    assert project.synthetic_path.read_bytes() == before
    assert not (project.state_dir / "jobs").exists()


def test_unknown_things_are_named_with_what_is_known(project, capsys) -> None:
    _, _, err = run(capsys, "drop", project.root, "--reason", "nonsense")
    assert "--reason 'nonsense': unknown reject reason" in err and "minor_typo" in err
    _, _, err = run(capsys, "approve", project.root, "--run", "synth-a-2")
    assert "--run 'synth-a-2': no row has it (known: synth-a-1, synth-b-2)" in err
    _, _, err = run(capsys, "approve", project.root, "--status", "aproved")
    assert "unknown status (one of: pending, approved, rejected, dropped)" in err


def test_every_command_on_a_missing_or_bad_project_exits_2(tmp_path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "brewslm.toml").write_text('name = "x"\ntask = = 3\n')
    for command in ("check", "stats", "approve", "compact", "export", "jobs", "generate", "undo", "open"):
        for root in (tmp_path / "missing", bad):
            extra = (
                ["--id", "x"]
                if command == "approve"
                else ["--playbook", "p"]
                if command == "generate"
                else []
            )
            code, _, err = run(capsys, command, root, *extra)
            assert code == 2, (command, root, err)
            assert_one_error_line(err)


def test_an_already_approved_row_prints_one_true_line(project, capsys) -> None:
    code, out, err = run(capsys, "approve", project.root, "--id", "r000000")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "approve: nothing to change: the 1 row selected is already approved (--id r000000)"
    ]
    code, out, err = run(capsys, "approve", project.root, "--id", "r000000", "--id", "r000002")
    assert code == 0 and out.splitlines() == [
        "approve: 1 row (--id r000000 --id r000002)",
        "left alone 1 row already approved",
    ]


def test_an_unknown_id_is_a_problem_and_named(project, capsys) -> None:
    code, out, err = run(capsys, "approve", project.root, "--id", "nope", "--id", "r000003")
    assert code == 1
    assert err.strip() == "brewslm-tui: no row with id 'nope'"
    assert out.splitlines() == ["approve: 1 row (--id nope --id r000003)"]  # the known one is decided


def test_a_selection_that_matches_nothing_changes_nothing_and_says_so(project, capsys) -> None:
    code, out, err = run(capsys, "drop", project.root, "--run", "synth-b-2", "--status", "pending")
    assert code == 0 and err == ""
    assert out.splitlines() == ["left alone 6 rows selected that are not rejected"]
    code, out, _ = run(capsys, "pending", project.root, "--run", "synth-b-2")
    assert code == 0 and out.splitlines() == [
        "pending: nothing to change: the 6 rows selected are already pending (--run synth-b-2)"
    ]


def test_plurals(project, capsys) -> None:
    code, out, _ = run(capsys, "drop", project.root, "--reason", "minor_typo", "--dry-run")
    assert out.splitlines() == ["would drop 1 row: minor_typo 1"]
    assert run(capsys, "drop", project.root, "--id", "r000001")[1].splitlines() == [
        "dropped 1 row: minor_typo 1"
    ]
    code, out, _ = run(capsys, "restore", project.root, "--id", "r000001")
    assert code == 0 and out.splitlines() == ["restored 1 row as pending (--id r000001)"]
    code, out, _ = run(
        capsys, "reject", project.root, "--reason", "off_task", "--id", "r000001", "--no-compact"
    )
    assert out.splitlines() == ["reject: 1 row (--id r000001)"]
    assert run(capsys, "undo", project.root)[1].splitlines() == [
        "undone: reject of 1 row (off_task), back to pending"
    ]


def test_check_counts_problems_and_files(project, capsys) -> None:
    with open(project.synthetic_path, "ab") as f:
        f.write(b'{"broken": \n{"id":"x","prompt":"p"}\n')
    with open(project.imported_path, "ab") as f:
        f.write(b"not json\n")
    code, out, _ = run(capsys, "check", project.root)
    assert code == 1
    assert out.splitlines()[-1] == "3 problems in 2 files"
    project.imported_path.write_text('{"id": "imp-1", "prompt": "p", "completion": "positive"}\n')
    assert run(capsys, "check", project.root)[1].splitlines()[-1] == "2 problems in 1 file"


def test_stats_plain_output_has_column_headers(project, capsys) -> None:
    code, out, _ = run(capsys, "stats", project.root)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "tiny: 12 synthetic rows, 0 quarantined lines"
    k = lines.index("by run")
    assert lines[k + 1].split() == ["run_id", "total", "pending", "approved", "rejected", "dropped"]
    assert lines[k + 2].split() == ["synth-a-1", "6", "4", "1", "1", "0"]
    assert lines[lines.index("by status") + 1].split() == ["status", "rows"]


# --- export's output file --------------------------------------------------------------------


def test_export_refuses_a_missing_folder_and_does_not_create_it(project, capsys, tmp_path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.jsonl"
    code, _, err = run(capsys, "export", project.root, "-o", target)
    assert code == 2 and "does not exist (it is not created)" in err
    assert_one_error_line(err)
    assert not (tmp_path / "nonexistent").exists()
    code, _, err = run(capsys, "export", project.root, "-o", tmp_path)
    assert code == 2 and "is a folder" in err


def test_export_where_nothing_can_be_written_is_one_line_exit_1(project, capsys) -> None:
    code, _, err = run(capsys, "export", project.root, "-o", "/proc/x.jsonl")
    assert code == 1, err
    assert_one_error_line(err)
    assert err.startswith("brewslm-tui: /proc/x.jsonl: ")


# --- --version, completion ------------------------------------------------------------------


def test_version(capsys) -> None:
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"brewslm-tui {version('brewslm-tui')}"


COMMANDS = ["open", "check", "stats", "compact", "approve", "pending", "reject", "drop", "restore", "undo"]
COMMANDS += ["export", "generate", "jobs", "completion"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_bash_completion_completes_commands_and_options(capsys, tmp_path) -> None:
    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0
    path = tmp_path / "brewslm-tui.bash"
    path.write_text(script)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (
            f"source {path}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
            f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; _shtab_brewslm_tui; printf "%s\\n" "${{COMPREPLY[@]}}"'
        )
        proc = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert set(complete("brewslm-tui", "''")) >= set(COMMANDS)
    assert complete("brewslm-tui", "ap") == ["approve"]
    assert "--where-reason" in complete("brewslm-tui", "reject", "proj", "--wh")
    assert complete("brewslm-tui", "completion", "''") == ["bash", "zsh", "fish"]


def test_zsh_and_fish_completion_name_every_command(capsys) -> None:
    code, zsh, _ = run(capsys, "completion", "zsh")
    assert code == 0 and zsh.startswith("#compdef brewslm-tui")
    code, fish, _ = run(capsys, "completion", "fish")
    assert code == 0
    lines = fish.splitlines()
    assert all(line.startswith(("#", "complete -c brewslm-tui ")) for line in lines)
    for command in COMMANDS:
        assert any(f"__fish_use_subcommand -a {command} " in line for line in lines), command
    assert any("'__fish_seen_subcommand_from reject'" in line and "-l where-reason" in line for line in lines)
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=zsh, text=True).returncode == 0
    if shutil.which("fish"):
        assert subprocess.run(["fish", "-n"], input=fish, text=True).returncode == 0


def test_completion_needs_a_known_shell(capsys) -> None:
    code, _, err = run(capsys, "completion", "powershell")
    assert code == 2
    assert_one_error_line(err)


# --- generate's progress -----------------------------------------------------------------------


@pytest.fixture
def sentiment(tmp_path) -> Path:
    root = tmp_path / "sentiment"
    shutil.copytree(SAMPLES / "sentiment", root, ignore=shutil.ignore_patterns(".brewslm"))
    return root


def test_generate_on_a_pipe_prints_plain_lines(sentiment) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "brewslm_tui",
            "generate",
            str(sentiment),
            "--playbook",
            "everyday",
            "--count",
            "5",
        ],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"\x1b" not in proc.stderr + proc.stdout
    lines = proc.stderr.decode().splitlines()
    assert lines[0].startswith("run synth-") and lines[0].endswith(": everyday started")
    assert "5/5 usable" in lines[-1]


def test_generate_on_a_dumb_terminal_prints_plain_lines(sentiment) -> None:
    code, output = run_in_pty(
        "generate", str(sentiment), "--playbook", "everyday", "--count", "5", term="dumb"
    )
    assert code == 0, output
    assert "\x1b" not in output, repr(output)
    assert "5/5 usable" in output


def test_generate_on_a_terminal_draws_a_progress_bar(sentiment) -> None:
    code, output = run_in_pty("generate", str(sentiment), "--playbook", "everyday", "--count", "5")
    assert code == 0, output
    assert "━" in output and "5/5" in output  # Rich's bar and its M/N column
    assert "\x1b[2K" in output or "\x1b[?25l" in output  # drawn as a live display


# --- --verbose ----------------------------------------------------------------------------------


def test_verbose_logs_the_files_a_command_opens(project, capsys, tmp_path) -> None:
    code, _, err = run(capsys, "--verbose", "approve", project.root, "--id", "r000002")
    assert code == 0
    assert f"opened {project.synthetic_path}" in err and "brewslm_tui.cli INFO" in err
    assert "compacted" in err
    log_file = tmp_path / "brew.log"
    code, _, err = run(capsys, "--log-file", log_file, "stats", project.root)
    assert code == 0 and err == ""
    assert f"opened {project.synthetic_path} read-only" in log_file.read_text()
    code, _, err = run(capsys, "stats", project.root)
    assert err == ""  # no handler left behind by the runs before
    code, _, err = run(capsys, "--log-file", tmp_path / "no" / "such.log", "stats", project.root)
    assert code == 2


def test_verbose_logs_requests_but_never_the_key(sentiment, tmp_path) -> None:
    backend = FailingBackend(503, b'{"error": {"message": "overloaded"}}')
    try:
        (sentiment / "playbooks" / "remote.toml").write_text(
            'description = "remote"\ngenerator = "openai"\ncount = 2\ninstructions = "write reviews"\n'
            f'[openai]\nbase_url = "{backend.url}"\nmodel = "m"\napi_key_env = "BREW_TEST_API_KEY"\n'
            "retries = 0\nconcurrency = 1\ntimeout = 10.0\n"
        )
        secret = "sk-test-" + "9f8e7d6c5b4a" * 4
        log_file = tmp_path / "generate.log"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "brewslm_tui",
                "--verbose",
                "--log-file",
                str(log_file),
                "generate",
                str(sentiment),
                "--playbook",
                "remote",
            ],
            capture_output=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "BREW_TEST_API_KEY": secret},
            timeout=300,
        )
    finally:
        backend.close()
    assert proc.returncode == 1  # every request failed: the job fails loudly
    assert backend.auth and all(secret in a for a in backend.auth)  # the key was really sent
    log = log_file.read_text()
    assert f"POST {backend.url}/chat/completions" in log and "HTTP 503" in log
    for text in (log, proc.stderr.decode(), proc.stdout.decode()):
        assert secret[:12] not in text
    for record in (sentiment / ".brewslm" / "jobs").glob("*.json"):
        assert secret[:12] not in record.read_text()


def test_stats_json_is_unchanged_in_shape(project, capsys) -> None:
    code, out, _ = run(capsys, "stats", project.root, "--json")
    stats = orjson.loads(out)
    assert code == 0 and stats["total"] == 12 and json.loads(out) == stats
