"""Quitting with jobs running: leave them running (the default) or cancel them.

Jobs are processes of their own, so leaving them is safe: they finish, their rows land, and
the app shows them (and rings the bell) when it opens again. Dismisses with "leave",
"cancel", or None (escape: do not quit).

The keys are in `QuitWithJobsScreen`'s docstring.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from brewslm_tui.core.generation.job_record import JobRecord
from brewslm_tui.ui.jobs.job_format import plain

QuitChoice = Literal["leave", "cancel"]


class QuitWithJobsScreen(ModalScreen[QuitChoice | None]):
    """Ask what becomes of the running jobs when the app quits. enter presses the focused
    button ("leave running" at first).

    | Key(s) | Description |
    | :- | :- |
    | escape | Back to the app (do not quit). |
    | l | Leave the jobs running and quit. |
    | c | Cancel the jobs (their landed rows stay) and quit. |
    """

    HELP_GROUP = "Quit"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "choose(None)", "Back"),
        Binding("l", "choose('leave')", "Leave running"),
        Binding("c", "choose('cancel')", "Cancel jobs"),
    ]

    def __init__(self, running: list[JobRecord]) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        n = len(self.running)
        names = ", ".join(plain(r.playbook or r.run_id, 30) for r in self.running[:4])
        more = f" and {n - 4} more" if n > 4 else ""
        with Vertical(classes="modal-box -warning") as box:
            box.border_title = "Quit with jobs running?"
            yield Static(
                Content(
                    f"{n} job{'s' if n != 1 else ''} running: {names}{more}.\n"
                    + (
                        "Left running, it finishes on its own and the app shows it next time."
                        if n == 1
                        else "Left running, they finish on their own and the app shows them next time."
                    )
                )
            )
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel jobs (c)", id="quit-cancel", variant="error")
                yield Button("Leave running (enter)", id="quit-leave", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#quit-leave", Button).focus()

    @on(Button.Pressed, "#quit-leave")
    def _leave(self) -> None:
        self.dismiss("leave")

    @on(Button.Pressed, "#quit-cancel")
    def _cancel(self) -> None:
        self.dismiss("cancel")

    def action_choose(self, choice: QuitChoice | None) -> None:
        self.dismiss(choice)
