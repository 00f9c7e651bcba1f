"""`export`: formats a trainer reads, disjoint stratified splits, the manifest, refusals and invalid rows."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import orjson
import pytest

from brewslm_tui.cli import main
from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.export import ExportOptions, export, parse_split, refuse_project_path
from brewslm_tui.core.store.store import Store, append_rows

LABELS = ["positive", "negative", "neutral", "mixed"]


def approved_project(project, n: int = 40, labels=LABELS):
    rows = [
        {
            "id": f"r{i:04d}",
            "prompt": f"Classify: review {i}",
            "completion": labels[i % len(labels)],
            "source": "synth_playbook",
            "run_id": f"run-{i % 2}",
            "playbook": f"pb-{i % 2}",
        }
        for i in range(n)
    ]
    append_rows(project, rows)
    with Store.open(project) as store:
        store.approve(range(len(store)))
    return project


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def run_export(project, out, **options) -> object:
    store = Store.open(project, readonly=True)
    return export(store, out, ExportOptions(**options))


def test_prompt_completion_keeps_provenance_unless_minimal(tiny_project, tmp_path):
    approved_project(tiny_project, 4)
    out = tmp_path / "train.jsonl"
    report = run_export(tiny_project, out)
    rows = lines(out)
    assert report.total == 5 and len(rows) == 5
    assert rows[0] == {
        "prompt": "Classify: lovely",
        "completion": "positive",
        "id": "imp-1",
        "source": "imported",
    }
    assert (
        rows[1]["run_id"] == "run-0"
        and rows[1]["playbook"] == "pb-0"
        and rows[1]["review_status"] == "approved"
    )
    run_export(tiny_project, out, minimal=True)
    assert all(set(r) == {"prompt", "completion"} for r in lines(out))


def test_messages_with_system_and_raw(tiny_project, tmp_path):
    approved_project(tiny_project, 2)
    out = tmp_path / "chat.jsonl"
    run_export(tiny_project, out, format="messages", system="You label reviews.")
    row = lines(out)[1]
    assert row["messages"] == [
        {"role": "system", "content": "You label reviews."},
        {"role": "user", "content": "Classify: review 0"},
        {"role": "assistant", "content": "positive"},
    ]
    assert row["id"] == "r0000"
    run_export(tiny_project, out, format="raw")
    assert lines(out)[1]["prompt"] == "Classify: review 0" and "review_status" in lines(out)[1]
    with pytest.raises(BrewError):
        ExportOptions(format="raw", minimal=True)
    with pytest.raises(BrewError):
        ExportOptions(system="x")


def test_splits_are_disjoint_stratified_and_seeded(tiny_project, tmp_path):
    approved_project(tiny_project, 99)  # 100 rows with the imported one
    out = tmp_path / "ds"
    report = run_export(tiny_project, out, split=parse_split("train=0.8,validation=0.2"), seed=7)
    train, validation = lines(out / "train.jsonl"), lines(out / "validation.jsonl")
    ids_train, ids_val = {r["id"] for r in train}, {r["id"] for r in validation}
    assert not ids_train & ids_val
    assert len(ids_train | ids_val) == 100 == len(train) + len(validation)
    for label in LABELS:
        n = sum(r["completion"] == label for r in train + validation)
        in_val = sum(r["completion"] == label for r in validation)
        assert abs(in_val - 0.2 * n) <= 1, (label, in_val, n)
    assert [f.split for f in report.files] == ["train", "validation"]
    again = tmp_path / "again"
    run_export(tiny_project, again, split=parse_split("train=0.8,validation=0.2"), seed=7)
    assert (again / "train.jsonl").read_bytes() == (out / "train.jsonl").read_bytes()
    other = tmp_path / "other"
    run_export(tiny_project, other, split=parse_split("train=0.8,validation=0.2"), seed=8)
    assert (other / "train.jsonl").read_bytes() != (out / "train.jsonl").read_bytes()


def test_manifest_counts_and_hashes(tiny_project, tmp_path):
    approved_project(tiny_project, 10)
    out = tmp_path / "ds"
    run_export(tiny_project, out, format="messages", split=parse_split("train=0.5,test=0.5"), seed=1)
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["files"]:
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["rows"] == len(data.splitlines())
    assert manifest["counts"]["total"] == 11
    assert manifest["counts"]["by_source"] == {"imported": 1, "synth_playbook": 10}
    assert manifest["counts"]["by_run"] == {"run-0": 5, "run-1": 5}
    assert manifest["counts"]["by_playbook"] == {"pb-0": 5, "pb-1": 5}
    assert sum(manifest["counts"]["by_label"].values()) == 11
    assert manifest["project"]["task"] == "classification" and manifest["project"]["labels"] == LABELS
    assert manifest["format"] == "messages" and manifest["seed"] == 1
    assert manifest["app"]["version"] and manifest["created_at"].endswith("Z")


def test_bad_split_specs():
    for bad in ("train=0.9,validation=0.2", "train", "train=x", "a=0.5,a=0.5", "=1", "../x=1"):
        with pytest.raises(BrewError):
            parse_split(bad)


def test_output_onto_the_projects_own_files_is_refused(tiny_project, tmp_path, capsys):
    approved_project(tiny_project, 2)
    root = tiny_project.root
    before = {p: p.read_bytes() for p in root.rglob("*.jsonl")}
    targets = [
        tiny_project.imported_path,
        tiny_project.synthetic_path,
        tiny_project.dropped_path,
        tiny_project.file,
        tiny_project.state_dir / "export.jsonl",
        tiny_project.imported_path.parent / "import-rejected" / "x.jsonl",
    ]
    link = tmp_path / "sneaky.jsonl"
    os.symlink(tiny_project.imported_path, link)
    hard = tmp_path / "hard.jsonl"
    os.link(tiny_project.imported_path, hard)
    relative = Path(os.path.relpath(tiny_project.imported_path))
    for target in [*targets, link, hard, relative]:
        code = main(["export", str(root), "-o", str(target)])
        err = capsys.readouterr().err
        assert code == 1, target
        assert len(err.strip().splitlines()) == 1 and "export somewhere else" in err
    with pytest.raises(BrewError):  # a split folder whose files would land in .brewslm
        run_export(tiny_project, tiny_project.state_dir, split={"train": 1.0})
    assert {p: p.read_bytes() for p in root.rglob("*.jsonl")} == before
    refuse_project_path(tiny_project, tmp_path / "fine.jsonl")  # elsewhere is fine


def test_invalid_approved_row_stops_the_export(tiny_project, tmp_path, capsys):
    approved_project(tiny_project, 3)
    # the labels change: "mixed" rows no longer fit; and one row is edited by hand to a bad label
    with Store.open(tiny_project) as store:
        store.edit(store.index_of("r0001"), completion="negatve")
    toml = tiny_project.file.read_text().replace(', "mixed"', "")
    tiny_project.file.write_text(toml)
    out = tmp_path / "train.jsonl"
    code = main(["export", str(tiny_project.root), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and not out.exists() and not (tmp_path / "manifest.json").exists()
    assert "invalid: r0001 (synth_playbook): not_a_label" in captured.err
    assert "--allow-invalid" in captured.err
    code = main(["check", str(tiny_project.root)])
    assert code == 1 and "r0001" in capsys.readouterr().out
    code = main(["export", str(tiny_project.root), "-o", str(out), "--allow-invalid"])
    assert code == 0 and len(lines(out)) == 4
    capsys.readouterr()
    assert main(["export", str(tiny_project.root), "--allow-invalid"]) == 0
    streamed = capsys.readouterr()
    assert len(streamed.out.splitlines()) == 4 and "exported anyway: r0001" in streamed.err
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["id"] for r in manifest["invalid_included"]] == ["r0001"]


def test_classification_label_is_written_in_the_projects_spelling(tiny_project, tmp_path):
    append_rows(tiny_project, [{"id": "r1", "prompt": "Classify: x", "completion": " Positive "}])
    with Store.open(tiny_project) as store:
        store.approve([0])
    out = tmp_path / "o.jsonl"
    run_export(tiny_project, out)
    assert lines(out)[1]["completion"] == "positive"
    run_export(tiny_project, out, format="raw")
    assert lines(out)[1]["completion"] == " Positive "


def test_each_format_loads_with_datasets_and_pandas(tiny_project, tmp_path):
    datasets = pytest.importorskip("datasets")
    pandas = pytest.importorskip("pandas")
    approved_project(tiny_project, 19)
    for fmt in ("prompt-completion", "messages", "raw"):
        out = tmp_path / fmt
        run_export(tiny_project, out, format=fmt, split=parse_split("train=0.75,validation=0.25"), seed=3)
        files = {s: str(out / f"{s}.jsonl") for s in ("train", "validation")}
        ds = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "cache"))
        assert ds["train"].num_rows + ds["validation"].num_rows == 20
        frame = pandas.read_json(files["train"], lines=True)
        assert len(frame) == ds["train"].num_rows
        if fmt == "messages":
            assert ds["train"][0]["messages"][-1]["role"] == "assistant"
        else:
            assert "prompt" in frame.columns and "completion" in frame.columns


def test_stdout_export_and_no_temp_files_left(tiny_project, tmp_path, capsysbinary):
    approved_project(tiny_project, 2)
    assert main(["export", str(tiny_project.root)]) == 0
    out = capsysbinary.readouterr().out
    assert len(out.splitlines()) == 3
    assert main(["export", str(tiny_project.root), "--split", "a=0.5,b=0.5"]) == 2  # a split needs -o
    target = tmp_path / "o.jsonl"
    assert main(["export", str(tiny_project.root), "-o", str(target)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "tiny") == ["manifest.json", "o.jsonl"]


def test_an_unwritable_output_is_one_line_and_leaves_nothing(tiny_project, tmp_path, capsys):
    approved_project(tiny_project, 2)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    # a path through a file is a bad path (exit 2, as a missing folder is), refused before writing
    code = main(["export", str(tiny_project.root), "-o", str(blocker / "out"), "--split", "a=0.5,b=0.5"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is not a folder" in err
    code = main(["export", str(tiny_project.root), "-o", str(blocker / "x.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "is not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "tiny"]
