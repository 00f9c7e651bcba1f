"""The "Export candidates…" dialog: the options of `brewslm-tui export`, the same core call.

The export reads the project through its own read-only store (every decision made in this
window is already in the journal), in a thread, and writes atomically; errors (an invalid
row, an output path that is one of the project's files) are shown here and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Select, Static

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.export import (
    FORMATS,
    ExportOptions,
    ExportReport,
    InvalidRowsError,
    export,
    parse_split,
)
from brewslm_tui.core.text import visible_line
from brewslm_tui.ui.data.import_screen import field_row

INVALID_SHOWN = 8


class MarkedCheckbox(Checkbox):
    """A checkbox whose mark says its state: `X` when on, a blank when off (Textual draws the
    X in both states, on and off differing only by colour: `▐X▌` and `▐X▌`)."""

    BUTTON_INNER = " "  # the state at construction is off; on_mount sets it from the value

    def watch_value(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        super().watch_value()
        self.refresh()

    def on_mount(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "


class ExportScreen(ModalScreen[ExportReport | None]):
    """Output, format, system message, split and seed, fields; ctrl+s (or enter in a field) exports.

    | Key(s) | Description |
    | :- | :- |
    | ctrl+s | Export with the options shown. |
    | escape | Close without exporting. |
    """

    DEFAULT_CSS = """
    ExportScreen .data-field { height: auto; }
    ExportScreen .data-field-label { width: 10; }
    ExportScreen #export-result { height: auto; margin-top: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "export", "export", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="export", classes="modal-box"):
            yield Label(Content("Export candidates (imported + approved rows)"), classes="modal-title")
            yield field_row("output", Input(placeholder="a file; a folder with a split", id="export-output"))
            yield field_row(
                "format",
                Select(
                    [(Content(f), f) for f in FORMATS],
                    value=FORMATS[0],
                    allow_blank=False,
                    id="export-format",
                ),
            )
            yield field_row("system", Input(placeholder="(messages only, optional)", id="export-system"))
            yield field_row(
                "split", Input(placeholder="(optional) train=0.9,validation=0.1", id="export-split")
            )
            yield field_row("seed", Input(placeholder="0", id="export-seed", type="integer"))
            yield MarkedCheckbox(
                Content("only prompt and completion (no provenance fields)"),
                id="export-minimal",
                compact=True,
            )
            yield MarkedCheckbox(
                Content("export rows that do not fit the project too"), id="export-invalid", compact=True
            )
            yield Static(Content(""), id="export-result")
            yield Label(Content("ctrl+s export · tab next field · esc cancel"), classes="modal-help")

    def on_mount(self) -> None:
        self.query_one("#export").styles.width = 90  # wider than the shell's modal box
        self.query_one("#export-output").focus()

    def _options(self) -> tuple[Path, ExportOptions]:
        value = self.query_one("#export-output", Input).value.strip()
        if not value:
            raise BrewError("name an output file (or a folder, with a split)")
        out = Path(value).expanduser()
        split_text = self.query_one("#export-split", Input).value.strip()
        seed_text = self.query_one("#export-seed", Input).value.strip()
        options = ExportOptions(
            format=str(self.query_one("#export-format", Select).value),
            system=self.query_one("#export-system", Input).value or None,
            minimal=self.query_one("#export-minimal", Checkbox).value,
            split=parse_split(split_text) if split_text else None,
            seed=int(seed_text) if seed_text else 0,
            allow_invalid=self.query_one("#export-invalid", Checkbox).value,
        )
        return out, options

    def _say(self, text: str, error: bool = False) -> None:
        # the theme's error colour (a fixed "red" is the terminal's, unreadable on some themes)
        self.query_one("#export-result", Static).update(
            Content.styled(text, "bold $error") if error else Content(text)
        )

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_export()

    def action_export(self) -> None:
        if self.busy:
            return
        try:
            out, options = self._options()
        except (BrewError, ValueError) as exc:
            self._say(str(exc), error=True)
            return
        self.busy = True
        self._say("exporting…")
        self._run(out, options)

    @work(thread=True, exit_on_error=False, exclusive=True, group="export")
    def _run(self, out: Path, options: ExportOptions) -> None:
        from brewslm_tui.core.store.store import Store

        try:
            with Store.open(self.project, readonly=True) as store:
                report = export(store, out, options)
        except InvalidRowsError as exc:
            lines = [str(exc), *(f"  {row}" for row in exc.rows[:INVALID_SHOWN])]
            if len(exc.rows) > INVALID_SHOWN:
                lines.append(f"  … and {len(exc.rows) - INVALID_SHOWN} more (brewslm-tui check lists them)")
            self.app.call_from_thread(self._failed, "\n".join(lines))
            return
        except (BrewError, OSError) as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._done, report)

    def _failed(self, message: str) -> None:
        self.busy = False
        self._say(
            visible_line(message)
            if "\n" not in message
            else "\n".join(map(visible_line, message.split("\n"))),
            error=True,
        )

    def _done(self, report: ExportReport) -> None:
        self.busy = False
        self.dismiss(report)

    def action_cancel(self) -> None:
        self.dismiss(None)


def export_summary(report: ExportReport) -> str:
    where = report.manifest.parent if report.manifest is not None else ""
    files = ", ".join(f"{f.split or f.path.name} {f.rows:,}" for f in report.files)
    return f"exported {report.total:,} rows ({files}) with manifest.json in {where}"
