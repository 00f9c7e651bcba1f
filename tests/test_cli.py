"""Every CLI command on a real project copy: output, files on disk, exit codes, error text."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import REPO, make_rows
from tests.helpers import run_main as run


@pytest.fixture
def project(tiny_project):
    append_rows(tiny_project, make_rows(6, run="synth-a-1") + make_rows(6, run="synth-b-2", start=6))
    return tiny_project


def rows_on_disk(project) -> dict[str, dict]:
    return {r["id"]: r for r in map(orjson.loads, project.synthetic_path.read_bytes().splitlines())}


def test_approve_reject_pending_drop_restore_roundtrip(project, capsys):
    root = project.root
    assert run(capsys, "approve", root, "--run", "synth-a-1")[0] == 0
    assert all(
        r.get("review_status") == "approved"
        for r in rows_on_disk(project).values()
        if r["run_id"] == "synth-a-1"
    )
    code, out, _ = run(
        capsys, "reject", root, "--reason", "minor_typo", "--note", "fix spelling", "--run", "synth-b-2"
    )
    assert code == 0 and "6 rows" in out
    on_disk = rows_on_disk(project)
    assert {r["reject_reason"] for r in on_disk.values() if r["run_id"] == "synth-b-2"} == {"minor_typo"}
    assert on_disk["r000006"]["review_note"] == "fix spelling"
    assert run(capsys, "pending", root, "--id", "r000006")[0] == 0
    assert rows_on_disk(project)["r000006"]["review_status"] == "pending"
    code, out, _ = run(capsys, "drop", root, "--run", "synth-b-2", "--dry-run")
    assert code == 0 and "would drop 5 rows: minor_typo 5" in out and "left alone 1" in out
    assert len(rows_on_disk(project)) == 12  # a dry run changes nothing
    code, out, _ = run(capsys, "drop", root, "--reason", "minor_typo")
    assert code == 0 and "dropped 5 rows: minor_typo 5" in out
    assert len(rows_on_disk(project)) == 7
    dropped = [orjson.loads(line) for line in project.dropped_path.read_bytes().splitlines()]
    assert len(dropped) == 5 and all(d["drop_reason"] == "minor_typo" and d["dropped_at"] for d in dropped)
    code, out, _ = run(capsys, "restore", root, "--id", "r000007", "--id", "r000008")
    assert code == 0 and "restored 2" in out
    assert rows_on_disk(project)["r000007"]["review_status"] == "pending"
    assert len(project.dropped_path.read_bytes().splitlines()) == 3


def test_reject_needs_a_known_reason_and_selectors(project, capsys):
    code, _, err = run(capsys, "reject", project.root, "--reason", "nope", "--run", "synth-a-1")
    assert code == 2 and "unknown reject reason" in err and "label_ambiguous" in err
    code, _, err = run(capsys, "approve", project.root)
    assert code == 2 and "say which rows" in err


def test_stats_json_has_the_documented_keys(project, capsys):
    run(capsys, "reject", project.root, "--reason", "label_ambiguous", "--id", "r000001")
    code, out, _ = run(capsys, "stats", project.root, "--json")
    stats = orjson.loads(out)
    assert code == 0
    assert {"total", "by_status", "by_reason", "by_run", "by_label", "quarantined"} <= set(stats)
    assert stats["total"] == 12 and stats["by_status"]["rejected"] == 1
    assert stats["by_reason"] == {"label_ambiguous": 1}
    assert stats["by_run"]["synth-a-1"]["total"] == 6
    assert stats["by_label"]["positive"] == 3
    code, out, _ = run(capsys, "stats", project.root)
    assert code == 0 and "by status" in out


def test_export_has_imported_and_approved_only(project, capsys, tmp_path):
    run(capsys, "approve", project.root, "--id", "r000002")
    run(capsys, "reject", project.root, "--reason", "off_task", "--id", "r000003")
    out_file = tmp_path / "train.jsonl"
    code, out, _ = run(capsys, "export", project.root, "-o", out_file)
    rows = [orjson.loads(line) for line in out_file.read_bytes().splitlines()]
    assert code == 0 and "1 imported + 1 approved" in out
    assert [r["id"] for r in rows] == ["imp-1", "r000002"]
    assert rows[1]["run_id"] == "synth-a-1" and rows[1]["source"] == "synth_playbook"
    code, out, _ = run(capsys, "export", project.root)
    assert len(out.splitlines()) == 2


def test_undo_and_compact(project, capsys):
    run(capsys, "approve", project.root, "--id", "r000004", "--no-compact")
    assert 'review_status":"approved' not in project.synthetic_path.read_text()
    code, out, _ = run(capsys, "undo", project.root)
    assert code == 0 and "undone: approve of 1 row, back to pending" in out
    code, _, err = run(capsys, "undo", project.root)
    assert code == 1 and "nothing to undo" in err
    run(capsys, "approve", project.root, "--id", "r000005", "--no-compact")
    code, out, _ = run(capsys, "compact", project.root)
    assert code == 0 and "compacted" in out
    assert rows_on_disk(project)["r000005"]["review_status"] == "approved"
    assert rows_on_disk(project)["r000004"]["review_status"] == "pending"


def test_check_lists_every_problem(project, capsys):
    with open(project.synthetic_path, "ab") as f:
        f.write(b'{"broken": \n{"id":"x","prompt":"p"}\n')
    code, out, _ = run(capsys, "check", project.root)
    assert code == 1
    assert "synthetic.jsonl:13: bad JSON" in out and "synthetic.jsonl:14: missing completion" in out
    assert "2 problems in 1 file" in out


def test_check_clean_project_and_bad_project_file(tiny_project, capsys, tmp_path):
    assert run(capsys, "check", tiny_project.root)[0] == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "brewslm.toml").write_text('name = "x"\ntask = "classification"\nscoring = "exact_match"\n')
    code, _, err = run(capsys, "check", bad)
    assert code == 2 and "brewslm.toml" in err and "labels" in err and "Traceback" not in err
    (bad / "brewslm.toml").write_text('name = "x"\ntask = = 3\n')
    code, _, err = run(capsys, "stats", bad)
    assert code == 2 and "brewslm.toml:2" in err
    code, _, err = run(capsys, "stats", tmp_path / "missing")
    assert code == 2 and len(err.strip().splitlines()) <= 2


def test_lock_held_by_another_reviewer_fails_with_its_name(project, capsys):
    with Store.open(project):
        code, _, err = run(capsys, "approve", project.root, "--id", "r000001")
    assert code == 1 and f"pid {os.getpid()}" in err


def test_bad_usage_exits_2(capsys):
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "stats")[0] == 2


def test_python_dash_m_runs_the_same_cli(project):
    proc = subprocess.run(
        [sys.executable, "-m", "brewslm_tui", "stats", str(project.root), "--json"],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0 and orjson.loads(proc.stdout)["total"] == 12
