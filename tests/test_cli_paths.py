"""An untrusted project cannot make any command write outside its folder (issue 14.11).

Each case points a data path (or `.brewslm/`) at a victim file or folder outside the project:
`../victim`, an absolute path, a symlinked data file, a symlinked `data/` or `.brewslm/`.
Every command must refuse with one line (exit 2), and the victim's bytes and the outside
folder's listing must be exactly what they were.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from brewslm_tui.cli import main
from tests.conftest import PROJECT_TOML, SAMPLES, make_rows

COMMANDS = [
    ["check"],
    ["stats"],
    ["stats", "--json"],
    ["approve", "--status", "pending"],
    ["reject", "--reason", "off_task", "--status", "pending"],
    ["pending", "--status", "rejected"],
    ["drop", "--status", "rejected"],
    ["restore", "--status", "dropped"],
    ["undo"],
    ["compact"],
    ["export"],
    ["jobs"],
    ["generate", "--playbook", "tmpl", "--count", "2"],
    ["open"],
]

PLAYBOOK = (SAMPLES / "sentiment" / "playbooks" / "everyday.toml").read_text()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (symlinks not followed) -> a hash of its bytes."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "link:" + str(path.readlink())
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(path)] = "dir"
    return out


def rows_text(n: int = 4) -> str:
    rows = make_rows(n)
    rows[0]["review_status"] = "rejected"
    rows[0]["reject_reason"] = "off_task"
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project with a victim file that looks like data."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text(rows_text() + "the last line of a precious file\n")
    (folder / "synthetic.jsonl").write_text(rows_text())
    return folder


def make_project(tmp_path: Path, data_section: str = "") -> Path:
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "playbooks").mkdir()
    (root / "brewslm.toml").write_text(PROJECT_TOML + data_section)
    (root / "data" / "imported.jsonl").write_text(
        '{"id": "imp-1", "prompt": "p", "completion": "positive"}\n'
    )
    (root / "playbooks" / "tmpl.toml").write_text(PLAYBOOK)
    return root


def setup(case: str, tmp_path: Path, outside: Path) -> Path:
    """The project of `case`, at tmp_path/proj, beside `outside`."""
    victim = outside / "victim.txt"
    if case == "relative ../":
        return make_project(tmp_path, '[data]\nsynthetic = "../outside/victim.txt"\n')
    if case == "dropped ../":
        return make_project(tmp_path, '[data]\ndropped = "data/../../outside/victim.txt"\n')
    if case == "absolute":
        return make_project(tmp_path, f'[data]\nsynthetic = "{victim}"\n')
    root = make_project(tmp_path)
    if case == "symlinked file":
        (root / "data" / "synthetic.jsonl").symlink_to(victim)
    elif case == "symlinked data/":
        (root / "data" / "imported.jsonl").unlink()
        (root / "data").rmdir()
        (root / "data").symlink_to(outside)
    else:
        (root / ".brewslm").symlink_to(outside)
    return root


@pytest.mark.parametrize(
    "case",
    ["relative ../", "dropped ../", "absolute", "symlinked file", "symlinked data/", "symlinked .brewslm/"],
)
def test_no_command_writes_outside_the_project(tmp_path: Path, outside: Path, capsys, case: str) -> None:
    root = setup(case, tmp_path, outside)
    before = snapshot(outside)
    for command in COMMANDS:
        code = main([command[0], str(root), *command[1:]])
        _, err = capsys.readouterr()
        assert code == 2, f"{case}: {command}: exit {code}: {err}"
        assert len(err.strip().splitlines()) == 1, f"{case}: {command}: {err}"
        assert "brewslm.toml" in err and ("outside" in err or "symlink" in err or "absolute" in err), err
        assert snapshot(outside) == before, f"{case}: {command} changed a file outside the project"


def test_allow_symlinks_is_an_explicit_opt_in(tmp_path: Path, outside: Path, capsys) -> None:
    root = make_project(tmp_path, "[data]\nallow_symlinks = true\n")
    (root / "data" / "synthetic.jsonl").symlink_to(outside / "synthetic.jsonl")
    assert main(["stats", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 4
    assert main(["check", str(root)]) == 0
    assert "allow_symlinks = true: data files may point outside the project" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "{root}", "--playbook", "../outside/evil"],
        ["generate", "{root}", "--playbook", "{outside}/evil.toml"],
        ["generate", "{root}", "--playbook", ".hidden"],
        ["generate", "{root}", "--like", "../outside/run"],
        ["generate", "{root}", "--like", "../../outside/run"],
    ],
)
def test_playbook_and_run_names_are_names_not_paths(tmp_path: Path, outside: Path, capsys, argv) -> None:
    root = make_project(tmp_path)
    (outside / "evil.toml").write_text(PLAYBOOK)
    (outside / "run.json").write_text("{}")
    before = snapshot(outside)
    code = main([a.format(root=root, outside=outside) for a in argv])
    _, err = capsys.readouterr()
    assert code == 2 and "is not a name" in err and len(err.strip().splitlines()) == 1, err
    assert snapshot(outside) == before
    assert not (root / ".brewslm" / "jobs").exists()  # no job started
