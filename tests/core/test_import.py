"""`import`: every format from small files written here, the dry run against the real run, rejects by reason."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import orjson
import pytest

from brewslm_tui.cli import main
from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.importing import ImportOptions, rejected_dir, run_import
from brewslm_tui.core.store.store import append_rows
from tests.helpers import file_tree


def imported_rows(project) -> list[dict]:
    return [orjson.loads(line) for line in project.imported_path.read_bytes().splitlines()]


def rejected_lines(project) -> list[dict]:
    files = sorted(rejected_dir(project).glob("*.jsonl"))
    return [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def tree(root: Path) -> dict[str, str]:
    """The project's files (not its lock files, which a writer leaves in place)."""
    return file_tree(root, locks=False)


def test_csv_with_quotes_and_newlines_dry_run_then_real_run(tiny_project, tmp_path, capsys):
    src = write_csv(
        tmp_path / "reviews.csv",
        [
            ["text", "label", "annotator"],
            ['she said "wow", twice', "positive", "ana"],
            ["first line\nsecond line, with a comma", "negative", "bo"],
            ["what a mess", "furious"],  # a field short: unreadable
            ["lovely", "positive", "cy"],  # duplicates the imported row once templated
            ["meh", "notalabel", "cy"],
            ['she said "wow", twice', "positive", "dee"],  # duplicate within the file
        ],
    )
    template = "Classify: {text}"
    before = tree(tiny_project.root)
    code = main(["import", str(tiny_project.root), str(src), "--dry-run", "--prompt-template", template])
    out = capsys.readouterr().out
    assert code == 0
    assert tree(tiny_project.root) == before  # a dry run writes nothing
    assert "2 rows would be imported, 4 rejected" in out
    for cause in ("unreadable", "duplicate_imported", "not_a_label", "duplicate_in_import"):
        assert f"1 {cause}:" in out
    assert "reviews.csv:5" in out  # examples name the record's line (a quoted newline is inside line 3)

    code = main(["import", str(tiny_project.root), str(src), "--prompt-template", template])
    assert code == 0
    rows = imported_rows(tiny_project)
    assert rows[0]["id"] == "imp-1"  # the hand-made rows are kept, byte for byte first
    new = rows[1:]
    assert [r["prompt"] for r in new] == [
        'Classify: she said "wow", twice',
        "Classify: first line\nsecond line, with a comma",
    ]
    assert [r["completion"] for r in new] == ["positive", "negative"]
    assert {r["source"] for r in new} == {"import:reviews.csv"}
    import_id = new[0]["import_id"]
    assert import_id and all(r["import_id"] == import_id for r in new)
    assert new[0]["meta"] == {"annotator": "ana"}
    assert new[0]["imported_from"] == "reviews.csv:2"
    rejects = rejected_lines(tiny_project)
    assert (rejected_dir(tiny_project) / f"{import_id}.jsonl").exists()
    assert sorted(r["reason"] for r in rejects) == [
        "duplicate_imported",
        "duplicate_in_import",
        "not_a_label",
        "unreadable",
    ]
    assert all(r["import_id"] == import_id for r in rejects)

    # the same file again: everything is a duplicate now, and nothing is taken
    code = main(["import", str(tiny_project.root), str(src), "--prompt-template", template])
    assert code == 1
    assert len(imported_rows(tiny_project)) == 3


def test_duplicates_of_synthetic_and_dropped_rows_are_rejected(tiny_project, tmp_path):
    append_rows(tiny_project, [{"prompt": "Classify: seen in a run", "completion": "neutral"}])
    tiny_project.dropped_path.write_bytes(
        orjson.dumps({"id": "d1", "prompt": "Classify: dropped once", "completion": "mixed"}) + b"\n"
    )
    src = tmp_path / "x.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"prompt": p, "completion": "positive"})
            for p in ("classify: SEEN in a run!", "Classify: dropped once", "Classify: new")
        )
        + "\n"
    )
    result = run_import(tiny_project, [src], dry_run=True)
    assert result.accepted == 1
    assert [r.cause for r in result.rejects] == ["duplicate_synthetic", "duplicate_synthetic"]


