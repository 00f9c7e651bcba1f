"""The helpers the whole suite shares: one way to make a project on disk, one way to make rows.

Every test works on its own project under tmp_path; nothing here touches the bundled samples.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from brewslm_tui.cli import main
from brewslm_tui.core.project import Project, load_project
from brewslm_tui.core.store.store import append_rows

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_projects"

PROJECTS = {
    "classification": """\
        name = "reviews"
        task = "classification"
        scoring = "exact_match"
        labels = ["positive", "negative", "neutral", "mixed"]
        """,
    "extraction": """\
        name = "tickets"
        task = "extraction"
        scoring = "f1"
        fields = ["order_id", "product", "issue_type"]
        """,
    "generation": """\
        name = "replies"
        task = "generation"
        scoring = "rouge_l"
        """,
    "qa": """\
        name = "faq"
        task = "qa"
        scoring = "exact_match"
        [limits]
        qa_max_answer_words = 4
        """,
}

SENTIMENT_PLAYBOOK = """\
    description = "negation and sarcasm"
    count = 40
    seed = 11
    [template]
    prompt = "Classify the sentiment of this review.\\n\\nReview: {text}"
    [template.slots]
    product = ["kettle", "blender", "desk lamp", "backpack", "phone case", "air fryer", "monitor", "keyboard"]
    [template.label_slots.positive]
    verdict = ["does the job", "works great", "is worth every cent", "made my mornings easier"]
    [template.label_slots.negative]
    verdict = ["broke in a week", "is a waste of money", "stopped working", "smells like burnt plastic"]
    [[hard_cases]]
    name = "plain"
    [hard_cases.templates]
    positive = ["The {product} {verdict}.", "Honestly the {product} {verdict}!"]
    negative = ["The {product} {verdict}.", "Sadly the {product} {verdict}."]
    neutral = ["It is a {product}. It arrived on {day}.", "Bought the {product} for my {person}."]
    mixed = ["The {product} looks nice but {flaw}.", "Great {product}, shame it {flaw}."]
    [hard_cases.slots]
    day = ["Monday", "Tuesday", "Friday", "the weekend"]
    person = ["dad", "sister", "office", "flat"]
    flaw = ["is loud", "runs hot", "came scratched", "has a short cable"]
    """


REVIEWS = [
    "shipping was slow but the product is great",
    "not bad at all, would buy again",
    "arrived broken and support never answered",
    "it is fine I guess",
    "the strap feels cheap, the sound is superb",
    "exactly as described",
    "worst purchase this year",
    "love the colour, hate the smell",
]
LABELS = ["positive", "negative", "neutral", "mixed"]


def make_rows(
    n: int, *, run: str = "synth-2026-05-29-a1b2", playbook: str = "hard-cases", start: int = 0
) -> list[dict]:
    """`n` pending generated rows of a sentiment project: ids r000000.., distinct prompts,
    labels cycling positive, negative, neutral, mixed."""
    return [
        {
            "id": f"r{start + k:06d}",
            "prompt": f"Classify the sentiment of this review: {REVIEWS[(start + k) % len(REVIEWS)]} (#{start + k})",
            "completion": LABELS[(start + k) % len(LABELS)],
            "review_status": "pending",
            "source": "synth_playbook",
            "run_id": run,
            "playbook": playbook,
            "created_at": "2026-05-29T10:00:00Z",
        }
        for k in range(n)
    ]


def make_project(
    tmp_path: Path,
    task: str = "classification",
    playbooks: dict[str, str] | None = None,
    imported: list[str] | None = None,
    *,
    sample: str | None = None,
    rows: list[dict] | None = None,
) -> Project:
    """A project on disk; returns it loaded.

    `sample`: a copy of that bundled sample (its project file, imported rows and playbooks; no
    generated rows, no app state); otherwise a minimal project of the `task` shape.
    `playbooks`: the playbook files (name -> TOML), replacing the sample's. `imported`: the
    lines of data/imported.jsonl. `rows`: generated rows appended as a job would.
    """
    if sample is not None:
        root = tmp_path / sample
        shutil.copytree(
            SAMPLES / sample,
            root,
            ignore=shutil.ignore_patterns(".brewslm", "synthetic.jsonl", "dropped.jsonl"),
        )
    else:
        root = tmp_path / f"proj-{task}"
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "brewslm.toml").write_text(textwrap.dedent(PROJECTS[task]))
        if imported is None:
            imported = []
    if playbooks is not None or sample is None:
        shutil.rmtree(root / "playbooks", ignore_errors=True)
        (root / "playbooks").mkdir()
        for name, text in (playbooks or {}).items():
            (root / "playbooks" / f"{name}.toml").write_text(textwrap.dedent(text))
    if imported is not None:
        (root / "data" / "imported.jsonl").write_text("".join(line + "\n" for line in imported))
    project = load_project(root)
    if rows:
        append_rows(project, rows)
    return project


def write_playbook(project: Project, name: str, text: str) -> Path:
    """playbooks/NAME.toml with `text` (dedented); returns its path."""
    path = project.playbooks_dir / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


def run_main(capsys, *argv) -> tuple[int, str, str]:
    """The CLI in this process (`main(argv)`): its exit code, stdout and stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """The CLI as its own process (`python -m brewslm_tui ARGS`, from the repo), text captured."""
    return subprocess.run(
        [sys.executable, "-m", "brewslm_tui", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        **kw,
    )


def landed_rows(project: Project) -> list[dict]:
    """The rows of data/synthetic.jsonl as they are on disk (none when there is no file yet)."""
    if not project.synthetic_path.exists():
        return []
    return [orjson.loads(line) for line in project.synthetic_path.read_bytes().splitlines()]


LOCK_FILES = (".lock", ".holder")  # what a writer leaves in .brewslm/ (no data in them)


def file_tree(root: Path, *, folders: bool = False, locks: bool = True) -> dict[str, str]:
    """Every file under `root` (relative path -> a hash of its bytes), to tell whether a command
    changed anything; `folders`: every folder too (as "dir"); `locks=False`: lock files left out."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if not locks and rel.endswith(LOCK_FILES):
            continue
        if path.is_dir():
            if folders:
                out[rel] = "dir"
            continue
        out[rel] = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    return out


def write_raw_rows(project: Project, rows: list[dict]) -> None:
    """data/synthetic.jsonl holding exactly `rows`, unchecked (statuses and reasons as given)."""
    project.synthetic_path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def reason_groups(store, slots) -> list[tuple[str | None, list[int]]]:
    """The Rejected view's groups the plain way: `slots` by reason, the project's reasons in
    their order first, then the others in the order they were first seen."""
    groups: dict = {}
    for slot in slots:
        groups.setdefault(store.reason_of(slot), []).append(slot)
    known = [code for code in store.reason_codes[1:] if code in groups]
    return [(code, groups[code]) for code in known + [c for c in groups if c not in known]]


def column_state(store) -> tuple:
    """What a store's columns say about every row, for comparing two ways of loading them."""
    return (
        list(store.cols.offsets),
        bytes(store.status),
        bytes(store.reason),
        list(store.cols.run),
        list(store.cols.playbook),
        list(store.cols.label),
        bytes(store.cols.flags),
        store.runs,
        store.playbooks,
        store.counts(),
        store.reason_counts(),
    )
