"""Starting and cancelling jobs from the app: detached processes, never threads of the app.

A job started here is `brewslm-tui generate` in its own session (`core.generation.
job_control.start_detached`): it outlives the terminal, `q` and a crash of the app, and the
sidebar follows it through its record like any other process's job. The launcher picks the
run id at once (so the list shows the job before its process exists), spawns in a thread,
keeps the process handles to reap them, and notices a process that ended before it took its
record over (a bad playbook edited meanwhile, say) so its record never sits `queued`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from brewslm_tui.core.generation.job_control import record_start_failure, request_cancel, start_detached
from brewslm_tui.core.generation.job_record import JobRecord
from brewslm_tui.core.generation.job_runner import new_run_id
from brewslm_tui.core.project import Project

APP_CANCEL = "Cancelled by the user (in the app)"


@dataclass
class LaunchedJob:
    """A job this app started: its run id at once, its process once spawned."""

    run_id: str
    playbook: str
    process: subprocess.Popen | None = None
    error: str | None = None  # why it could not start

    @property
    def finished(self) -> bool:
        """Its process has ended (or never started)."""
        if self.error is not None:
            return True
        return self.process is not None and self.process.poll() is not None


class JobLauncher:
    """The jobs this app started. `spawn` and `cancel` block briefly: call them from a thread."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.jobs: list[LaunchedJob] = []

    def prepare(self, playbook: str | None, like_run_id: str | None = None) -> LaunchedJob:
        job = LaunchedJob(new_run_id(self.project, "generation"), playbook or like_run_id or "")
        self.jobs.append(job)
        return job

    def spawn(
        self,
        job: LaunchedJob,
        *,
        count: int | None = None,
        seed: int | None = None,
        like_run_id: str | None = None,
    ) -> LaunchedJob:
        """Start `job`'s process (raises BrewError/ProjectError when it cannot start)."""
        try:
            _, job.process = start_detached(
                self.project,
                job.playbook if not like_run_id else None,
                count=count,
                seed=seed,
                like_run_id=like_run_id,
                run_id=job.run_id,
            )
        except Exception as exc:
            job.error = str(exc)
            raise
        return job

    def reap(self) -> list[JobRecord]:
        """Reap ended processes; returns records failed here because their job never started."""
        failed = []
        for job in list(self.jobs):
            if job.process is None or job.process.poll() is None:
                continue
            self.jobs.remove(job)
            record = record_start_failure(self.project, job.run_id, job.process)
            if record is not None:
                failed.append(record)
        return failed

    def cancel(self, run_id: str) -> JobRecord:
        return request_cancel(self.project, run_id, APP_CANCEL)
