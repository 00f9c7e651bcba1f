"""The jobs sidebar: every generation job of the project, newest first, live.

Two sources, one list:
- jobs started here (`n`, `start_job`) run `run_generation_job` in Textual thread workers,
  each in its own event loop (group "jobs", `exit_on_error=False`); their progress events
  come back as messages and update the list in place,
  repainted at most four times a second, so a fast job never floods the UI;
- jobs of other processes (`brewslm-tui generate` in another terminal) are seen by polling
  the job records once a second. The poll is a `scandir` of `.brewslm/jobs/` (names, mtimes,
  sizes); only records whose file changed are read again (`read_record`), plus, every few
  seconds, foreign jobs that claim to be running (so one whose process died turns
  `interrupted`). A poll costs O(records changed), not O(records).

Rows landing (the synthetic file grew or was rewritten, or one of our jobs reported usable
rows) post `RowsLanded`; the app then calls `store.refresh()`. A job reaching an end state
posts `JobFinished(record)` once, for our jobs and for foreign ones seen running here.

Cancelling (`c`): a job of this app gets its cancel Event set (the runner stops cleanly and
records `cancelled`). A job of another process on this machine is sent SIGINT, the same as
Ctrl-C in its terminal (its CLI cancels cleanly), but only when the record names this host
and /proc confirms the pid is still a brewslm process, so a recycled pid or a job on another
machine sharing the folder is never signalled; otherwise the user is told to cancel it where
it runs.

Bindings (when focused): `n` new job, `c` cancel the selected job, `enter` the selected job's
summary and diagnostic, `j/k` and arrows move.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import on
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.jobs import JobEvent, JobRecord, read_record, run_generation_job
from brewslm_tui.core.text import visible_line
from brewslm_tui.ui.jobs.job_format import (
    FINISHED,
    bar,
    count,
    diagnostic_headline,
    human_number,
    plain,
    progress_fraction,
    rate_text,
    state_content,
    when_text,
)

FOREIGN_RECHECK_SECONDS = 5.0
REPAINT_SECONDS = 0.25
QUIT_WAIT_SECONDS = 10.0  # for our jobs to record `cancelled` when the app closes


class CrossThreadCancel:
    """The cancel switch of a job that runs in its own thread and event loop, flipped from the UI.

    `bind()` (in the job's loop) gives the `asyncio.Event` the runner waits on; `set()` (any
    thread) sets it through that loop. A `set()` before `bind()` is remembered.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> asyncio.Event:
        event = asyncio.Event()
        self._event, self._loop = event, asyncio.get_running_loop()
        if self._flag.is_set():
            event.set()
        return event

    def set(self) -> None:
        self._flag.set()
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # that loop is closed: the job is over

    def is_set(self) -> bool:
        return self._flag.is_set()


@dataclass
class LocalJob:
    """A job this app runs: its cancel switch and the freshest record its events gave."""

    playbook: str
    cancel: CrossThreadCancel = field(default_factory=CrossThreadCancel)
    done: threading.Event = field(default_factory=threading.Event)  # its thread has returned
    worker: Worker | None = None
    record: JobRecord | None = None
    token: str = ""

    @property
    def run_id(self) -> str | None:
        return self.record.run_id if self.record is not None else None


