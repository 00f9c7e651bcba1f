"""`C` in a flat review list: which columns it shows after the prompt."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList

from brewslm_tui.ui.review.sorting import COLUMNS
from brewslm_tui.ui.shell.movement import MovingSelectionList

COLUMN_WORDS = {
    "completion": "completion",
    "run": "run (its distinguishing tail)",
    "playbook": "playbook",
    "created": "created (date and time)",
    "length": "length (the row's stored size)",
}


class ColumnPicker(ModalScreen[list[str] | None]):
    """space ticks a column, enter applies, esc cancels. The prompt is always shown.

    | Key(s) | Description |
    | :- | :- |
    | space | Show or hide the highlighted column. |
    | enter | Apply. |
    | escape | Cancel. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "apply", "apply", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, shown) -> None:
        super().__init__()
        self.shown = tuple(shown)

    def compose(self) -> ComposeResult:
        with Vertical(id="column-picker", classes="modal-box"):
            yield Label(Content("Columns shown after the prompt"), classes="modal-title")
            yield MovingSelectionList(
                *[(Content(COLUMN_WORDS[c]), c, c in self.shown) for c in COLUMNS], id="column-options"
            )
            yield Label(Content("space show / hide · enter apply · esc cancel"), classes="modal-help")

    def on_mount(self) -> None:
        self.query_one("#column-options").focus()

    def action_apply(self) -> None:
        self.dismiss([str(c) for c in self.query_one("#column-options", SelectionList).selected])

    def action_cancel(self) -> None:
        self.dismiss(None)
