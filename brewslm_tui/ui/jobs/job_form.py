"""The new-job form: pick a playbook, a count and a seed; nothing starts until it all checks out.

Playbooks come from `load_playbooks(project)`, read when the form opens (so a playbook edited
in another window shows up without restarting). Each is listed with its generator, default
count and description; a broken playbook file is listed greyed with its first error (file and
key) and cannot be picked, so a user sees why a playbook is missing instead of wondering. The
playbook last started is highlighted first; the list stops at its ends (no wrap-around).

Count blank = the playbook's default, else a positive whole number. The seed field holds the
playbook's pinned seed, or else a fresh random one (so every run differs unless asked, and the
seed is in view to be noted or changed). Returns `{"playbook", "count", "seed"}` or None.

The keys are in `NewJobScreen`'s docstring.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from brewslm_tui.core.generation.playbooks import Playbook, load_playbooks
from brewslm_tui.ui.jobs.job_format import plain
from brewslm_tui.ui.jobs.no_wrap_list import NoWrapOptionList
from brewslm_tui.ui.shell.text import counted

MAX_COUNT = 10_000_000


def parse_job_form(count_text: str, seed_text: str) -> tuple[dict[str, int | None], list[str]]:
    """Validate the two fields; returns ({count, seed}, problems)."""
    problems: list[str] = []
    values: dict[str, int | None] = {"count": None, "seed": None}
    count_text, seed_text = count_text.strip().replace("_", ""), seed_text.strip()
    if count_text:
        try:
            count = int(count_text)
        except ValueError:
            problems.append(f"count: {plain(count_text, 20)!r} is not a whole number")
        else:
            if count < 1 or count > MAX_COUNT:
                problems.append(f"count: must be between 1 and {MAX_COUNT:,}")
            else:
                values["count"] = count
    if seed_text:
        try:
            values["seed"] = int(seed_text)
        except ValueError:
            problems.append(f"seed: {plain(seed_text, 20)!r} is not a whole number (blank = random)")
    return values, problems


def playbook_prompt(book: Playbook, width: int = 60) -> Content:
    head = Content.assemble(
        (plain(book.name, 40), "bold"), "  ", (f"{book.generator} · {counted(book.count)}", "$text-muted")
    )
    if book.description:
        return Content("\n").join([head, Content.styled(plain(book.description, width), "$text-muted")])
    return head


class NewJobScreen(ModalScreen[dict | None]):
    """Start a generation job. enter (on the list or in a field) starts it too; tab moves
    between the list and the fields.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close without starting. |
    | ctrl+s | Start the job. |
    """

    HELP_GROUP = "New job"

    DEFAULT_CSS = """
    NewJobScreen OptionList {
        height: auto;
        max-height: 12;
        min-height: 3;
    }
    NewJobScreen .fields {
        height: auto;
    }
    NewJobScreen .fields Vertical {
        height: auto;
        width: 1fr;
    }
    NewJobScreen Input {
        width: 1fr;
    }
    NewJobScreen #job-form-errors {
        color: $error;
        height: auto;
    }
    NewJobScreen .buttons {
        height: auto;
        align-horizontal: right;
    }
    NewJobScreen Button {
        margin-left: 1;
        min-width: 10;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "start", "Start job"),
    ]

    def __init__(self, project: Any, *, playbook: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.books, self.broken = load_playbooks(project)
        self.initial = playbook
        self._filled_seed = ""  # the seed this form put in the field (not the user's own)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = "New job"
            options: list[Option] = [
                Option(playbook_prompt(b), id=f"book-{i}") for i, b in enumerate(self.books)
            ]
            for i, error in enumerate(self.broken):
                first = next((line for line in str(error).splitlines() if line.strip()), "")
                options.append(
                    Option(
                        Content.styled(plain(first, 200), "$text-disabled"), id=f"broken-{i}", disabled=True
                    )
                )
            yield Label("Playbook")
            yield NoWrapOptionList(*options, id="job-form-playbooks", markup=False)
            with Horizontal(classes="fields"):
                with Vertical():
                    yield Label("Count")
                    yield Input(id="job-form-count", placeholder="default")
                with Vertical():
                    yield Label("Seed")
                    yield Input(id="job-form-seed", placeholder="a whole number")
            yield Static("", id="job-form-errors")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="job-form-cancel")
                yield Button("Start", id="job-form-start", variant="primary")

    def on_mount(self) -> None:
        found = self.query("#job-form-playbooks")
        if not found:  # pushed while the app is shutting down: nothing was composed
            return
        playbooks = found.first(OptionList)
        if not self.books:
            self._show_problems(
                [f"no playbooks in {plain(self.project.playbooks_dir, 60)}: add a playbooks/*.toml file"]
                if not self.broken
                else ["every playbook file has an error (listed above): fix one to start a job"]
            )
            self.query_one("#job-form-start", Button).disabled = True
        index = 0
        if self.initial is not None:
            index = next((i for i, b in enumerate(self.books) if b.name == self.initial), 0)
        if self.books:
            playbooks.highlighted = index
            self._show_defaults(self.books[index])
        playbooks.focus()

    @property
    def chosen(self) -> Playbook | None:
        option = self.query_one("#job-form-playbooks", OptionList).highlighted_option
        if option is None or not option.id or not option.id.startswith("book-"):
            return None
        return self.books[int(option.id.removeprefix("book-"))]

    def _show_defaults(self, book: Playbook) -> None:
        """The count's placeholder, and the seed: the playbook's pinned one or a fresh one (a
        seed the user typed is kept)."""
        self.query_one("#job-form-count", Input).placeholder = f"default {book.count}"
        seed = self.query_one("#job-form-seed", Input)
        if seed.value and seed.value != self._filled_seed:
            return
        fresh = book.seed if book.seed is not None else random.SystemRandom().randrange(2**31)
        self._filled_seed = seed.value = str(fresh)

    def _show_problems(self, problems: list[str]) -> None:
        self.query_one("#job-form-errors", Static).update(Content("\n".join(problems)))

    @on(OptionList.OptionHighlighted, "#job-form-playbooks")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        book = self.chosen
        if book is not None:
            self._show_defaults(book)

    @on(OptionList.OptionSelected, "#job-form-playbooks")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_start()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    @on(Button.Pressed, "#job-form-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#job-form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()

    def action_start(self) -> None:
        book = self.chosen
        values, problems = parse_job_form(
            self.query_one("#job-form-count", Input).value, self.query_one("#job-form-seed", Input).value
        )
        if book is None:
            problems.insert(0, "pick a playbook first")
        if problems or book is None:
            self._show_problems(problems)
            return
        self.dismiss({"playbook": book.name, "count": values["count"], "seed": values["seed"]})

    def action_close(self) -> None:
        self.dismiss(None)
