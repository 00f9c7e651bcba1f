"""The template generator: deterministic per seed, balanced, valid rows with provenance."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.generation.generators import GenRequest
from brewslm_tui.core.generation.generators.template import TemplateGenerator, typo
from brewslm_tui.core.generation.jobs import run_generation_job
from brewslm_tui.core.generation.playbooks import get_playbook, load_playbooks
from brewslm_tui.core.generation.validate import Validator
from brewslm_tui.core.project import load_project
from tests.helpers import SENTIMENT_PLAYBOOK, make_project

SAMPLES = Path(__file__).resolve().parents[3] / "sample_projects"
PROVENANCE = ("id", "prompt", "completion", "review_status", "source", "run_id", "playbook", "created_at")


async def candidates(project, name: str, count: int, seed: int) -> list[dict]:
    book = get_playbook(project, name)
    gen = TemplateGenerator(GenRequest(project, book, count, seed))
    return [item async for item in gen.stream()]


def read_rows(project) -> list[dict]:
    if not project.synthetic_path.exists():
        return []
    return [orjson.loads(line) for line in project.synthetic_path.read_bytes().splitlines()]


async def test_same_playbook_and_seed_give_the_same_candidates(tmp_path):
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    first = await candidates(project, "hc", 40, seed=5)
    again = await candidates(project, "hc", 40, seed=5)
    other = await candidates(project, "hc", 40, seed=6)
    assert first == again
    assert first != other
    assert len(first) == get_playbook(project, "hc").max_candidates(40)


async def test_same_seed_lands_the_same_rows_in_two_projects(tmp_path):
    a = make_project(tmp_path / "a", playbooks={"hc": SENTIMENT_PLAYBOOK})
    b = make_project(tmp_path / "b", playbooks={"hc": SENTIMENT_PLAYBOOK})
    ra = await run_generation_job(a, "hc", count=30, seed=9)
    rb = await run_generation_job(b, "hc", count=30, seed=9)
    assert ra.state == rb.state == "succeeded"
    pairs = lambda p: [(r["prompt"], r["completion"], r["hard_case"]) for r in read_rows(p)]  # noqa: E731
    assert pairs(a) == pairs(b) and len(pairs(a)) == 30


async def test_the_balance_target_is_met_within_tolerance(tmp_path):
    """Weighted balance 3:2:1:0 over 120 rows: each label within 3 rows (2.5%) of its target."""
    text = SENTIMENT_PLAYBOOK + "[balance]\npositive = 3\nnegative = 2\nneutral = 1\nmixed = 0\n"
    project = make_project(tmp_path, playbooks={"w": text})
    cands = await candidates(project, "w", 120, seed=1)
    first = Counter(c["completion"] for c in cands[:120])
    assert first == {"positive": 60, "negative": 40, "neutral": 20}  # what it aims at, exactly
    record = await run_generation_job(project, "w", count=120, seed=1)
    assert record.state == "succeeded", record.diagnostic_text()
    landed = Counter(r["completion"] for r in read_rows(project))
    assert sum(landed.values()) == 120
    for label, target in {"positive": 60, "negative": 40, "neutral": 20, "mixed": 0}.items():
        assert abs(landed[label] - target) <= 3, (label, landed)


async def test_every_candidate_passes_validation_and_rows_carry_provenance(tmp_path):
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    validator = Validator(project)
    cands = await candidates(project, "hc", 40, seed=3)
    causes = Counter(validator.check(c).cause for c in cands)
    assert set(causes) <= {None, "duplicate_in_run"}, causes  # nothing invalid, only repeats
    record = await run_generation_job(project, "hc", count=40, seed=3)
    rows = read_rows(project)
    assert record.state == "succeeded" and len(rows) == 40 == record.counts["landed"]
    for row in rows:
        assert all(row.get(k) for k in PROVENANCE), row
        assert row["review_status"] == "pending" and row["source"] == "synth_playbook"
        assert row["run_id"] == record.run_id and row["playbook"] == "hc"
        assert row["created_at"].endswith("Z")
        assert not any(k.startswith("_") for k in row)
    assert len({r["id"] for r in rows}) == 40


async def test_noise_makes_some_rows_subtly_wrong(tmp_path):
    text = SENTIMENT_PLAYBOOK.replace(
        "[template.slots]",
        "[template.noise]\nwrong_answer = 0.2\ntypo = 0.2\n"
        '[template.confusable]\nmixed = ["positive", "negative"]\n[template.slots]',
    )
    project = make_project(tmp_path, playbooks={"n": text})
    cands = await candidates(project, "n", 100, seed=2)
    kinds = Counter(k for c in cands for k in c.get("_noise", "").split(",") if k)
    assert 20 <= kinds["wrong_answer"] <= 120 and 20 <= kinds["typo"] <= 120
    wrong_mixed = [c for c in cands if "wrong_answer" in c.get("_noise", "") and "shame it" in c["prompt"]]
    assert wrong_mixed and all(c["completion"] in ("positive", "negative") for c in wrong_mixed)


async def test_extraction_and_qa_templates_render_answers_from_the_same_draw(tmp_path):
    ex = make_project(
        tmp_path,
        "extraction",
        playbooks={
            "e": """\
        count = 10
        [template]
        prompt = "Extract the fields.\\n\\nMessage: {text}"
        [template.slots]
        order = ["BW-100001", "BW-100002", "BW-100003", "BW-100004"]
        item = ["kettle", "lamp", "tent"]
        [[hard_cases]]
        name = "broken"
        [[hard_cases.templates]]
        text = "My {item} from order {order} arrived broken."
        fields = { order_id = "{order}", product = "{item}", issue_type = "damaged" }
        """
        },
    )
    cands = await candidates(ex, "e", 10, seed=4)
    for c in cands:
        obj = orjson.loads(c["completion"])
        assert list(obj) == ["order_id", "product", "issue_type"]
        assert obj["order_id"] in c["prompt"] and obj["product"] in c["prompt"]
    qa = make_project(
        tmp_path,
        "qa",
        playbooks={
            "q": """\
        count = 5
        [template.slots]
        fact = [{ q = "How long is the warranty?", a = "two years" }, { q = "Is shipping free?", a = "yes" }]
        [[hard_cases]]
        name = "policy"
        templates = [{ text = "{fact.q}", answer = "{fact.a}" }]
        """
        },
    )
    for c in await candidates(qa, "q", 5, seed=1):
        assert (c["prompt"], c["completion"]) in {
            ("How long is the warranty?", "two years"),
            ("Is shipping free?", "yes"),
        }


async def test_generation_templates_land_their_completion(tmp_path):
    project = make_project(
        tmp_path,
        "generation",
        playbooks={
            "g": """\
        count = 6
        [template.slots]
        item = ["kettle", "lamp", "tent", "stove"]
        tone = ["friendly", "formal"]
        [[hard_cases]]
        name = "replies"
        [[hard_cases.templates]]
        text = "Write a {tone} reply to a customer whose {item} broke."
        completion = "Sorry to hear your {item} broke; a replacement is on its way."
        """
        },
    )
    record = await run_generation_job(project, "g", seed=8)
    assert record.state == "succeeded", record.diagnostic_text()
    for row in read_rows(project):
        item = row["prompt"].split("whose ")[1].split(" broke")[0]
        assert row["completion"] == f"Sorry to hear your {item} broke; a replacement is on its way."


def test_typo_changes_one_word_slightly():
    import random

    rng = random.Random(0)
    text = "The blender works wonderfully"
    for _ in range(50):
        changed = typo(text, rng)
        assert changed != text
        diff = [(a, b) for a, b in zip(changed.split(), text.split(), strict=True) if a != b]
        assert len(diff) == 1 and abs(len(diff[0][0]) - len(diff[0][1])) <= 1


@pytest.mark.parametrize("name", ["sentiment", "support-extraction", "product-qa"])
async def test_sample_template_playbooks_land_pending_rows(tmp_path, name):
    root = tmp_path / name
    shutil.copytree(
        SAMPLES / name, root, ignore=shutil.ignore_patterns(".brewslm", "synthetic.jsonl", "dropped.jsonl")
    )
    project = load_project(root)
    books, errors = load_playbooks(project)
    assert not errors
    validator = Validator.for_project(project)
    for book in (b for b in books if b.generator == "template"):
        record = await run_generation_job(project, book.name, count=30, seed=123)
        assert record.state == "succeeded", record.diagnostic_text()
        rows = [r for r in read_rows(project) if r["run_id"] == record.run_id]
        assert len(rows) == 30
        for row in rows:
            assert all(row.get(k) for k in PROVENANCE)
            again = validator.check(row)  # a landed row is valid for the task (and new to the imported rows)
            assert again.cause in (None, "duplicate_in_run"), (again.cause, again.detail)
    await asyncio.sleep(0)
