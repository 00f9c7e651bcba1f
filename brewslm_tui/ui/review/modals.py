"""Small modal screens: reason picker, confirmation, edit, label picker (restore: restore_dialog).

Each returns its answer through `dismiss(...)` (None = cancelled), so callers use
`push_screen(screen, callback)` and stay free of modal state. All user data shown here goes
through `Content`/`Text` built from plain strings, never through markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from brewslm_tui.core.project import Project
from brewslm_tui.core.text import visible
from brewslm_tui.ui.shell.text import literal
from brewslm_tui.ui.shell.textual_compat import bind_character


@dataclass
class Rejection:
    reason: str
    note: str | None = None


class ReasonPicker(ModalScreen[Rejection | None]):
    """The reasons as a list, with a note field: `x` then tab (the plain `x` asks in place, in
    the review pane), and the Runs tab's "drop all unapproved". One key picks the reason.

    The reason keys are bindings of this screen (not an on_key handler): keys typed ahead
    (arriving in one burst over a slow SSH link) are matched against the bindings of the
    screen that is active when they are handled, so they still pick the reason. They are bound
    when the screen is made, one per reason, so they are not in the table.

    | Key(s) | Description |
    | :- | :- |
    | escape | Cancel: nothing is rejected. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, reasons, count: int) -> None:
        super().__init__()
        self.reasons = list(reasons)
        self.count = count
        self.note_first = False
        for reason in self.reasons:
            if reason.key:
                bind_character(self, reason.key, f"pick({reason.code!r})", reason.code)

    def _title(self) -> Content:
        what = "this row" if self.count == 1 else f"{self.count:,} rows"
        return Content(f"Reject {what}: press a reason key")

    def prepare(self, count: int, note_first: bool = False) -> None:
        """Ready for the next use: the app installs one picker and shows it again and again
        (building and mounting a fresh one cost most of the time it took to appear)."""
        self.count = count
        self.note_first = note_first
        if self.is_mounted:
            self.query_one("#reason-title", Label).update(self._title())
            self.query_one(Input).value = ""
            self.query_one(OptionList).highlighted = None
            self._show_help()

    def on_screen_resume(self) -> None:
        self._focus_first()

    def _focus_first(self) -> None:
        (self.query_one(Input) if self.note_first else self.query_one(OptionList)).focus()

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-picker", classes="modal-box"):
            yield Label(self._title(), classes="modal-title", id="reason-title")
            options = []
            for reason in self.reasons:
                prompt = Text.assemble((f" {reason.key} ", "bold reverse"), " ", (reason.code, "bold"))
                if reason.title and reason.title.lower().replace(" ", "_") != reason.code.lower():
                    prompt.append("  " + visible(reason.title), "dim")
                options.append(Option(prompt, id=reason.code))
            # nothing highlighted: enter picks only a reason the user moved to (or typed the key of)
            yield OptionList(*options, id="reason-options")
            yield Input(
                placeholder="optional note (tab here, enter to go back to the reasons)", id="reason-note"
            )
            yield Label(Content(""), classes="modal-help", id="reason-help")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = None
        self._focus_first()

    def _show_help(self) -> None:
        """The key line says what the keys do where the focus is (the list or the note)."""
        if not self.is_mounted:
            return
        if self.query_one(Input).has_focus:
            words = "typing a note · enter: back to the reasons · esc cancels"
        else:
            words = "a reason key picks (or arrows, enter) · tab: note · esc cancels"
        self.query_one("#reason-help", Label).update(Content(words))

    def on_descendant_focus(self) -> None:
        self._show_help()

    def _note(self) -> str | None:
        return self.query_one(Input).value.strip() or None

    def action_pick(self, code: str) -> None:
        self.dismiss(Rejection(code, self._note()))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Rejection(str(event.option.id), self._note()))

    @on(Input.Submitted)
    def _note_done(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


REASON_PICKER = "reason-picker"


def pick_reason(
    app: App,
    project: Project,
    count: int,
    chosen: Callable[[Rejection | None], None],
    *,
    note_first: bool = False,
) -> None:
    """Show the reason picker for `count` rows; `chosen` gets a Rejection or None.

    One picker is installed on the app and shown again and again (building and mounting a
    fresh one cost most of the time it took to appear). `note_first`: the cursor starts in the
    note field (tab after `x`).
    """
    if not app.is_screen_installed(REASON_PICKER):
        app.install_screen(ReasonPicker(project.reject_reasons, count), name=REASON_PICKER)
    picker = app.get_screen(REASON_PICKER)
    assert isinstance(picker, ReasonPicker)
    picker.prepare(count, note_first=note_first)
    app.push_screen(REASON_PICKER, chosen)


class ConfirmScreen(ModalScreen[bool]):
    """y confirms; n, esc and enter (the cancel button has the focus) cancel. The summary is plain text.

    | Key(s) | Description |
    | :- | :- |
    | y | Yes. |
    | n, escape | No. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, title: str, summary: str, yes: str = "yes") -> None:
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="modal-box"):
            yield Label(literal(self.title_text), classes="modal-title")
            yield Static(literal(self.summary), id="confirm-summary")
            with Horizontal(classes="modal-buttons"):
                yield Button(Content(f"{self.yes} (y)"), variant="error", id="yes")
                yield Button(Content("cancel (n)"), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass
class Edit:
    prompt: str | None  # None = unchanged
    completion: str | None


class EditScreen(ModalScreen[Edit | None]):
    """e: edit prompt and completion; ctrl+s saves and approves. The store keeps the original.

    It opens on the completion (the field people fix); the field labels say in words which one
    has the focus, and the key line names the fields changed so far, so a prompt typed over by
    mistake is seen before it is saved.

    Control characters are shown as visible escapes here too (a TextArea would otherwise send
    them to the terminal); a field left untouched is reported as unchanged (None), so the
    escapes are only saved if the person edits that field.

    | Key(s) | Description |
    | :- | :- |
    | ctrl+s | Save and approve. |
    | ctrl+l | Pick a label from the project's labels. |
    | escape | Cancel: nothing is saved. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "save and approve", priority=True),
        Binding("ctrl+l", "pick_label", "pick a label", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(
        self,
        prompt: str,
        completion: str,
        title: str = "Edit and approve",
        save: str = "save and approve",
        check=None,
        labels=(),
    ) -> None:
        super().__init__()
        self.check = check  # (prompt, completion) -> problems: a save is refused while there are any
        self.labels = list(labels)  # a classification project's labels: picked from a list
        self.title_text = title
        self.save_words = save
        self.shown_prompt = visible(prompt)
        self.shown_completion = visible(completion)
        self.had_controls = self.shown_prompt != prompt or self.shown_completion != completion

    @classmethod
    def for_project(
        cls, project, prompt: str, completion: str, title: str, save: str = "save and approve"
    ) -> EditScreen:
        """An edit screen that refuses what the project's validator refuses (and picks labels)."""
        from brewslm_tui.core.generation.validate import validate_row

        return cls(
            prompt,
            completion,
            title,
            save,
            check=lambda p, c: validate_row(project, {"prompt": p, "completion": c}),
            labels=project.labels if project.task == "classification" else (),
        )

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea  # here, not at import: 35 ms off every start

        with Vertical(id="edit", classes="modal-box -large"):
            yield Label(literal(self.title_text), classes="modal-title")
            yield Label(Content("prompt"), classes="field-label", id="edit-prompt-label")
            yield TextArea(self.shown_prompt, id="edit-prompt", soft_wrap=True, show_line_numbers=False)
            yield Label(Content("completion"), classes="field-label", id="edit-completion-label")
            yield TextArea(
                self.shown_completion, id="edit-completion", soft_wrap=True, show_line_numbers=False
            )
            if self.had_controls:
                yield Label(
                    Content("control characters are shown as escapes; an edited field is saved as shown"),
                    classes="modal-warning",
                )
            problems = Label(Content(""), id="edit-problems", classes="modal-warning")
            problems.display = False  # shown when a save was refused
            yield problems
            yield Label(Content(""), classes="modal-help", id="edit-help")

    def on_mount(self) -> None:
        found = self.query("#edit-completion")
        if not found:
            return  # the app is quitting (a q typed just before e): nothing to show
        found.first().focus()
        self._show_state()

    def _changed(self) -> list[str]:
        from textual.widgets import TextArea

        prompt = self.query_one("#edit-prompt", TextArea).text
        completion = self.query_one("#edit-completion", TextArea).text
        return [
            name
            for name, now, shown in (
                ("prompt", prompt, self.shown_prompt),
                ("completion", completion, self.shown_completion),
            )
            if now != shown
        ]

    def _show_state(self) -> None:
        """Field labels: which one has the focus, in words. Key line: what ctrl+s will save."""
        if not self.query("#edit-help"):
            return  # not composed (or already taken down)
        for field in ("prompt", "completion"):
            focused = self.query_one(f"#edit-{field}").has_focus
            words = f"{field}  (editing; tab: the other field)" if focused else field
            self.query_one(f"#edit-{field}-label", Label).update(Content(words))
        changed = self._changed()
        what = "changed: " + ", ".join(changed) if changed else "nothing changed yet"
        picker = " · ctrl+l label" if self.labels else ""
        help_line = f"ctrl+s {self.save_words} ({what}){picker} · esc cancel"
        self.query_one("#edit-help", Label).update(Content(help_line))

    def on_descendant_focus(self) -> None:
        self._show_state()

    def on_text_area_changed(self) -> None:
        self._show_state()

    def action_pick_label(self) -> None:
        """ctrl+l (classification): the project's labels in a list; the one picked becomes the completion."""
        if not self.labels:
            return

        def picked(label: str | None) -> None:
            if label is not None:
                area = self.query_one("#edit-completion")
                area.text = label  # type: ignore[attr-defined]
                area.focus()

        self.app.push_screen(LabelPicker(self.labels), picked)

    def action_save(self) -> None:
        from textual.widgets import TextArea  # (imported by compose already; see there)

        prompt = self.query_one("#edit-prompt", TextArea).text
        completion = self.query_one("#edit-completion", TextArea).text
        problems = self.check(prompt, completion) if self.check else []
        if problems:  # refused: the text stays for the person to fix
            shown = self.query_one("#edit-problems", Label)
            shown.update(literal("not saved: " + "; ".join(map(str, problems))))
            shown.display = True
            return
        self.dismiss(
            Edit(
                prompt if prompt != self.shown_prompt else None,
                completion if completion != self.shown_completion else None,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


class LabelPicker(ModalScreen[str | None]):
    """The project's labels (ctrl+l in the edit screen): enter or the label's number picks it.

    The number keys (1 to 9) are bound when the screen is made, one per label, so they are not
    in the table.

    | Key(s) | Description |
    | :- | :- |
    | escape | Cancel. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        self.labels = labels
        for n, label in enumerate(labels[:9], start=1):
            bind_character(self, str(n), f"pick({n - 1})", label)

    def compose(self) -> ComposeResult:
        with Vertical(id="label-picker", classes="modal-box"):
            yield Label(Content("Pick a label"), classes="modal-title")
            numbered = [
                literal(f"{n}  {label}" if n <= 9 else f"   {label}")
                for n, label in enumerate(self.labels, 1)
            ]
            yield OptionList(*numbered, id="label-options")

    def on_mount(self) -> None:
        self.query_one("#label-options").focus()

    def action_pick(self, index: int) -> None:
        self.dismiss(self.labels[index])

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.labels[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
