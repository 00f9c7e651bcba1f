"""Playbooks are recipe-aware: checked against the project when loaded, errors name file and key."""

from __future__ import annotations

import pytest

from brewslm_tui.core.errors import ProjectError
from brewslm_tui.core.generation.playbooks import get_playbook, load_playbook, load_playbooks
from brewslm_tui.core.project import load_project
from tests.helpers import SAMPLES, SENTIMENT_PLAYBOOK, make_project, write_playbook


def error_of(project, name: str, text: str) -> str:
    path = write_playbook(project, name, text)
    with pytest.raises(ProjectError) as info:
        load_playbook(project, path)
    return str(info.value)


def test_a_good_playbook_loads_with_defaults(tmp_path):
    project = make_project(tmp_path, playbooks={"hard-cases": SENTIMENT_PLAYBOOK})
    book = get_playbook(project, "hard-cases")
    assert book.name == "hard-cases"
    assert book.generator == "template"
    assert book.count == 40 and book.seed == 11
    assert book.label_weights(project) == {"positive": 1.0, "negative": 1.0, "neutral": 1.0, "mixed": 1.0}
    assert 0 < book.limits.max_failure_rate <= 1 and book.limits.min_candidates >= 1


def test_balance_naming_an_unknown_label_names_file_and_key(tmp_path):
    project = make_project(tmp_path)
    text = SENTIMENT_PLAYBOOK + "[balance]\npositive = 1\nhappy = 2\n"
    message = error_of(project, "x", text)
    assert (
        "playbooks/x.toml: balance.happy: not a label of this project "
        "(labels: positive, negative, neutral, mixed)"
    ) in message


def test_balance_on_a_project_without_labels_is_an_error(tmp_path):
    project = make_project(tmp_path, "qa")
    message = error_of(
        project,
        "q",
        """\
        balance = { yes = 1 }
        [[hard_cases]]
        name = "a"
        templates = [{ text = "Q?", answer = "yes" }]
        """,
    )
    assert "playbooks/q.toml: balance: only for classification projects" in message


def test_a_template_slot_that_is_not_defined_names_the_template(tmp_path):
    project = make_project(tmp_path)
    text = SENTIMENT_PLAYBOOK.replace(
        'The {product} {verdict}.", "Honestly', 'The {product} {reson}.", "Honestly'
    )
    message = error_of(project, "slots", text)
    assert (
        "playbooks/slots.toml: hard_cases[0].templates.positive[0]: {reson} is not a defined slot" in message
    )
    assert "slots here:" in message and "product" in message


def test_a_slot_defined_for_one_label_only_is_missing_for_the_others(tmp_path):
    project = make_project(tmp_path)
    # {verdict} is defined per label for positive and negative only: a neutral template using it fails
    text = SENTIMENT_PLAYBOOK.replace("It is a {product}. It arrived", "The {product} {verdict}. It arrived")
    message = error_of(project, "lbl", text)
    assert (
        "hard_cases[0].templates.neutral[0]: {verdict} is not a defined slot for label 'neutral'" in message
    )


def test_slot_cycles_and_bad_attributes_are_errors(tmp_path):
    project = make_project(tmp_path, "qa")
    message = error_of(
        project,
        "cyc",
        """\
        [template.slots]
        a = ["x {b}"]
        b = ["y {a}"]
        fact = [{ q = "How long?", a = "two days" }]
        [[hard_cases]]
        name = "c"
        templates = [{ text = "{a} {fact.question}", answer = "{fact}" }]
        """,
    )
    assert "refers to itself" in message
    assert "{fact.question}" in message and "has no 'question'" in message
    assert "{fact}: template.slots.fact holds tables; use {fact.<attr>}" in message


def test_a_label_with_weight_but_no_templates_is_an_error(tmp_path):
    project = make_project(tmp_path)
    text = SENTIMENT_PLAYBOOK.replace(
        '    mixed = ["The {product} looks nice but {flaw}.", "Great {product}, shame it {flaw}."]\n', ""
    )
    message = error_of(project, "nomixed", text)
    assert "hard_cases: no templates for label 'mixed'" in message
    # giving mixed weight 0 makes the same playbook fine
    write_playbook(
        project, "nomixed", text + "[balance]\npositive = 1\nnegative = 1\nneutral = 1\nmixed = 0\n"
    )
    assert load_playbook(project, project.playbooks_dir / "nomixed.toml").label_weights(project)["mixed"] == 0


def test_templates_keyed_by_something_that_is_not_a_label(tmp_path):
    project = make_project(tmp_path)
    text = SENTIMENT_PLAYBOOK.replace("    mixed = [", '    happy = ["so {product}"]\n    mixed = [')
    assert "hard_cases[0].templates.happy: not a label of this project" in error_of(project, "k", text)


