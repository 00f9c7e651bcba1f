"""core.project: loading brewslm.toml, defaults, the validity rules and every error message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from brewslm_tui.core.errors import BrewError, ProjectError
from brewslm_tui.core.project import (
    DEFAULT_REASONS,
    RESERVED_KEYS,
    SCORING_FOR_TASK,
    Project,
    RejectReason,
    load_project,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_projects"

BASE = 'name = "demo"\ntask = "classification"\nscoring = "exact_match"\nlabels = ["positive", "negative"]\n'


def write(tmp_path: Path, text: str, folder: str = "proj") -> Path:
    root = tmp_path / folder
    root.mkdir(parents=True, exist_ok=True)
    file = root / "brewslm.toml"
    file.write_text(text, encoding="utf-8")
    return file


def error_of(tmp_path: Path, text: str) -> str:
    file = write(tmp_path, text)
    with pytest.raises(ProjectError) as info:
        load_project(file)
    message = str(info.value)
    assert "Traceback" not in message and "pydantic" not in message and "validation error" not in message
    assert "For further information" not in message and "errors.pydantic.dev" not in message
    for line in message.splitlines():
        assert line.startswith(f"{file}:"), line
    return message


def lines_of(message: str, file: Path) -> list[str]:
    return [line.removeprefix(f"{file}: ") for line in message.splitlines()]


# --- loading and defaults ------------------------------------------------------------------


def test_minimal_project_gets_the_defaults(tmp_path: Path) -> None:
    file = write(tmp_path, BASE)
    project = load_project(file.parent)
    assert project.name == "demo" and project.description == ""
    assert project.root == file.parent.absolute() and project.root.is_absolute()
    assert project.file == file.absolute()
    assert project.labels == ["positive", "negative"] and project.fields == []
    assert project.reject_reasons == list(DEFAULT_REASONS)
    assert project.imported_path == project.root / "data" / "imported.jsonl"
    assert project.synthetic_path == project.root / "data" / "synthetic.jsonl"
    assert project.dropped_path == project.root / "data" / "dropped.jsonl"
    assert project.state_dir == project.root / ".brewslm"
    assert project.playbooks_dir == project.root / "playbooks"
    assert (
        project.limits.max_prompt_chars,
        project.limits.max_completion_chars,
        project.limits.qa_max_answer_words,
    ) == (4000, 4000, 8)


def test_folder_and_file_paths_load_the_same_project(tmp_path: Path) -> None:
    file = write(tmp_path, BASE)
    assert load_project(file) == load_project(file.parent) == load_project(str(file.parent))


def test_relative_path_gives_an_absolute_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, BASE)
    monkeypatch.chdir(tmp_path)
    project = load_project("proj")
    assert project.root == tmp_path / "proj"


def test_default_reasons() -> None:
    codes = [r.code for r in DEFAULT_REASONS]
    assert codes == [
        "label_ambiguous",
        "wrong_label",
        "minor_typo",
        "off_task",
        "duplicate",
        "unsafe",
        "low_quality",
    ]
    assert [r.key for r in DEFAULT_REASONS] == list("1234567")
    for reason in DEFAULT_REASONS:
        assert reason.title and reason.description and "\n" not in reason.description
        assert reason.key not in RESERVED_KEYS


def test_reserved_keys_are_the_review_keys() -> None:
    assert set("axeupdjkgGncq /?") == RESERVED_KEYS


def test_full_project_file(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        """
name = "tickets"
description = "pull fields out of support mail"
task = "extraction"
scoring = "f1"
fields = ["order_id", "product"]

[[reject_reasons]]
code = "wrong_value"
title = "Wrong value"
key = "1"
description = "a field is wrong"

[[reject_reasons]]
code = "bad-json"
title = "Bad JSON"
key = "Z"

[data]
imported = "seed/rows.jsonl"
synthetic = "state/synth.jsonl"