def pid_is_brewslm(pid: int) -> bool:
    """True when `pid` is alive on this machine and its command line mentions brewslm."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"brewslm" in cmdline


class JobsSidebar(OptionList):
    """Jobs of the project, newest first. Bindings: n new job, c cancel, enter details, j/k move."""

    HELP_GROUP = "Jobs"

    DEFAULT_CSS = """
    JobsSidebar {
        width: 26;
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0;
        & > .option-list--option {
            padding: 0 1;
        }
        &:focus {
            border: round $accent;
            border-title-color: $text;
        }
    }
    """

    BINDINGS = [
        Binding("n", "new_job", "New job"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("enter", "select", "Job details"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class RowsLanded(Message):
        """Rows were appended to the synthetic file (by a job here or elsewhere): refresh the store."""

    class JobFinished(Message):
        """A job reached succeeded / failed / cancelled / interrupted (posted once per job)."""

        def __init__(self, record: JobRecord) -> None:
            super().__init__()
            self.record = record

    class JobSelected(Message):
        """The highlighted job changed, or a job was opened with enter."""

        def __init__(self, record: JobRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, store: Any, project: Any, *, poll_seconds: float = 1.0, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.store = store
        self.project = project
        self.poll_seconds = poll_seconds
        self.foreign_recheck_seconds = FOREIGN_RECHECK_SECONDS
        self.border_title = "Jobs"
        self.records: dict[str, JobRecord] = {}  # run_id -> newest record known (disk or events)
        self._order: list[str] = []  # run_ids newest first (started_at, then run_id)
        self._local: list[LocalJob] = []  # jobs running in this app
        self._finished_posted: set[str] = set()
        self._seen_running: set[str] = set()
        self._files: dict[str, tuple[int, int]] = {}
        self._synthetic_mark: tuple[int, int] | None = None
        self._last_list = 0.0
        self._dirty = False
        self._rows_changed = False
        self._tokens = 0

    # --- lifecycle ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._synthetic_mark = self._synthetic_stat()
        self._reload(force=True)
        self.set_interval(self.poll_seconds, self._poll)
        self.set_interval(REPAINT_SECONDS, self._repaint_if_dirty)

    def refresh_data(self) -> None:
        """Called by the app after store changes; the sidebar reads job records, not the store."""
        self._poll()

    def on_resize(self) -> None:
        self._rebuild()

    # --- public ---------------------------------------------------------------------------

    @property
    def selected_record(self) -> JobRecord | None:
        option = self.highlighted_option
        if option is None or option.id is None:
            return None
        return self.records.get(option.id)

    @property
    def running_here(self) -> list[LocalJob]:
        return [job for job in self._local if job.worker is not None and not job.worker.is_finished]

    def start_job(
        self,
        playbook_name: str | None,
        count: int | None = None,
        seed: int | None = None,
        like_run_id: str | None = None,
    ) -> LocalJob:
        """Start a generation job in a thread worker (its own event loop); returns at once.

        Not on the UI's event loop: a job's synchronous parts (indexing every prompt of a big
        project for the duplicate check, rendering and validating thousands of rows) would
        freeze the keys for as long as they run. In a thread they share the interpreter with
        the UI, which gets its turn every few milliseconds. Progress comes back as messages.
        """
        self._tokens += 1
        job = LocalJob(playbook_name or like_run_id or "", token=f"local-{self._tokens}")

        def on_event(event: Any) -> None:  # in the job's thread
            self.post_message(self._Progress(job, event))

        def run() -> JobRecord:
            async def main() -> JobRecord:
                return await run_generation_job(
                    self.project,
                    playbook_name,
                    count=count,
                    seed=seed,
                    like_run_id=like_run_id,
                    on_event=on_event,
                    cancel=job.cancel.bind(),
                )

            try:
                return asyncio.run(main())
            finally:
                job.done.set()

        self._local.append(job)
        job.worker = self.run_worker(
            run, name=f"job {playbook_name}", group="jobs", exit_on_error=False, thread=True
        )
        self._rebuild()
        self.highlighted = 0
        return job

    def regenerate(self, run_id: str) -> LocalJob:
        """A new job like `run_id`: same playbook and settings, a fresh seed, a new run_id."""
        record = self.records.get(run_id)
        return self.start_job(
            record.playbook if record is not None and record.playbook else None, like_run_id=run_id
        )

    def _allowed(self, what: str) -> bool:
        """The app's read-only policy (a second window on a project), when it has one."""
        can_write = getattr(self.app, "can_write", None)
        return bool(can_write(what)) if callable(can_write) else True

    # --- actions --------------------------------------------------------------------------

    def action_new_job(self) -> None:
        from brewslm_tui.ui.jobs.job_form import NewJobScreen

        if not self._allowed("start a job"):
            return

        def started(result: dict | None) -> None:
            if result:
                self.start_job(result["playbook"], count=result.get("count"), seed=result.get("seed"))

        self.app.push_screen(NewJobScreen(self.project), started)

    def action_cancel_job(self) -> None:
        """Ask, then cancel: our job via its Event, a local foreign one via SIGINT (see module doc)."""
        option = self.highlighted_option
        local = self._local_for_option(option.id if option else None)
        record = self.selected_record
        if local is not None and not (local.worker is not None and local.worker.is_finished):
            name = local.run_id or local.playbook
            do_cancel = local.cancel.set
            how = "It stops after the current batch; the rows it landed stay, marked as from a cancelled run."
        elif record is None:
            self.notify("No job selected.")
            return
        elif record.state not in ("running", "queued"):
            self.notify(f"{plain(record.run_id)} is not running ({record.state}).", markup=False)
            return
        else:
            pid = record.pid
            here = record.host in (None, socket.gethostname())
            if not (pid and here and pid != os.getpid() and pid_is_brewslm(pid)):
                self.notify(
                    f"{plain(record.run_id)} runs in another process this app cannot reach: "
                    "cancel it where it runs (Ctrl-C in its terminal).",
                    severity="warning",
                    timeout=8,
                    markup=False,
                )
                return
            name = record.run_id

            def do_cancel() -> None:
                os.kill(pid, signal.SIGINT)
                self._last_list = 0.0  # re-read its record at the next poll

            how = (
                f"It runs in another process (pid {pid}): it gets an interrupt, like Ctrl-C in its terminal."
            )

        from brewslm_tui.ui.review.modals import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                do_cancel()
                self.notify(f"Cancelling {plain(name, 60)}.", markup=False)

        self.app.push_screen(
            ConfirmScreen("Cancel job?", f"Cancel {plain(name, 60)}? {how}", yes="cancel job"), answered
        )

    # --- events from jobs run here --------------------------------------------------------

    class _Progress(Message):
        """A job event, from the job's thread to the UI's."""

        def __init__(self, job: LocalJob, event: JobEvent) -> None:
            super().__init__()
            self.job = job
            self.event = event

    @on(_Progress)
    def _progress(self, message: _Progress) -> None:
        message.stop()
        self._on_job_event(message.job, message.event)

    def on_unmount(self) -> None:
        """The app is closing: our jobs stop (the rows they landed stay) and record `cancelled`.

        A thread cannot be killed: each is asked to stop and waited for here (up to
        QUIT_WAIT_SECONDS), so its record is final before the store is compacted. A job in the
        middle of a long synchronous step (indexing a huge project's prompts) notices the
        cancel only after that step; the process then ends when its thread does."""
        running = [job for job in self._local if job.worker is not None and not job.done.is_set()]
        for job in running:
            job.cancel.set()
        deadline = time.monotonic() + QUIT_WAIT_SECONDS
        for job in running:
            job.done.wait(max(0.0, deadline - time.monotonic()))

    def _on_job_event(self, job: LocalJob, event: JobEvent) -> None:
        """On the UI thread (see `_Progress`): cheap, just mark dirty.

        Only a `finished` event carries the record; the others carry counts, folded here into
        a copy of the last record so the list has one shape for every job.
        """
        if event.record is not None:
            record = event.record
        else:
            base = job.record or self.records.get(event.run_id)
            counts = {
                "requested": event.requested,
                "candidates": event.candidates,
                "usable": event.usable,
                "landed": event.landed,
                "invalid": event.invalid_total,
                "duplicates": event.duplicates,
                "backend_errors": event.backend_errors,
                "by_cause": dict(event.by_cause),
            }
            update = {"state": event.state, "counts": counts, "rows_per_second": event.rows_per_second}
            if base is None:
                record = JobRecord(
                    run_id=event.run_id,
                    kind=event.job_kind,
                    playbook=event.playbook,
                    pid=os.getpid(),
                    **update,
                )
            else:
                record = base.model_copy(update=update)
        job.record = record
        self.records[record.run_id] = record
        if record.run_id not in self._order:
            self._order.insert(0, record.run_id)
        if event.kind == "rows_landed":
            self._rows_changed = True
        self._dirty = True

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        job = next((j for j in self._local if j.worker is event.worker), None)
        if job is None:
            return
        event.stop()
        if event.state == WorkerState.SUCCESS:
            record = event.worker.result
            job.record = record
            self.records[record.run_id] = record
            if record.run_id not in self._order:
                self._order.insert(0, record.run_id)
            self._finish(record)
            self.post_message(self.RowsLanded())
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            self.app.bell()
            self.notify(
                f"Job {plain(job.playbook, 40)} could not run: {visible_line(str(error))}",
                severity="error",
                timeout=10,
                markup=False,
            )
            if job.record is None:
                self._local.remove(job)
        elif event.state == WorkerState.CANCELLED and job.record is None:
            self._local.remove(job)
        self._rebuild()

    # --- polling --------------------------------------------------------------------------

    def _jobs_dir(self) -> Path:
        return self.project.state_dir / "jobs"

    def _scan_files(self) -> dict[str, tuple[int, int]]:
        """`{file name: (mtime_ns, size)}` of the job records: one scandir, no reads."""
        files: dict[str, tuple[int, int]] = {}
        try:
            with os.scandir(self._jobs_dir()) as entries:
                for entry in entries:
                    if entry.name.endswith(".json"):
                        st = entry.stat()
                        files[entry.name] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass
        return files

    def _synthetic_stat(self) -> tuple[int, int]:
        try:
            st = self.project.synthetic_path.stat()
        except OSError:
            return (0, 0)
        return (st.st_size, st.st_mtime_ns)

    def _poll(self) -> None:
        mark = self._synthetic_stat()
        if mark != self._synthetic_mark or self._rows_changed:
            self._synthetic_mark = mark
            self._rows_changed = False
            self.post_message(self.RowsLanded())
        self._reload()

    def _reload(self, force: bool = False) -> None:
        """Re-read only the records whose file changed (and foreign running ones now and then)."""
        files = self._scan_files()
        changed = [name for name, mark in files.items() if self._files.get(name) != mark]
        removed = [name for name in self._files if name not in files]
        if time.monotonic() - self._last_list >= self.foreign_recheck_seconds:
            self._last_list = time.monotonic()
            changed.extend(  # is its process still alive? read_record says interrupted if not
                f"{run_id}.json"
                for run_id, r in self.records.items()
                if r.state in ("running", "queued")
                and self._local_for_option(run_id) is None
                and f"{run_id}.json" in files
                and f"{run_id}.json" not in changed
            )
        if not (force or changed or removed):
            return
        self._files = files
        first = force and not self.records
        fresh: list[JobRecord] = []
        for name in changed:
            try:
                fresh.append(read_record(self.project, name.removesuffix(".json")))
            except BrewError:
                continue  # gone meanwhile, or not a record of ours
        for name in removed:
            self.records.pop(name.removesuffix(".json"), None)
        for record in fresh:
            local = self._local_for_option(record.run_id)
            if local is not None and local.worker is not None and not local.worker.is_finished:
                continue  # our live events are fresher than the file
            previous = self.records.get(record.run_id)
            self.records[record.run_id] = record
            if record.state in ("running", "queued"):
                self._seen_running.add(record.run_id)
            elif (
                not first
                and record.state in FINISHED
                and local is None
                and (record.run_id in self._seen_running or previous is None)
            ):
                self._finish(record)
        newest_first = sorted(
            self.records.values(), key=lambda r: (r.started_at or "", r.run_id), reverse=True
        )
        self._order = [r.run_id for r in newest_first]
        self._rebuild()

    def _finish(self, record: JobRecord) -> None:
        if record.run_id in self._finished_posted:
            return
        self._finished_posted.add(record.run_id)
        self.post_message(self.JobFinished(record))

    # --- rendering ------------------------------------------------------------------------

    def _local_for_option(self, option_id: str | None) -> LocalJob | None:
        if option_id is None:
            return None
        return next((j for j in self._local if j.run_id == option_id or j.token == option_id), None)

    def _repaint_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            if self._rows_changed:
                self._rows_changed = False
                self.post_message(self.RowsLanded())
            self._rebuild()

    def _entries(self) -> list[tuple[str, Content]]:
        width = max(self.scrollable_content_region.width - 2, 12)
        entries: list[tuple[str, Content]] = []
        for job in reversed(self._local):
            if job.record is None:
                entries.append(
                    (
                        job.token,
                        Content.assemble(("starting", "bold $warning"), " ", plain(job.playbook, width - 9)),
                    )
                )
        order = list(self._order)
        for run_id in self.records:
            if run_id not in order:
                order.insert(0, run_id)
        for run_id in order:
            entries.append((run_id, self._prompt(self.records[run_id], width)))
        return entries

    def _prompt(self, record: JobRecord, width: int) -> Content:
        state = state_content(record.state)
        head = Content.assemble(state, " ", plain(record.playbook, max(width - len(state.plain) - 1, 4)))
        usable, requested = count(record, "usable"), count(record, "requested")
        if record.state == "running":
            fraction = progress_fraction(record)
            pct = f"{int(fraction * 100):>3d}%"
            lines = [
                head,
                Content.assemble((bar(fraction, width - len(pct) - 1), "$accent"), " ", pct),
                Content(
                    plain(f"{usable}/{requested}  {rate_text(getattr(record, 'rows_per_second', 0))}", width)
                ),
            ]
        elif record.state == "failed":
            causes = record.counts.get("by_cause") or {}
            if causes:
                cause, n = max(causes.items(), key=lambda item: item[1])
                why = f"{human_number(n)} {cause}"
            else:
                why = diagnostic_headline(record)
            lines = [
                head,
                Content.styled(plain(f"{usable}/{human_number(requested)} usable", width), "$error"),
                Content.styled(plain(why, width), "$error"),
            ]
        else:
            when = when_text(record.finished_at or record.started_at, compact=True)
            detail = f"{human_number(usable)}/{human_number(requested)} rows"
            lines = [head, Content.styled(plain(f"{detail}  {when}".rstrip(), width), "$text-muted")]
        return Content("\n").join(lines)

    def _rebuild(self) -> None:
        if not self.is_mounted:
            return
        entries = self._entries()
        if not entries:
            self.set_options(
                [
                    Option(
                        Content.styled("no jobs yet\nn: start one", "$text-muted"),
                        id="__empty__",
                        disabled=True,
                    )
                ]
            )
            return
        current = [option.id for option in self.options]
        wanted = [option_id for option_id, _ in entries]
        if current == wanted:
            for option_id, prompt in entries:
                self.replace_option_prompt(option_id, prompt)
            return
        highlighted = self.highlighted_option.id if self.highlighted_option is not None else None
        options: list[Option | None] = []
        for option_id, prompt in entries:
            if options:
                options.append(None)  # a divider line between jobs
            options.append(Option(prompt, id=option_id))
        self.set_options(options)
        if highlighted in wanted:
            self.highlighted = wanted.index(highlighted)
        elif self.highlighted is None:
            self.highlighted = 0

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Only a person moving the highlight counts as looking at a job (it clears the bell)."""
        event.stop()
        if not self.has_focus:
            return
        record = self.records.get(event.option.id or "")
        if record is not None:
            self.post_message(self.JobSelected(record))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        record = self.records.get(event.option.id or "")
        if record is None:
            return
        from brewslm_tui.ui.jobs.job_detail import JobDetailScreen

        self.post_message(self.JobSelected(record))
        self.app.push_screen(JobDetailScreen(record, self.project))
