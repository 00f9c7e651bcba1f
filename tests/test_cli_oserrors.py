"""OSError in the CLI (issue 14.17): one plain line naming the file and the cause, exit 1, nothing changed.

Real conditions, no mocks:
- a folder where a data file should be (EISDIR), a file where a folder should be (ENOTDIR,
  EEXIST), `/proc` as a place no file can be created in;
- a read-only filesystem (EROFS) and a full one (ENOSPC): a tmpfs mounted in a private mount
  namespace (`unshare -m`), so nothing outside the test sees it. Those tests are skipped where
  the namespace cannot be made.
EIO needs a failing disk; it is left to the store's fault-injection seam (store-io's branch).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from brewslm_tui.core.store.store import append_rows
from tests.conftest import REPO, SAMPLES, make_rows
from tests.helpers import file_tree
from tests.helpers import run_main as run

COMMANDS = [
    ["check"],
    ["stats"],
    ["approve", "--status", "pending"],
    ["reject", "--reason", "off_task", "--status", "pending"],
    ["drop", "--status", "rejected"],
    ["undo"],
    ["compact"],
    ["export"],
]


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under root -> a hash of its bytes ("dir" for a folder); locks aside."""
    return file_tree(root, folders=True, locks=False)


@pytest.fixture
def project(tiny_project):
    append_rows(tiny_project, make_rows(6))
    return tiny_project


def assert_refused(capsys, root: Path, commands, *, names: str, cause: str, code: int = 1) -> None:
    before = tree(root)
    for command in commands:
        got, _, err = run(capsys, command[0], root, *command[1:])
        assert got == code, f"{command}: exit {got}: {err}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, f"{command}: {err}"
        assert names in lines[0] and cause in lines[0], f"{command}: {lines[0]}"
        assert tree(root) == before, f"{command} changed the project"


def test_a_folder_where_the_synthetic_file_should_be(project, capsys) -> None:
    project.synthetic_path.unlink()
    project.synthetic_path.mkdir()
    (project.synthetic_path / "keep.txt").write_text("x")
    assert_refused(capsys, project.root, COMMANDS, names="data/synthetic.jsonl: ", cause="Is a directory")


def test_a_folder_where_the_imported_file_should_be(project, capsys) -> None:
    project.imported_path.unlink()
    project.imported_path.mkdir()
    assert_refused(
        capsys, project.root, [["check"], ["export"]], names="imported.jsonl: ", cause="Is a directory"
    )


def test_a_file_where_the_data_folder_should_be(project, capsys) -> None:
    shutil.rmtree(project.root / "data")
    (project.root / "data").write_text("not a folder\n")
    assert_refused(capsys, project.root, COMMANDS, names="data/", cause="Not a directory")


def test_a_file_where_the_state_folder_should_be(project, capsys) -> None:
    shutil.rmtree(project.state_dir, ignore_errors=True)
    project.state_dir.write_text("not a folder\n")
    decisions = [c for c in COMMANDS if c[0] in ("approve", "reject", "drop", "undo", "compact")]
    before = tree(project.root)
    for command in decisions:
        code, _, err = run(capsys, command[0], project.root, *command[1:])
        assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert ".brewslm" in err and ("File exists" in err or "Not a directory" in err), err
        assert tree(project.root) == before


def test_export_into_proc_names_the_file(project, capsys) -> None:
    code, _, err = run(capsys, "export", project.root, "-o", "/proc/brewslm-export.jsonl")
    assert code == 1 and err.strip().startswith("brewslm-tui: /proc/brewslm-export.jsonl: "), err
    assert len(err.strip().splitlines()) == 1


# --- real read-only and full filesystems, in a private mount namespace ------------------------

DRIVER = textwrap.dedent(
    r"""
    import hashlib, json, os, pty, select, shutil, subprocess, sys, time
    from pathlib import Path

    config = json.loads(sys.argv[1])
    mount, out = Path(config["mount"]), Path(config["out"])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + config["size"], "tmpfs", str(mount)], check=True)
    root = mount / "proj"
    shutil.copytree(config["src"], root)
    env = {**os.environ, "PYTHONPATH": config["repo"]}
    results = []

    def tree():
        return {
            str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if not p.name.endswith((".lock", ".holder"))
        }

    def cli(argv):
        proc = subprocess.run([sys.executable, "-m", "brewslm_tui", *argv], capture_output=True, env=env,
                              cwd=config["repo"], timeout=300)
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    def open_in_pty():
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(sys.executable, [sys.executable, "-m", "brewslm_tui", "open", str(root)],
                       {**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "30"})
        seen, deadline, quit_sent = b"", time.monotonic() + 120, False
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                seen += data
            if not quit_sent and b"decisions are off here: Read-only file system" in seen:
                time.sleep(0.5)
                os.write(fd, b"\x11")  # ctrl+q
                quit_sent = True
        if not quit_sent:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")

    for step in config["steps"]:
        kind = step[0]
        if kind == "cli":
            before = tree()
            code, stdout, stderr = cli(step[1:])
            results.append({"argv": step[1:], "code": code, "out": stdout, "err": stderr,
                            "changed": tree() != before})
        elif kind == "ro":
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        elif kind == "fill":
            for name, chunk in (("filler", 65536), ("filler2", 1)):  # then the last partial page
                fd = os.open(mount / name, os.O_WRONLY | os.O_CREAT)
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
                os.close(fd)
        elif kind == "free":
            (mount / "filler").unlink()
            (mount / "filler2").unlink()
        elif kind == "open":
            code, screen = open_in_pty()
            results.append({"argv": ["open"], "code": code, "out": screen, "err": "", "changed": False})
        elif kind == "tree":
            results.append({"tree": tree()})
    (out / "results.json").write_text(json.dumps(results))
    """
)


