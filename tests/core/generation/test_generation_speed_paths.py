"""The fast paths of generation keep their promises: same rows for a seed, same checks, same
timestamps, and rows landing in batches of the playbook's size.

The template generator compiles templates into parts instead of substituting with a regex per
row, draws from precomputed cumulative weights, and the job formats `created_at` once per clock
second. None of that may change a row: the golden candidates below were produced by the
regex-substitution renderer this replaced (same playbooks, same seeds).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from brewslm_tui.core.generation import generation_job, job_runner
from brewslm_tui.core.generation.generators import GenRequest
from brewslm_tui.core.generation.generators.template import TemplateGenerator, _Renderer, compile_template
from brewslm_tui.core.generation.jobs import iso, run_generation_job
from brewslm_tui.core.generation.playbooks import get_playbook
from brewslm_tui.core.generation.validate import Validator
from tests.helpers import SENTIMENT_PLAYBOOK, make_project

# Braces, nested slot references, table attributes, {label} in text and prompt, slots in the
# prompt, hard-case label_slots over template label_slots, weights, noise of both kinds.
CLASSIFY = """\
    description = "every template feature at once"
    [balance]
    positive = 3
    negative = 2
    neutral = 1
    mixed = 1
    [template]
    prompt = "{{Classify}} {{{tone}}} [{label}] for {who}:\\n{text} }}end{{"
    confusable = { positive = ["mixed"], negative = ["mixed", "neutral"] }
    [template.noise]
    wrong_answer = 0.2
    typo = 0.3
    [template.slots]
    product = ["kettle", "blender {{x}}", "{brand} lamp", "{brand} {brand} pack", "air fryer"]
    brand = ["Acme", "Zed {{co}}", "Brewco"]
    who = ["{person} and {person}", "me"]
    person = ["dad", "sister {brand}", "office"]
    tone = ["calm", "loud"]
    fact = [{ q = "How long {product}?", a = "two {brand}" }, { q = "Free?", a = "yes" }]
    [template.label_slots.positive]
    verdict = ["does the job", "works great with {product}", "is worth {fact.a}"]
    [[hard_cases]]
    name = "plain"
    weight = 2
    [hard_cases.templates]
    positive = ["The {product} {verdict}. {fact.q} {fact.a}", { text = "Honestly {{the}} {product} {verdict}!", weight = 3 }]
    negative = ["The {product} {verdict}. Label {label}.", "Sadly the {product} {verdict} {verdict}."]
    neutral = ["It is a {product}. It arrived on {day}.", "Bought the {product} for my {who}."]
    mixed = ["The {product} looks nice but {flaw}.", "Great {product}, shame it {flaw}."]
    [hard_cases.slots]
    day = ["Monday", "Tuesday", "Friday", "the weekend"]
    flaw = ["is loud", "runs hot", "came scratched", "has a short {brand} cable"]
    [hard_cases.label_slots.negative]
    verdict = ["broke in a week", "is a waste of {fact.a}", "stopped working"]
    [[hard_cases]]
    name = "second"
    weight = 1
    [hard_cases.templates]
    positive = ["{product}!!! {verdict}"]
    negative = ["{product}... {verdict}"]
    mixed = ["{product} meh {flaw}"]
    [hard_cases.slots]
    verdict = ["ok", "fine {day}"]
    flaw = ["x", "y {product}"]
    day = ["Sun"]
    """

EXTRACT = """\
    description = "extraction: fields drawn with the text, one redrawn by noise"
    [template]
    prompt = "Extract {{json}}: {text}"
    [template.noise]
    wrong_answer = 0.3
    typo = 0.2
    [template.slots]
    oid = ["A-1", "B-{n}", "C-{n}{n}"]
    n = ["1", "2", "3", "4", "5", "6", "7"]
    product = ["kettle", "lamp {{v2}}", "fan"]
    issue = [{ kind = "late", says = "it is late" }, { kind = "broken", says = "it broke, {product}" }, { kind = "wrong", says = "wrong one" }]
    [[hard_cases]]
    name = "a"
    templates = [{ text = "Order {oid}: {issue.says} ({product})", fields = { order_id = "{oid}", product = "{product}", issue_type = "{issue.kind}" } },
                 { text = "Hi, {issue.says}", fields = { issue_type = "{issue.kind}" }, weight = 0.5 },
                 { text = "Order {oid} {{x}}", fields = { order_id = "{oid}" } }]
    """


async def golden_candidates(project, count: int = 12, seed: int = 4242) -> list[list[Any]]:
    """The first candidates of a run as the job sees them (validated, with feedback)."""
    book = get_playbook(project, "t")
    validator = Validator(project)
    gen = TemplateGenerator(GenRequest(project, book, count, seed))
    out = []
    async for cand in gen.stream():
        verdict = validator.check(cand)
        gen.feedback(cand, verdict.ok)
        out.append([cand["prompt"], cand["completion"], cand["hard_case"], cand.get("_noise"), verdict.cause])
        if len(out) == count:
            break
    return out


# produced by the regex-substitution renderer (commit 2e7de3a) from the playbooks above
GOLDEN: dict[str, list[list[Any]]] = {
    "classification": [
        [
            "{Classify} {loud} [positive] for dad and dad:\nHonestly {the} Zed {co} Zed {co} pack works gerat with Zed {co} Zed {co} pack! }end{",
            "mixed",
            "plain",
            "wrong_answer,typo",
            None,
        ],
        [
            "{Classify} {loud} [positive] for sister Brewco and sister Brewco:\nThe kettle does the job. How long kettle? two Brewco }end{",
            "positive",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {loud} [negative] for sister Brewco and sister Brewco:\nSadly the air fryer is a waste of yes is a waste of yes. }end{",
            "negative",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {calm} [positive] for office and office:\nThe Zed {co} Zed {co} pack does the job. How long Zed {co} Zed {co} pack? two Zed {co} }end{",
            "positive",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {loud} [neutral] for sister Zed {co} and sister Zed {co}:\nBought the Zed {co} Zed {co} pack for my sister Zed {co} and sister Zed {co}. }end{",
            "neutral",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {calm} [negative] for dad and dad:\nThe blender {x} stopped working. Label negative. }end{",
            "negative",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {calm} [positive] for me:\nThe air fryer works great with air fryer. How long air fryer? two Zed {co} }end{",
            "positive",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {calm} [positive] for me:\nHonestly {the} Brewco Brewco pack does the job! }end{",
            "positive",
            "plain",
            None,
            None,
        ],
        [
            "{Classify} {calm} [negative] for me:\nSdaly the kettle stopped working stopped working. }end{",
            "negative",
            "plain",
            "typo",
            None,
        ],
        [
            "{Classify} {calm} [neutral] for me:\nIt is a blender {x}. It arrived on Friday. }end{",
            "negative",
            "plain",
            "wrong_answer",
            None,
        ],
        [
            "{Classify} {loud} [positive] for dad and dad:\nHoenstly {the} kettle is worth two Brewco! }end{",
            "positive",
            "plain",
            "typo",
            None,
        ],
        [
            "{Classify} {loud} [mixed] for me:\nblender {x} meh x }end{",
            "neutral",
            "second",
            "wrong_answer",
            None,
        ],
    ],
    "extraction": [
        [
            "Extract {json}: Hi, it is late",
            '{"order_id":null,"product":null,"issue_type":"late"}',
            "a",
            None,
            None,
        ],
        [
            "Extract {json}: Hi, it is ltae",
            '{"order_id":null,"product":null,"issue_type":"late"}',
            "a",
            "typo",
            None,
        ],
        [
            "Extract {json}: Order B-1: it is late (fan)",
            '{"order_id":"B-1","product":"kettle","issue_type":"late"}',
            "a",
            "wrong_answer",
            None,
        ],
        [
            "Extract {json}: Order A-1: it broke, kettle (kettle)",
            '{"order_id":"A-1","product":"kettle","issue_type":"broken"}',
            "a",
            None,
            None,
        ],
        [
            "Extract {json}: Hi, wrng one",
            '{"order_id":null,"product":null,"issue_type":"wrong"}',
            "a",
            "typo",
            None,
        ],
        [
            "Extract {json}: Order B-3 {x}",
            '{"order_id":"C-33","product":null,"issue_type":null}',
            "a",
            "wrong_answer",
            None,
        ],
        [
            "Extract {json}: Order C-44 {x}",
            '{"order_id":"C-44","product":null,"issue_type":null}',
            "a",
            None,
            None,
        ],
        [
            "Extract {json}: Order A-1: it is late (fan)",
            '{"order_id":"A-1","product":"fan","issue_type":"late"}',
            "a",
            None,
            None,
        ],
        [
            "Extract {json}: Order B-6 {x}",
            '{"order_id":"A-1","product":null,"issue_type":null}',
            "a",
            "wrong_answer",
            None,
        ],
        [
            "Extract {json}: Order A-1: it is late (lamp {v2})",
            '{"order_id":"A-1","product":"lamp {v2}","issue_type":"wrong"}',
            "a",
            "wrong_answer",
            None,
        ],
        [
            "Extract {json}: Order B-6 {x}",
            '{"order_id":"B-6","product":null,"issue_type":null}',
            "a",
            None,
            "duplicate_in_run",
        ],
        [
            "Extract {json}: Hi, it is late",
            '{"order_id":null,"product":null,"issue_type":"broken"}',
            "a",
            "wrong_answer",
            "duplicate_in_run",
        ],
    ],
}


async def test_template_rows_are_the_same_as_the_regex_renderer_made(tmp_path):
    for task, text in (("classification", CLASSIFY), ("extraction", EXTRACT)):
        project = make_project(tmp_path / task, task, playbooks={"t": text})
        assert await golden_candidates(project) == GOLDEN[task], task


def test_compile_template_splits_literals_and_references():
    assert compile_template("plain text") == "plain text"
    assert compile_template("{{literal}} and }}") == "{literal} and }"
    assert compile_template("a {x} b {y.z}{label}{text}") == (
        "a ",
        ((0, "x", None, " b "), (0, "y", "z", ""), (1, "label", None, ""), (2, "text", None, "")),
    )
    assert compile_template("{{{x}}}") == ("{", ((0, "x", None, "}"),))
    assert compile_template("{not a ref} {9x}") == "{not a ref} {9x}"


_REF = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\}")


def _regex_render(
    template: str, slots: dict, drawn: dict, rng: random.Random, label: str | None, text: str = ""
) -> str:
    """The renderer the compiled one replaced: one `re.sub` per template, a callback per reference."""

    def sub(m: re.Match) -> str:
        whole, name, attr = m.group(0), m.group(1), m.group(2)
        if name is None:
            return whole[0]
        if name == "label":
            return label or ""
        if name == "text":
            return text
        if name not in drawn:
            drawn[name] = rng.choice(slots[name])
        value = drawn[name]
        if attr is not None:
            value = value[attr]
        return _regex_render(value, slots, drawn, rng, label)

    return _REF.sub(sub, template)


@pytest.mark.parametrize("seed", range(40))
def test_compiled_rendering_draws_like_the_regex_renderer(tmp_path, seed):
    """Same text, same slot values drawn, same random numbers consumed, in the same order."""
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    book = get_playbook(project, "hc")
    slots = {
        "a": ["x{b}y", "{{a}}", "{c.k} {b}", "plain"],
        "b": ["B1", "B2 {c.v}", "{{}}"],
        "c": [{"k": "K1 {e}", "v": "V1"}, {"k": "K2", "v": "V2 {e}"}],
        "d": ["{a}{a}{b}"],
        "e": ["E1", "E2 {{z}}", "E3"],
    }
    templates = ["{a} and {a}", "{d} {{x}} {c.k}/{c.v} [{label}] {text}", "}}{b}{{", "{c.v}{d}{text}"]
    for template in templates:
        fast_rng, slow_rng = random.Random(seed), random.Random(seed)
        renderer = _Renderer(book, project, fast_rng)
        renderer.label, renderer.slots = "neutral", slots
        fast_drawn: dict = {}
        slow_drawn: dict = {}
        fast = renderer.render(compile_template(template), fast_drawn, "TEXT")
        slow = _regex_render(template, slots, slow_drawn, slow_rng, "neutral", "TEXT")
        assert fast == slow
        assert fast_drawn == slow_drawn
        assert fast_rng.random() == slow_rng.random()  # the same amount of randomness was used


async def test_created_at_is_each_rows_own_clock_reading(tmp_path, monkeypatch):
    """Formatting once per second must not blur rows across a second boundary, in UTC or not."""
    monkeypatch.setattr(generation_job, "FLUSH_SECONDS", 3600.0)
    monkeypatch.setattr(job_runner, "HEARTBEAT_SECONDS", 3600.0)
    for tz in (UTC, timezone(timedelta(hours=5, minutes=30))):
        project = make_project(tmp_path / str(tz).replace(":", ""), playbooks={"hc": SENTIMENT_PLAYBOOK})
        readings: list[datetime] = []
        now = datetime(2026, 11, 24, 23, 59, 58, 900_000, tzinfo=tz)

        def clock(readings: list[datetime] = readings) -> datetime:
            nonlocal now
            now += timedelta(milliseconds=170)
            readings.append(now)
            return now

        record = await run_generation_job(project, "hc", count=40, seed=3, clock=clock, run_id="synth-t")
        assert record.state == "succeeded"
        rows = [orjson.loads(line) for line in project.synthetic_path.read_bytes().splitlines()]
        stamps = [r["created_at"] for r in rows]
        assert len(set(stamps)) > 3  # the rows span several seconds (and a day boundary)
        assert set(stamps) <= {iso(m) for m in readings}
        assert stamps == sorted(stamps)


def _many_rows_playbook() -> str:
    text = SENTIMENT_PLAYBOOK.replace(
        'product = ["kettle"', 'n = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]\n    product = ["kettle"'
    )
    return text.replace("{product}", "{product} {n}{n}{n}")


async def test_rows_land_in_appends_of_the_default_batch_size(tmp_path, monkeypatch):
    """1000 rows per append by default: 2,000 to 2,500 rows are at most three appends, not eleven
    or more; every append but the last holds at least a batch (group commit may make it more)."""
    monkeypatch.setattr(generation_job, "FLUSH_SECONDS", 3600.0)  # only the batch size decides here
    project = make_project(tmp_path, playbooks={"big": _many_rows_playbook()})
    assert get_playbook(project, "big").limits.batch_rows == 1000
    landed: list[int] = []
    record = await run_generation_job(
        project,
        "big",
        count=2500,
        seed=1,
        on_event=lambda e: e.kind == "rows_landed" and landed.append(e.landed),
    )
    assert record.state == "succeeded", record.summary()
    sizes = [b - a for a, b in zip([0, *landed], landed, strict=False)]
    assert sizes[0] == 1000 and all(n >= 1000 for n in sizes[:-1]), sizes
    assert len(landed) <= 3 and landed[-1] == record.landed > 2000


async def test_rows_checked_while_an_append_waits_land_in_one_group(tmp_path, monkeypatch):
    """Group commit: while an append waits for the disk (here: for the write lock, held by the
    test), the job keeps checking candidates; the next append takes every row that came
    meanwhile, in one write and one fsync, up to MAX_PENDING_BATCHES batches, where the job
    waits for the disk instead of holding more rows in memory."""
    from brewslm_tui.core.generation.job_record import FINAL_STATES, record_path
    from brewslm_tui.core.store.locking import write_lock

    monkeypatch.setattr(generation_job, "FLUSH_SECONDS", 3600.0)
    monkeypatch.setattr(job_runner, "RECORD_SECONDS", 0.02)
    monkeypatch.setattr(job_runner, "HEARTBEAT_SECONDS", 0.02)
    text = _many_rows_playbook() + "\n[limits]\nbatch_rows = 100\n"
    project = make_project(tmp_path, playbooks={"big": text})
    blocked = 100 + 100 * generation_job.MAX_PENDING_BATCHES  # the first batch, and the rows behind it
    lock = write_lock(project.state_dir)
    project.state_dir.mkdir(parents=True, exist_ok=True)
    lock.acquire(timeout=0)
    path = record_path(project, "synth-gc")

    def hold_until_the_job_waits() -> None:
        """Release the lock once the job's record shows it holds every row it may (a heartbeat
        rewrites the record while the job waits), so the wait is on a condition, not a clock."""
        try:
            while True:
                try:
                    seen = orjson.loads(path.read_bytes())
                except (FileNotFoundError, ValueError):
                    seen = {}
                if seen.get("counts", {}).get("usable", 0) >= blocked or seen.get("state") in FINAL_STATES:
                    return
                threading.Event().wait(0.01)
        finally:
            lock.release()

    landed: list[int] = []
    record, _ = await asyncio.gather(
        run_generation_job(
            project,
            "big",
            count=2500,
            seed=1,
            run_id="synth-gc",
            on_event=lambda e: e.kind == "rows_landed" and landed.append(e.landed),
        ),
        asyncio.to_thread(hold_until_the_job_waits),
    )
    assert record.state == "succeeded", record.summary()
    sizes = [b - a for a, b in zip([0, *landed], landed, strict=False)]
    assert sizes[:2] == [100, blocked - 100], sizes  # the second append took all 2,000 waiting rows
    lines = project.synthetic_path.read_bytes().splitlines()
    assert len(lines) == record.landed == sum(sizes) > blocked


@pytest.mark.parametrize(
    ("completion", "cause", "canonical"),
    [
        (
            '{"order_id": "A-1", "product": "fan", "issue_type": "late"}',
            None,
            '{"order_id":"A-1","product":"fan","issue_type":"late"}',
        ),
        (
            '{"issue_type": "late", "product": null, "order_id": "A-1"}',
            None,
            '{"order_id":"A-1","product":null,"issue_type":"late"}',
        ),
        ('{"order_id": "A-1", "product": "fan"}', "wrong_fields", None),
        ('{"order_id": "A-1", "product": "fan", "issue_type": "late", "x": 1}', "wrong_fields", None),
        ('{"order_id": "A-1", "product": "fan", "x": 1}', "wrong_fields", None),
        ("[1, 2]", "bad_json", None),
        ('{"order_id": ', "bad_json", None),
    ],
)
def test_extraction_checks_are_unchanged(tmp_path, completion, cause, canonical):
    project = make_project(tmp_path, "extraction")
    verdict = Validator(project).check({"prompt": "Order A-1 is late", "completion": completion})
    assert verdict.cause == cause
    if cause is None:
        assert verdict.row["completion"] == canonical
    if completion.endswith('"x": 1}'):
        assert "extra x" in verdict.detail
    if completion == '{"order_id": "A-1", "product": "fan", "x": 1}':
        assert "missing issue_type; extra x" in verdict.detail


def test_label_lookups_are_remembered_without_changing_answers(tmp_path):
    project = make_project(tmp_path)
    validator = Validator(project)
    answers = [
        validator.check({"prompt": f"review {i}", "completion": c})
        for i, c in enumerate(["Positive ", "positive", "POSITIVE", "happy", "happy", " mixed"] * 2)
    ]
    assert [v.row["completion"] if v.ok else v.cause for v in answers] == [
        "positive",
        "positive",
        "positive",
        "not_a_label",
        "not_a_label",
        "mixed",
    ] * 2
    assert "labels: positive, negative, neutral, mixed" in answers[3].detail


async def test_a_failed_group_append_fails_the_job_and_counts_nothing_it_lost(tmp_path):
    """An append that fails in its own task (here: synthetic.jsonl is /dev/full, a real ENOSPC
    on every write) is raised in the job's task: the job fails naming the file and the errno,
    and no row that did not land is counted usable or landed."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    text = _many_rows_playbook() + "\n[limits]\nbatch_rows = 5\n"
    project = make_project(tmp_path, playbooks={"big": text})
    project.synthetic_path.unlink(missing_ok=True)
    project.synthetic_path.symlink_to("/dev/full")
    record = await run_generation_job(project, "big", count=200, seed=1)
    assert record.state == "failed", record.summary()
    assert record.diagnostic is not None
    headline = record.diagnostic.headline
    assert "No space left on device (ENOSPC)" in headline and "synthetic.jsonl" in headline, headline
    assert record.landed == 0 and record.counts["usable"] == 0, record.counts
    assert record.counts["candidates"] >= 5
