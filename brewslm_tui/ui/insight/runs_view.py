"""The runs view: one line per run_id, so a bad row can be traced to its run and the run judged.

Per-run counts come from one background pass over the store's columns (`core.stats.tally_runs`, run by
`BackgroundTally` when the store changed and the view is shown), joined with the job records
(`list_jobs`) for what only the job knows: when it ran, its state, candidates generated and
rows landed. A run with rows but no job record (its record was deleted, rows copied in) still
gets a line, with its playbook taken from its rows.

Approval rate = approved / (approved + rejected + dropped): the share of *decided* rows a
person kept; pending rows do not count either way.

Bindings: `enter` show the run's rows in the queue (`ShowRun`; a failed run or one without rows:
its job's diagnostic, never an empty queue), `d` the job's details, `D` drop its rejected rows or
all its unapproved rows after a confirmation (`DropRun`; the app performs it), `r` regenerate
the run: a new job like it with a fresh seed (`Regenerate`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from brewslm_tui.core.generation.jobs import list_jobs
from brewslm_tui.core.stats import RunTally, tally_runs
from brewslm_tui.ui.insight.background_tally import BackgroundTally
from brewslm_tui.ui.insight.colours import ROLES, theme_colours
from brewslm_tui.ui.jobs.job_format import STATES, count
from brewslm_tui.ui.review.modals import ConfirmScreen
from brewslm_tui.ui.shell.movement import TABLE_MOVES
from brewslm_tui.ui.shell.tabs import on_shown_tab
from brewslm_tui.ui.shell.text import counted, human_number, plain, when_text


@dataclass
class RunLine:
    """A run as the table shows it: the tally joined with its job record (either may be missing)."""

    run_id: str
    tally: RunTally
    record: Any = None

    @property
    def playbook(self) -> str:
        return (self.record.playbook if self.record is not None else "") or self.tally.playbook

    @property
    def sort_key(self) -> str:
        return str(getattr(self.record, "started_at", "") or "")


COLUMNS = (
    "run",
    "playbook",
    "state",
    "pend",
    "appr",
    "rej",
    "drop",
    "appr%",
    "gen",
    "usable",
    "top reasons",
    "when",
    "tokens",  # a model backend's figures: tokens, tokens/s, requests/s (blank for templates)
)
HINT = "enter rows in queue   d details   D drop   r regenerate"
_RUN_ID_RE = re.compile(r"[a-z]+-\d{4}-(\d{2}-\d{2}-\w+)\Z")


def short_run_id(run_id: str) -> str:
    """'synth-2026-05-29-a1b2c3' -> '05-29-a1b2c3' (the year and kind repeat on every line)."""
    match = _RUN_ID_RE.match(run_id)
    return match.group(1) if match else run_id


def run_cells(line: RunLine, colours: Mapping[str, str] = ROLES) -> list[Text]:
    """The row of the table; decision counts first so they show at 80 columns (the run id has
    the date). `colours`: role -> colour (`colours.theme_colours`; the ANSI names without an app)."""
    t, rec = line.tally, line.record
    word, _style = STATES.get(rec.state, (rec.state, "")) if rec is not None else ("-", "")
    state_style = {
        "ok": colours["success"],
        "FAILED": f"bold {colours['error']}",
        "running": colours["warning"],
        "interrupted": colours["secondary"],
    }.get(word, "dim")
    rate = t.approval_rate
    reasons = ", ".join(f"{plain(code, 20)} {n}" for code, n in t.reasons.most_common(2))

    def num(value: int | None) -> Text:
        return Text("-" if value is None else f"{value:,}", justify="right")

    return [
        Text(plain(short_run_id(line.run_id) or "(no run)", 28)),
        Text(plain(line.playbook, 16)),
        Text(word, style=state_style),
        num(t.pending),
        num(t.approved),
        num(t.rejected),
        num(t.dropped),
        Text("-" if rate is None else f"{rate:.0%}", justify="right"),
        num(count(rec, "candidates") if rec is not None else None),
        num(count(rec, "usable") if rec is not None else t.rows),
        Text(reasons, style="dim"),
        Text(when_text(getattr(rec, "started_at", None)) if rec is not None else ""),
        Text(_backend_rates(rec), style="dim"),
    ]


def _backend_rates(record: Any) -> str:
    """'12k tok · 210 tok/s · 3.1 req/s' when the run's backend reported usage, else ''."""
    if record is None or getattr(record, "tokens", None) is None:
        return ""
    parts = [f"{human_number(record.tokens)} tok"]
    if record.tokens_per_second is not None:
        parts.append(f"{human_number(record.tokens_per_second)} tok/s")
    if record.requests_per_second is not None:
        parts.append(f"{record.requests_per_second:.3g} req/s")
    return " · ".join(parts)


