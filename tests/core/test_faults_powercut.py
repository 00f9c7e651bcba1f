"""Power cuts: at every file operation of a review session, keep only what was fsynced, reopen,
and find every acknowledged decision.

SIGKILL keeps the page cache, so crash tests cannot see a missing fsync. Here the seam
(`core/store/fsio.py`) records what a power cut would leave: a file's content as of its last
fsync, a folder's entries as of its last folder fsync (a file created or renamed since is not
there; one removed since still is). The session runs once per call K with the power cut at call
K; the surviving image is opened and must hold every decision acknowledged before K (and the
one in flight whole or not at all). The last test proves the check bites: with the journal's
fsync ignored by the model, acknowledged decisions go missing and the check says so.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import make_rows
from tests.core.test_faults import build_template, check_files, copy_project, installed, slot, state


class PowerCut(BaseException):
    """The machine stops: nothing after this runs (not an error the code could handle)."""


DIR = -1


class DiskModel:
    """A `fsio` hook that tracks the durable image of the files under `root` (see the module doc)."""

    def __init__(
        self, root: Path, cut_at: int | None = None, ignore_fsync: Callable[[str], bool] | None = None
    ):
        self.root = root
        self.cut_at = cut_at
        self.ignore_fsync = ignore_fsync or (lambda path: False)
        self.calls = 0
        self.content: dict[int, bytes] = {}
        self.dirs: dict[Path, dict[str, int]] = {}
        for folder, _subdirs, files in os.walk(root):
            self._sync_dir(Path(folder))
            for name in files:
                path = Path(folder) / name
                self.content[path.lstat().st_ino] = path.read_bytes()

    def call(self, op, target, fn, *args):
        self.calls += 1
        if self.cut_at is not None and self.calls >= self.cut_at:
            raise PowerCut
        existed = op == "open" and os.path.exists(target)
        result = fn(*args)
        if op == "open" and not existed:
            self.content[os.fstat(result).st_ino] = b""  # a new file: nothing of it is durable yet
        elif op == "fsync":
            fd = args[0]
            path = os.readlink(f"/proc/self/fd/{fd}")
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                self._sync_dir(Path(path))
            elif not self.ignore_fsync(path):
                with open(f"/proc/self/fd/{fd}", "rb") as f:
                    self.content[os.fstat(fd).st_ino] = f.read()
        elif op == "fsync_dir":
            self._sync_dir(Path(args[0]))
        return result

    def _sync_dir(self, folder: Path) -> None:
        entries = {}
        for entry in os.scandir(folder):
            st = entry.stat(follow_symlinks=False)
            entries[entry.name] = DIR if stat.S_ISDIR(st.st_mode) else st.st_ino
        self.dirs[folder] = entries

    def materialize(self, target: Path) -> None:
        """Write the image a power cut now would leave into `target`."""

        def build(folder: Path, out: Path) -> None:
            out.mkdir(parents=True, exist_ok=True)
            for name, ino in self.dirs.get(folder, {}).items():
                if ino == DIR:
                    build(folder / name, out / name)
                else:
                    (out / name).write_bytes(self.content.get(ino, b""))

        if target.exists():
            shutil.rmtree(target)
        build(self.root, target)


class OffAtRename:
    """The power goes at the `n`th rename of a compaction (the archive link, the intent,
    synthetic.jsonl, dropped.jsonl, ...) and stays off: not even compact()'s cleanup runs."""

    def __init__(self, n: int):
        self.n = n
        self.renames = 0

    def call(self, op, target, fn, *args):
        self.renames += op == "rename"
        if self.renames >= self.n:
            raise PowerCut
        return fn(*args)


def _approve_appended(store, project):
    store.refresh()
    return store.approve([slot(store, "r000100")])


SESSION = [
    ("approve", lambda s, p: s.approve([slot(s, "r000002")])),
    ("bulk reject", lambda s, p: s.reject([slot(s, f"r00000{k}") for k in (3, 4, 5)], "label_ambiguous")),
    ("edit", lambda s, p: s.edit(slot(s, "r000006"), completion="negative")),
    ("undo", lambda s, p: s.undo()),
    ("drop", lambda s, p: s.drop([slot(s, "r000008")])),
    ("restore", lambda s, p: s.restore(["r000007"])),
    ("compact", lambda s, p: s.compact()),
    ("job append", lambda s, p: append_rows(p, make_rows(2, start=100))),
    ("approve appended", _approve_appended),
    ("reject", lambda s, p: s.reject([slot(s, "r000009")], "wrong_label", "late")),
    ("compact again", lambda s, p: s.compact()),
]


