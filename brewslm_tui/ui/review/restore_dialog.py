"""The restore dialog (`R` in Rejected): dropped rows as a row list, with a detail pane.

The same `RowList` as the review tabs (its shared prompt prefix elided, `[x]` vs `[ ]` marks,
space to mark, every movement key), over the dropped rows held in memory, and the same detail
pane: the row in full with when it was dropped and why. The rows are read (this session's
drops, then `dropped.jsonl` from its end) in a thread worker: a big file never stalls a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label
from textual.worker import Worker, WorkerState

from brewslm_tui.core.rows import DROPPED
from brewslm_tui.core.text import visible_line
from brewslm_tui.ui.review.review_views import DetailPane, describe_row
from brewslm_tui.ui.review.row_list import RowList

DROPPED_LIMIT = 1000  # the newest ones listed; the title says how many there are in all


@dataclass
class DroppedEntry:
    row_id: str
    reason: str | None
    row: dict = field(default_factory=dict)  # the row as stored (prompt, completion, provenance)
    dropped_at: str | None = None  # None: dropped this session, stamped when compacted

    @property
    def prompt(self) -> str:
        return str(self.row.get("prompt", ""))

    @property
    def completion(self) -> str:
        return str(self.row.get("completion", ""))


def dropped_entries(store, limit: int = DROPPED_LIMIT) -> tuple[list[DroppedEntry], int]:
    """Dropped rows, newest first (this session's drops, then dropped.jsonl from its end), at
    most `limit` of them, and how many there are in all. Reads dropped.jsonl: run it in a
    thread, not on the event loop (one C-speed scan of the status column, `limit` row parses)."""
    entries: list[DroppedEntry] = []
    live: list[int] = []
    code = bytes([DROPPED])
    pos = store.status.rfind(code)
    while pos >= 0:
        live.append(pos)
        pos = store.status.rfind(code, 0, pos)
    total = len(live) + len(store.dropped) - store.restored_count
    for slot in live[:limit]:
        row = store.row(slot)
        entries.append(DroppedEntry(store.id_of(slot), store.reason_of(slot), row, row.get("dropped_at")))
    j = len(store.dropped) - 1
    while j >= 0 and len(entries) < limit:
        row_id = store.dropped.id_of(j)
        if store.restored_slot(row_id) is None:
            row = store.dropped.row(j)
            entries.append(DroppedEntry(row_id, store.dropped.reason_of(j), row, row.get("dropped_at")))
        j -= 1
    return entries, total


class DroppedRowsSource:
    """What a `RowList` reads of a store, over the dropped entries in memory (they never change
    while the dialog is open: it is modal)."""

    version = 0
    kept_rows: tuple[int, int, int] | None = None  # never swapped

    def __init__(self, entries: list[DroppedEntry]) -> None:
        self.entries = entries
        self.status = bytes([DROPPED]) * len(entries)

    def row(self, index: int) -> dict:
        return self.entries[index].row

    def reason_of(self, index: int) -> str | None:
        return self.entries[index].reason

    def changed_since(self, version: int) -> list[int]:
        return []

    def raw_line(self, index: int) -> bytes | None:
        """No line on disk to size: the length column is left blank."""
        return None


class EveryEntry:
    """The view face of a `RowList`: every entry, in order (position = index)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, position: int) -> int:
        if not 0 <= position < self.count:
            raise IndexError(position)
        return position

    def position_of(self, index: int) -> int | None:
        return index if 0 <= index < self.count else None

    def nearest_position(self, index: int) -> int | None:
        return min(index, self.count - 1) if self.count else None

    def sync(self) -> None:
        """Nothing arrives or leaves while the dialog is open."""


def describe_dropped(entry: DroppedEntry, project) -> Text:
    """The detail pane: when and why the row was dropped, then the row in full."""
    text = Text()
    text.append("dropped ", "dim")
    text.append(
        visible_line(str(entry.dropped_at)) if entry.dropped_at else "this session (not compacted yet)"
    )
    text.append(" · reason ", "dim")
    text.append(visible_line(entry.reason or "(no reason)"), "bold")
    known = project.reason(entry.reason) if project is not None and entry.reason else None
    if known is not None and known.title:
        text.append(" (" + visible_line(known.title) + ")", "dim")
    text.append("\n\n")
    shown = {k: v for k, v in entry.row.items() if k not in ("dropped_at", "drop_reason")}
    text.append_text(describe_row(shown, project, DROPPED))
    return text


