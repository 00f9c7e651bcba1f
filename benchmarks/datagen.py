"""Deterministic synthetic projects for the benchmark: N rows that look like a real review queue.

Why synthetic and not the sample projects: the benchmark needs 10k to 1M rows with realistic
shape (prompts of 100-400 characters of review-like text, a mix of states, 12 runs, the 7
default reject reasons), and the same bytes on every machine, so figures compare. Rows are
built from a seeded `random.Random` and written with orjson (ids first, as the app writes them).

A generated project is cached under `benchmarks/data/<label>/` with a stamp of the parameters;
it is rebuilt only when the stamp differs.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = ROOT / "sample_projects" / "sentiment"
FORMAT = 3  # bump when the rows change, so cached projects are rebuilt

LABELS = ("positive", "negative", "neutral", "mixed")
REASONS = ("label_ambiguous", "wrong_label", "minor_typo", "off_task", "duplicate", "unsafe", "low_quality")
REASON_WEIGHTS = (30, 22, 18, 10, 10, 3, 7)
STATES = (("pending", 60), ("approved", 20), ("rejected", 20))
RUNS = 12
PLAYBOOKS = ("everyday", "hard-cases", "local-llm")

PREFIX = "Classify the sentiment of this product review as positive, negative, neutral or mixed.\n\nReview: "

_PRODUCTS = (
    "kettle",
    "air fryer",
    "desk lamp",
    "standing desk",
    "rice cooker",
    "hiking boots",
    "rain jacket",
    "phone case",
    "wireless earbuds",
    "office chair",
    "blender",
    "coffee grinder",
    "yoga mat",
    "backpack",
    "monitor arm",
    "electric toothbrush",
    "robot vacuum",
    "cast iron pan",
    "space heater",
    "mechanical keyboard",
    "bike light",
    "french press",
    "toaster",
    "duvet",
    "water bottle",
    "tent",
)
_OPENERS = (
    "Bought this {p} last week and",
    "Got the {p} for my dad and",
    "Honestly, the {p}",
    "Two weeks in, the {p}",
    "I don't usually write reviews, but the {p}",
    "Ordered the {p} in the sale and",
    "Our office {p}",
    "Not bad at all: the {p}",
    "Oh great, another {p} that",
    "My partner loves the {p}, and it",
)
_MIDDLES = (
    "works brilliantly",
    "stopped working after a few uses",
    "is exactly what we needed",
    "feels cheap and flimsy",
    "does the basic job",
    "is louder than I'd like",
    "exceeded my expectations",
    "arrived damaged and the replacement was no better",
    "matches the description",
    "looks great but feels fragile",
    "is a waste of money",
    "was worth every penny",
)
_TAILS = (
    "Set up in five minutes.",
    "Customer service never replied.",
    "No surprises.",
    "Would buy again on sale.",
    "The instructions are useless.",
    "Still going strong after a month.",
    "Sending it back tomorrow.",
    "Three stars.",
    "The battery barely lasts a day.",
    "Easy to clean, too.",
    "The app keeps crashing.",
    "Delivery took forever and the box was dented.",
    "Great value for the price.",
    "It smells of burnt plastic.",
    "Comes in grey or black.",
    "The hinge already rattles.",
    "Keeping it, with reservations.",
)
_NOTES = (
    "could be either",
    "fix the typo and approve",
    "near-duplicate of an imported row",
    "label says the opposite",
)


def _review(rng: random.Random, target: int) -> str:
    product = rng.choice(_PRODUCTS)
    parts = [rng.choice(_OPENERS).format(p=product) + " " + rng.choice(_MIDDLES) + "."]
    size = len(parts[0])
    while size < target:
        piece = (
            rng.choice(_TAILS)
            if rng.random() < 0.7
            else f"The {rng.choice(_PRODUCTS)} {rng.choice(_MIDDLES)}."
        )
        parts.append(piece)
        size += len(piece) + 1
    text = " ".join(parts)
    if len(text) > target:
        text = text[:target].rsplit(" ", 1)[0]  # cut at a word, as a real review ends
    return text


def make_rows(n: int, seed: int = 20261124):
    """The n rows, deterministic for (n, seed). Yields dicts in file order (id first)."""
    rng = random.Random(seed)
    runs = [f"synth-2026-11-{10 + k // 3:02d}-{rng.getrandbits(24):06x}" for k in range(RUNS)]
    state_names = [s for s, _ in STATES]
    state_weights = [w for _, w in STATES]
    choices, rand = rng.choices, rng.random
    for i in range(n):
        run = (i * RUNS) // n  # runs are contiguous stretches, as jobs append them
        state = choices(state_names, state_weights)[0]
        body_len = 100 - len(PREFIX) + int(rand() * 300) if rand() < 0.1 else int(rand() * 300)
        prompt = PREFIX + _review(rng, max(10, body_len))
        if len(prompt) < 100:
            prompt += " " + rng.choice(_TAILS)
        if len(prompt) > 400:
            prompt = prompt[:400].rsplit(" ", 1)[0]
        row = {
            "id": f"r_{rng.getrandbits(64):016x}",
            "prompt": prompt,
            "completion": rng.choice(LABELS),
            "review_status": state,
        }
        if state == "rejected":
            row["reject_reason"] = choices(REASONS, REASON_WEIGHTS)[0]
            if rand() < 0.05:
                row["review_note"] = rng.choice(_NOTES)
        row["source"] = "synth_playbook"
        row["run_id"] = runs[run]
        row["playbook"] = PLAYBOOKS[run % len(PLAYBOOKS)]
        row["created_at"] = (
            f"2026-11-{10 + run // 3:02d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
        )
        yield row


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def write_project(folder: Path, n: int) -> None:
    """A project folder: the sentiment sample's brewslm.toml and imported rows, n synthetic rows."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "data").mkdir(parents=True)
    shutil.copy(SAMPLE / "brewslm.toml", tmp / "brewslm.toml")
    shutil.copy(SAMPLE / "data" / "imported.jsonl", tmp / "data" / "imported.jsonl")
    shutil.copytree(SAMPLE / "playbooks", tmp / "playbooks")
    dumps = orjson.dumps
    with open(tmp / "data" / "synthetic.jsonl", "wb", buffering=1 << 20) as f:
        chunk = []
        for row in make_rows(n):
            chunk.append(dumps(row))
            if len(chunk) == 10000:
                f.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            f.write(b"\n".join(chunk) + b"\n")
    (tmp / "STAMP").write_text(_stamp(n))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def _stamp(n: int) -> str:
    return f"format={FORMAT} rows={n}\n"


