"""`Validator.plainly` (the quick test `check` and `export` run before `canonical`) never passes a
row `canonical` refuses, and passes it with the same completion; and `check` still names every
kind of problem it finds (a fast path that passes everything makes that test fail)."""

from __future__ import annotations

import orjson
import pytest

from brewslm_tui.core.generation import validate
from brewslm_tui.core.generation.validate import UNSURE, Validator
from brewslm_tui.core.project import load_project
from tests.helpers import make_project, run_main

LONG = 4000  # the default max_prompt_chars and max_completion_chars

PROMPTS = [
    "Classify: fine",
    "",
    " ",
    "\n\t ",
    "tab\tand\nnewline are allowed",
    "esc \x1b[31m",
    "nul \x00",
    "del \x7f",
    "cr \r",
    "c1 \x85",
    "bidi \u202e",
    "zero width \u200b",
    "café",
    "x" * LONG,
    "x" * (LONG + 1),
    "\u2003",
    5,
    None,
    ["a"],
    {"a": 1},
]
COMPLETIONS = [
    "positive",
    "Positive",
    " positive ",
    "POSITIVE\n",
    "not a label",
    "",
    " ",
    "pos\x1bitive",
    "positive\x7f",
    "a short answer",
    "one two three four five six",
    "x" * 20000,
    '{"a": 1}',
    "é",
    "\u2003",
    3,
    None,
    ["positive"],
    {"positive": 1},
]


@pytest.mark.parametrize("task", ["classification", "generation", "qa", "extraction"])
def test_plainly_agrees_with_canonical(tmp_path, task):
    project = make_project(tmp_path, task)
    validator = Validator(project)
    plainly = validator.plainly()
    passed = 0
    for prompt in PROMPTS:
        for completion in COMPLETIONS:
            row = {"id": "r", "prompt": prompt, "completion": completion}
            for _ in range(2):  # (the second time from the memo)
                quick = plainly(row)
                if quick is UNSURE:
                    continue
                passed += 1
                assert Validator(project).canonical(row) == (quick, None, ""), row
    if task in ("classification", "generation"):
        assert passed  # the common row does take the quick path
    else:
        assert not passed  # extraction and exact-match QA always go to `canonical`


def approved(row_id: str, prompt, completion) -> bytes:
    row = {"id": row_id, "prompt": prompt, "completion": completion, "review_status": "approved"}
    row["source"] = "synth_playbook"
    return orjson.dumps(row)


BAD_ROWS = {
    "empty_prompt": ("", "positive"),
    "control_chars": ("esc \x1b[2J here", "positive"),
    "too_long": ("x" * (LONG + 1), "positive"),
    "completion too_long": ("Classify: long", "positive" + " " * LONG),
    "not_a_label": ("Classify: meh", "so-so"),
}


def every_problem_project(tmp_path):
    imported = [
        '{"prompt":"Imported fine","completion":"negative"}',
        '{"prompt":"Imported, no label","completion":"maybe"}',
        "not json",
    ]
    project = make_project(tmp_path, imported=imported, playbooks={"broken": "name = = 1\n"})
    lines = [approved("ok1", "Classify: good", "positive"), approved("ok2", "Classify: bad", "negative")]
    lines += [approved(f"bad-{cause}", p, c) for cause, (p, c) in BAD_ROWS.items()]
    lines += [approved("ok1", "Classify: the id again", "neutral"), b"{broken", b'{"id":"n","prompt":"p"}']
    project.synthetic_path.write_bytes(b"\n".join(lines) + b'\n{"id":"torn"')
    return load_project(project.root)


def check_output(capsys, project) -> tuple[int, str]:
    code, out, _ = run_main(capsys, "check", project.root)
    return code, out


def test_check_names_every_kind_of_problem(tmp_path, capsys):
    project = every_problem_project(tmp_path)
    code, out = check_output(capsys, project)
    assert code == 1
    for cause in BAD_ROWS:
        code_ = cause.split()[-1]
        assert any(f"bad-{cause} (synth_playbook): {code_}" in line for line in out.splitlines()), cause
    assert "(imported): not_a_label" in out
    assert "imported.jsonl:3" in out
    assert "synthetic.jsonl:9: bad JSON" in out
    assert "synthetic.jsonl:10: missing completion" in out
    assert "final line has no newline" in out
    assert "row id ok1 appears more than once" in out
    assert "broken.toml" in out
    assert "ok2" not in out


def test_the_check_test_fails_when_the_quick_test_passes_everything(tmp_path, capsys, monkeypatch):
    """A `plainly` that waves every row through hides the invalid rows: the test above would fail."""
    monkeypatch.setattr(
        validate.Validator, "plainly", lambda self: lambda row: row.get("completion"), raising=True
    )
    project = every_problem_project(tmp_path)
    _, out = check_output(capsys, project)
    assert not any(f"bad-{cause}" in out for cause in BAD_ROWS)