def test_extraction_templates_must_use_project_fields(tmp_path):
    project = make_project(tmp_path, "extraction")
    message = error_of(
        project,
        "ex",
        """\
        [template.slots]
        order = ["BW-1", "BW-2"]
        [[hard_cases]]
        name = "plain"
        [[hard_cases.templates]]
        text = "Order {order} never came"
        fields = { order_id = "{order}", customer = "Ann" }
        [[hard_cases.templates]]
        text = "hello"
        """,
    )
    assert (
        "playbooks/ex.toml: hard_cases[0].templates[0].fields.customer: not a field of this project"
        in message
    )
    assert "hard_cases[0].templates[1]: extraction templates are tables with text and fields" in message


@pytest.mark.parametrize(
    "settings, key",
    [
        ("temperature = 5.0", "openai.temperature"),
        ("concurrency = 0", "openai.concurrency"),
        ("timeout = -1.0", "openai.timeout"),
        ('api_key_env = "sk-abc123"', "openai.api_key_env"),
    ],
)
def test_bad_openai_settings_name_the_key(tmp_path, settings, key):
    project = make_project(tmp_path)
    message = error_of(
        project,
        "oa",
        f"""\
        generator = "openai"
        [openai]
        base_url = "http://127.0.0.1:8000/v1"
        model = "m"
        {settings}
        """,
    )
    assert f"playbooks/oa.toml: {key}:" in message


def test_an_api_key_in_the_playbook_is_refused_and_not_echoed(tmp_path):
    project = make_project(tmp_path)
    message = error_of(
        project,
        "oa",
        """\
        generator = "openai"
        [openai]
        base_url = "http://127.0.0.1:8000/v1"
        model = "m"
        api_key = "sk-live-very-secret-value"
        """,
    )
    assert "playbooks/oa.toml: openai.api_key: never put a key in a playbook" in message
    assert "very-secret" not in message


def test_openai_needs_a_url_and_a_table(tmp_path):
    project = make_project(tmp_path)
    assert 'openai: generator = "openai" needs an [openai] table' in error_of(
        project, "o1", 'generator = "openai"\n'
    )
    message = error_of(
        project, "o2", 'generator = "openai"\n[openai]\nbase_url = "localhost:8000"\nmodel = "m"\n'
    )
    assert "openai.base_url: must be an http:// or https:// URL" in message


def test_command_settings_are_checked(tmp_path):
    project = make_project(tmp_path)
    assert "command.argv:" in error_of(project, "c1", 'generator = "command"\n[command]\nargv = []\n')
    message = error_of(project, "c2", 'generator = "command"\n[command]\nargv = ["scripts/nope.py"]\n')
    assert "playbooks/c2.toml: command.argv[0]: no such file" in message
    message = error_of(
        project, "c3", 'generator = "command"\n[command]\nargv = ["no-such-program-brewslm"]\n'
    )
    assert "command.argv[0]: 'no-such-program-brewslm' is not a program on PATH" in message


def test_unknown_keys_and_toml_syntax_errors(tmp_path):
    project = make_project(tmp_path)
    assert "playbooks/t.toml: tempalte: unknown key" in error_of(
        project, "t", SENTIMENT_PLAYBOOK + "[tempalte]\n"
    )
    message = error_of(project, "s", 'description = "x"\ncount = \n')
    assert message.startswith("playbooks/s.toml:2: TOML syntax:")
    assert "playbooks/g.toml: generator:" in error_of(project, "g", 'generator = "gpt"\n')
    assert "playbooks/n.toml: count:" in error_of(
        project, "n", SENTIMENT_PLAYBOOK.replace("count = 40", "count = 0")
    )


def test_load_playbooks_returns_the_good_ones_and_an_error_per_bad_file(tmp_path):
    project = make_project(
        tmp_path,
        playbooks={
            "a-good": SENTIMENT_PLAYBOOK,
            "b-bad": SENTIMENT_PLAYBOOK + "[balance]\nhappy = 1\n",
            "c-good": SENTIMENT_PLAYBOOK.replace("seed = 11", "seed = 12"),
        },
    )
    books, errors = load_playbooks(project)
    assert [b.name for b in books] == ["a-good", "c-good"]
    assert len(errors) == 1 and str(errors[0]).startswith("playbooks/b-bad.toml: balance.happy:")


def test_an_unknown_playbook_name_lists_the_known_ones(tmp_path):
    project = make_project(tmp_path, playbooks={"hard-cases": SENTIMENT_PLAYBOOK})
    with pytest.raises(ProjectError) as info:
        get_playbook(project, "hard-case")
    assert "no playbook named 'hard-case' (playbooks: hard-cases); did you mean 'hard-cases'?" in str(
        info.value
    )


@pytest.mark.parametrize("name", ["sentiment", "support-extraction", "product-qa"])
def test_every_sample_playbook_loads(name):
    project = load_project(SAMPLES / name)
    books, errors = load_playbooks(project)
    assert errors == []
    assert len(books) >= 2
    assert any(b.generator == "template" for b in books)