class DropRunScreen(ModalScreen[bool | None]):
    """Choose what to drop from a run: its rejected rows (`r`) or every unapproved row (`a`).

    Returns True for rejected only, False for all unapproved, None for cancel (`escape`/`n`).

    | Key(s) | Description |
    | :- | :- |
    | r | Drop the run's rejected rows. |
    | a | Drop every unapproved row of the run (pending and rejected). |
    | escape, n | Cancel: drop nothing. |
    """

    HELP_GROUP = "Drop run"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "answer(True)", "Drop rejected"),
        Binding("a", "answer(False)", "Drop all unapproved"),
        Binding("escape,n", "answer(None)", "Cancel"),
    ]

    def __init__(self, line: RunLine) -> None:
        super().__init__()
        self.line = line

    def compose(self) -> ComposeResult:
        t = self.line.tally
        # only the rows rejected now, by reason, in the CLI's order (`drop --run RUN --dry-run`):
        # rows already dropped are not dropped again, so they are not counted here
        reasons = ", ".join(f"{plain(code, 30)} {n:,}" for code, n in sorted(t.rejected_reasons.items()))
        already = f"; {t.dropped:,} already dropped" if t.dropped else ""
        summary = (
            f"Run {plain(self.line.run_id)} ({plain(self.line.playbook)}):\n"
            f"  r  drop its {counted(t.rejected, 'rejected row')} ({reasons or 'none'}{already})\n"
            f"  a  drop all {counted(t.unapproved, 'unapproved row')} ({t.pending:,} pending +"
            f" {t.rejected:,} rejected)\n"
            f"Approved rows stay. Dropped rows go to data/dropped.jsonl and can be restored."
        )
        with Vertical(classes="modal-box -danger") as box:
            box.border_title = "Drop rows of a run"
            yield Static(Content(summary))
            with Horizontal(classes="modal-buttons"):
                yield Button(Content("cancel (n)"), id="drop-cancel")
                yield Button(Content("all unapproved (a)"), id="drop-all", variant="error")
                yield Button(Content("rejected (r)"), id="drop-rejected", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#drop-cancel", Button).focus()

    def action_answer(self, value: bool | None) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"drop-rejected": True, "drop-all": False}.get(event.button.id or ""))


def hidden_columns(table: DataTable) -> tuple[list[str], list[str]]:
    """The labels of the columns (left of, right of) what the table shows: at 80 columns the
    Runs table shows run to drop; appr%, gen, usable, top reasons... are past its right edge."""
    width = table.scrollable_content_region.width
    if width <= 0:  # not laid out (a hidden tab): nothing to say yet
        return [], []
    left, right = table.scroll_x, table.scroll_x + width
    before: list[str] = []
    after: list[str] = []
    x = 0
    for column in table.ordered_columns:
        start, x = x, x + column.get_render_width(table)
        if start < left:
            before.append(str(column.label))
        elif x > right:
            after.append(str(column.label))
    return before, after


def hint_text(before: list[str], after: list[str]) -> str:
    """The key line under the table; first (it is cut at the right) the columns out of view
    and the keys that bring them in."""
    if after:
        return f"→ {len(after)} more: {', '.join(after)} (right/left scroll)   {HINT}"
    if before:
        return f"← {len(before)} more: {', '.join(before)} (left scrolls back)   {HINT}"
    return HINT


