"""The fault matrix: every store operation with ENOSPC and with EIO at each of its file operations.

For each operation, a clean run counts the calls it makes through `core/store/fsio.py`; then it
runs once per call N with the fault at call N. After each run the project is opened again (no
faults) and must: leave no temp file; hold the state before or the state after the operation,
never a mix (before, when a decision reported failure: a failed decision is never applied, not
even later); parse in full with no problem reported; give every journal entry its own seq; undo
exactly the last acknowledged decision; and keep all that through the next unrelated decision
and a compaction.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.jobs import JobRecord, jobs_dir, save_record
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows


class FaultFS:
    """A `fsio` hook: counts calls per operation, logs them, and fails call `fail_at` with `err`."""

    def __init__(self, fail_at: int | None = None, err: int = errno.ENOSPC):
        self.fail_at = fail_at
        self.err = err
        self.calls = 0
        self.by_op: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.failed: tuple[str, str] | None = None

    def call(self, op, target, fn, *args):
        self.calls += 1
        self.by_op[op] += 1
        self.log.append((op, str(target)))
        if self.calls == self.fail_at:
            self.failed = (op, str(target))
            raise OSError(self.err, os.strerror(self.err), None if isinstance(target, int) else str(target))
        return fn(*args)


class installed:
    """`with installed(hook):` the hook sees every store file operation inside the block."""

    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        self.previous = fsio.install(self.hook)
        return self.hook

    def __exit__(self, *exc):
        fsio.install(self.previous)


# ------------------------------------------------------------------ the project every run starts from
def build_template(root: Path) -> Path:
    """Ten rows; r000007 dropped (in dropped.jsonl); approve r000000 and reject r000001 still in
    the journal (so undo has something to undo); a job record for the run."""
    (root / "data").mkdir(parents=True)
    (root / "brewslm.toml").write_text(
        'name = "faults"\ntask = "classification"\nscoring = "exact_match"\n'
        'labels = ["positive", "negative", "neutral", "mixed"]\n'
    )
    project = load_project(root)
    append_rows(project, make_rows(10))
    with Store.open(project) as store:
        store.reject([7, 8], "label_ambiguous")
        store.compact()
        store.drop([slot(store, "r000007")])
        store.compact()
        store.approve([slot(store, "r000000")])
        store.reject([slot(store, "r000001")], "wrong_label", "off by one")
    save_record(project, JobRecord(run_id="synth-t-1", state="running", pid=os.getpid()))
    return root


def slot(store: Store, row_id: str) -> int:
    i = store.index_of(row_id)
    assert i is not None, row_id
    return i


def _record(project) -> None:
    save_record(
        project, JobRecord(run_id="synth-t-1", state="succeeded", counts={"landed": 10}, pid=os.getpid())
    )


# name -> (the operation, is it acknowledged like a decision: a failure must leave the state before)
OPERATIONS = {
    "single decision": (lambda s, p: s.approve([slot(s, "r000002")]), True),
    "bulk decision": (
        lambda s, p: s.reject([slot(s, f"r00000{k}") for k in (3, 4, 5)], "label_ambiguous", "bulk"),
        True,
    ),
    "edit": (lambda s, p: s.edit(slot(s, "r000006"), completion="negative"), True),
    "undo": (lambda s, p: s.undo(), True),
    "drop": (lambda s, p: s.drop([slot(s, "r000008")]), True),
    "restore": (lambda s, p: s.restore(["r000007"]), True),
    "compaction": (lambda s, p: s.compact(), False),
    "compaction of drops and a restore": (lambda s, p: s.compact(), False),
    "job append": (
        lambda s, p: append_rows(p, make_rows(2, start=100)),
        True,
    ),  # raises OSError: the job reports it
    "job record write": (lambda s, p: _record(p), False),
}
STORELESS = {"job append", "job record write"}
# decisions made (with no faults) in the same session just before the operation
PREPARE = {
    "compaction of drops and a restore": lambda s: (s.drop([slot(s, "r000008")]), s.restore(["r000007"])),
}


def state(project) -> dict:
    """Everything a user could see: every row (file, journal, dropped.jsonl) and the job records."""
    with Store.open(project, readonly=True) as store:
        assert store.problems == [], [str(p) for p in store.problems]
        assert store.dropped.problems == []
        rows = {}
        for i in range(len(store)):
            row = store.row(i)
            rows[row["id"]] = _fields(row)
        for j in range(len(store.dropped)):
            row_id = store.dropped.id_of(j)
            if store.restored_slot(row_id) is None:
                assert row_id not in rows, f"{row_id} both live and dropped"
                rows[row_id] = ("dropped", *_fields(store.dropped.row(j))[1:])
    records = {p.name: orjson.loads(p.read_bytes()) for p in sorted(jobs_dir(project).glob("*.json"))}
    for record in records.values():
        record.pop("heartbeat_at", None)
    return {"rows": rows, "records": records}


def _fields(row: dict) -> tuple:
    return tuple(
        row.get(k) for k in ("review_status", "reject_reason", "review_note", "prompt", "completion")
    )


def run(project, name: str, hook=None, operate: bool = True):
    """Open (no faults), prepare, run the operation under `hook` (unless not `operate`), close.
    Returns the exception or None."""
    fn, _ = OPERATIONS[name]
    store = None if name in STORELESS else Store.open(project)
    try:
        if name in PREPARE:
            PREPARE[name](store)
        with installed(hook):
            if operate:
                fn(store, project)
    except Exception as exc:
        return exc
    finally:
        if store is not None:
            store.close()
    return None


def undo_once(project) -> dict:
    with Store.open(project) as store:
        store.undo()
    return state(project)


def then_decide_and_compact(project) -> dict:
    """The next, unrelated command: approve r000009, compact. A failed decision must stay unapplied."""
    with Store.open(project) as store:
        store.approve([slot(store, "r000009")])
        store.compact()
    return state(project)


def check_files(project) -> None:
    """Every data file parses, every journal entry has its own seq, no temp file is left."""
    root = project.root
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for path in (project.synthetic_path, project.dropped_path, project.state_dir / "journal.jsonl"):
        if path.exists():
            data = path.read_bytes()
            assert data == b"" or data.endswith(b"\n"), path
            for line in data.splitlines():
                assert isinstance(orjson.loads(line), dict), path
    journal = project.state_dir / "journal.jsonl"
    if journal.exists():
        seqs = [e["seq"] for e in map(orjson.loads, journal.read_bytes().splitlines()) if "seq" in e]
        assert len(seqs) == len(set(seqs)), seqs
    quarantine = project.state_dir / "quarantine"
    assert not quarantine.exists() or not list(quarantine.glob("*.raw"))


class Reference:
    """The states a faulted run may end in, from clean runs on copies of the template."""

    def __init__(self, template: Path, work: Path, name: str):
        self.counter = FaultFS()
        outcomes = {}
        for outcome in ("before", "after"):
            project = copy_project(template, work / f"ref-{outcome}")
            assert run(project, name, self.counter, operate=outcome == "after") is None
            now = state(project)
            undone = undo_once(project)
            later = then_decide_and_compact(project)
            outcomes[outcome] = (now, undone, later)
        self.outcomes = outcomes


def copy_project(template: Path, target: Path):
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target)
    return load_project(target)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("faults") / "template")


MATRIX_COUNTS: dict[str, int] = {}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_fault_point_leaves_before_or_after(template, tmp_path, name):
    ref = Reference(template, tmp_path, name)
    calls = ref.counter.calls
    assert calls > 0, f"{name} made no file operation through the seam"
    _, is_decision = OPERATIONS[name]
    seen: Counter[str] = Counter()
    for err in (errno.ENOSPC, errno.EIO):
        for n in range(1, calls + 1):
            where = f"{name}: {errno.errorcode[err]} at call {n} of {calls} {ref.counter.log[n - 1]}"
            project = copy_project(template, tmp_path / "run")
            hook = FaultFS(fail_at=n, err=err)
            exc = run(project, name, hook)
            assert hook.failed is not None, where
            if exc is not None:
                wanted = BrewError if is_decision and name not in STORELESS else (BrewError, OSError)
                assert isinstance(exc, wanted), f"{where}: {exc!r}"
                assert "\n" not in str(exc), where
            # the next writable open cleans up; then the state is one of the two, whole
            Store.open(project).close()
            check_files(project)
            now = state(project)
            allowed = ["before"] if exc is not None and is_decision else ["before", "after"]
            if exc is None:
                allowed = ["after"]
            matches = [o for o in allowed if ref.outcomes[o][0] == now]
            assert matches, f"{where}: raised {exc!r}; state is neither {' nor '.join(allowed)}"
            outcome = matches[-1] if len(matches) == 1 else _by_undo(project, ref, matches, where)
            seen[f"{errno.errorcode[err]}->{outcome}{'' if exc is None else ' (error)'}"] += 1
            assert undo_once(project) == ref.outcomes[outcome][1], f"{where}: undo undid the wrong decision"
            assert then_decide_and_compact(project) == ref.outcomes[outcome][2], f"{where}: changed later"
            check_files(project)
    MATRIX_COUNTS[name] = 2 * calls
    print(f"\n{name}: {calls} calls x 2 errnos: {dict(seen)}")


def _by_undo(project, ref: Reference, matches: list[str], where: str) -> str:
    """Before and after look the same (a compaction): which one it was shows in what undo does."""
    probe = copy_project(project.root, project.root.parent / "probe")
    undone = undo_once(probe)
    for outcome in matches:
        if ref.outcomes[outcome][1] == undone:
            return outcome
    raise AssertionError(f"{where}: undo matches neither outcome")


def test_a_failed_journal_append_is_cut_back_and_its_seq_reused(template, tmp_path):
    """The bug of issue 14.2: an fsync EIO left the whole entry in the journal, the next decision
    took the same seq, and the failed decision took effect at the next open."""
    project = copy_project(template, tmp_path / "p")
    with Store.open(project) as store:
        hook = FaultFS()
        with installed(hook):
            store.approve([slot(store, "r000009")])
        fsync_call = next(k for k, (op, _) in enumerate(hook.log, 1) if op == "fsync")
    # the same decision on a fresh copy, with EIO at its fsync
    project = copy_project(template, tmp_path / "q")
    journal = project.state_dir / "journal.jsonl"
    size = journal.stat().st_size
    with Store.open(project) as store:
        with installed(FaultFS(fail_at=fsync_call, err=errno.EIO)), pytest.raises(BrewError) as info:
            store.approve([slot(store, "r000009")])
        assert "decision not saved" in str(info.value) and "nothing was changed" in str(info.value)
        assert journal.stat().st_size == size
        assert store.status[slot(store, "r000009")] == 0
        decision = store.reject([slot(store, "r000002")], "label_ambiguous")
    with Store.open(project) as store:
        assert store.row(slot(store, "r000009"))["review_status"] == "pending"
        assert store.row(slot(store, "r000002"))["review_status"] == "rejected"
        seqs = [e["seq"] for e in map(orjson.loads, journal.read_bytes().splitlines()) if "seq" in e]
        assert len(seqs) == len(set(seqs)) and seqs[-1] == decision.seq
        store.undo()  # exactly the reject, not the failed approve too
        assert store.row(slot(store, "r000002"))["review_status"] == "pending"
        assert store.row(slot(store, "r000001"))["review_status"] == "rejected"


class FailFsyncThenRepairs(FaultFS):
    """The first fsync reports EIO after the bytes were written; from then on every op in
    `broken` fails, until `broken` is emptied (the disk recovers)."""

    def __init__(self, broken: set[str]):
        super().__init__()
        self.broken = broken

    def call(self, op, target, fn, *args):
        if op == "fsync" and not self.failed:
            self.failed = (op, str(target))
            fn(*args)
            raise OSError(errno.EIO, "Input/output error")
        if self.failed and op in self.broken:
            raise OSError(errno.EIO, "Input/output error")
        return fn(*args)


def test_an_append_that_cannot_be_cut_back_is_blanked_out(template, tmp_path):
    """Double fault: the fsync fails and so does the truncate. Overwriting the entry with spaces
    needs no new space: the line is then blank, replay skips it, later decisions go on."""
    project = copy_project(template, tmp_path / "p")
    journal = project.state_dir / "journal.jsonl"
    size = journal.stat().st_size
    with Store.open(project) as store, installed(FailFsyncThenRepairs({"truncate"})):
        with pytest.raises(BrewError, match="nothing was changed"):
            store.approve([slot(store, "r000009")])
        assert journal.read_bytes()[size:].strip(b" ") == b"\n"
        store.approve([slot(store, "r000003")])
    with Store.open(project) as store:
        assert store.problems == []
        statuses = {k: store.row(slot(store, f"r00000{k}"))["review_status"] for k in (9, 3)}
        assert statuses == {9: "pending", 3: "approved"}
        store.undo()
        assert store.row(slot(store, "r000003"))["review_status"] == "pending"
        assert store.row(slot(store, "r000001"))["review_status"] == "rejected"


def test_an_append_that_cannot_be_cut_or_blanked_blocks_further_entries_until_it_can(template, tmp_path):
    """Triple fault: no later entry may follow the unacknowledged bytes; once the disk lets the
    cut through, decisions go on and the failed one never applies."""
    project = copy_project(template, tmp_path / "p")
    journal = project.state_dir / "journal.jsonl"
    size = journal.stat().st_size
    with Store.open(project) as store:
        broken = {"truncate", "write"}
        with installed(FailFsyncThenRepairs(broken)):
            with pytest.raises(BrewError, match="could not be removed yet"):
                store.approve([slot(store, "r000009")])
            assert journal.stat().st_size > size  # the unacknowledged bytes are still there
            with pytest.raises(BrewError, match="earlier failed decision could not be removed yet"):
                store.approve([slot(store, "r000002")])
            assert journal.stat().st_size > size
            broken.clear()  # the disk recovers
            store.approve([slot(store, "r000003")])
    with Store.open(project) as store:
        statuses = {k: store.row(slot(store, f"r00000{k}"))["review_status"] for k in (9, 2, 3)}
    assert statuses == {9: "pending", 2: "pending", 3: "approved"}


def test_an_old_journal_with_a_shared_seq_replays_only_the_later_entry(template, tmp_path):
    """Journals written by the old code: the failed entry and the next one share a seq."""
    project = copy_project(template, tmp_path / "p")
    journal = project.state_dir / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    last = orjson.loads(lines[-1])
    failed = dict(last, op="approve", set=["approved", None, None], ids=["r000009"], hints=[9])
    failed.pop("each", None)
    journal.write_bytes(b"".join(lines[:-1]) + orjson.dumps(failed) + b"\n" + lines[-1])
    with Store.open(project) as store:
        assert store.row(slot(store, "r000009"))["review_status"] == "pending"
        assert store.row(slot(store, "r000001"))["review_status"] == "rejected"
        assert [p.reason for p in store.problems if "appears twice" in p.reason]


def test_a_torn_journal_tail_is_quarantined_never_completed(template, tmp_path):
    """A whole entry without its newline was never acknowledged: the next append must not
    complete it into a decision (the old `heal_torn_tail` did)."""
    project = copy_project(template, tmp_path / "p")
    journal = project.state_dir / "journal.jsonl"
    entry = {"seq": 99, "ts": "x", "op": "approve", "ids": ["r000009"], "hints": [9]}
    entry |= {"set": ["approved", None, None], "prev": [["pending", None, None]]}
    journal.write_bytes(journal.read_bytes() + orjson.dumps(entry))
    with Store.open(project) as store:
        store.approve([slot(store, "r000002")])
    with Store.open(project) as store:
        assert store.row(slot(store, "r000009"))["review_status"] == "pending"
        assert store.row(slot(store, "r000002"))["review_status"] == "approved"
    assert list((project.state_dir / "quarantine").glob("journal.jsonl.*.raw"))


def test_a_new_journal_and_a_new_state_folder_are_fsynced_in_their_folders(tmp_path):
    """14.26: a file's first creation is durable only once its folder is fsynced."""
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    (root / "brewslm.toml").write_text('name = "p"\ntask = "generation"\nscoring = "rouge_l"\n')
    project = load_project(root)
    append_rows(project, make_rows(2))  # creates .brewslm and synthetic.jsonl
    hook = FaultFS()
    with installed(hook), Store.open(project) as store:
        store.approve([0])
    log = hook.log
    journal = str(project.state_dir / "journal.jsonl")
    created = log.index(("open", journal))
    assert ("fsync_dir", str(project.state_dir)) in log[created:]
    assert ("mkdir", str(project.state_dir)) not in log  # already made by the append
    fresh = tmp_path / "q"
    (fresh / "data").mkdir(parents=True)
    (fresh / "brewslm.toml").write_text('name = "q"\ntask = "generation"\nscoring = "rouge_l"\n')
    hook = FaultFS()
    with installed(hook):
        append_rows(load_project(fresh), make_rows(1))
    assert ("mkdir", str(fresh / ".brewslm")) in hook.log
    assert hook.log.index(("mkdir", str(fresh / ".brewslm"))) < hook.log.index(("fsync_dir", str(fresh)))
    assert ("fsync_dir", str(fresh / "data")) in hook.log  # synthetic.jsonl was created there


