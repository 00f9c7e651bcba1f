"""The Quarantine screen (`Q`, or the palette's "Quarantined lines"): every line that could not
be loaded and sits in `.brewslm/quarantine/`, until the user puts a fixed line back or says it
can go. The same calls as `brewslm-tui quarantine` (`core.store.quarantine`): a restore is
validated like any row at an edge, a discard asks first; both are recorded in the quarantine's
index, so the header's count drops only once that is on disk.

A quarantined line is untrusted bytes (often not even valid UTF-8): shown literally, never as
markup, control characters visible. The edit field starts with the line as text, with every
character a terminal must not receive written as its JSON escape (`\\u001b`), which means
the same inside a JSON string; left as it is, the line is put back byte for byte.

The list is read in a thread worker (a slow disk never holds a key). A restore or a discard
compacts the store (as the CLI does) on the event loop: the screen is modal, nothing else
touches the store meanwhile.

The keys are in the docstrings of `QuarantineScreen` and `QuarantineTable`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.store import quarantine
from brewslm_tui.core.store.quarantine import QuarantinedLine
from brewslm_tui.core.text import _DANGEROUS, visible, visible_line
from brewslm_tui.ui.review.modals import ConfirmScreen
from brewslm_tui.ui.shell.header import HeaderBar
from brewslm_tui.ui.shell.movement import TABLE_MOVES
from brewslm_tui.ui.shell.text import counted

EDIT_LIMIT = 64 * 1024  # a longer line is not loaded into an edit field (put back as is, or the CLI)
SHOWN_BYTES = 2000  # of the highlighted line, in full view
PREVIEW_CHARS = 72


@dataclass(frozen=True)
class Entry:
    """A quarantined line as the screen shows it: its head read once, in the loading thread."""

    line: QuarantinedLine
    head: bytes  # the first EDIT_LIMIT + 1 bytes
    error: str | None = None  # the raw copy could not be read

    @property
    def text(self) -> str:
        return self.head[:EDIT_LIMIT].decode("utf-8", errors="replace")

    def location(self, root: Any) -> str:
        """FILE:LINE with FILE relative to the project folder (the line's own words otherwise)."""
        try:
            return f"{self.line.file.relative_to(root)}:{self.line.line}"
        except ValueError:
            return self.line.location

    @property
    def editable(self) -> bool:
        return self.error is None and self.line.size <= EDIT_LIMIT


def json_escaped(text: str) -> str:
    """`text` with every character `visible` would escape (and tab) as a JSON `\\uXXXX` escape
    (a surrogate pair above U+FFFF): inside a JSON string it means the same, and an edit field
    can show it without handing the terminal a control character. Outside strings, a tab or a
    carriage return is JSON whitespace: it becomes a space, which is whitespace too."""
    out = []
    in_string = escaped = False
    for ch in text:
        code = ord(ch)
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        if code not in _DANGEROUS and code != 0x09:
            out.append(ch)
        elif not in_string and code in (0x09, 0x0D):
            out.append(" ")
        elif code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def load_entries(state_dir: Any) -> list[Entry]:
    """The outstanding lines with their heads (run in a thread)."""
    entries = []
    for line in quarantine.outstanding(state_dir):
        try:
            head = _head(line)
        except (OSError, BrewError) as exc:
            entries.append(Entry(line, b"", error=str(exc)))
            continue
        entries.append(Entry(line, head))
    return entries


def _head(line: QuarantinedLine) -> bytes:
    """The first bytes only (a quarantined line may be megabytes); never through a symlink,
    never blocking on a FIFO (`outstanding` lists regular files only, checked again here)."""
    fd = os.open(line.raw_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise BrewError(f"{line.raw_path}: not a regular file; left alone")
        return f.read(EDIT_LIMIT + 1)


def preview(entry: Entry) -> str:
    if entry.error is not None:
        return f"(unreadable: {entry.error})"
    text = entry.head[: PREVIEW_CHARS * 4].decode("utf-8", errors="replace")
    cut = visible_line(text)[:PREVIEW_CHARS]
    return cut + ("…" if entry.line.size > len(cut.encode()) else "")


class QuarantineTable(DataTable):
    """The quarantined lines; only here for the movement keys and the Footer's `enter`.

    | Key(s) | Description |
    | :- | :- |
    | enter | Edit the highlighted line. |
    | j | Cursor down. |
    | k | Cursor up. |
    | g, home | The first line. |
    | G, end | The last line. |
    """

    HELP_GROUP = "Quarantine"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Edit line"), *TABLE_MOVES]


class QuarantineScreen(ModalScreen[None]):
    """The quarantined lines (see the module docstring). enter in the field puts the line back.

    | Key(s) | Description |
    | :- | :- |
    | ctrl+s | Put the line in the field back. |
    | D | Discard the highlighted line (asks first). |
    | escape | The list again (from the field), then close. |
    """

    HELP_GROUP = "Quarantine"

    DEFAULT_CSS = """
    QuarantineScreen #q-table {
        height: 1fr;
        min-height: 3;
    }
    QuarantineScreen #q-raw {
        height: auto;
        max-height: 8;
        overflow-y: auto;
        border-top: solid $panel;
    }
    QuarantineScreen #q-message {
        height: auto;
    }
    QuarantineScreen #q-message.-error {
        color: $error;
    }
    QuarantineScreen .hint {
        color: $foreground-muted;
        height: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "restore", "Put the fixed line back", priority=True),
        Binding("D", "discard", "Discard the line…"),
        Binding("escape", "back", "Close"),
    ]

    def __init__(
        self,
        project: Any,
        store: Any,
        *,
        can_write: Callable[[str], bool] | None = None,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        super().__init__()
        self.project = project
        self.store = store
        self.can_write = can_write or (lambda what: True)
        self.on_change = on_change
        self.entries: list[Entry] = []
        self._prefill = ""  # the field's text as loaded: unchanged means "the bytes as they are"
        self._wanted: str | None = None  # the raw file to highlight after a reload

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box -large") as box:
            box.border_title = "Quarantined lines"
            yield Static(Content("reading .brewslm/quarantine/ …"), id="q-summary")
            table = QuarantineTable(id="q-table", cursor_type="row", zebra_stripes=True)
            for label in ("line", "reason", "bytes", "preview"):
                table.add_column(label)
            yield table
            yield Static(Content(""), id="q-raw")
            yield Input(id="q-fix", placeholder="the fixed line (JSON)", disabled=True)
            yield Static(Content(""), id="q-message")
            yield Static(Content("esc close"), classes="hint", id="q-hint")

    def on_mount(self) -> None:
        self.query_one(QuarantineTable).focus()
        self.reload()

    # --- loading ----------------------------------------------------------------------------

    def reload(self) -> None:
        state_dir = self.project.state_dir
        self.run_worker(lambda: load_entries(state_dir), thread=True, group="q-load", exit_on_error=False)

    @on(Worker.StateChanged)
    def _loaded(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "q-load" or not event.worker.is_finished:
            return
        event.stop()
        if event.state != WorkerState.SUCCESS:
            self._say(visible_line(f"could not read the quarantine: {event.worker.error}"), error=True)
            return
        self.show_entries(list(event.worker.result or []))

    def show_entries(self, entries: list[Entry]) -> None:
        self.entries = entries
        table = self.query_one(QuarantineTable)
        table.clear()
        for entry in entries:
            table.add_row(
                Text(visible_line(entry.location(self.project.root)), no_wrap=True),
                Text(visible_line(entry.line.reason)),
                Text(f"{entry.line.size:,}", justify="right"),
                Text(preview(entry), style="dim"),
                key=entry.line.raw_path.name,
            )
        where = ".brewslm/quarantine/"
        if entries:
            them = "it" if len(entries) == 1 else "them"
            summary = (
                f"{counted(len(entries), 'quarantined line')} in {where}: only the quarantine holds {them}."
                " Put a fixed line back, or discard one."
            )
        else:
            summary = f"No quarantined lines in {where}: nothing to put back."
        self.query_one("#q-summary", Static).update(Content(summary))
        # the key line offers only what works: nothing but esc when there is no line
        self.query_one("#q-hint", Static).update(
            Content("enter edit · ctrl+s put back · D discard · esc close" if entries else "esc close")
        )
        self.query_one(QuarantineTable).display = bool(entries)
        self.query_one("#q-fix", Input).display = bool(entries)
        self.refresh_bindings()
        names = [e.line.raw_path.name for e in entries]
        if self._wanted in names:
            table.move_cursor(row=names.index(self._wanted), animate=False)
        self._wanted = None
        self._show_selected()

    # --- the highlighted line ---------------------------------------------------------------

    @property
    def selected(self) -> Entry | None:
        table = self.query_one(QuarantineTable)
        row = table.cursor_row
        if not self.entries or row is None or not 0 <= row < len(self.entries):
            return None
        return self.entries[row]

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_selected()

    def _show_selected(self) -> None:
        entry = self.selected
        raw = self.query_one("#q-raw", Static)
        field = self.query_one("#q-fix", Input)
        if entry is None:
            raw.update(Content(""))
            field.value, field.disabled, self._prefill = "", True, ""
            return
        if entry.error is not None:
            raw.update(
                Content(f"{visible(entry.location(self.project.root))}: unreadable ({visible(entry.error)})")
            )
            field.value, field.disabled, self._prefill = "", True, ""
            return
        text = entry.head[:SHOWN_BYTES].decode("utf-8", errors="replace")
        more = entry.line.size - min(entry.line.size, SHOWN_BYTES)
        raw.update(
            Content.assemble(
                (f"{visible(entry.location(self.project.root))}: {visible(entry.line.reason)}\n", "bold"),
                visible(text),
                (f" … ({more:,} more bytes)" if more > 0 else "", "$text-muted"),
            )
        )
        if entry.editable:
            self._prefill = json_escaped(entry.text)
            field.value, field.disabled = self._prefill, False
            field.cursor_position = 0
        else:
            self._prefill = ""
            field.value, field.disabled = "", True
            self._say(
                f"{visible(entry.location(self.project.root))} is {entry.line.size:,} bytes, too long to edit here: ctrl+s"
                f" puts it back as it is; to fix it, `brewslm-tui quarantine PROJECT --restore"
                f" {entry.line.id} --from FILE`"
            )

    @on(DataTable.RowSelected)
    def _edit(self, event: DataTable.RowSelected) -> None:
        event.stop()
        field = self.query_one("#q-fix", Input)
        if not field.disabled:
            field.focus()

    @on(Input.Submitted, "#q-fix")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_restore()

    # --- actions ----------------------------------------------------------------------------

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(QuarantineTable).focus()
        else:
            self.dismiss(None)

    def action_restore(self) -> None:
        """Put the field's line back (the quarantined bytes themselves when it was not changed)."""
        entry = self.selected
        if entry is None:
            self._say("no quarantined line to put back")
            return
        if entry.error is not None or not self.can_write("put a quarantined line back"):
            return
        value = self.query_one("#q-fix", Input).value
        text = (
            None if not entry.editable or value == self._prefill else value.encode("utf-8", "surrogatepass")
        )
        try:
            _line, where = quarantine.restore(self.project, entry.line.raw_path.name, text, store=self.store)
        except (BrewError, OSError, UnicodeError) as exc:
            self._say(visible_line(_one_line(exc)), error=True)
            return
        self._done(f"put back {entry.location(self.project.root)} as {where}")

    def action_discard(self) -> None:
        entry = self.selected
        if entry is None:
            self._say("no quarantined line to discard")
            return
        if not self.can_write("discard a quarantined line"):
            return
        name = entry.line.raw_path.name

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                line = quarantine.discard(self.project, name, store=self.store)
            except (BrewError, OSError) as exc:
                self._say(visible_line(_one_line(exc)), error=True)
                return
            self._done(
                f"discarded {entry.location(self.project.root)}; its bytes stay in .brewslm/quarantine/{line.raw_path.name}"
            )

        self.app.push_screen(
            ConfirmScreen(
                "Discard a quarantined line?",
                f"{entry.location(self.project.root)} ({entry.line.reason}) stops being counted and a compaction takes it"
                f" out of {entry.line.file.name}; its bytes stay in the quarantine folder as a record."
                f"\n\n{preview(entry)}",
                yes="discard",
            ),
            answered,
        )

    def _done(self, what: str) -> None:
        """After a restore or a discard (on disk now): say so, catch the app and header up, reload."""
        current = self.selected
        names = [e.line.raw_path.name for e in self.entries]
        if current is not None and current.line.raw_path.name in names:
            k = names.index(current.line.raw_path.name)
            rest = names[k + 1 : k + 2] or names[max(k - 1, 0) : k]  # the next line, else the one before
            self._wanted = rest[0] if rest else None
        self._say(visible_line(what))
        self.notify(visible_line(what), timeout=6, markup=False)
        if self.on_change is not None:
            self.on_change()
        for header in self.app.query(HeaderBar):
            header.recount_quarantine()
        self.query_one(QuarantineTable).focus()
        self.reload()

    def _say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#q-message", Static)
        message.update(Content(text))
        message.set_class(error, "-error")


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
    return text.splitlines()[0]
