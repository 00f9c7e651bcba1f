"""What the app remembers about jobs between sessions: the bell's unseen jobs, the jobs
it was following (so a job that finished while the app was closed still rings the bell), and
the playbook last started.

Two small sets of run ids in `.brewslm/` (`bell-unseen.json`, `jobs-following.json`), each
rewritten atomically when it changes (a job finishing or being looked at: rare). A set that
cannot be written (a read-only folder) still works for this session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, MutableSet
from pathlib import Path

import orjson

from brewslm_tui.core.project import Project
from brewslm_tui.core.store.jsonl import replace_durably

MAX_REMEMBERED = 1000  # the oldest ids are forgotten past this


class RememberedRuns(MutableSet[str]):
    """A set of run ids kept in a JSON file: `add` and `discard` write it when they change it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: dict[str, None] = {}  # insertion order: the oldest are forgotten first
        self.error: OSError | None = None  # the last failed write
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
        try:
            replace_durably(self.path, [orjson.dumps(list(self._ids)) + b"\n"])
            self.error = None
        except OSError as exc:
            self.error = exc


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