def test_stale_temp_files_are_removed_by_the_next_writable_open(template, tmp_path):
    """14.21: temps of dead writers (the old `session.holder.PID.tmp`, job records, the journal)."""
    project = copy_project(template, tmp_path / "p")
    dead = _dead_pid()
    state_dir = project.state_dir
    stale = [
        state_dir / f"session.holder.{dead}.tmp",
        state_dir / "jobs" / f".synth-t-1.json.{dead}.tmp",
        state_dir / f".journal.jsonl.{dead}.tmp",
        state_dir / f".commit.intent.{os.getpid()}.tmp",  # ours, of a file only the lock holder writes
    ]
    alive = (
        state_dir / "jobs" / f".synth-t-2.json.{os.getpid()}.tmp"
    )  # a job thread of ours may be writing it
    user_file = project.synthetic_path.parent / f".notes.{dead}.tmp"  # the user's, in a data folder
    for path in [*stale, alive, user_file]:
        path.write_bytes(b"x")
    Store.open(project).close()
    assert [p for p in stale if p.exists()] == []
    assert alive.exists() and user_file.exists()


def test_a_session_writes_the_lock_note_once_not_per_decision(template, tmp_path):
    """Issue 12: the write lock's holder note was rewritten (temp + rename) for every decision."""
    project = copy_project(template, tmp_path / "p")
    with Store.open(project) as store:
        hook = FaultFS()
        with installed(hook):
            for k in (2, 3, 4, 5):
                store.approve([slot(store, f"r00000{k}")])
    assert not any(target.endswith((".holder", ".lock")) for _, target in hook.log)
    assert hook.by_op["rename"] == 0
    assert hook.by_op["fsync"] == 4  # one per decision: the journal's


def test_the_lock_note_names_the_holder(template, tmp_path):
    from brewslm_tui.core.store.locking import describe_holder

    project = copy_project(template, tmp_path / "p")
    with Store.open(project):
        note = describe_holder(project.state_dir / "session.lock")
        assert note.startswith(f"pid {os.getpid()} (")


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1