[limits]
max_prompt_chars = 100
qa_max_answer_words = 3
""",
    )
    project = load_project(file)
    assert project.fields == ["order_id", "product"] and project.labels == []
    assert [r.code for r in project.reject_reasons] == ["wrong_value", "bad-json"]
    assert project.reason("bad-json") == RejectReason(code="bad-json", title="Bad JSON", key="Z")
    assert project.reason("label_ambiguous") is None  # the defaults do not apply once reasons are named
    assert project.reason_for_key("1").code == "wrong_value"
    assert project.reason_for_key("2") is None
    assert project.imported_path == project.root / "seed" / "rows.jsonl"
    assert project.synthetic_path == project.root / "state" / "synth.jsonl"
    assert project.dropped_path == project.root / "data" / "dropped.jsonl"
    assert project.limits.max_prompt_chars == 100 and project.limits.max_completion_chars == 4000
    assert project.limits.qa_max_answer_words == 3


def test_default_reason_lookup(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, BASE))
    assert project.reason("duplicate").key == "5"
    assert project.reason_for_key("7").code == "low_quality"
    assert project.reason("nope") is None and project.reason_for_key("a") is None


# --- labels: normalisation ------------------------------------------------------------------


def test_normalize_label_exact_match_strips_and_casefolds(tmp_path: Path) -> None:
    project = load_project(
        write(tmp_path, BASE.replace('["positive", "negative"]', '["Positive", "Negative", "Straße"]'))
    )
    assert project.normalize_label("  POSITIVE \n") == "positive"
    assert project.label_for(" positive ") == "Positive"
    assert project.label_for("STRASSE") == "Straße"
    assert project.label_for("positiv") is None  # no fuzzy matching
    assert project.label_for("positive.") is None
    assert project.label_for("pos itive") is None


def test_normalize_label_f1_only_strips(tmp_path: Path) -> None:
    project = load_project(
        write(
            tmp_path, BASE.replace("exact_match", "f1").replace('["positive", "negative"]', '["Pos", "pos"]')
        )
    )
    assert project.normalize_label("  POS ") == "POS"
    assert project.label_for(" Pos") == "Pos" and project.label_for("pos ") == "pos"
    assert project.label_for("POS") is None


def test_label_for_without_labels(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, 'name = "q"\ntask = "qa"\nscoring = "exact_match"\n'))
    assert project.label_for("anything") is None


# --- the sample projects --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "name", "task", "scoring"),
    [
        ("sentiment", "sentiment-reviews", "classification", "exact_match"),
        ("support-extraction", "support-extraction", "extraction", "f1"),
        ("product-qa", "product-qa", "qa", "exact_match"),
    ],
)
def test_sample_projects_load(folder: str, name: str, task: str, scoring: str) -> None:
    project = load_project(SAMPLES / folder)
    assert (project.name, project.task, project.scoring) == (name, task, scoring)
    rows = [json.loads(line) for line in project.imported_path.read_text(encoding="utf-8").splitlines()]
    assert project.imported_path.read_bytes().endswith(b"\n")
    assert len(rows) >= 45
    assert [r["id"] for r in rows] == [f"imp-{i:04d}" for i in range(1, len(rows) + 1)]
    assert len({r["prompt"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"id", "prompt", "completion", "source"} and row["source"] == "imported"
        assert len(row["prompt"]) <= project.limits.max_prompt_chars
        assert len(row["completion"]) <= project.limits.max_completion_chars
        if task == "classification":
            assert row["completion"] in project.labels
        elif task == "extraction":
            obj = json.loads(row["completion"])
            assert list(obj) == project.fields
            # the compact form candidate validation gives generated rows, so the two sets agree
            assert row["completion"] == json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        elif task == "qa":
            assert len(row["completion"].split()) <= project.limits.qa_max_answer_words
    if task == "classification":
        counts = {label: sum(r["completion"] == label for r in rows) for label in project.labels}
        assert min(counts.values()) >= 10, counts
    assert (SAMPLES / folder / "README.md").is_file()


def test_sentiment_sample_matches_the_design() -> None:
    project = load_project(SAMPLES / "sentiment" / "brewslm.toml")
    assert project.labels == ["positive", "negative", "neutral", "mixed"]
    assert project.reject_reasons == list(DEFAULT_REASONS)


# --- error messages: where --------------------------------------------------------------------


def test_error_names_the_file_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path, 'name = "x"\ntask = "classification"\nscoring = "exact_match"\n', folder="sample_projects/x"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectError) as info:
        load_project("sample_projects/x")
    assert str(info.value) == 'sample_projects/x/brewslm.toml: labels: required when task = "classification"'
    assert isinstance(info.value, BrewError)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('name = "x"\ntask = "qa"\nscoring = "f1"\n\n\n\nlabels [\n', 7, "Expected '=' after a key"),
        ('name = "x"\ntask = \n', 2, "Invalid value"),
        ('name = "x"\nname = "y"\n', 2, "Cannot overwrite a value"),
        ('name = "unterminated\n', 1, "Illegal character"),
        ('[data]\nimported = "a"\n[data]\n', 3, "Cannot declare"),
    ],
)
def test_toml_syntax_error_names_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    file = write(tmp_path, text)
    message = error_of(tmp_path, text)
    assert message.startswith(f"{file}:{line}: TOML syntax: "), message
    assert fragment.lower() in message.lower()
    assert "(at line" not in message
    assert len(message.splitlines()) == 1


def test_toml_error_at_end_of_document_names_the_last_line(tmp_path: Path) -> None:
    file = write(tmp_path, 'name = "x"\ntask = "qa"\nscoring')
    message = error_of(tmp_path, 'name = "x"\ntask = "qa"\nscoring')
    assert message.startswith(f"{file}:3: TOML syntax: Expected '='"), message


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    file = write(tmp_path, "")
    file.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_project(file).name == "demo"


def test_not_utf8(tmp_path: Path) -> None:
    file = write(tmp_path, "")
    file.write_bytes(b'name = "x"\ndescription = "caf\xe9"\n')
    with pytest.raises(ProjectError) as info:
        load_project(file)
    assert str(info.value) == f"{file}:2: not UTF-8 text"


def test_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match=r"empty: not a brewslm project \(no brewslm.toml"):
        load_project(tmp_path / "empty")
    with pytest.raises(ProjectError, match=r"nowhere/brewslm\.toml: no such file or folder"):
        load_project(tmp_path / "nowhere" / "brewslm.toml")
    with pytest.raises(ProjectError, match="nowhere: no such file or folder"):
        load_project(tmp_path / "nowhere")


def test_unreadable_file(tmp_path: Path) -> None:
    file = write(tmp_path, BASE)
    file.chmod(0)
    try:
        if _can_read(file):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ProjectError, match=re.escape(f"{file}: cannot read: ")):
            load_project(file)
    finally:
        file.chmod(0o644)


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
    except PermissionError:
        return False
    return True


# --- error messages: what -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('task = "qa"\nscoring = "f1"\n', "name: required"),
        ('name = "x"\nscoring = "f1"\n', "task: required"),
        ('name = "x"\ntask = "qa"\n', "scoring: required"),
        ('name = ""\ntask = "qa"\nscoring = "f1"\n', "name: must not be empty"),
        ('name = 5\ntask = "qa"\nscoring = "f1"\n', "name: Input should be a valid string (got 5)"),
        (
            'name = "x"\ntask = "clasification"\nscoring = "f1"\n',
            "task: Input should be 'classification', 'extraction', 'qa' or 'generation' (got 'clasification')",
        ),
        (
            'name = "x"\ntask = "qa"\nscoring = "bleu"\n',
            "scoring: Input should be 'exact_match', 'f1', 'rouge_l' or 'judge' (got 'bleu')",
        ),
        (
            BASE + 'lables = ["a"]\n',
            "lables: unknown key (known: name, description, task, scoring, labels, fields, reject_reasons, data, limits); did you mean 'labels'?",
        ),
        (
            BASE + "[limits]\nqa_max_words = 3\n",
            "limits.qa_max_words: unknown key (known: max_prompt_chars, max_completion_chars, qa_max_answer_words); did you mean 'qa_max_answer_words'?",
        ),
        (
            BASE + '[data]\nimport = "a.jsonl"\n',
            "data.import: unknown key (known: imported, synthetic, dropped, allow_symlinks); did you mean 'imported'?",
        ),
        (
            BASE + '[[reject_reasons]]\ncode = "c"\ntitle = "t"\nkey = "1"\ndescr = "d"\n',
            "reject_reasons[0].descr: unknown key (known: code, title, key, description); did you mean 'description'?",
        ),
        (
            BASE + 'root = "/etc"\n',
            "root: unknown key (known: name, description, task, scoring, labels, fields, reject_reasons, data, limits)",
        ),
        (
            BASE + 'file = "/etc/passwd"\n',
            "file: unknown key (known: name, description, task, scoring, labels, fields, reject_reasons, data, limits); did you mean 'fields'?",
        ),
        (
            BASE + "zzz = 1\n",
            "zzz: unknown key (known: name, description, task, scoring, labels, fields, reject_reasons, data, limits)",
        ),
        (
            BASE + '[limits]\nmax_prompt_chars = "4000"\n',
            "limits.max_prompt_chars: Input should be a valid integer (got '4000')",
        ),
        (
            BASE + "[limits]\nmax_prompt_chars = 40.0\n",
            "limits.max_prompt_chars: Input should be a valid integer (got 40.0)",
        ),
        (
            BASE + "[limits]\nmax_prompt_chars = true\n",
            "limits.max_prompt_chars: Input should be a valid integer (got True)",
        ),
        (
            BASE + "[limits]\nqa_max_answer_words = 0\n",
            "limits.qa_max_answer_words: Input should be greater than 0 (got 0)",
        ),
        (
            BASE + "[limits]\nmax_completion_chars = -5\n",
            "limits.max_completion_chars: Input should be greater than 0 (got -5)",
        ),
        (BASE + 'limits = "big"\n', "limits: must be a table (got 'big')"),
        (BASE + 'reject_reasons = ["wrong"]\n', "reject_reasons[0]: must be a table (got 'wrong')"),
        (
            BASE + '[data]\nsynthetic = "data/imported.jsonl"\n',
            "data: imported, synthetic and dropped must be three different files",
        ),
        (
            BASE + '[data]\ndropped = "./data/synthetic.jsonl"\n',
            "data: imported, synthetic and dropped must be three different files",
        ),
        (BASE + '[data]\nimported = ""\n', "data.imported: must not be empty"),
        (BASE + 'description = "two\\nlines"\n', None),  # description may be anything
    ],
)
def test_field_errors(tmp_path: Path, text: str, expected: str | None) -> None:
    file = write(tmp_path, text)
    if expected is None:
        load_project(file)
        return
    message = error_of(tmp_path, text)
    assert expected in lines_of(message, file), message


# --- labels and fields --------------------------------------------------------------------------

CLS = 'name = "x"\ntask = "classification"\nscoring = "{scoring}"\n'


@pytest.mark.parametrize(
    ("labels", "scoring", "expected"),
    [
        (None, "exact_match", 'labels: required when task = "classification"'),
        ("[]", "exact_match", 'labels: required when task = "classification"'),
        ('["only"]', "f1", "labels: a classifier needs at least two labels"),
        ('["a", "b", "a"]', "f1", "labels: 'a' repeats 'a'"),
        (
            '["Yes", "no", "yes"]',
            "exact_match",
            "labels: 'yes' repeats 'Yes' (labels compare case-insensitively under exact_match)",
        ),
        ('["yes", " no"]', "exact_match", "labels: label ' no' is empty or has surrounding whitespace"),
        ('["yes", ""]', "exact_match", "labels: label '' is empty or has surrounding whitespace"),
        ('["yes", "n\\no"]', "exact_match", "labels: label 'n\\no' must be one line"),
        ('["yes", 1]', "exact_match", "labels[1]: Input should be a valid string (got 1)"),
        ('"yes,no"', "exact_match", "labels: Input should be a valid list (got 'yes,no')"),
    ],
)
def test_label_rules(tmp_path: Path, labels: str | None, scoring: str, expected: str) -> None:
    text = CLS.format(scoring=scoring) + (f"labels = {labels}\n" if labels is not None else "")
    file = write(tmp_path, text)
    assert expected in lines_of(error_of(tmp_path, text), file)


def test_case_variants_are_distinct_labels_under_f1(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, CLS.format(scoring="f1") + 'labels = ["Yes", "yes"]\n'))
    assert project.labels == ["Yes", "yes"]


@pytest.mark.parametrize("task,scoring", [("extraction", "f1"), ("qa", "f1"), ("generation", "judge")])
def test_labels_forbidden_for_other_tasks(tmp_path: Path, task: str, scoring: str) -> None:
    extra = 'fields = ["a"]\n' if task == "extraction" else ""
    text = f'name = "x"\ntask = "{task}"\nscoring = "{scoring}"\n{extra}labels = ["a", "b"]\n'
    file = write(tmp_path, text)
    assert f'labels: only for task = "classification" (this project has task = "{task}")' in lines_of(
        error_of(tmp_path, text), file
    )


EXT = 'name = "x"\ntask = "extraction"\nscoring = "exact_match"\n'


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (None, 'fields: required when task = "extraction" (the keys of the completion\'s JSON object)'),
        ("[]", 'fields: required when task = "extraction" (the keys of the completion\'s JSON object)'),
        ('["order id"]', "fields: 'order id' is not an identifier (letters, digits and '_', e.g. order_id)"),
        ('["1st"]', "fields: '1st' is not an identifier (letters, digits and '_', e.g. order_id)"),
        ('["a", "b", "a", "b"]', "fields: 'a', 'b' listed more than once"),
    ],
)
def test_field_rules(tmp_path: Path, fields: str | None, expected: str) -> None:
    text = EXT + (f"fields = {fields}\n" if fields is not None else "")
    file = write(tmp_path, text)
    assert expected in lines_of(error_of(tmp_path, text), file)


def test_fields_forbidden_for_other_tasks(tmp_path: Path) -> None:
    text = BASE + 'fields = ["a"]\n'
    file = write(tmp_path, text)
    assert 'fields: only for task = "extraction" (this project has task = "classification")' in lines_of(
        error_of(tmp_path, text), file
    )


# --- scoring x task matrix ----------------------------------------------------------------------

VALID = {
    ("classification", "exact_match"),
    ("classification", "f1"),
    ("extraction", "exact_match"),
    ("extraction", "f1"),
    ("extraction", "judge"),
    ("qa", "exact_match"),
    ("qa", "f1"),
    ("qa", "rouge_l"),
    ("qa", "judge"),
    ("generation", "rouge_l"),
    ("generation", "judge"),
}
SHAPE_EXTRA = {
    "classification": 'labels = ["a", "b"]\n',
    "extraction": 'fields = ["a"]\n',
    "qa": "",
    "generation": "",
}


@pytest.mark.parametrize("task", ["classification", "extraction", "qa", "generation"])
@pytest.mark.parametrize("scoring", ["exact_match", "f1", "rouge_l", "judge"])
def test_scoring_fits_task(tmp_path: Path, task: str, scoring: str) -> None:
    text = f'name = "x"\ntask = "{task}"\nscoring = "{scoring}"\n' + SHAPE_EXTRA[task]
    file = write(tmp_path, text)
    assert ((task, scoring) in VALID) == (scoring in SCORING_FOR_TASK[task])
    if (task, scoring) in VALID:
        assert load_project(file).scoring == scoring
    else:
        fits = ", ".join(SCORING_FOR_TASK[task])
        assert lines_of(error_of(tmp_path, text), file) == [
            f'scoring: "{scoring}" does not fit task = "{task}" (use one of: {fits})'
        ]


# --- reject reasons -------------------------------------------------------------------------------


def reasons(*entries: tuple[str, str, str]) -> str:
    return "".join(f'[[reject_reasons]]\ncode = "{c}"\ntitle = "{t}"\nkey = "{k}"\n' for c, t, k in entries)


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_reason_key_may_not_be_a_review_key(tmp_path: Path, key: str) -> None:
    text = BASE + reasons(("ok", "Fine", "1"), ("clash", "Clash", key))
    file = write(tmp_path, text)
    shown = "space" if key == " " else key
    assert (
        f"reject_reasons[1].key: {shown!r} is a review key; pick another (digits 1-9 work best)"
        in lines_of(error_of(tmp_path, text), file)
    )


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            [("a", "A", "12")],
            "reject_reasons[0].key: must be exactly one character (got '12'); digits 1-9 work best",
        ),
        (
            [("a", "A", "")],
            "reject_reasons[0].key: must be exactly one character (got ''); digits 1-9 work best",
        ),
        ([("a", "A", "\\t")], "reject_reasons[0].key: '\\t' is not a printable key"),
        (
            [("bad code", "A", "1")],
            "reject_reasons[0].code: 'bad code' is not a valid code (letters, digits, '_' and '-', e.g. wrong_label)",
        ),
        (
            [("_x", "A", "1")],
            "reject_reasons[0].code: '_x' is not a valid code (letters, digits, '_' and '-', e.g. wrong_label)",
        ),
        ([("a", "", "1")], "reject_reasons[0].title: must not be empty"),
        ([("a", "A\\nB", "1")], "reject_reasons[0].title: must be one line"),
        ([("a", "A\\u001b[2J", "1")], "reject_reasons[0].title: contains control characters"),
        ([("a", "A", "1"), ("a", "B", "2")], "reject_reasons: code 'a' used twice ([0] and [1])"),
        ([("a", "A", "1"), ("b", "B", "1")], "reject_reasons: key '1' used twice ([0] and [1])"),
        (
            [("a", "A", "1"), ("a", "B", "1")],
            "reject_reasons: code 'a' used twice ([0] and [1]); key '1' used twice ([0] and [1])",
        ),
    ],
)
def test_reason_rules(tmp_path: Path, entries: list[tuple[str, str, str]], expected: str) -> None:
    text = BASE + reasons(*entries)
    file = write(tmp_path, text)
    assert expected in lines_of(error_of(tmp_path, text), file)


def test_reason_missing_fields(tmp_path: Path) -> None:
    text = BASE + '[[reject_reasons]]\ndescription = "no code"\n'
    file = write(tmp_path, text)
    assert lines_of(error_of(tmp_path, text), file) == [
        "reject_reasons[0].code: required",
        "reject_reasons[0].title: required",
        "reject_reasons[0].key: required",
    ]


def test_empty_reason_list(tmp_path: Path) -> None:
    text = BASE + "reject_reasons = []\n"
    file = write(tmp_path, text)
    assert lines_of(error_of(tmp_path, text), file) == [
        "reject_reasons: name at least one reason, or leave [[reject_reasons]] out to get the defaults"
    ]


def test_reason_description_must_be_one_line(tmp_path: Path) -> None:
    text = BASE + reasons(("a", "A", "1")) + 'description = """two\nlines"""\n'
    file = write(tmp_path, text)
    assert "reject_reasons[0].description: must be one line" in lines_of(error_of(tmp_path, text), file)


def test_reasons_are_immutable() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_REASONS[0].key = "a"  # type: ignore[misc]


# --- many problems at once ----------------------------------------------------------------------


def test_every_problem_on_its_own_line(tmp_path: Path) -> None:
    text = """name = "x"