class DroppedScreen(ModalScreen[list[str] | None]):
    """R (in Rejected): dropped rows, newest first; space marks, r restores them as pending.

    The list moves and marks with `RowList`'s keys (space marks or unmarks a row and moves down).

    | Key(s) | Description |
    | :- | :- |
    | r | Restore the marked rows (or the highlighted one). |
    | escape | Close. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restore", "restore marked"),
        Binding("escape", "cancel", "close"),
    ]

    def __init__(self, store, project=None) -> None:
        super().__init__()
        self.store = store
        self.project = project
        self.entries: list[DroppedEntry] = []
        self.total = 0
        self.loaded = False
        self.rows = RowList(
            DroppedRowsSource([]),
            EveryEntry(0),
            id="dropped-list",
            on_cursor=self._cursor_moved,
            on_selection=self._selection_changed,
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="dropped", classes="modal-box -large"):
            yield Label(Content("Dropped rows: reading…"), classes="modal-title", id="dropped-title")
            yield self.rows
            yield DetailPane(id="dropped-detail")
            yield Label(Content(""), classes="modal-help", id="dropped-help")

    def on_mount(self) -> None:
        self.rows.focus()
        self._show_help()
        self._cursor_moved(None)  # "reading dropped.jsonl…" until the worker is done
        self.run_worker(
            partial(dropped_entries, self.store), thread=True, exit_on_error=False, name="read-dropped"
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "read-dropped":
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.query_one("#dropped-title", Label).update(
                Content(f"Dropped rows could not be read: {visible_line(str(error))}")
            )
            self.query_one("#dropped-help", Label).update(Content("nothing to restore · esc close"))
            self.query_one("#dropped-detail", DetailPane).show(Text(""))
            return
        if event.state != WorkerState.SUCCESS or event.worker.result is None:
            return
        self.entries, self.total = event.worker.result
        self.loaded = True
        self.rows.store = DroppedRowsSource(self.entries)
        self.rows.set_view(EveryEntry(len(self.entries)))
        self._show_title()
        self._show_help()
        self.refresh_bindings()

    def _show_title(self) -> None:
        if not self.entries:
            words = "No dropped rows: nothing to restore"
        else:
            words = f"{self.total:,} dropped row{'' if self.total == 1 else 's'}, newest first" + (
                f" (the newest {len(self.entries):,} listed)" if len(self.entries) < self.total else ""
            )
        self.query_one("#dropped-title", Label).update(Content(words))

    def _show_help(self, marked: int = 0) -> None:
        """The key line offers only what works: nothing but esc while reading or when empty."""
        if not self.loaded:
            words = "reading the dropped rows… · esc close"
        elif not self.entries:
            words = "nothing to restore · esc close"
        else:
            what = f"r restore the {marked:,} marked" if marked else "r restore the highlighted row"
            words = f"{marked:,} marked · space mark · {what} · esc close"
        self.query_one("#dropped-help", Label).update(Content(words))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restore":
            return bool(self.entries)  # (off while reading, and when there is nothing to restore)
        return True

    def _cursor_moved(self, index: int | None) -> None:
        if not self.is_mounted:
            return
        detail = self.query_one("#dropped-detail", DetailPane)
        if index is None or not 0 <= index < len(self.entries):
            detail.show(Text("reading dropped.jsonl…" if not self.loaded else "", "dim"))
        else:
            detail.show(describe_dropped(self.entries[index], self.project))

    def _selection_changed(self, count: int) -> None:
        if self.is_mounted:
            self._show_help(count)

    @property
    def marked_ids(self) -> list[str]:
        return [self.entries[i].row_id for i in sorted(self.rows.selected) if i < len(self.entries)]

    def action_restore(self) -> None:
        ids = self.marked_ids
        index = self.rows.cursor_slot
        if not ids and index is not None and index < len(self.entries):
            ids = [self.entries[index].row_id]
        if ids:
            self.dismiss(ids)

    def action_cancel(self) -> None:
        self.dismiss(None)