def test_tsv_json_array_and_map(tiny_project, tmp_path):
    tsv = write_csv(tmp_path / "a.tsv", [["review", "sentiment"], ["tab\tseparated", "Neutral"]], "\t")
    array = tmp_path / "b.json"
    array.write_text(json.dumps({"data": [{"q": {"body": "nested text"}, "y": "mixed"}]}))
    options = ImportOptions.from_args(["prompt=review", "completion=sentiment"], None, None)
    result = run_import(tiny_project, [tsv], options)
    assert result.accepted == 1
    options = ImportOptions.from_args(["prompt=q.body", "completion=y"], None, None)
    result = run_import(tiny_project, [array], options)
    assert result.accepted == 1, result.rejects
    rows = imported_rows(tiny_project)
    assert (
        rows[1]["prompt"] == "tab\tseparated" and rows[1]["completion"] == "neutral"
    )  # the label's spelling
    assert rows[2]["prompt"] == "nested text" and rows[2]["source"] == "import:b.json"


def test_missing_column_names_what_is_there(tiny_project, tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text('{"body": "no prompt column", "label": "positive"}\n[1, 2]\nnot json\n')
    result = run_import(tiny_project, [src], dry_run=True)
    causes = {r.cause: r for r in result.rejects}
    assert set(causes) == {"missing_field", "unreadable"}
    assert "columns: body, label" in causes["missing_field"].detail
    assert [r.where for r in result.rejects] == ["x.jsonl:1", "x.jsonl:2", "x.jsonl:3"]


def test_keep_takes_chosen_rejects_anyway(tiny_project, tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text(
        "".join(
            json.dumps({"prompt": p, "completion": c}) + "\n"
            for p, c in [
                ("Classify: fine", "positive"),
                ("Classify: odd", "wrongo"),
                ("Classify: odd2", "wrongo"),
            ]
        )
    )
    dry = run_import(tiny_project, [src], dry_run=True)
    assert [r.where for r in dry.rejects] == ["x.jsonl:2", "x.jsonl:3"]
    result = run_import(tiny_project, [src], keep={"x.jsonl:2"})
    assert result.accepted == 1 and result.kept == 1
    rows = imported_rows(tiny_project)
    assert [r["prompt"] for r in rows[1:]] == ["Classify: fine", "Classify: odd"]
    assert [r["where"] for r in rejected_lines(tiny_project)] == ["x.jsonl:3"]


def test_prodigy_only_accept(tiny_project, tmp_path):
    src = tmp_path / "annotations.jsonl"
    tasks = [
        {"text": "great", "label": "positive", "answer": "accept", "_input_hash": 1, "_task_hash": 2},
        {"text": "awful", "label": "positive", "answer": "reject", "_input_hash": 3, "_task_hash": 4},
        {"text": "hmm", "label": "neutral", "answer": "ignore", "_input_hash": 5, "_task_hash": 6},
        {
            "text": "so-so",
            "options": [{"id": "mixed", "text": "Mixed"}, {"id": "neutral", "text": "Neutral"}],
            "accept": ["mixed"],
            "answer": "accept",
            "_input_hash": 7,
            "_task_hash": 8,
        },
    ]
    src.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    result = run_import(tiny_project, [src], ImportOptions(template="Classify: {text}"))
    assert result.accepted == 2
    assert [r.cause for r in result.rejects] == ["not_accepted", "not_accepted"]
    rows = imported_rows(tiny_project)[1:]
    assert [(r["prompt"], r["completion"]) for r in rows] == [
        ("Classify: great", "positive"),
        ("Classify: so-so", "mixed"),
    ]


def test_label_studio_export(tiny_project, tmp_path):
    def task(i, text, choice, cancelled=False):
        return {
            "id": i,
            "data": {"text": text},
            "annotations": [
                {
                    "id": 10 + i,
                    "was_cancelled": cancelled,
                    "result": [
                        {
                            "from_name": "sentiment",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [choice]},
                        }
                    ],
                }
            ],
        }

    src = tmp_path / "project-1-at-2026.json"
    src.write_text(
        json.dumps(
            [
                task(1, "Classify: a", "positive"),
                task(2, "Classify: b", "negative", cancelled=True),
                {"id": 3, "data": {"text": "Classify: c"}, "annotations": []},
                task(4, "Classify: d", "mixed"),
            ]
        )
    )
    result = run_import(tiny_project, [src])
    assert result.accepted == 2
    assert [r.cause for r in result.rejects] == ["not_accepted", "not_accepted"]
    rows = imported_rows(tiny_project)[1:]
    assert [(r["prompt"], r["completion"], r["meta"]["id"]) for r in rows] == [
        ("Classify: a", "positive", 1),
        ("Classify: d", "mixed", 4),
    ]


def test_argilla_v2_and_v1_records(tiny_project, tmp_path):
    src = tmp_path / "argilla.json"
    src.write_text(
        json.dumps(
            [
                {
                    "id": "a1",
                    "status": "completed",
                    "fields": {"text": "Classify: v2"},
                    "responses": {
                        "sentiment": [{"value": "negative", "user_id": "u", "status": "submitted"}]
                    },
                },
                {
                    "id": "a2",
                    "status": "pending",
                    "fields": {"text": "Classify: v2 draft"},
                    "responses": {"sentiment": [{"value": "negative", "status": "draft"}]},
                },
            ]
        )
    )
    v1 = tmp_path / "argilla-v1.jsonl"
    v1.write_text(
        json.dumps({"text": "Classify: v1", "annotation": "neutral", "status": "Validated"})
        + "\n"
        + json.dumps({"text": "Classify: v1 no", "annotation": None, "status": "Default"})
        + "\n"
    )
    result = run_import(tiny_project, [src, v1])
    assert result.accepted == 2
    assert [r.where for r in result.rejects] == ["argilla.json[2]", "argilla-v1.jsonl:2"]
    assert [r["completion"] for r in imported_rows(tiny_project)[1:]] == ["negative", "neutral"]


def test_messages_rows_and_extraction_objects(tmp_path):
    from brewslm_tui.core.project import load_project

    root = tmp_path / "ex"
    root.mkdir()
    (root / "brewslm.toml").write_text(
        'name = "ex"\ntask = "extraction"\nscoring = "exact_match"\nfields = ["name", "city"]\n'
    )
    project = load_project(root)
    src = tmp_path / "chat.jsonl"
    src.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Extract: Ana from Porto"},
                    {"role": "assistant", "content": '{"city": "Porto", "name": "Ana"}'},
                ]
            }
        )
        + "\n"
        + json.dumps({"prompt": "Extract: Bo", "completion": {"name": "Bo"}})
        + "\n"
        + json.dumps({"prompt": "Extract: Cy", "completion": "{not json"})
        + "\n"
    )
    result = run_import(project, [src])
    assert result.accepted == 1
    assert [r.cause for r in result.rejects] == ["wrong_fields", "bad_json"]
    row = imported_rows(project)[0]
    assert row["completion"] == '{"name":"Ana","city":"Porto"}'  # the project's field order