def in_namespace(tmp_path: Path, src: Path, steps: list[list[str]], size: str = "16m") -> list[dict]:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("no unshare/mount here")
    mount, out = tmp_path / "mnt", tmp_path / "out"
    mount.mkdir()
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=64k",
            "tmpfs",
            str(mount),
        ],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.decode().strip()}")
    out.mkdir()
    config = {
        "mount": str(mount),
        "out": str(out),
        "src": str(src),
        "repo": str(REPO),
        "size": size,
        "steps": steps,
    }
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", DRIVER, json.dumps(config)],
        capture_output=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads((out / "results.json").read_text())


@pytest.fixture
def sentiment(tmp_path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(SAMPLES / "sentiment", root, ignore=shutil.ignore_patterns(".brewslm"))
    return root


def test_a_read_only_filesystem(tmp_path, sentiment) -> None:
    writes = [
        ["approve", "{root}", "--status", "pending"],
        ["reject", "{root}", "--reason", "off_task", "--status", "pending"],
        ["drop", "{root}", "--status", "rejected"],
        ["compact", "{root}"],
        ["undo", "{root}"],
        ["generate", "{root}", "--playbook", "everyday", "--count", "3"],
    ]
    reads = [["stats", "{root}"], ["check", "{root}"], ["export", "{root}"], ["jobs", "{root}"]]
    steps = [["cli", "stats", "{root}"], ["ro"]]  # the first stats builds the column cache
    steps += [["cli", *s] for s in writes + reads] + [["open"]]
    root = str(tmp_path / "mnt" / "proj")
    steps = [[part.replace("{root}", root) for part in step] for step in steps]
    results = in_namespace(tmp_path, sentiment, steps)[1:]
    for result in results[: len(writes)]:
        if result["argv"][0] == "generate":
            continue  # a job's own record is gen-jobs' (14.20); here: it must not change a file
        assert result["code"] == 1, result
        lines = result["err"].strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result["err"], result
        assert "Read-only file system" in lines[0] and root in lines[0], result
        assert not result["changed"], result
    assert not results[len(writes) - 1]["changed"]
    for result in results[len(writes) : len(writes) + len(reads)]:
        assert result["code"] == 0 and result["err"] == "", result
    opened = results[-1]
    (tmp_path / "open.out").write_text(opened["out"])
    assert opened["code"] == 0, f"exit {opened['code']}: see {tmp_path / 'open.out'}"
    assert "read-only, decisions are off here: Read-only file system: cannot write in" in opened["out"]


def test_a_full_filesystem(tmp_path, sentiment) -> None:
    root = str(tmp_path / "mnt" / "proj")
    steps = [
        ["cli", "stats", root, "--json"],
        ["fill"],
        ["cli", "approve", root, "--status", "pending", "--no-compact"],
        ["cli", "reject", root, "--reason", "off_task", "--status", "pending"],
        ["cli", "compact", root],
        ["cli", "export", root, "-o", root + "/../export.jsonl"],
        ["free"],
        ["cli", "stats", root, "--json"],
        ["cli", "reject", root, "--reason", "unsafe", "--id", "r_8289c2bb40224c7993fc", "--no-compact"],
        ["cli", "stats", root, "--json"],
    ]
    results = in_namespace(tmp_path, sentiment, steps, size="2m")
    first = json.loads(results[0]["out"])
    for result in results[1:5]:
        assert result["code"] == 1, result
        lines = result["err"].strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result["err"], result
        assert "No space left on device" in lines[0], result
    after_free = json.loads(results[5]["out"])
    assert after_free["by_status"] == first["by_status"]  # no failed decision took effect
    # a later decision must not bring a failed one back (issue 14.2: a torn entry "healed")
    later = json.loads(results[7]["out"])
    assert later["by_status"]["pending"] == first["by_status"]["pending"] - 1
    assert later["by_status"]["rejected"] == first["by_status"]["rejected"] + 1
    assert later["by_status"]["approved"] == first["by_status"]["approved"]
