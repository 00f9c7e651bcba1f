"""Following job records on disk without blocking the UI: a poll runs in a thread worker.

A poll is a `scandir` of `.brewslm/jobs/` (names, mtimes, sizes); only records whose file
changed are read again, plus, every few seconds, records that claim to be live (so one whose
process died turns `interrupted`). New rows in `synthetic.jsonl` are the app's disk probe's
business (`ui/shell/disk_probe.py`), not this poll's: one poller for rows. A poll costs O(records changed), not O(records), and never runs
on the UI's event loop: a slow disk (NFS) delays the list, never a key.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.job_record import JobRecord, clean_stale_temps, jobs_dir, read_record
from brewslm_tui.core.project import Project

LIVE_RECHECK_SECONDS = 5.0


@dataclass
class PollResult:
    """What changed since the last poll."""

    changed: list[JobRecord] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # run ids whose record is gone

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)


class RecordPoller:
    """Remembers what it read; `poll()` is blocking (call it from a thread, one at a time)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.live_recheck_seconds = LIVE_RECHECK_SECONDS
        self._files: dict[str, tuple[int, int]] = {}
        self._last_recheck = 0.0
        self._cleaned = False

    def recheck_soon(self) -> None:
        """Look at live records at the next poll (after a cancel, say)."""
        self._last_recheck = 0.0

    def poll(self, live: set[str]) -> PollResult:
        """Records whose file changed, plus the `live` ones when a recheck is due. The first
        poll also removes temp files that writers which died mid-write left behind."""
        if not self._cleaned:
            self._cleaned = True
            clean_stale_temps(self.project)
        files = self._scan()
        changed = [name for name, mark in files.items() if self._files.get(name) != mark]
        removed = [name.removesuffix(".json") for name in self._files if name not in files]
        if time.monotonic() - self._last_recheck >= self.live_recheck_seconds:
            self._last_recheck = time.monotonic()
            changed.extend(
                f"{run_id}.json"
                for run_id in live
                if f"{run_id}.json" in files and f"{run_id}.json" not in changed
            )
        self._files = files
        result = PollResult(removed=removed)
        for name in changed:
            try:
                result.changed.append(read_record(self.project, name.removesuffix(".json")))
            except BrewError:
                continue  # gone meanwhile, or not a record of ours
        return result

    def _scan(self) -> dict[str, tuple[int, int]]:
        files: dict[str, tuple[int, int]] = {}
        try:
            with os.scandir(jobs_dir(self.project)) as entries:
                for entry in entries:
                    if entry.name.endswith(".json") and not entry.name.startswith("."):
                        st = entry.stat()
                        files[entry.name] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass
        return files