def test_unreadable_files_are_one_line_errors_and_write_nothing(tiny_project, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\n\xff\xfe,positive\n")
    before = tree(tiny_project.root)
    code = main(["import", str(tiny_project.root), str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and "not UTF-8" in err and "Traceback" not in err
    code = main(["import", str(tiny_project.root), str(tmp_path / "absent.jsonl")])
    assert code == 1 and "no such file" in capsys.readouterr().err
    weird = tmp_path / "data.xyz"
    weird.write_text("x")
    code = main(["import", str(tiny_project.root), str(weird)])
    assert code == 2 and "--format" in capsys.readouterr().err  # bad usage (README: 2)
    assert tree(tiny_project.root) == before
    assert main(["import", str(tiny_project.root), str(bad), "--map", "nonsense"]) == 2


def test_template_is_plain_substitution():
    from brewslm_tui.core.importing.pipeline import fill_template

    assert fill_template("A {text} {{literal}}", {"text": "b"}) == ("A b {literal}", None)
    assert fill_template("{text.__class__}", {"text": "b"}) == ("", "text.__class__")
    with pytest.raises(BrewError):
        ImportOptions.from_args([], "Classify: {}", None)


def test_crash_before_commit_leaves_no_half_import(tiny_project, tmp_path):
    """A failure while staging (here: the rejects folder is a file) writes nothing and says so."""
    src = tmp_path / "x.jsonl"
    src.write_text('{"prompt": "Classify: a", "completion": "positive"}\n{"prompt": "", "completion": "x"}\n')
    rejected_dir(tiny_project).parent.mkdir(parents=True, exist_ok=True)
    rejected_dir(tiny_project).write_text("in the way")
    before = tiny_project.imported_path.read_bytes()
    with pytest.raises(BrewError, match="nothing was imported"):
        run_import(tiny_project, [src])
    assert tiny_project.imported_path.read_bytes() == before
    assert not [p for p in tiny_project.imported_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_parquet(tiny_project, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"text": ["Classify: p1", "Classify: p2"], "label": ["positive", "nope"], "n": [1, 2]})
    pq.write_table(table, tmp_path / "d.parquet")
    result = run_import(tiny_project, [tmp_path / "d.parquet"])
    assert result.accepted == 1 and [r.cause for r in result.rejects] == ["not_a_label"]
    row = imported_rows(tiny_project)[1]
    assert row["prompt"] == "Classify: p1" and row["meta"] == {"n": 1}


def test_hf_save_to_disk_folder_with_class_labels(tiny_project, tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "positive"])}
    )
    train = datasets.Dataset.from_dict(
        {"text": ["Classify: h1", "Classify: h2"], "label": [1, 0]}, features=features
    )
    test = datasets.Dataset.from_dict({"text": ["Classify: h3"], "label": [1]}, features=features)
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "ds"))
    result = run_import(tiny_project, [tmp_path / "ds"])
    assert result.accepted == 3, result.rejects
    rows = imported_rows(tiny_project)[1:]
    assert [(r["prompt"], r["completion"]) for r in rows] == [
        ("Classify: h1", "positive"),
        ("Classify: h2", "negative"),
        ("Classify: h3", "positive"),
    ]
    assert rows[2]["imported_from"] == "ds[test]:row 1"


