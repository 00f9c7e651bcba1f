"""The jobs sidebar: every job of the project, running ones first, then finished ones newest first.

The sidebar is the list; the parts it composes do the rest:
- `JobLauncher` starts jobs as detached processes (`n`, `start_job`) and cancels them (`c`):
  a job outlives the app, the terminal and a crash, and is followed like any other;
- `RecordPoller` reads the job records that changed, in a thread worker, once a second;
- `core.generation.job_bell` remembers across sessions which jobs the app was following and
  which finished ones the user has not looked at (the bell).

A job reaching an end state posts `JobFinished(record)` once, also when it finished while the
app was closed (it was being followed). A job this window started posts `RowsLanded` when its
record counts more landed rows (the app then reads them at once); rows from anywhere else reach
the app through its one-second disk probe (`ui/shell/disk_probe.py`), the one poller for rows.
Quitting with jobs running asks first
(`confirm_quit`, called by the app's quit).

The keys are in `JobsSidebar`'s docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from brewslm_tui.core.generation.job_bell import followed_jobs, remember_playbook
from brewslm_tui.core.generation.job_record import LIVE_STATES, JobRecord, iso, utc_now
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
from brewslm_tui.ui.jobs.job_launcher import JobLauncher, LaunchedJob
from brewslm_tui.ui.jobs.no_wrap_list import NoWrapOptionList
from brewslm_tui.ui.jobs.record_poller import PollResult, RecordPoller
from brewslm_tui.ui.shell.tabs import on_shown_tab

UNFINISHED = frozenset({*LIVE_STATES, "waiting"})


def sidebar_order(records: list[JobRecord]) -> list[JobRecord]:
    """Running (and queued, waiting) jobs first, newest first; then finished ones, newest first."""
    newest = sorted(records, key=lambda r: (r.started_at or "", r.run_id), reverse=True)
    return [r for r in newest if r.state in UNFINISHED] + [r for r in newest if r.state not in UNFINISHED]


class JobsSidebar(NoWrapOptionList):
    """Jobs of the project; the arrows move too.

    | Key(s) | Description |
    | :- | :- |
    | enter | The job's rows, in the Queue (its details when it landed none). |
    | d | The job's summary and full diagnostic. |
    | n | Start a new job. |
    | c | Cancel the highlighted job (asks first; its landed rows stay). |
    | j | Cursor down. |
    | k | Cursor up. |
    """

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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Job rows"),
        Binding("d", "details", "Job details"),
        Binding("n", "new_job", "New job"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class RowsLanded(Message):
        """A job this window started landed rows: refresh the store now (not at the next probe)."""

    class JobFinished(Message):
        """A job reached succeeded / failed / cancelled / interrupted (posted once per job)."""

        def __init__(self, record: JobRecord) -> None:
            super().__init__()
            self.record = record

    class JobSelected(Message):
        """A job was looked at: highlighted by the user, opened, or its rows shown."""

        def __init__(self, record: JobRecord) -> None:
            super().__init__()
            self.record = record

    class _Polled(Message):
        """A poll's result, from the poller's thread to the UI's."""

        def __init__(self, result: PollResult, failed: list[JobRecord]) -> None:
            super().__init__()
            self.result = result
            self.failed = failed

    def __init__(self, store: Any, project: Any, *, poll_seconds: float = 1.0, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.project = project
        self.poll_seconds = poll_seconds
        self.border_title = "Jobs"
        self.records: dict[str, JobRecord] = {}  # run_id -> newest record known
        self.poller = RecordPoller(project)
        self.launcher = JobLauncher(project)
        self.following = followed_jobs(project)
        self._finished_posted: set[str] = set()
        self._own: set[str] = set()  # run ids of the jobs this window started
        self._polls = 0

    @property
    def foreign_recheck_seconds(self) -> float:
        return self.poller.live_recheck_seconds

    @foreign_recheck_seconds.setter
    def foreign_recheck_seconds(self, seconds: float) -> None:
        self.poller.live_recheck_seconds = seconds

    # --- lifecycle ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._rebuild()
        self._poll()
        self.set_interval(self.poll_seconds, self._poll)

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
    def live_records(self) -> list[JobRecord]:
        return [r for r in self.records.values() if r.state in LIVE_STATES]

    def start_job(
        self,
        playbook_name: str | None,
        count: int | None = None,
        seed: int | None = None,
        like_run_id: str | None = None,
    ) -> LaunchedJob:
        """Start a generation job in a detached process; returns at once (spawned in a thread)."""
        job = self.launcher.prepare(playbook_name, like_run_id)
        self.following.add(job.run_id)
        self._own.add(job.run_id)
        self.records[job.run_id] = JobRecord(
            run_id=job.run_id,
            playbook=job.playbook,
            state="queued",
            counts={"requested": count or 0},
            started_at=iso(utc_now()),
        )

        def spawn() -> LaunchedJob:
            if playbook_name and not like_run_id:
                remember_playbook(self.project, playbook_name)
            return self.launcher.spawn(job, count=count, seed=seed, like_run_id=like_run_id)

        self.run_worker(
            spawn, name=f"start {job.run_id}", group="job-start", thread=True, exit_on_error=False
        )
        self._rebuild()
        self.highlighted = 0
        return job

    def regenerate(self, run_id: str) -> LaunchedJob:
        """A new job like `run_id`: same playbook and settings, a fresh seed, a new run_id."""
        record = self.records.get(run_id)
        return self.start_job(record.playbook if record is not None else None, like_run_id=run_id)

    def cancel(self, run_id: str) -> None:
        """Ask the job to stop (a cancel file its process notices within a second)."""

        def ask() -> JobRecord:
            return self.launcher.cancel(run_id)

        self.poller.recheck_soon()
        self.run_worker(ask, name=f"cancel {run_id}", group="job-cancel", thread=True, exit_on_error=False)

    def confirm_quit(self, quit_now: Callable[[], object]) -> None:
        """The app is asked to quit: with jobs running, ask whether to leave or cancel them."""
        running = [r for r in self.live_records if r.state == "running" or r.run_id in self.following]
        if not running:
            quit_now()
            return
        from brewslm_tui.ui.jobs.quit_question import QuitWithJobsScreen

        def answered(choice: str | None) -> None:
            if choice is None:
                return
            if choice == "cancel":
                for record in running:
                    try:
                        self.launcher.cancel(record.run_id)
                    except Exception as exc:  # one plain line; quitting goes on
                        self.notify(f"could not cancel {plain(record.run_id)}: {visible_line(str(exc))}")
            quit_now()

        self.app.push_screen(QuitWithJobsScreen(running), answered)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hidden (`s`), the sidebar acts on no job: the palette would otherwise offer "Job rows",
        "Job details" and "Cancel job" for a highlighted job the user cannot see. A new job
        (the form names its playbook) works either way."""
        if action in ("new_job",):
            return True
        return on_shown_tab(self) and super().check_action(action, parameters)

    def _allowed(self, what: str) -> bool:
        """The app's read-only policy (a second window on a project), when it has one."""
        can_write = getattr(self.app, "can_write", None)
        return bool(can_write(what)) if callable(can_write) else True

    # --- actions --------------------------------------------------------------------------

    def action_new_job(self) -> None:
        from brewslm_tui.core.generation.job_bell import last_playbook
        from brewslm_tui.ui.jobs.job_form import NewJobScreen

        if not self._allowed("start a job"):
            return

        def started(result: dict | None) -> None:
            if result:
                self.start_job(result["playbook"], count=result.get("count"), seed=result.get("seed"))

        self.app.push_screen(NewJobScreen(self.project, playbook=last_playbook(self.project)), started)

    def action_details(self) -> None:
        record = self.selected_record
        if record is None:
            return
        from brewslm_tui.ui.jobs.job_detail import JobDetailScreen

        self.post_message(self.JobSelected(record))
        self.app.push_screen(JobDetailScreen(record, self.project))

    def action_cancel_job(self) -> None:
        """Ask, then cancel the highlighted job (any process, any host sharing the folder)."""
        record = self.selected_record
        if record is None:
            self.notify("No job selected.")
            return
        if record.state not in LIVE_STATES and record.state != "waiting":
            self.notify(f"{plain(record.run_id)} is not running ({record.state}).", markup=False)
            return
        from brewslm_tui.ui.review.modals import ConfirmScreen

        name = record.run_id
        how = "It stops within a second; the rows it landed stay, marked as from a cancelled run."

        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel(name)
                self.notify(f"Cancelling {plain(name, 60)}.", markup=False)

        self.app.push_screen(
            ConfirmScreen("Cancel job?", f"Cancel {plain(name, 60)}? {how}", yes="cancel job"), answered
        )

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """A start or a cancel that failed says why (a poll that failed is retried next second)."""
        if event.worker.group not in ("job-start", "job-cancel"):
            return
        event.stop()
        if event.state != WorkerState.ERROR:
            return
        error = visible_line(str(event.worker.error))
        if event.worker.group == "job-start":
            failed = next((j for j in self.launcher.jobs if j.error is not None), None)
            if failed is not None:
                self.launcher.jobs.remove(failed)
                self.records.pop(failed.run_id, None)
                self.following.discard(failed.run_id)
            self.app.bell()
            self.notify(f"The job could not start: {error}", severity="error", timeout=10, markup=False)
        else:
            self.notify(f"Could not cancel: {error}", severity="warning", timeout=8, markup=False)
        self._rebuild()

    # --- polling --------------------------------------------------------------------------

    def _poll(self) -> None:
        if any(w.group == "job-poll" and not w.is_finished for w in self.workers):
            return  # the last poll is still reading (a slow disk): skip this tick
        live = {r.run_id for r in self.records.values() if r.state in LIVE_STATES}

        def poll() -> None:
            result = self.poller.poll(live)
            failed = self.launcher.reap()
            self.post_message(self._Polled(result, failed))

        self.run_worker(poll, name="poll job records", group="job-poll", thread=True, exit_on_error=False)

    @on(_Polled)
    def _polled(self, message: _Polled) -> None:
        message.stop()
        result, first = message.result, self._polls == 0
        self._polls += 1
        landed = False
        for run_id in result.removed:
            self.records.pop(run_id, None)
            self.following.discard(run_id)
        for record in [*result.changed, *message.failed]:
            previous = self.records.get(record.run_id)
            if (
                previous is not None
                and previous.state == "queued"
                and record.state == "interrupted"
                and any(j.run_id == record.run_id for j in self.launcher.jobs)
            ):
                continue  # our job's process has not taken its record over yet
            self.records[record.run_id] = record
            if record.run_id in self._own and record.landed > (previous.landed if previous else 0):
                landed = True
            if record.state in LIVE_STATES:
                self.following.add(record.run_id)
            elif record.state in FINISHED and (
                record.run_id in self.following or (not first and previous is None)
            ):
                self._finish(record)
        if landed:
            self.post_message(self.RowsLanded())
        if result or message.failed:
            self._rebuild()

    def _finish(self, record: JobRecord) -> None:
        self.following.discard(record.run_id)
        if record.run_id in self._finished_posted:
            return
        self._finished_posted.add(record.run_id)
        self.post_message(self.JobFinished(record))  # the app reads the store then

    # --- rendering ------------------------------------------------------------------------

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
                Content(plain(f"{usable}/{requested}  {rate_text(record.rows_per_second)}", width)),
            ]
            backend = []  # a model backend's own rates, when it reports them
            if record.tokens_per_second is not None:
                backend.append(f"{human_number(record.tokens_per_second)} tok/s")
            if record.requests_per_second is not None:
                backend.append(f"{record.requests_per_second:.3g} req/s")
            if backend:
                lines.append(Content.styled(plain(" ".join(backend), width), "$text-muted"))
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
            if record.tokens is not None:
                detail += f" {human_number(record.tokens)} tok"
            lines = [head, Content.styled(plain(f"{detail}  {when}".rstrip(), width), "$text-muted")]
        return Content("\n").join(lines)

    def _rebuild(self) -> None:
        if not self.is_mounted:
            return
        width = max(self.scrollable_content_region.width - 2, 12)
        entries = [(r.run_id, self._prompt(r, width)) for r in sidebar_order(list(self.records.values()))]
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
        """enter: the job's rows, in the Queue (the Runs view's own message, handled by the app);
        a job that landed none has no rows to show: its details say why."""
        event.stop()
        record = self.records.get(event.option.id or "")
        if record is None:
            return
        if record.landed == 0:
            self.action_details()
            return
        from brewslm_tui.ui.insight.runs_view import RunsView

        self.post_message(self.JobSelected(record))
        self.post_message(RunsView.ShowRun(record.run_id))
