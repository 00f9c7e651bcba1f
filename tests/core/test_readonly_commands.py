"""`stats`, `check` and `export` open the store read-only: the one file they may write is the
derived column cache (ARCHITECTURE.md), and on a read-only filesystem they still work.

Real processes (the CLI), a real read-only bind mount where the machine allows one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store import column_cache
from brewslm_tui.core.store.file_rows import file_key
from brewslm_tui.core.store.jsonl import map_file
from brewslm_tui.core.store.store import Store
from tests.helpers import file_tree as tree
from tests.helpers import make_project, make_rows
from tests.helpers import run_cli as cli

ROWS = column_cache.MIN_ROWS + 500  # big enough that a store saves the column cache
CACHE = Path(".brewslm") / "index" / "columns.bin"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A project of ROWS rows, every 4th approved and every 5th rejected, compacted, no cache."""
    project = make_project(tmp_path_factory.mktemp("readonly"), rows=make_rows(ROWS))
    with Store.open(project) as store:
        store.approve(range(0, ROWS, 4))
        store.reject([i for i in range(0, ROWS, 5) if i % 4], "duplicate")
        store.compact()
    (project.root / CACHE).unlink()
    return project.root


def run_readonly_commands(root: Path, out: Path) -> None:
    for args in (("stats", str(root)), ("check", str(root)), ("export", str(root), "-o", str(out))):
        proc = cli(*args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
    approved = len(range(0, ROWS, 4))
    lines = out.read_bytes().splitlines()
    assert sum(1 for line in lines if orjson.loads(line).get("completion")) >= approved


def test_readonly_commands_write_only_the_column_cache(template, tmp_path):
    root = tmp_path / "p"
    subprocess.run(["cp", "-a", str(template), str(root)], check=True)
    before = tree(root)
    run_readonly_commands(root, tmp_path / "out.jsonl")
    after = tree(root)
    assert str(CACHE) in after and str(CACHE) not in before
    del after[str(CACHE)]
    assert after == before  # rows, journal, dropped.jsonl, quarantine, lock: untouched
    # and it is a cache the next store trusts (no parse of the whole file again)
    synthetic = root / "data" / "synthetic.jsonl"
    key = file_key(synthetic)
    assert key is not None
    assert column_cache.load(load_project(root), key, map_file(synthetic)) is not None


def test_readonly_commands_on_a_read_only_filesystem(template, tmp_path):
    root = tmp_path / "ro"
    subprocess.run(["cp", "-a", str(template), str(root)], check=True)
    before = tree(root)
    if subprocess.run(["mount", "--bind", str(root), str(root)], capture_output=True).returncode:
        pytest.skip("no bind mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(root)], capture_output=True).returncode:
            pytest.skip("no read-only remount here")
        with pytest.raises(OSError):
            (root / "probe").write_bytes(b"")  # it is really read-only
        run_readonly_commands(root, tmp_path / "out.jsonl")
        run_readonly_commands(root, tmp_path / "out.jsonl")  # no cache to trust: parsed again, same result
        assert tree(root) == before
    finally:
        subprocess.run(["umount", str(root)], capture_output=True)
