"""`C` in a flat review list: which columns it shows after the prompt."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from brewslm_tui.ui.review.sorting import COLUMNS
from brewslm_tui.ui.shell.movement import OPTION_MOVES

COLUMN_WORDS = {
    "completion": "completion",
    "run": "run (its distinguishing tail)",
    "playbook": "playbook",
    "created": "created (date and time)",
    "length": "length (the row's stored size)",
}


class ColumnOptions(OptionList):
    """The columns, each "[x] name" or "[ ] name": shown or not is a mark, not only a colour
    (Textual's SelectionList draws the same X for both).

    | Key(s) | Description |
    | :- | :- |
    | j | Cursor down. |
    | k | Cursor up. |
    | g | The first column. |
    | G | The last column. |
    | space | Show or hide the highlighted column. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *OPTION_MOVES,
        Binding("space", "toggle_column", "show / hide", show=False),
    ]

    def __init__(self, shown, **kwargs) -> None:
        self.shown = set(shown)
        super().__init__(*[Option(self._prompt(c), id=c) for c in COLUMNS], **kwargs)

    def _prompt(self, column: str) -> Content:
        return Content(("[x] " if column in self.shown else "[ ] ") + COLUMN_WORDS[column])

    def action_toggle_column(self) -> None:
        index = self.highlighted
        if index is None:
            return
        column = COLUMNS[index]
        self.shown.symmetric_difference_update({column})
        self.replace_option_prompt_at_index(index, self._prompt(column))


class ColumnPicker(ModalScreen[list[str] | None]):
    """space ticks a column (`ColumnOptions`), enter applies, esc cancels. The prompt is always shown.

    | Key(s) | Description |
    | :- | :- |
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
            yield ColumnOptions(self.shown, id="column-options")
            yield Label(Content("space show / hide · enter apply · esc cancel"), classes="modal-help")

    def on_mount(self) -> None:
        options = self.query_one("#column-options", ColumnOptions)
        options.highlighted = 0
        options.focus()

    def action_apply(self) -> None:
        shown = self.query_one("#column-options", ColumnOptions).shown
        self.dismiss([c for c in COLUMNS if c in shown])

    def action_cancel(self) -> None:
        self.dismiss(None)