def test_hf_load_dataset_style_local_file(tiny_project, tmp_path):
    pytest.importorskip("datasets")
    src = tmp_path / "local.csv"
    write_csv(src, [["text", "label"], ["Classify: via datasets", "mixed"]])
    result = run_import(tiny_project, [src], ImportOptions(format="hf"))
    assert result.accepted == 1
    assert imported_rows(tiny_project)[1]["prompt"] == "Classify: via datasets"


def test_missing_extra_is_a_clear_message(tiny_project, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith(("pyarrow", "datasets")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    with pytest.raises(BrewError, match=r"pip install 'brewslm-tui\[import\]'"):
        run_import(tiny_project, [tmp_path / "d.parquet"], dry_run=True)


CHILD = """
import os, signal, sys
from pathlib import Path
from brewslm_tui.core.importing import run_import
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store import commit

real_apply = commit.MultiFileCommit.apply
renames = int(sys.argv[3])

def apply(self, before_rename=None):
    seen = []
    def kill(target):
        seen.append(target)
        if len(seen) > renames:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_apply(self, before_rename=kill)

commit.MultiFileCommit.apply = apply
run_import(load_project(sys.argv[1]), [Path(sys.argv[2])])
"""


@pytest.mark.parametrize("renames", [0, 1])
def test_sigkill_during_the_commit_gives_all_or_nothing(tiny_project, tmp_path, renames):
    """A real process killed between the renames: the next writer finishes the import (the intent
    was on disk), so imported.jsonl and the rejects file both hold it: never one without the other."""
    import subprocess
    import sys

    from brewslm_tui.core.store.store import Store

    src = tmp_path / "x.jsonl"
    src.write_text('{"prompt": "Classify: a", "completion": "positive"}\n{"prompt": "", "completion": "x"}\n')
    before = tiny_project.imported_path.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tiny_project.root), str(src), str(renames)],
        check=False,
        timeout=120,
    )
    assert proc.returncode == -9
    Store.open(tiny_project).close()  # any writer recovers first
    rows = imported_rows(tiny_project)
    assert tiny_project.imported_path.read_bytes().startswith(before)
    assert [r["prompt"] for r in rows] == ["Classify: lovely", "Classify: a"]
    assert [r["reason"] for r in rejected_lines(tiny_project)] == ["empty_prompt"]
    assert rows[1]["import_id"] == rejected_lines(tiny_project)[0]["import_id"]
    leftovers = list(tiny_project.root.rglob("*.tmp")) + list(tiny_project.state_dir.glob("commit.intent"))
    assert not leftovers


def test_a_fixed_record_is_checked_again(tiny_project, tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text('{"prompt": "Classify: odd", "completion": "wrongo"}\n{"text": "no completion"}\n')
    fixes = {
        "x.jsonl:1": {"prompt": "Classify: odd", "completion": "mixed"},
        "x.jsonl:2": {"prompt": "Classify: lovely", "completion": "positive"},  # now a duplicate
    }
    result = run_import(tiny_project, [src], fixes=fixes)
    assert result.accepted == 1
    assert [(r.where, r.cause) for r in result.rejects] == [("x.jsonl:2", "duplicate_imported")]
    assert imported_rows(tiny_project)[1]["completion"] == "mixed"


def test_hf_load_dataset_style_local_folder(tiny_project, tmp_path):
    pytest.importorskip("datasets")
    folder = tmp_path / "my-dataset"
    folder.mkdir()
    write_csv(folder / "train.csv", [["text", "label"], ["Classify: folder one", "neutral"]])
    write_csv(folder / "test.csv", [["text", "label"], ["Classify: folder two", "mixed"]])
    result = run_import(tiny_project, [folder])
    assert result.accepted == 2, result.rejects
    assert sorted(r["prompt"] for r in imported_rows(tiny_project)[1:]) == [
        "Classify: folder one",
        "Classify: folder two",
    ]
