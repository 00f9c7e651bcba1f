"""What the app remembers about jobs between sessions: the bell's unseen jobs, the jobs
it was following (so a job that finished while the app was closed still rings the bell), and
the playbook last started.

Two small sets of run ids in `.brewslm/` (`bell-unseen.json`, `jobs-following.json`), each
rewritten atomically when it changes (a job finishing or being looked at: rare), by a short
writer thread, so a change costs the caller (the UI's loop) no file I/O; the latest state wins
and the process waits for the thread at exit. A set that cannot be written (a read-only
folder) still works for this session.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, MutableSet
from pathlib import Path

import orjson

from brewslm_tui.core.project import Project
from brewslm_tui.core.store.jsonl import replace_durably

MAX_REMEMBERED = 1000  # the oldest ids are forgotten past this
_writers: dict[Path, threading.Thread] = {}  # path -> its writer still running, in this process


class RememberedRuns(MutableSet[str]):
    """A set of run ids kept in a JSON file: `add` and `discard` write it when they change it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: dict[str, None] = {}  # insertion order: the oldest are forgotten first
        self.error: OSError | None = None  # the last failed write
        self._lock = threading.Lock()
        self._pending: list[str] | None = None  # the state still to write
        self._writer: threading.Thread | None = None
        earlier = _writers.get(path)
        if earlier is not None:  # another set of this file, in this process, is still writing
            earlier.join()
        try:
            loaded = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            loaded = []
        if isinstance(loaded, list):
            self._ids = {str(x): None for x in loaded if isinstance(x, str)}

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, run_id: str) -> None:
        if run_id not in self._ids:
            self._ids[run_id] = None
            while len(self._ids) > MAX_REMEMBERED:
                del self._ids[next(iter(self._ids))]
            self._save()

    def discard(self, run_id: str) -> None:
        if run_id in self._ids:
            del self._ids[run_id]
            self._save()

    def update(self, run_ids: Iterable[str]) -> None:
        for run_id in run_ids:
            self.add(run_id)

    def _save(self) -> None:
        with self._lock:
            self._pending = list(self._ids)
            if self._writer is not None:
                return  # the running writer picks the new state up
            # not a daemon: a process exiting right after a change still writes it
            self._writer = _writers[self.path] = threading.Thread(
                target=self._write, name=f"save {self.path.name}"
            )
        self._writer.start()

    def _write(self) -> None:
        while True:
            with self._lock:
                ids, self._pending = self._pending, None
                if ids is None:
                    self._writer = None
                    _writers.pop(self.path, None)
                    return
            try:
                replace_durably(self.path, [orjson.dumps(ids) + b"\n"])
                self.error = None
            except OSError as exc:
                self.error = exc

    def flush(self) -> None:
        """Wait until the latest state is on disk (tests, and callers about to read the file)."""
        writer = self._writer
        if writer is not None:
            writer.join()


def unseen_jobs(project: Project) -> RememberedRuns:
    """Finished jobs the user has not looked at yet (the bell's count)."""
    return RememberedRuns(project.state_dir / "bell-unseen.json")


def followed_jobs(project: Project) -> RememberedRuns:
    """Jobs the app saw queued or running and has not yet seen finish."""
    return RememberedRuns(project.state_dir / "jobs-following.json")


def last_playbook(project: Project) -> str | None:
    """The playbook the user last started a job with (the new-job form's first choice)."""
    try:
        value = orjson.loads((project.state_dir / "last-playbook.json").read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) else None


def remember_playbook(project: Project, name: str) -> None:
    with contextlib.suppress(OSError):  # a convenience: a read-only folder just forgets it
        replace_durably(project.state_dir / "last-playbook.json", [orjson.dumps(name) + b"\n"])
