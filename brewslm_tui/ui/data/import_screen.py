"""The Import screen: a dry run whose rejects are grouped by reason and selectable, then the commit.

The same core call as `brewslm-tui import` (`core.importing.run_import`): first with
`dry_run=True`, then for real with the rejects the person marked as `keep`. Both run in a
thread (a big file takes seconds) and the screen stays responsive. Every text from the files
is shown through `visible_line`, never as markup.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import ClassVar

import orjson
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.importing import ImportOptions, ImportResult, run_import
from brewslm_tui.core.text import visible_line
from brewslm_tui.ui.review.service import ReviewService

LISTED = 2000  # rejects listed at most (the counts by reason cover all of them)


class ImportScreen(ModalScreen[ImportResult | None]):
    """Files, optional column mapping and template; enter runs the dry run, ctrl+s imports.

    | Key(s) | Description |
    | :- | :- |
    | ctrl+s | Import: the dry run shown, with the rejects marked to keep. |
    | ctrl+r | Run the dry run again (enter in a field does too). |
    | e | Fix the highlighted reject (its prompt and completion); the dry run runs again. |
    | escape | Close without importing. |
    """

    DEFAULT_CSS = """
    ImportScreen .data-field { height: auto; }
    ImportScreen .data-field-label { width: 10; }
    ImportScreen #import-summary { height: auto; max-height: 10; margin-top: 1; }
    ImportScreen #import-rejects { height: auto; max-height: 14; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "commit", "import", priority=True),
        Binding("ctrl+r", "dry_run", "dry run", priority=True),
        Binding("e", "fix", "fix this record"),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, project, review: ReviewService) -> None:
        super().__init__()
        self.project = project
        self.review = review  # the one write check (read-only window), as the panes use it
        self.result: ImportResult | None = None  # the last dry run
        self.planned: tuple | None = None  # the inputs that dry run was for
        self.fixes: dict[str, dict[str, str]] = {}  # where -> the prompt/completion typed for it
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="import", classes="modal-box"):
            yield Label(Content("Import rows into data/imported.jsonl"), classes="modal-title")
            yield field_row(
                "files", Input(placeholder="reviews.csv data.parquet hf-folder/", id="import-files")
            )
            yield field_row(
                "columns", Input(placeholder="(optional) prompt=text completion=label", id="import-map")
            )
            yield field_row(
                "template",
                Input(placeholder="(optional) Classify the sentiment: {text}", id="import-template"),
            )
            yield Static(Content(""), id="import-summary")
            yield SelectionList[str](id="import-rejects")
            yield Label(
                Content("enter dry run · space take a reject · e fix it · ctrl+s import · esc cancel"),
                classes="modal-help",
            )

    def on_mount(self) -> None:
        self.query_one("#import").styles.width = 110  # wider than the shell's modal box
        self.query_one("#import-files").focus()

    def _inputs(self) -> tuple[list[Path], ImportOptions]:
        files_text = self.query_one("#import-files", Input).value
        try:
            names = shlex.split(files_text)
        except ValueError as exc:
            raise BrewError(f"file names: {exc}") from None
        if not names:
            raise BrewError("name a file to import")
        maps = self.query_one("#import-map", Input).value.split()
        template = self.query_one("#import-template", Input).value or None
        base = Path.cwd()
        files = [
            Path(name).expanduser() if Path(name).expanduser().is_absolute() else base / name
            for name in names
        ]
        return files, ImportOptions.from_args(maps, template, None)

    def _say(self, text: str, error: bool = False) -> None:
        summary = self.query_one("#import-summary", Static)
        # the theme's error colour (a fixed "red" is the terminal's, unreadable on some themes)
        summary.update(Content.styled(text, "bold $error") if error else Content(text))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_dry_run()

    def action_dry_run(self) -> None:
        self._start(dry_run=True)

    def action_commit(self) -> None:
        if self.review.can_write("import"):
            self._start(dry_run=False)

    def _start(self, *, dry_run: bool) -> None:
        """Run the import in a thread: the dry run, or the commit of the dry run shown (with the marked rejects)."""
        if self.busy:
            return
        try:
            files, options = self._inputs()
        except BrewError as exc:
            self._say(str(exc), error=True)
            return
        if self.planned is not None and self.planned != (files, options):
            self.fixes.clear()  # they were for other files
        keep: list[str] = []
        if not dry_run:
            if self.result is None or self.planned != (files, options):
                self._say("run the dry run first (enter): it shows what would be taken", error=True)
                return
            keep = list(self.query_one("#import-rejects", SelectionList).selected)
        self.busy = True
        self._say("reading…" if dry_run else "importing…")
        self._run(files, options, dry_run=dry_run, keep=keep)

    @work(thread=True, exit_on_error=False, exclusive=True, group="import")
    def _run(self, files: list[Path], options: ImportOptions, *, dry_run: bool, keep: list[str]) -> None:
        try:
            result = run_import(self.project, files, options, dry_run=dry_run, keep=keep, fixes=self.fixes)
        except (BrewError, OSError) as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._done, result, (files, options))

    def _failed(self, message: str) -> None:
        self.busy = False
        self._say(visible_line(message), error=True)

    def _done(self, result: ImportResult, planned: tuple) -> None:
        self.busy = False
        if not result.dry_run:
            self.dismiss(result)
            return
        self.result, self.planned = result, planned
        self._say("\n".join(visible_line(line) for line in result.summary_lines(examples=0)))
        rejects = self.query_one("#import-rejects", SelectionList)
        rejects.clear_options()
        listed = 0
        for cause, group in result.by_reason().items():
            for reject in group:
                if listed >= LISTED:
                    break
                listed += 1
                rejects.add_option(_reject_option(cause, reject))
        if result.rejects:
            rejects.focus()

    def action_fix(self) -> None:
        """e on a reject: edit its prompt and completion (checked as the edit screen checks); the
        dry run then runs again with the fix, and the commit takes it."""
        from brewslm_tui.ui.review.modals import Edit, EditScreen

        rejects = self.query_one("#import-rejects", SelectionList)
        if self.busy or self.result is None or rejects.highlighted is None or not rejects.has_focus:
            return
        where = rejects.get_option_at_index(rejects.highlighted).value
        reject = next(r for r in self.result.rejects if r.where == where)
        row = reject.row or {}
        prompt, completion = str(row.get("prompt", "")), row.get("completion", "")
        completion = completion if isinstance(completion, str) else orjson.dumps(completion).decode()

        def done(edit: Edit | None) -> None:
            if edit is None:
                return
            self.fixes[where] = {
                "prompt": prompt if edit.prompt is None else edit.prompt,
                "completion": completion if edit.completion is None else edit.completion,
            }
            self.action_dry_run()

        self.app.push_screen(EditScreen.for_project(self.project, prompt, completion, f"Fix {where}"), done)

    def action_cancel(self) -> None:
        self.dismiss(None)


def field_row(label: str, field: Widget) -> Horizontal:
    """A labelled one-line field (a compact input keeps the dialog short enough for 24 rows)."""
    if hasattr(field, "compact"):
        field.compact = True
    row = Horizontal(Label(Content(label), classes="data-field-label"), field, classes="data-field")
    row.styles.height = "auto"
    return row


def _reject_option(cause: str, reject) -> Selection[str]:
    """One reject: its reason, where it is, and what was found; only a built row can be kept."""
    prompt = Text(no_wrap=True, overflow="ellipsis")
    prompt.append(visible_line(cause)[:22].ljust(22) + " ", "bold")
    prompt.append(visible_line(reject.where)[:24].ljust(24) + " ", "dim")
    prompt.append(visible_line(reject.detail))
    return Selection(prompt, reject.where, disabled=reject.row is None)