class RunsTable(DataTable):
    """The runs table; only here so the Footer names what `enter` does.

    | Key(s) | Description |
    | :- | :- |
    | enter | The run's pending rows in the Queue (a failed run or one without rows: its diagnostic). |
    | right | Scroll to the columns past the right edge (the line under the table names them). |
    | left | Scroll back to the first columns. |
    | j | Cursor down. |
    | k | Cursor up. |
    | g, home | The first run. |
    | G, end | The last run. |
    """

    HELP_GROUP = "Runs"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Show rows"),
        *TABLE_MOVES,
        # DataTable's own, named here for the help: with a row cursor they scroll sideways
        # (descriptions as Textual's own: the palette leaves them out)
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hidden with its tab, it acts on nothing: the palette's "Show rows" from Balance showed
        the rows of whatever run was highlighted in the Runs tab the user could not see."""
        return on_shown_tab(self) and super().check_action(action, parameters)


class RunsView(BackgroundTally, Vertical):
    """One line per run. Moving and `enter` are the table's keys (`RunsTable`).

    | Key(s) | Description |
    | :- | :- |
    | d | The run's job in full: counts, diagnostic. |
    | D | Drop the run's rejected (or all unapproved) rows; asked first. |
    | r | Regenerate: a new job like this run; asked first. |
    """

    HELP_GROUP = "Runs"

    DEFAULT_CSS = """
    RunsView {
        height: 1fr;
    }
    RunsView DataTable {
        height: 1fr;
    }
    RunsView #runs-hint {
        color: $text-muted;
        height: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "details", "Run details"),
        Binding("D", "drop_run", "Drop run rows"),
        Binding("r", "regenerate", "Regenerate"),
    ]

    class ShowRun(Message):
        """Show this run's rows in the queue (the app sets the queue's run filter)."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class DropRun(Message):
        """Drop this run's rejected rows (only_rejected) or all its unapproved rows; confirmed."""

        def __init__(self, run_id: str, only_rejected: bool) -> None:
            super().__init__()
            self.run_id = run_id
            self.only_rejected = only_rejected

    class Regenerate(Message):
        """Start a new job like this run (same playbook and settings, fresh seed)."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, store: Any, project: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.project = project
        self.lines: list[RunLine] = []
        self._wanted_run: str | None = None

    def compose(self) -> ComposeResult:
        table = RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        for label in COLUMNS:
            table.add_column(label, width=len(label))
        yield table
        yield Static(Content(HINT), id="runs-hint")

    def on_mount(self) -> None:
        # a theme change redraws the state words in its colours
        self.watch(self.app, "theme", self._theme_changed, init=False)
        # the hint names the columns out of view: again when the table scrolls or resizes
        self.watch(self.query_one(RunsTable), "scroll_x", self._show_hint, init=False)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_hint)  # once the table has its new width

    def _show_hint(self, _value: object = None) -> None:
        if not self.is_mounted:
            return
        if not self.lines:
            text = "no runs yet: n starts a job"
        else:
            text = hint_text(*hidden_columns(self.query_one(RunsTable)))
        self.query_one("#runs-hint", Static).update(Content(text))

    def _theme_changed(self, _theme: str) -> None:
        self.call_after_refresh(self._redraw)  # after the app has taken the new variables in

    def _redraw(self) -> None:
        if self.lines:
            self.show(self.lines)

    def compute(self) -> list[RunLine]:
        tallies = tally_runs(self.store)
        records = {r.run_id: r for r in list_jobs(self.project)}
        lines = [RunLine(run_id, tally, records.get(run_id)) for run_id, tally in tallies.items()]
        for run_id, record in records.items():
            if run_id not in tallies and getattr(record, "kind", "generate") in (
                "generate",
                "generation",
                "synth",
            ):
                lines.append(RunLine(run_id, RunTally(run_id, record.playbook or ""), record))
        lines.sort(key=lambda line: line.sort_key, reverse=True)
        return lines

    def show(self, lines: list[RunLine]) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_line.run_id if self.selected_line is not None else None
        self.lines = lines
        palette = theme_colours(self.app)
        rows = [run_cells(line, palette) for line in lines]
        # the widths from the cells themselves: DataTable's own measuring of rows added while
        # the tab was being shown sometimes kept a column at its label's width ("05-" for a
        # run id), a snapshot flake under load
        widths = [max([len(label), *(row[k].cell_len for row in rows)]) for k, label in enumerate(COLUMNS)]
        table.clear(columns=True)
        for label, width in zip(COLUMNS, widths, strict=True):
            table.add_column(label, width=width)
        for line, cells in zip(lines, rows, strict=True):
            table.add_row(*cells, key=line.run_id or "(no run)")
        ids = [line.run_id for line in lines]
        wanted = self._wanted_run if self._wanted_run in ids else selected
        if wanted in ids:
            table.move_cursor(row=ids.index(wanted), animate=False)
            if wanted == self._wanted_run:
                self._wanted_run = None
        self._show_hint()
        self.call_after_refresh(self._show_hint)  # the widths once laid out

    def select_run(self, run_id: str) -> None:
        """Put the cursor on `run_id` (now, or as soon as the counting pass has its line)."""
        ids = [line.run_id for line in self.lines]
        if run_id in ids:
            self.query_one(DataTable).move_cursor(row=ids.index(run_id), animate=False)
            self._wanted_run = None
        else:
            self._wanted_run = run_id
            self.refresh_data()

    @property
    def selected_line(self) -> RunLine | None:
        table = self.query_one(DataTable)
        if not self.lines or table.cursor_row is None or not (0 <= table.cursor_row < len(self.lines)):
            return None
        return self.lines[table.cursor_row]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A hidden Runs tab acts on nothing (the palette from another tab does not list its
        actions: they would act on a run the user cannot see)."""
        return on_shown_tab(self)

    def _selected_run(self) -> RunLine | None:
        line = self.selected_line
        if line is None:
            self.notify("No run selected.")
        return line

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_show_run()

    def action_show_run(self) -> None:
        """enter: the run's pending rows in the queue. A run with none there would be an empty
        queue, a dead end: a failed run or one that landed no rows shows its job's diagnostic
        instead, and a run whose rows are all decided says where they are."""
        line = self._selected_run()
        if line is None:
            return
        t, record = line.tally, line.record
        if t.pending:
            self.post_message(self.ShowRun(line.run_id))
        elif record is not None and (record.state == "failed" or t.rows == 0):
            self.action_details()
        elif t.rows:
            self.notify(
                f"run {plain(line.run_id)} has no pending rows: {t.approved:,} approved (tab 3),"
                f" {t.rejected:,} rejected (tab 2), {t.dropped:,} dropped",
                markup=False,
            )
        else:
            self.notify(f"run {plain(line.run_id)} has no rows.", markup=False)

    def action_details(self) -> None:
        """d: the run's job in full (summary, counts, diagnostic), as the jobs sidebar's `d`."""
        line = self._selected_run()
        if line is None:
            return
        if line.record is None:
            self.notify(
                f"run {plain(line.run_id)} has no job record (its rows were copied in).", markup=False
            )
            return
        from brewslm_tui.ui.jobs.job_detail import JobDetailScreen

        self.app.push_screen(JobDetailScreen(line.record, self.project))

    def action_drop_run(self) -> None:
        line = self._selected_run()
        if line is None:
            return
        if line.tally.unapproved == 0:
            self.notify(f"{plain(line.run_id)} has no pending or rejected rows to drop.", markup=False)
            return

        def answered(only_rejected: bool | None) -> None:
            if only_rejected is not None:
                self.post_message(self.DropRun(line.run_id, only_rejected))

        self.app.push_screen(DropRunScreen(line), answered)

    def action_regenerate(self) -> None:
        line = self._selected_run()
        if line is None:
            return
        if line.record is None:
            self.notify(
                f"{plain(line.run_id)} has no job record to copy its settings from.",
                severity="warning",
                markup=False,
            )
            return
        requested = count(line.record, "requested")
        summary = (
            f"Start a new job of playbook {plain(line.playbook or '?')} like run {plain(line.run_id)}"
            f"{f' ({counted(requested)})' if requested else ''}: same settings, a fresh seed. Its rows land in"
            " the queue as pending."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(self.Regenerate(line.run_id))

        self.app.push_screen(
            ConfirmScreen(f"Regenerate run {plain(line.run_id)}", summary, "start"), answered
        )
