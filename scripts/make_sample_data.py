#!/usr/bin/env python3
"""Regenerate each sample project's `data/synthetic.jsonl` and job records, deterministically.

So the app shows real work on first launch: for each sample project, two or three of its
template playbooks run through the real job runner (`run_generation_job`, fixed seeds, a fixed
clock and run ids), then a reviewer's decisions are made through the real store API: the rows
the generator deliberately got wrong are rejected (wrong label or value, typo, ambiguous),
some others rejected under other reasons with notes, a couple of wrong labels fixed by an
edit, most of the older run approved, most of the newest run left pending. Then the journal
is compacted into `synthetic.jsonl`, and every other piece of `.brewslm/` state except the job
records (`.brewslm/jobs/*.json`, which the Runs view shows) is removed.

    python scripts/make_sample_data.py [PROJECT ...]     # default: every sample project

Running it twice gives byte-identical files.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from brewslm_tui.core.generation import generation_job, job_runner  # noqa: E402
from brewslm_tui.core.generation.generators import GenRequest  # noqa: E402
from brewslm_tui.core.generation.generators.template import TemplateGenerator  # noqa: E402
from brewslm_tui.core.generation.jobs import jobs_dir, list_jobs, run_generation_job, save_record  # noqa: E402
from brewslm_tui.core.generation.playbooks import get_playbook  # noqa: E402
from brewslm_tui.core.generation.validate import Validator  # noqa: E402
from brewslm_tui.core.project import Project, load_project  # noqa: E402
from brewslm_tui.core.store.store import Store  # noqa: E402

SAMPLES = REPO / "sample_projects"


@dataclass(frozen=True)
class Run:
    playbook: str
    count: int
    seed: int
    started: str  # ISO UTC
    run_id: str
    reviewed: float  # share of the run's rows a reviewer has decided


PLAN: dict[str, list[Run]] = {
    "sentiment": [
        Run("everyday", 100, 2611, "2026-11-18T09:14:05", "synth-2026-11-18-4be1a7", 0.9),
        Run("hard-cases", 120, 1124, "2026-11-20T15:02:41", "synth-2026-11-20-c0d93f", 0.6),
        Run("hard-cases", 60, 5150, "2026-11-23T10:47:12", "synth-2026-11-23-71e2aa", 0.15),
    ],
    "support-extraction": [
        Run("common-issues", 110, 9001, "2026-11-17T13:20:33", "synth-2026-11-17-9a04c2", 0.85),
        Run("messy-messages", 140, 4242, "2026-11-21T08:55:09", "synth-2026-11-21-e5b710", 0.4),
    ],
    "product-qa": [
        Run("manual-facts", 110, 77, "2026-11-19T11:31:50", "synth-2026-11-19-2f6c8d", 0.8),
        Run("store-policies", 90, 31, "2026-11-22T16:08:27", "synth-2026-11-22-b39e05", 0.35),
    ],
}

# What a careful reviewer writes, per reason, for rows the generator got subtly wrong.
NOTES = {
    "wrong_label": [
        "label contradicts the text",
        "sarcastic, so negative",
        "this reads as mixed, not {label}",
        "answer belongs to a different product",
    ],
    "wrong_value": [
        "order id doesn't match the message",
        "requested action is not what they asked for",
        "product is the wrong one",
    ],
    "minor_typo": ["typo in the text; fix and approve", "spelling slip, otherwise fine"],
    "label_ambiguous": ["could be neutral or positive", "depends on the reader", "no clear sentiment"],
    "low_quality": ["reads like a template", "nobody writes like this", "too easy to teach anything"],
    "off_task": ["nothing to extract here", "not a support request"],
}


class StepClock:
    """A clock that starts at a fixed moment and advances a little on every reading."""

    def __init__(self, start: str, step_ms: int = 41) -> None:
        self.now = datetime.fromisoformat(start).replace(tzinfo=UTC)
        self.step = timedelta(milliseconds=step_ms)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


async def noise_of_run(project: Project, run: Run) -> dict[str, tuple[str, str | None]]:
    """prompt -> (noise kinds, intended label) for the rows the run will land.

    Replays exactly what the job does (same validator state, same feedback), so the answer
    matches the rows about to land; the job itself strips these private notes from rows.
    """
    book = get_playbook(project, run.playbook)
    validator = Validator.for_project(project, max_answer_words=book.limits.max_answer_words)
    gen = TemplateGenerator(GenRequest(project, book, run.count, run.seed))
    out: dict[str, tuple[str, str | None]] = {}
    usable = 0
    async for cand in gen.stream():
        verdict = validator.check(cand)
        gen.feedback(cand, verdict.ok)
        if verdict.ok:
            usable += 1
            out[cand["prompt"]] = (cand.get("_noise", ""), cand.get("_label"))
            if usable >= run.count:
                break
    return out


def decide(project: Project, store: Store, run: Run, noise: dict[str, tuple[str, str | None]]) -> None:
    """A reviewer's deterministic pass over one run's rows."""
    rng = random.Random(run.run_id)
    has = lambda code: project.reason(code) is not None  # noqa: E731
    wrong = "wrong_label" if has("wrong_label") else "wrong_value"
    approve: list[int] = []
    rejects: dict[tuple[str, str], list[int]] = {}
    edits: list[tuple[int, str]] = []
    slots = [i for i in range(len(store)) if store.run_of(i) == run.run_id]
    for i in slots:
        if rng.random() >= run.reviewed:
            continue  # not looked at yet
        row = store.row(i)
        kinds, intended = noise.get(row["prompt"], ("", None))
        reason = None
        if "wrong_answer" in kinds:
            if project.task == "classification" and intended and len(edits) < 3 and rng.random() < 0.3:
                edits.append((i, intended))
                continue
            reason = wrong
        elif "typo" in kinds:
            reason = "minor_typo" if rng.random() < 0.7 else None
        elif row.get("hard_case") == "ambiguous" and has("label_ambiguous"):
            reason = "label_ambiguous" if rng.random() < 0.6 else None
        elif row.get("hard_case") == "off-topic" and has("off_task"):
            reason = "off_task" if rng.random() < 0.5 else None
        elif rng.random() < 0.05:
            reason = "low_quality"
        if reason is None:
            approve.append(i)
            continue
        note = rng.choice(NOTES[reason]).format(label=row["completion"]) if rng.random() < 0.8 else ""
        rejects.setdefault((reason, note), []).append(i)
    store.approve(approve)
    for (reason, note), idxs in sorted(rejects.items()):
        store.reject(idxs, reason, note or None)
    for i, label in edits:
        store.edit(i, completion=label, approve=True)


async def make(name: str) -> None:
    root = SAMPLES / name
    project = load_project(root)
    for path in (project.synthetic_path, project.dropped_path):
        path.unlink(missing_ok=True)
    shutil.rmtree(project.state_dir, ignore_errors=True)
    for run in PLAN[name]:
        noise = await noise_of_run(project, run)
        record = await run_generation_job(
            project,
            run.playbook,
            count=run.count,
            seed=run.seed,
            clock=StepClock(run.started),
            run_id=run.run_id,
        )
        print(f"{name}: {record.summary()}")
        if record.state != "succeeded":
            raise SystemExit(record.diagnostic_text())
        store = Store.open(project)
        try:
            decide(project, store, run, noise)
            store.compact()
        finally:
            store.close()
    for record in list_jobs(project):  # no machine-specific facts in committed records
        save_record(
            project, record.model_copy(update={"pid": None, "host": None, "heartbeat_at": record.finished_at})
        )
    for path in project.state_dir.iterdir():
        if path != jobs_dir(project):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    with Store.open(project, readonly=True) as store:
        print(f"{name}: {len(store)} rows, {store.counts()}, rejected by reason {store.reason_counts()}")


def main(argv: list[str]) -> None:
    # Timers would add clock readings at moments that depend on the machine's speed; these runs
    # take well under a second, so switch them off and every timestamp follows from the plan.
    generation_job.FLUSH_SECONDS = job_runner.HEARTBEAT_SECONDS = 3600.0
    for name in argv or list(PLAN):
        asyncio.run(make(name))


if __name__ == "__main__":
    main(sys.argv[1:])