def ensure_project(n: int) -> Path:
    """The cached project of n rows, generated if missing or stale. Returns its folder."""
    folder = DATA / size_label(n)
    stamp = folder / "STAMP"
    if not (stamp.exists() and stamp.read_text() == _stamp(n)):
        write_project(folder, n)
    return folder


def working_copy(source: Path, dest: Path, *, keep_index: bool = True, link: bool = True) -> Path:
    """A copy to make decisions in: synthetic.jsonl hard-linked (the store never rewrites it in
    place: compaction writes a new file and renames it), or copied with `link=False` for a job
    that appends to it; everything else copied, the decision journal and lock files left out;
    the column cache kept when asked (a hard link matches the same inode; a copied file makes it
    stale, as a job's appends would)."""
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "data").mkdir(parents=True)
    shutil.copy(source / "brewslm.toml", dest / "brewslm.toml")
    shutil.copytree(source / "playbooks", dest / "playbooks")
    for name in os.listdir(source / "data"):
        src = source / "data" / name
        if name == "synthetic.jsonl" and link:
            os.link(src, dest / "data" / name)
        elif name != "dropped.jsonl":
            shutil.copy(src, dest / "data" / name)
    index = source / ".brewslm" / "index"
    if keep_index and index.is_dir():
        shutil.copytree(index, dest / ".brewslm" / "index")
    return dest