def run_session(project, hook) -> int:
    """The session under `hook`, up to a power cut. Returns how many steps were acknowledged."""
    store = Store.open(project)
    done = 0
    try:
        with installed(hook):
            for _, step in SESSION:
                step(store, project)
                done += 1
    except PowerCut:
        pass
    finally:
        release_session(store)
    return done


def release_session(store) -> None:
    """After a power cut the store object is dead: only its lock is let go (no file is touched)."""
    if store._session is not None:
        store._session.release()


def reference_states(template: Path, work: Path) -> list[dict]:
    """The state after 0, 1, ... len(SESSION) steps, from a run with no power cut."""
    project = copy_project(template, work / "reference")
    states = [state(project)]
    with Store.open(project) as store:
        for _, step in SESSION:
            step(store, project)
            states.append(state(project))
    return states


def cut_everywhere(template: Path, work: Path, ignore_fsync=None) -> list[str]:
    """Cut the power at every call of the session; return what went wrong (empty: nothing)."""
    states = reference_states(template, work)
    total = DiskModel(copy_project(template, work / "count").root)
    assert run_session(load_project(work / "count"), total) == len(SESSION)
    failures = []
    for k in range(1, total.calls + 2):  # the last: no cut, power lost after the session
        project = copy_project(template, work / "run")
        model = DiskModel(project.root, cut_at=k, ignore_fsync=ignore_fsync)
        done = run_session(project, model)
        image = work / "image"
        model.materialize(image)
        survivor = load_project(image)
        Store.open(survivor).close()  # the next writable open recovers
        check_files(survivor)
        now = state(survivor)
        allowed = states[done : done + 2]
        if now not in allowed:
            step = SESSION[done][0] if done < len(SESSION) else "(after the session)"
            failures.append(f"cut at call {k} during {step!r}: {done} steps acknowledged, state matches none")
    return failures


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("powercut") / "template")


def test_a_power_cut_at_any_call_keeps_every_acknowledged_decision(template, tmp_path):
    assert cut_everywhere(template, tmp_path) == []


def test_the_power_cut_check_bites_without_the_journal_fsync(template, tmp_path):
    """With the journal's fsync taken away (the model ignores it), decisions are lost: the check
    above must see that, or it proves nothing."""
    failures = cut_everywhere(template, tmp_path, ignore_fsync=lambda path: path.endswith("journal.jsonl"))
    assert failures, "removing the journal's fsync went unnoticed"


def test_an_interrupted_compaction_is_finished_after_the_project_folder_moved(template, tmp_path):
    """The commit intent named absolute paths: after a move (a restore from backup, an rsync)
    recovery found no temps there, discarded the staged files and lost the dropped rows."""
    project = copy_project(template, tmp_path / "here")
    with Store.open(project) as store:
        store.drop([slot(store, "r000001")])
    expected = state(project)

    with Store.open(project) as store:
        with installed(OffAtRename(4)), pytest.raises(PowerCut):
            store.compact()
        release_session(store)
    assert (project.state_dir / "commit.intent").exists()
    moved = tmp_path / "elsewhere"
    shutil.move(project.root, moved)
    survivor = load_project(moved)
    Store.open(survivor).close()
    assert state(survivor) == expected
    check_files(survivor)


def test_recovery_itself_under_faults_finishes_the_commit_at_the_next_open(template, tmp_path):
    """The writable open that finishes an interrupted compaction and cuts a torn tail, with ENOSPC
    and with EIO at each of its calls: the open after it still ends in the one right state."""
    import errno

    from tests.core.test_faults import FaultFS

    interrupted = copy_project(template, tmp_path / "interrupted")
    with Store.open(interrupted) as store:
        store.drop([slot(store, "r000001")])

    with Store.open(interrupted) as store:
        with installed(OffAtRename(4)), pytest.raises(PowerCut):
            store.compact()
        release_session(store)
    with open(interrupted.synthetic_path, "ab") as f:
        f.write(b'{"id": "torn", "prompt": "half')
    reference = copy_project(interrupted.root, tmp_path / "reference")
    Store.open(reference).close()
    expected = state(reference)
    counter = FaultFS()
    project = copy_project(interrupted.root, tmp_path / "count")
    with installed(counter):
        Store.open(project).close()
    assert counter.by_op["rename"] >= 2  # it did redo the renames
    for err in (errno.ENOSPC, errno.EIO):
        for n in range(1, counter.calls + 1):
            project = copy_project(interrupted.root, tmp_path / "run")
            try:
                with installed(FaultFS(fail_at=n, err=err)):
                    Store.open(project).close()
            except OSError:
                pass
            Store.open(project).close()
            assert state(project) == expected, f"{errno.errorcode[err]} at call {n}: {counter.log[n - 1]}"
            leftovers = [p for p in project.root.rglob("*") if p.name.endswith(".tmp")]
            assert leftovers == [] and not (project.state_dir / "commit.intent").exists()
