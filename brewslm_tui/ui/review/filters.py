"""What a review tab is filtered by (`Filters`) and the `/` screen that asks for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from brewslm_tui.ui.shell.text import literal


@dataclass
class Filters:
    """What a review view is filtered by (None = any)."""

    text: str | None = None
    run: str | None = None
    playbook: str | None = None
    label: str | None = None

    def active(self) -> bool:
        return any((self.text, self.run, self.playbook, self.label))

    def kwargs(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}

    def describe(self) -> str:
        parts = [f"{k} {v!r}" if k == "text" else f"{k} {v}" for k, v in self.kwargs().items()]
        return " · ".join(parts)


class ApplyingSelect(Select):
    """A Select on which `enter` applies the filter while its menu is closed (Textual's opens
    the menu again); `space` and the arrows still open it, and `enter` in the open menu picks."""

    def on_key(self, event: events.Key) -> None:
        if event.key == "enter" and not self.expanded and isinstance(self.screen, FilterScreen):
            event.stop()
            event.prevent_default()
            self.screen.action_apply()


class FilterScreen(ModalScreen[Filters | None]):
    """/: filter a review view by text, run, playbook and label. Enter applies, esc cancels.

    | Key(s) | Description |
    | :- | :- |
    | escape | Cancel: the filter stays as it was. |
    | ctrl+s | Apply. |
    | ctrl+r | Clear every field. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+s", "apply", "apply", priority=True),
        Binding("ctrl+r", "clear", "clear all", priority=True),
    ]

    def __init__(self, current: Filters, runs: list[str], playbooks: list[str], labels: list[str]) -> None:
        super().__init__()
        self.current = current
        self.runs = runs
        self.playbooks = playbooks
        self.labels = labels

    def _select(self, values: list[str], value: str | None, id: str, prompt: str) -> Select:
        options = [(literal(v), v) for v in values]
        return ApplyingSelect(
            options, prompt=prompt, value=value if value in values else Select.NULL, id=id, allow_blank=True
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="filter", classes="modal-box"):
            yield Label(Content("Filter"), classes="modal-title")
            yield Input(self.current.text or "", placeholder="text in prompt or completion", id="filter-text")
            yield self._select(self.runs, self.current.run, "filter-run", "any run")
            yield self._select(self.playbooks, self.current.playbook, "filter-playbook", "any playbook")
            if self.labels:
                yield self._select(self.labels, self.current.label, "filter-label", "any label")
            yield Label(
                Content("enter apply · space menu · ctrl+r clear all · tab next · esc cancel"),
                classes="modal-help",
            )

    def on_mount(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def _value(self, id: str) -> str | None:
        found = self.query(f"#{id}")
        if not found:
            return None
        value = found.first(Select).value
        return None if value is Select.NULL or value == Select.NULL else str(value)

    @on(Input.Submitted)
    def action_apply(self) -> None:
        text = self.query_one("#filter-text", Input).value.strip() or None
        self.dismiss(
            Filters(
                text, self._value("filter-run"), self._value("filter-playbook"), self._value("filter-label")
            )
        )

    def action_clear(self) -> None:
        self.dismiss(Filters())

    def action_cancel(self) -> None:
        self.dismiss(None)
