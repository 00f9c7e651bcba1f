"""The three review tabs: Queue (pending), Rejected (grouped by reason), Approved.

Each tab is a `ReviewPane`: an info line (row count, selection, active filter), a `RowList`
over a `core.views.RowView`, and a `DetailPane` with the row under the cursor in full. Keys map
to one call each of the `ReviewService` the pane is handed (durable when it returns, a
`BrewError` becomes a notification); the service's change notification then syncs the tab on
screen in O(changed), in the same frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from brewslm_tui.core.rows import APPROVED, PENDING, REJECTED, STATUS_NAMES
from brewslm_tui.core.store.history import history_text, row_history
from brewslm_tui.core.store.journal import os_cause
from brewslm_tui.core.store.store import Decision, Store
from brewslm_tui.core.store.views import RowView
from brewslm_tui.core.text import visible_line, visible_parts
from brewslm_tui.ui.review.filters import Filters, FilterScreen
from brewslm_tui.ui.review.modals import (
    ConfirmScreen,
    Edit,
    EditScreen,
    Rejection,
    pick_reason,
)
from brewslm_tui.ui.review.row_list import Group, GroupedLines, RowList, kept_since
from brewslm_tui.ui.review.service import ReviewService
from brewslm_tui.ui.review.sorting import SORT_TITLES, SORTS, QueueSorter, SortedView, sorted_view
from brewslm_tui.ui.shell.tabs import on_shown_tab
from brewslm_tui.ui.shell.text import counted
from brewslm_tui.ui.shell.textual_compat import draw_changed_lines_only, set_virtual_size

KNOWN_FIELDS = (
    "id",
    "prompt",
    "completion",
    "review_status",
    "source",
    "run_id",
    "playbook",
    "created_at",
    "reject_reason",
    "review_note",
)


def _append_literal(text: Text, value: str, escape_style: str = "reverse") -> None:
    """Untrusted text, literally; control characters as visible escapes in a distinct style."""
    for piece, is_escape in visible_parts(value):
        text.append(piece, escape_style if is_escape else None)


SHORT_COMPLETION = 60  # characters: a completion this short leads the detail, on one line
DETAIL_PART_CHARS = 20_000  # of one field at a time: a 50 MB row must not be laid out at once


def _append_field(text: Text, name: str, value: str, part: int) -> None:
    """A field under its heading; a long one in parts of DETAIL_PART_CHARS, with its size."""
    size = len(value)
    if size <= DETAIL_PART_CHARS:
        text.append(name + "\n", "bold underline")
        _append_literal(text, value)
        return
    parts = -(-size // DETAIL_PART_CHARS)
    part = max(0, min(part, parts - 1))
    start = part * DETAIL_PART_CHARS
    end = min(size, start + DETAIL_PART_CHARS)
    text.append(name, "bold underline")
    text.append(
        f"  characters {start + 1:,}-{end:,} of {size:,} (part {part + 1:,} of {parts:,};"
        " m next part, M previous)\n",
        "dim",
    )
    _append_literal(text, value[start:end])
    if end < size:
        text.append(f"\n… {size - end:,} more characters (m)", "dim")


def describe_row(row: dict, project, status: int, part: int = 0) -> Text:
    """The detail of one row: prompt and completion (a long one in parts), provenance,
    decision, original."""
    text = Text()
    prompt, completion = str(row.get("prompt", "")), str(row.get("completion", ""))
    if "\n" not in completion and len(completion) <= SHORT_COMPLETION:
        # a label (classification) or a short answer: on the first line, so it is on screen
        # even when the prompt is long and the pane short (80x24)
        text.append("completion ", "bold underline")
        text.append(" ")
        _append_literal(text, completion)
        text.append("\n\n")
        _append_field(text, "prompt", prompt, part)
    else:
        _append_field(text, "prompt", prompt, part)
        text.append("\n\n")
        _append_field(text, "completion", completion, part)
    text.append("\n\n")
    provenance = [
        ("playbook", row.get("playbook")),
        ("run", row.get("run_id")),
        ("source", row.get("source")),
    ]
    text.append_text(_pairs(provenance))
    text.append("\n")
    text.append_text(
        _pairs(
            [
                ("status", STATUS_NAMES[status] if status < len(STATUS_NAMES) else "?"),
                ("id", row.get("id")),
                ("created", row.get("created_at")),
            ]
        )
    )
    reason = row.get("reject_reason")
    if reason:
        text.append("\n")
        known = project.reason(reason) if project is not None else None
        text.append("reject reason ", "dim")
        text.append(visible_line(str(reason)), "bold")
        if known is not None and known.title:
            text.append(" (" + visible_line(known.title) + ")", "dim")
    if row.get("review_note"):
        text.append("\nnote ", "dim")
        _append_literal(text, str(row["review_note"]))
    originals = {k: v for k, v in row.items() if k.startswith("original") and v is not None}
    for key, value in originals.items():
        text.append(f"\n\n{visible_line(key)} (before edit)\n", "bold underline")
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                text.append(visible_line(str(sub)) + ": ", "dim")
                _append_literal(text, str(subvalue))
                text.append("\n")
        else:
            _append_literal(text, str(value))
    extra = [
        (k, v)
        for k, v in row.items()
        if k not in KNOWN_FIELDS and not k.startswith("original") and not k.startswith("_")
    ]
    if extra:
        text.append("\n\n")
        text.append_text(_pairs([(k, v if isinstance(v, str) else repr(v)) for k, v in extra]))
    return text


def _pairs(pairs) -> Text:
    text = Text()
    first = True
    for key, value in pairs:
        if value in (None, ""):
            continue
        if not first:
            text.append(" · ", "dim")
        first = False
        text.append(visible_line(str(key)) + " ", "dim")
        text.append(visible_line(str(value)))
    return text


def describe_group(group: Group, project) -> Text:
    text = Text()
    text.append(visible_line(group.reason or "(no reason)"), "bold")
    known = project.reason(group.reason) if project is not None and group.reason else None
    if known is not None:
        text.append("  " + visible_line(known.title), "dim")
        if known.description:
            text.append("\n" + visible_line(known.description))
    n = len(group.slots)
    text.append(
        f"\n\n{n:,} row{'' if n == 1 else 's'}. space selects the whole group; "
        "enter / left / right fold it; d drops, p sends back to pending. "
        "] / [ next / previous group, z folds all, ' and a reason key goes to its group.",
        "dim",
    )
    return text


def describe_reasons(reasons, count: int, height: int = 0, width: int = 0) -> Text:
    """What `x` shows in the detail pane while it waits for the reason key: one reason a line,
    or, when that would not fit in `height` lines (80x24), as many to a line as `width` holds."""
    what = "this row" if count == 1 else f"{count:,} rows"
    compact = 0 < height < len(reasons) + 4
    text = Text()
    text.append(f"Reject {what}: press a reason key\n" + ("" if compact else "\n"), "bold")
    used = 0
    for reason in reasons:
        key, code = f" {visible_line(reason.key)} ", " " + visible_line(reason.code)
        if compact:
            size = len(key) + len(code) + 3
            if used and width and used + size > width:
                text.append("\n")
                used = 0
            text.append(key, "bold reverse")
            text.append(code + "   ", "bold")
            used += size
            continue
        text.append(key, "bold reverse")
        text.append(code, "bold")
        if reason.title and reason.title.lower().replace(" ", "_") != reason.code.lower():
            text.append("  " + visible_line(reason.title), "dim")
        text.append("\n")
    text.append("\ntab: the list, with a note · esc cancels · ctrl+d/u scroll", "dim")
    return text


@dataclass
class ReasonAsk:
    """An `x` waiting for its reason key: how many rows, and what to do with the answer."""

    count: int
    chosen: Callable[[Rejection | None], None]


class DetailPane(ScrollView, can_focus=False):
    """The row under the cursor, in full and literal.

    Drawn line by line (`render_line`, like Textual's `Log`): showing another row changes only
    this widget's lines, never the screen's layout, so a cursor move does not re-lay out every
    widget on the screen. Text is wrapped once per row (and again on a resize); one column is
    kept for the scrollbar so its coming and going never changes the wrap.
    """

    DEFAULT_CSS = """
    DetailPane {
        height: 2fr;
        min-height: 4;
        overflow-x: hidden;
        overflow-y: scroll;  /* always there: a scrollbar that comes and goes re-lays out the screen */
        border-top: hkey $panel;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    """

    HISTORY_DELAY = 0.25  # seconds the cursor rests on a row before its history is read
    HISTORY_CACHE = 256  # histories kept (keyed by row id and journal position)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._content = Text("")
        self._base_style: Style | None = None
        self._lines: list[Strip] = []
        self._wrapped_at = -1
        self._shown = 0  # bumped by every show: a history read for an earlier one is stale
        self._history_timer: Timer | None = None
        self._histories: dict[tuple[str, int], str] = {}

    def show(self, content: Text, history: tuple[Store, int] | None = None) -> None:
        """Show `content`; with `history` (store, slot), the row's decisions follow it once read.

        The history costs O(journal bytes), so it is read in a thread worker after the cursor
        has rested HISTORY_DELAY on the row, and an answer for a row the cursor left is dropped.
        Until the journal grows (its next seq), the same row's history is shown from a cache.
        """
        self._shown += 1
        if self._history_timer is not None:
            self._history_timer.stop()
            self._history_timer = None
        if history is not None:
            store, slot = history
            key = (store.id_of(slot), store.journal_span()[1])
            cached = self._histories.get(key)
            if cached is not None:
                content = _with_history(content, cached)
            else:
                read = partial(self._read_history, self._shown, store, slot, key)
                self._history_timer = self.set_timer(self.HISTORY_DELAY, read)
        self._set_content(content)
        self.scroll_to(0, 0, animate=False, immediate=True)

    @property
    def history_pending(self) -> bool:
        """A history is still to be read or shown (tests and snapshots wait on this)."""
        return self._history_timer is not None or any(
            worker.node is self and worker.group == "detail-history" and not worker.is_finished
            for worker in self.workers
        )

    def _set_content(self, content: Text) -> None:
        self._content = content
        self._wrapped_at = -1
        self._wrap()
        self.refresh()

    def _read_history(self, shown: int, store: Store, slot: int, key: tuple[str, int]) -> None:
        self._history_timer = None
        if shown == self._shown:
            self.run_worker(
                partial(_history_of, shown, store, slot, key),
                thread=True,
                name=f"history-{shown}",
                group="detail-history",
                exclusive=True,
                exit_on_error=False,
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "detail-history":
            return
        event.stop()
        if event.state == WorkerState.SUCCESS and worker.result is not None:
            shown, key, history = worker.result
            if len(self._histories) >= self.HISTORY_CACHE:
                del self._histories[next(iter(self._histories))]  # the oldest
            self._histories[key] = history
            if shown == self._shown:  # the cursor is still on that row: no scroll, no jump
                self._set_content(_with_history(self._content, history))
        elif event.state == WorkerState.ERROR and worker.name == f"history-{self._shown}":
            failed = f"could not be read ({type(worker.error).__name__}: {worker.error})"
            self._set_content(_with_history(self._content, failed))

    @property
    def text(self) -> str:
        """What the pane shows, as plain text (for tests and the command palette)."""
        return self._content.plain

    def _wrap(self) -> None:
        if not self.is_mounted or self.content_region.width < 2:
            return  # not laid out yet (on_mount): wrapping at width 1 cost ~25 ms; on_resize wraps
        width = self.content_region.width - 1
        if width == self._wrapped_at:
            return
        console = self.app.console
        self._lines = [
            Strip(list(line.render(console)), line.cell_len) for line in self._content.wrap(console, width)
        ]
        self._wrapped_at = width
        set_virtual_size(self, Size(width, len(self._lines)))

    def on_resize(self) -> None:
        self._wrap()
        self.refresh()

    def render_lines(self, crop):
        self._base_style = self.rich_style  # once per repaint (it walks every ancestor)
        if self.content_region.width - 1 != self._wrapped_at:
            # the width changed with no Resize seen yet: at 120x40 the first frame was laid out
            # before the screen's "-wide" class widened the sidebar, and the text wrapped for the
            # wider pane was cut at its edge ("Customer" drawn as "Custom") until the next redraw
            self._wrap()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        style = self._base_style if self._base_style is not None else self.rich_style
        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, style)
        return self._lines[index].apply_style(style).crop_extend(scroll_x, scroll_x + width, style)


def _history_of(
    shown: int, store: Store, slot: int, key: tuple[str, int]
) -> tuple[int, tuple[str, int], str] | None:
    """The row's history as one line (in a thread worker), tagged with the show it answers;
    None when the slot no longer holds that row (a compaction moved it meanwhile: the pane
    has been shown again by then, so nothing is lost)."""
    try:
        history = history_text(row_history(store, slot))
        if store.id_of(slot) != key[0]:
            return None
    except OSError as exc:
        history = f"could not be read ({os_cause(exc)})"
    except (IndexError, ValueError):  # the slot gone, or the file remapped under the read
        return None
    return shown, key, history


def _with_history(content: Text, history: str) -> Text:
    """`content` followed by the history line (nothing for a row never decided)."""
    if not history:
        return content
    text = content.copy()
    text.append("\n\n")
    text.append("history ", "dim")
    _append_literal(text, history)
    return text


class ReviewPane(Vertical):
    """One review tab. Subclasses set the statuses it lists and the keys it binds; every tab
    ends its `BINDINGS` with `COMMON_BINDINGS`, documented here once.

    | Key(s) | Description |
    | :- | :- |
    | / | Filter by text, run, playbook, label. |
    | escape | Clear the selection, then the filter. |
    | o | Show the run of the row under the cursor. |
    | ctrl+d | Scroll the detail pane down. |
    | ctrl+u | Scroll the detail pane up. |
    | m | Next part of a long row. |
    | M | Previous part of a long row. |
    | S | Sort by the next order: created, run, length, label (flat lists). |
    | C | Choose the columns shown (flat lists). |
    """

    DEFAULT_CSS = """
    ReviewPane {
        height: 1fr;
    }
    ReviewPane > .info-line {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    STATUSES: tuple[int, ...] = (PENDING,)
    GROUPED = False
    HELP_GROUP = "Review"
    EMPTY = "no rows"

    # subclasses end their BINDINGS with these, so the Footer lists decisions first
    COMMON_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear", "Clear selection, then filter", show=False),
        Binding("o", "open_run", "Show this row's run", show=False),
        Binding("ctrl+d", "scroll_detail(1)", "Scroll detail down", show=False),
        Binding("ctrl+u", "scroll_detail(-1)", "Scroll detail up", show=False),
        Binding("m", "detail_part(1)", "Next part of a long row", show=False),
        Binding("M", "detail_part(-1)", "Previous part of a long row", show=False),
        Binding("S", "sort_next", "Sort: next order (created, run, length, label)", show=False),
        Binding("C", "choose_columns", "Choose columns…", show=False),
    ]

    class ShowRun(Message):
        """`o`: the user asked where the row under the cursor came from (the app shows its run)."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, review: ReviewService, *, id: str | None = None, deferred: bool = False) -> None:
        """`deferred`: a tab not shown at start; its rows are selected when it is first shown
        (the app syncs a tab as it shows it), not before the first screen."""
        super().__init__(id=id, classes="review-pane")
        self.review = review
        self.store = review.store
        self.project = review.project
        self.filters = Filters()
        self.asking: ReasonAsk | None = None  # `x` pressed, its reason key not yet
        self.jumping = False  # `'` pressed (Rejected): the reason key of the group to go to, not yet
        self._detail: DetailPane | None = None
        self._detail_key: tuple | None = None  # what the detail pane shows (see _show_detail)
        self._detail_part = 0  # which part of a long row's fields the detail shows (m / M)
        self.sort = "created"  # the order of a flat list (SORTS); a grouped one keeps slot order
        self.sorter = QueueSorter(self)  # S: the sort in a thread, the old order shown meanwhile
        self.rows = RowList(
            self.store,
            self._make_view(deferred),
            grouped=self.GROUPED,
            classes="row-list",
            on_cursor=self._cursor_moved,
            on_selection=self._selection_changed,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("sort_next", "sort", "choose_columns") and self.GROUPED:
            return False  # the Rejected list is ordered by its reason groups
        return on_shown_tab(self)

    def _make_view(self, deferred: bool = False) -> RowView | SortedView:
        view = RowView(self.store, statuses=set(self.STATUSES), deferred=deferred, **self.filters.kwargs())
        return view if self.GROUPED else sorted_view(view, self.sort)

    # ------------------------------------------------------------ order and columns
    def action_sort(self, sort: str) -> None:
        """Show the rows in another order: one sort of the view's slots, in a thread (the
        filtered rows are not selected again); the cursor stays on its row."""
        if sort not in SORTS or self.GROUPED:
            return
        self.sorter.start(sort)

    def action_sort_next(self) -> None:
        self.action_sort(self.sorter.next_sort())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if self.sorter.worker_changed(event):
            event.stop()

    def show_sorting(self) -> None:
        """The sorter's news: the info line says which order is shown and which is coming."""
        if self.is_mounted:
            self._show_info()

    def action_choose_columns(self) -> None:
        from brewslm_tui.ui.review.column_picker import ColumnPicker

        def chosen(columns: list[str] | None) -> None:
            if columns is not None:
                self.rows.set_columns(columns)

        self.app.push_screen(ColumnPicker(self.rows.columns), chosen)

    def palette_commands(self):
        """One "Sort by …" entry per order (the key S cycles through them)."""
        if not on_shown_tab(self) or self.GROUPED:
            return []
        where = self.HELP_GROUP
        return [
            (
                f"Sort by {sort}",
                f"{where}   {SORT_TITLES[sort]}   key: S cycles",
                partial(self.action_sort, sort),
            )
            for sort in SORTS
        ]

    def compose(self) -> ComposeResult:
        yield Static(Text(""), classes="info-line")
        yield self.rows
        yield DetailPane(classes="detail")

    def on_mount(self) -> None:
        # a key changes a few lines of this pane: the screen redraws those, not every widget
        draw_changed_lines_only(self.screen)
        self._show_info()
        self._show_detail()

    # ------------------------------------------------------------ refresh
    def refresh_data(self) -> None:
        """The store changed (a decision here or elsewhere, rows arrived): O(changed)."""
        self.rows.sync()
        self._show_info()
        self._show_detail()

    def _show_info(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        count = len(self.rows.view)
        text.append(counted(count), "bold")
        if self.GROUPED:
            lines = self.rows.lines
            groups = len(lines.groups) if isinstance(lines, GroupedLines) else 0
            text.append(f" in {groups} reason{'' if groups == 1 else 's'}")
        if self.rows.selected:
            text.append(f" · {len(self.rows.selected):,} selected", "bold reverse")
        if self.filters.active():
            text.append(" · filter: ")
            text.append(visible_line(self.filters.describe()), "italic")
            text.append("  (esc clears)", "dim")
        if self.sort != "created" and not self.GROUPED:
            text.append(f" · sorted by {self.sort}", "italic")
        if self.sorter.wanted is not None:
            text.append(f" · sorting by {self.sorter.wanted}…", "bold")
        if not self.store.loaded:
            text.append(" · loading…", "dim")
        if self.jumping:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(" go to the group of reason key? ", "bold reverse")
            text.append("  esc cancels", "dim")
        if self.asking is not None:
            text = Text(no_wrap=True, overflow="ellipsis")
            what = counted(self.asking.count)
            text.append(f" reject {what}: reason key? ", "bold reverse")
            text.append("  tab note · esc cancels", "dim")
        self.query_one(".info-line", Static).update(text, layout=False)  # height 1: no re-layout

    def _show_detail(self) -> None:
        item = self.rows.cursor_item
        version = self.store.version
        if self._detail_key is not None and isinstance(item, int):
            kept = kept_since(self.store, self._detail_key[1])
            if kept is not None and item < kept:
                version = self._detail_key[1]  # the swap to the full columns: the same row
        key = (
            item if not isinstance(item, Group) else (item.reason, len(item.slots)),
            version,
            self.asking is not None,
            self.filters.active(),
            self._detail_part,
        )
        if key == self._detail_key:
            return  # already showing this (a decision syncs the list, which moves the cursor, then the pane)
        self._detail_key = key
        detail = self._detail or self.query_one(DetailPane)
        self._detail = detail
        if self.asking is not None:
            detail.show(
                describe_reasons(
                    self.project.reject_reasons,
                    self.asking.count,
                    detail.size.height,
                    detail.content_region.width - 1,
                )
            )
        elif item is None:
            detail.show(Text(self.EMPTY if not self.filters.active() else "no rows match the filter", "dim"))
        elif isinstance(item, Group):
            detail.show(describe_group(item, self.project))
        else:
            detail.show(
                describe_row(self.store.row(item), self.project, self.store.status[item], self._detail_part),
                history=(self.store, item),
            )

    def _cursor_moved(self, slot: int | None) -> None:
        self._detail_part = 0
        if self.asking is not None:  # a click moved the cursor: the rows `x` meant may be others now
            self._stop_asking()
        if self.is_mounted:
            self._show_detail()

    def _selection_changed(self, count: int) -> None:
        if self.is_mounted:
            self._show_info()

    # ------------------------------------------------------------ filters
    def set_filters(self, filters: Filters) -> None:
        self.filters = filters
        self.rows.set_view(self._make_view())
        self._show_info()
        self._show_detail()

    def action_filter(self) -> None:
        def chosen(filters: Filters | None) -> None:
            if filters is not None:
                self.set_filters(filters)

        screen = FilterScreen(
            self.filters, list(self.store.runs), list(self.store.playbooks), list(self.project.labels)
        )
        self.app.push_screen(screen, chosen)

    def action_open_run(self) -> None:
        """Trace the row under the cursor to its run (the Runs tab, that run highlighted)."""
        slot = self.rows.cursor_slot
        if slot is None:
            return
        self.post_message(self.ShowRun(self.store.run_of(slot)))

    def action_scroll_detail(self, direction: int) -> None:
        """The detail pane never takes the focus (keys stay on the list); these scroll it."""
        detail = self.query_one(DetailPane)
        step = max(1, detail.size.height // 2)
        detail.scroll_relative(y=direction * step, animate=False)

    def action_detail_part(self, step: int) -> None:
        """m / M: the next or previous part of a row too long to show at once."""
        slot = self.rows.cursor_slot
        if slot is None:
            return
        row = self.store.row(slot)
        longest = max(len(str(row.get("prompt", ""))), len(str(row.get("completion", ""))))
        parts = -(-longest // DETAIL_PART_CHARS)
        part = max(0, min(self._detail_part + step, parts - 1))
        if part != self._detail_part:
            self._detail_part = part
            self._show_detail()

    def action_clear(self) -> None:
        if self.rows.selected:
            self.rows.clear_selection()
        elif self.filters.active():
            self.set_filters(Filters())

    # ------------------------------------------------------------ decisions
    def _targets(self, verb: str) -> list[int]:
        targets = self.rows.targets(self.STATUSES)
        if not targets:
            self.app.notify(f"nothing to {verb} here", severity="warning")
        return targets

    def _decide(self, fn: Callable[..., Decision | None], targets: list[int], *args: Any) -> Decision | None:
        """One store call; clears the selection it used. Returns the Decision or None."""
        used_selection = bool(self.rows.selected)
        decision = fn(targets, *args)
        if decision is not None and used_selection:
            self.rows.clear_selection()
            self._show_info()
        return decision

    def _say(self, verb: str, decision) -> None:
        if decision is not None and decision.count != 1:
            self.app.notify(f"{verb} {counted(decision.count)} (u undoes)", timeout=3, markup=False)

    def approve(self) -> None:
        if not self.review.can_write("approve"):
            return
        targets = self._targets("approve")
        if targets:
            self._say("approved", self._decide(self.review.approve, targets))

    def reject(self, reason: str | None = None) -> None:
        if not self.review.can_write("reject"):
            return
        targets = self._targets("reject")
        if not targets:
            return

        def chosen(rejection: Rejection | None) -> None:
            if rejection is None:
                return
            still = [slot for slot in targets if self.store.status[slot] in self.STATUSES]  # (a job,
            if not still:  # another window or the palette may have decided them meanwhile)
                self.app.notify("those rows were decided meanwhile; nothing rejected", severity="warning")
                return
            self._say(
                f"rejected ({rejection.reason})",
                self._decide(self.review.reject, still, rejection.reason, rejection.note),
            )

        if reason is not None:
            chosen(Rejection(reason))
        else:
            self.asking = ReasonAsk(len(targets), chosen)
            self._show_info()
            self._show_detail()

    def answer(self, event: events.Key) -> None:
        """While `x` waits, the app hands it the next key: the answer, whatever it is bound to
        elsewhere (1-5 switch tabs, a approves).

        Asked in place (detail pane and info line), not in a modal screen: no screen to push and
        pop, so `x` and the reason key each repaint in one frame. The app takes the key, not
        this pane: keys typed in one burst (`ax1` over a slow link) may all pass through the
        pane before `x` is acted on, but they reach the app's bindings one by one, in order.
        """
        if self.jumping:
            self._jump(event)
            return
        ask = self.asking
        if ask is None:
            return
        if event.key in ("ctrl+d", "ctrl+u"):  # scroll the list of reasons; still asking
            self.action_scroll_detail(1 if event.key == "ctrl+d" else -1)
            return
        self.asking = None
        reason = self.project.reason_for_key(event.character) if event.character else None
        version = self.store.version
        if reason is not None:
            ask.chosen(Rejection(reason.code))  # the decision repaints the pane
        if self.store.version == version:  # no decision (cancelled, or it failed): the row again
            self._stop_asking()
        if reason is not None:
            return
        if event.key == "tab":
            pick_reason(self.app, self.project, ask.count, ask.chosen, note_first=True)
        elif event.key != "escape":
            self.app.notify(
                f"not a reason key: {visible_line(event.key)}; nothing rejected",
                severity="warning",
                timeout=3,
                markup=False,
            )

    def _jump(self, event: events.Key) -> None:
        self.jumping = False
        self._show_info()
        if event.key == "escape":
            return
        reason = self.project.reason_for_key(event.character) if event.character else None
        if reason is None:
            self.app.notify(
                f"not a reason key: {visible_line(event.key)}", severity="warning", timeout=3, markup=False
            )
        elif not self.rows.jump_to_group(reason.code):
            self.app.notify(
                f"no rejected rows as {visible_line(reason.code)}",
                severity="warning",
                timeout=3,
                markup=False,
            )

    def wants_next_key(self) -> bool:
        """A question waits for the next key (the reason after x, the group after ')."""
        return self.asking is not None or self.jumping

    def cancel_question(self) -> None:
        """Drop a waiting `x` (a decision came from elsewhere: the palette, say)."""
        if self.asking is not None:
            self._stop_asking()

    def _stop_asking(self) -> None:
        self.asking = None
        self._show_info()
        self._show_detail()

    def on_descendant_blur(self) -> None:
        if self.asking is not None:  # the focus went elsewhere (a click): the question is off
            self._stop_asking()
        if self.jumping:
            self.jumping = False
            self._show_info()

    def to_pending(self) -> None:
        if not self.review.can_write("send back to pending"):
            return
        targets = self._targets("send back to pending")
        if targets:
            self._say("sent back to pending", self._decide(self.review.set_pending, targets))

    def edit(self) -> None:
        if not self.review.can_write("edit"):
            return
        slot = self.rows.cursor_slot
        if slot is None or self.store.status[slot] not in self.STATUSES:
            self.app.notify("put the cursor on a row to edit it", severity="warning")
            return
        row = self.store.row(slot)

        def done(edit: Edit | None) -> None:
            if edit is None:
                return
            if edit.prompt is None and edit.completion is None:
                if self.store.status[slot] == APPROVED:
                    self.app.notify("nothing changed", timeout=2)
                    return
                decision = self.review.approve([slot])
            else:
                decision = self.review.edit(slot, prompt=edit.prompt, completion=edit.completion)
            if decision is not None:
                self.app.notify("edited and approved (u undoes)", timeout=3)

        approved = self.store.status[slot] == APPROVED
        title, save = (
            ("Edit (stays approved)", "save") if approved else ("Edit and approve", "save and approve")
        )
        screen = EditScreen.for_project(
            self.store.project, str(row.get("prompt", "")), str(row.get("completion", "")), title, save
        )
        self.app.push_screen(screen, done)


class QueuePane(ReviewPane):
    """Pending rows: approve, reject with a reason, edit and approve.

    | Key(s) | Description |
    | :- | :- |
    | a | Approve the selection (or the row under the cursor). |
    | x | Reject: the next key is the reason (tab: the list, with a note). |
    | e | Edit and approve. |
    """

    STATUSES = (PENDING,)
    HELP_GROUP = "Queue"
    EMPTY = "the queue is empty: start a job with n, or look at Rejected (2)"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("x", "reject", "Reject"),
        Binding("e", "edit", "Edit+approve"),
        *ReviewPane.COMMON_BINDINGS,
    ]

    def action_approve(self) -> None:
        self.approve()

    def action_reject(self) -> None:
        self.reject()

    def action_edit(self) -> None:
        self.edit()

    def palette_commands(self):
        if not on_shown_tab(self):
            return []
        return super().palette_commands() + [
            (
                f"Reject: {r.code}",
                f"Queue   reject the selected rows as {r.title or r.code}   key: x {r.key}",
                partial(self.reject, r.code),
            )
            for r in self.project.reject_reasons
        ]


class RejectedPane(ReviewPane):
    """Rejected rows grouped by reason: drop (confirmed, restorable), back to pending, fix & approve.

    | Key(s) | Description |
    | :- | :- |
    | d | Drop the selection, the group or the row (asked first; restorable). |
    | p | Back to pending. |
    | e | Fix and approve. |
    | x | Change the reason. |
    | R | Restore dropped rows. |
    | ' | The next key is a reason key: go to its group. |
    """

    STATUSES = (REJECTED,)
    GROUPED = True
    HELP_GROUP = "Rejected"
    EMPTY = "no rejected rows"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "drop", "Drop"),
        Binding("p", "pending", "Pending"),
        Binding("e", "edit", "Fix+approve"),
        Binding("x", "reject", "Change reason", show=False),
        Binding("R", "restore_dropped", "Restore…"),
        Binding("apostrophe", "jump_group", "Go to a reason's group", show=False),
        *ReviewPane.COMMON_BINDINGS,
    ]

    def action_pending(self) -> None:
        self.to_pending()

    def action_reject(self) -> None:
        self.reject()

    def action_jump_group(self) -> None:
        """': the next key is a reason key; the cursor goes to that reason's group header
        (with d, any group drops in 4 keys from this tab: ' 3 d y)."""
        self.jumping = True
        self._show_info()

    def action_restore_dropped(self) -> None:
        """Dropped rows (this session's and dropped.jsonl's) back to the queue as pending."""
        if not self.review.can_write("restore"):
            return
        from brewslm_tui.ui.review.restore_dialog import DroppedScreen  # (it imports this module)

        def chosen(row_ids: list[str] | None) -> None:
            if row_ids:
                decision = self.review.restore(row_ids)
                if decision is not None:
                    self.app.notify(f"restored {counted(decision.count)} to the queue (u undoes)", timeout=4)

        self.app.push_screen(DroppedScreen(self.store, self.project), chosen)

    def action_edit(self) -> None:
        self.edit()

    def action_drop(self) -> None:
        if not self.review.can_write("drop"):
            return
        targets = self._targets("drop")
        if not targets:
            return
        self.confirm_drop(targets)

    def confirm_drop(self, targets: list[int], title: str = "Drop rejected rows") -> None:
        """Ask with a per-reason summary, then one store.drop (restorable, undoable)."""
        by_reason = Counter(self.store.count_by_reason(targets))
        summary = f"drop {counted(len(targets))}: " + ", ".join(
            f"{visible_line(reason)} {n:,}" for reason, n in by_reason.most_common()
        )
        summary += "\n\nThey move to data/dropped.jsonl (restorable); u undoes."

        def answered(yes: bool | None) -> None:
            if yes:
                self._say("dropped", self._decide(self.review.drop, targets))

        self.app.push_screen(ConfirmScreen(title, summary, yes="drop"), answered)


class ApprovedPane(ReviewPane):
    """Approved rows: take an approval back (to pending, or reject).

    | Key(s) | Description |
    | :- | :- |
    | p | Back to pending. |
    | x | Reject, with a reason. |
    | e | Edit (stays approved). |
    """

    STATUSES = (APPROVED,)
    HELP_GROUP = "Approved"
    EMPTY = "nothing approved yet"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pending", "Pending"),
        Binding("x", "reject", "Reject"),
        Binding("e", "edit", "Edit"),
        *ReviewPane.COMMON_BINDINGS,
    ]

    def action_pending(self) -> None:
        self.to_pending()

    def action_reject(self) -> None:
        self.reject()

    def action_edit(self) -> None:
        self.edit()