task = "classification"
scoring = "rouge_l"
lables = ["a"]
[limits]
max_prompt_chars = "lots"
[[reject_reasons]]
code = "c"
title = "C"
key = "x"
"""
    file = write(tmp_path, text)
    assert lines_of(error_of(tmp_path, text), file) == [
        'scoring: "rouge_l" does not fit task = "classification" (use one of: exact_match, f1)',
        'labels: required when task = "classification"',
        "reject_reasons[0].key: 'x' is a review key; pick another (digits 1-9 work best)",
        "limits.max_prompt_chars: Input should be a valid integer (got 'lots')",
        "lables: unknown key (known: name, description, task, scoring, labels, fields, reject_reasons, data, limits); did you mean 'labels'?",
    ]


def test_an_invalid_task_skips_the_rules_that_depend_on_it(tmp_path: Path) -> None:
    text = 'name = "x"\ntask = "sorting"\nscoring = "f1"\nlabels = ["a"]\n'
    file = write(tmp_path, text)
    assert lines_of(error_of(tmp_path, text), file) == [
        "task: Input should be 'classification', 'extraction', 'qa' or 'generation' (got 'sorting')"
    ]


def test_hostile_keys_and_values_are_shown_inert(tmp_path: Path) -> None:
    text = BASE + '"evil\\u001b]8;;http://x\\u0007key" = 1\n[data]\nimported = "\\u001b[2Jx"\n'
    message = error_of(tmp_path, text)
    assert "\x1b" not in message and "\x07" not in message
    assert "evil\\x1b]8;;http://x\\x07key: unknown key" in message
    assert "data.imported: contains control characters" in message


def test_long_bad_values_are_shortened(tmp_path: Path) -> None:
    text = f'name = "x"\ntask = "{"q" * 500}"\nscoring = "f1"\n'
    message = error_of(tmp_path, text)
    assert len(message) < 400 and "..." in message


# --- robustness: any file gives a Project or a ProjectError -------------------------------------

SAMPLE_TEXTS = [
    (SAMPLES / name / "brewslm.toml").read_text(encoding="utf-8")
    for name in ("sentiment", "support-extraction", "product-qa")
]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.sampled_from(SAMPLE_TEXTS),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 3),
            st.sampled_from(['"', "=", "[", "]", "\n", "x", "1", " ", "#", "\\", ".", "é"]),
        ),
        max_size=4,
    ),
)
def test_mutated_files_never_escape_as_other_errors(
    tmp_path: Path, text: str, edits: list[tuple[int, int, str]]
) -> None:
    for pos, cut, insert in edits:
        pos %= len(text) + 1
        text = text[:pos] + insert + text[pos + cut :]
    file = write(tmp_path, text)
    try:
        load_project(file)
    except ProjectError as exc:
        assert str(exc).startswith(str(file))
        assert "Traceback" not in str(exc) and "pydantic" not in str(exc)


toml_scalars = st.one_of(
    st.integers(-5, 10_000),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["classification", "qa", "f1", "judge", "a", "1"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["code", "title", "key", "x"]), inner, max_size=4),
    ),
    max_leaves=8,
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "task",
                "scoring",
                "labels",
                "fields",
                "reject_reasons",
                "data",
                "limits",
                "description",
                "other",
            ]
        ),
        toml_values,
        max_size=6,
    )
)
def test_random_values_give_a_project_or_a_project_error(tmp_path: Path, values: dict[str, object]) -> None:
    base = {"name": "x", "task": "classification", "scoring": "exact_match", "labels": ["a", "b"]}
    base.update(values)
    file = write(tmp_path, "".join(f"{k} = {toml_value(v)}\n" for k, v in base.items()))
    try:
        project = load_project(file)
    except ProjectError as exc:
        assert all(line.startswith(f"{file}: ") for line in str(exc).splitlines()), str(exc)
    else:
        assert isinstance(project, Project)


# --- data paths stay inside the project (issue 14.11) ------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('synthetic = "../victim.txt"', "data.synthetic: '../victim.txt' leaves the project folder"),
        ('synthetic = "data/../../victim.txt"', "leaves the project folder"),
        ('dropped = "/tmp/victim.txt"', "data.dropped: '/tmp/victim.txt' is an absolute path"),
        ('imported = "C:\\\\x\\\\rows.jsonl"', "data.imported: 'C:\\\\x\\\\rows.jsonl' is an absolute path"),
        ('imported = "..\\\\rows.jsonl"', "leaves the project folder"),
    ],
)
def test_data_paths_outside_the_project_are_refused(tmp_path: Path, data: str, expected: str) -> None:
    assert expected in error_of(tmp_path, BASE + "[data]\n" + data + "\n")


def test_symlinked_data_files_and_state_folder_are_refused_unless_allowed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    file = write(tmp_path, BASE)
    (file.parent / "data").mkdir()
    link = file.parent / "data" / "synthetic.jsonl"
    link.symlink_to(victim)
    with pytest.raises(ProjectError) as info:
        load_project(file)
    message = str(info.value)
    assert "data.synthetic:" in message and "is a symlink" in message and "allow_symlinks = true" in message
    assert len(message.splitlines()) == 1
    link.unlink()

    # a symlinked folder on the way counts too, and so does .brewslm/
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (file.parent / "data").rmdir()
    (file.parent / "data").symlink_to(elsewhere)
    (file.parent / ".brewslm").symlink_to(elsewhere)
    with pytest.raises(ProjectError) as info:
        load_project(file)
    lines = str(info.value).splitlines()
    assert len(lines) == 2  # one line per symlink: data/ (under which all three live) and .brewslm
    assert "data.imported, data.synthetic, data.dropped: data is a symlink" in lines[0]
    assert ".brewslm: .brewslm is a symlink" in lines[1]

    file.write_text(BASE + "[data]\nallow_symlinks = true\n")
    project = load_project(file)
    assert project.data.allow_symlinks is True
    assert project.synthetic_path.resolve() == elsewhere / "synthetic.jsonl"


def test_a_broken_symlink_is_refused_too(tmp_path: Path) -> None:
    file = write(tmp_path, BASE)
    (file.parent / "data").mkdir()
    (file.parent / "data" / "dropped.jsonl").symlink_to(tmp_path / "nowhere" / "x.jsonl")
    assert "data.dropped:" in error_of(tmp_path, BASE) and "is a symlink" in error_of(tmp_path, BASE)


def test_a_symlinked_project_folder_is_fine(tmp_path: Path) -> None:
    file = write(tmp_path, BASE)
    (tmp_path / "alias").symlink_to(file.parent)
    project = load_project(tmp_path / "alias")
    assert project.synthetic_path.resolve() == file.parent.resolve() / "data" / "synthetic.jsonl"


def test_writable_problem_probes_the_folder(tmp_path: Path) -> None:
    from brewslm_tui.core.project import writable_problem

    project = load_project(write(tmp_path, BASE))
    assert writable_problem(project) is None
    assert [p.name for p in project.root.iterdir()] == ["brewslm.toml"]
    # /proc refuses new files even to root: a real EACCES/ENOENT-free read-only condition
    proc = project.model_copy(update={"root": Path("/proc/self")})
    problem = writable_problem(proc)
    assert problem is not None and problem.endswith(": cannot write in /proc/self")
