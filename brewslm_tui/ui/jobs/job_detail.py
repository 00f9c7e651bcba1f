"""One job in full: summary, counts, invalid candidates per cause with examples, backend error.

This is where "a no-op is not a success" is explained to the user, so nothing is summarised
away: every cause, every kept example, the backend's last error. Examples are model output
or a script's stderr: shown literally (`Content`, never markup) with control characters made
visible by `brewslm_tui.core.text.visible`.

While the job runs, the screen follows its record on disk once a second (read in a thread
worker: a slow disk never freezes a key).

The keys are in `JobDetailScreen`'s docstring.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.jobs import JobRecord, read_record
from brewslm_tui.core.generation.validate import CAUSES
from brewslm_tui.core.text import visible
from brewslm_tui.ui.jobs.job_format import count, plain, rate_text, state_content, when_text

COUNT_LABELS = (
    ("requested", "requested"),
    ("candidates", "candidates"),
    ("usable", "usable"),
    ("landed", "landed"),
    ("invalid", "invalid"),
    ("duplicates", "duplicates"),
    ("backend_errors", "backend errors"),
)


def _literal(text: str, indent: str = "", style: str = "") -> Content:
    """Untrusted multi-line text, control characters visible, each line indented."""
    lines = visible(text).splitlines() or [""]
    return Content.styled("\n".join(indent + line for line in lines), style)


def _heading(title: str) -> list[Content]:
    return [Content(""), Content.styled(title, "bold")]


def job_detail_content(record: JobRecord) -> Content:
    """The whole report as one literal Content (testable without a screen)."""
    diag = record.diagnostic
    parts: list[Content] = [
        Content.assemble(
            state_content(record.state),
            "  ",
            (plain(record.playbook or record.kind), "bold"),
            "  ",
            (plain(record.run_id), "$text-muted"),
        )
    ]
    started, finished = when_text(record.started_at), when_text(record.finished_at)
    facts = [f"started {started}" + (f", finished {finished}" if finished else "")]
    if record.rows_per_second:
        facts.append(rate_text(record.rows_per_second))
    if record.rates_text():
        facts.append(record.rates_text())
    if record.structured_mode:
        facts.append(f"structured output: {plain(record.structured_mode, 20)}")
    if record.pid and not record.finished:  # only useful while it runs (to find or stop it)
        facts.append(f"pid {record.pid}" + (f" on {plain(record.host, 30)}" if record.host else ""))
    parts.append(Content.styled("  ·  ".join(facts), "$text-muted"))
    if diag is not None:
        parts.append(Content(""))
        parts.append(_literal(diag.headline, style="bold $error" if record.state == "failed" else "bold"))
    if record.note:
        parts.append(_literal(record.note))

    parts.extend(_heading("COUNTS"))
    for key, label in COUNT_LABELS:
        if key in record.counts:
            parts.append(Content(f"  {label:<16} {count(record, key):>9,}"))

    if diag is not None and diag.causes:
        parts.extend(_heading("NOT USED, BY CAUSE"))
        for cause, n in sorted(diag.causes.items(), key=lambda item: -item[1]):
            parts.append(
                Content.assemble(
                    f"  {n:>8,}  ", (plain(cause), "bold"), "  ", (CAUSES.get(cause, ""), "$text-muted")
                )
            )
            for example in diag.examples.get(cause, []):
                parts.append(_literal(example, indent="            e.g. ", style="$text-muted"))
    if diag is not None and diag.last_backend_error:
        parts.extend(_heading("BACKEND, LAST ERROR"))
        parts.append(_literal(diag.last_backend_error, indent="  ", style="$error"))
    if diag is not None and diag.backend_output:
        parts.extend(_heading("BACKEND OUTPUT (TAIL)"))
        parts.append(_literal(diag.backend_output, indent="  | "))
    if diag is not None and diag.advice:
        parts.extend(_heading("WHAT TO DO"))
        for advice in diag.advice:
            parts.append(_literal(advice, indent="  - "))
    return Content("\n").join(parts)


class JobDetailScreen(ModalScreen[None]):
    """A job's summary and full diagnostic; the arrows and page keys scroll it.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close. |
    | q | Close. |
    | enter | Close. |
    """

    HELP_GROUP = "Job details"

    DEFAULT_CSS = """
    JobDetailScreen VerticalScroll {
        height: auto;
        max-height: 100%;
    }
    JobDetailScreen .hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("enter", "close", "Close", show=False),
    ]

    def __init__(self, record: JobRecord, project: Any = None) -> None:
        super().__init__()
        self.record = record
        self.project = project

    def compose(self) -> ComposeResult:
        # the shared modal box, wide for the diagnostic; a failed job's box is the danger one
        failed = " -danger" if self.record.state == "failed" else ""
        with Vertical(classes="modal-box -wide" + failed) as box:
            box.border_title = Content(f"Job {plain(self.record.run_id)}")
            with VerticalScroll():
                yield Static(job_detail_content(self.record), id="job-detail-body")
            yield Static(Content("escape close"), classes="hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        if not self.record.finished and self.project is not None:
            self._follow = self.set_interval(1.0, self._reread)

    def _reread(self) -> None:
        """While the job runs, follow its record on disk (rewritten about once a second)."""
        if any(not w.is_finished for w in self.workers):
            return

        def read() -> None:
            try:
                record = read_record(self.project, self.record.run_id)
            except BrewError:
                return
            self.app.call_from_thread(self._show, record)

        self.run_worker(read, thread=True, exit_on_error=False)

    def _show(self, record: JobRecord) -> None:
        if not self.is_mounted:
            return
        self.record = record
        self.query_one("#job-detail-body", Static).update(job_detail_content(record))
        self.query_one(".modal-box").set_class(record.state == "failed", "-danger")
        if record.finished:
            self._follow.stop()

    def action_close(self) -> None:
        self.dismiss(None)
