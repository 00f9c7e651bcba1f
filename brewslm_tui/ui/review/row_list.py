"""RowList: a virtual list over a `core.views.RowView`.

Why not DataTable: it builds every row up front (12 s for 100k rows). This widget renders only
the lines on screen (`render_line`), each from `store.row(slot)` parsed lazily and kept in a
small LRU cache, so opening a million-row queue costs what the screen shows.

Cursor and selection are kept as *slots* (store row indices), not positions: rows that arrive
from another process, or leave the view after a decision, never move the selection, and the
cursor stays on its row (or falls to the next one when its row left the view).

Text is assembled from plain strings into `rich.text.Text`, never parsed as markup; every
prompt/completion goes through `visible_line` so control characters cannot reach the terminal.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from brewslm_tui.core.rows import APPROVED, DROPPED, PENDING, REJECTED
from brewslm_tui.core.text import visible_line
from brewslm_tui.ui.review.sorting import COLUMNS, DEFAULT_COLUMNS
from brewslm_tui.ui.shell.tabs import on_shown_tab
from brewslm_tui.ui.shell.textual_compat import set_virtual_size

COLUMN_WIDTHS = {"run": 9, "playbook": 12, "created": 16, "length": 6}  # completion: a quarter
PROMPT_MIN = 26  # cells the prompt keeps before another column is shown
CELL_CHARS = 1000  # of a field, for a one-line cell (a 50 MB prompt is not made visible whole)
STATUS_MARKS = {PENDING: "·", APPROVED: "✓", REJECTED: "✗", DROPPED: "⌫"}
STATUS_CLASSES = {
    PENDING: "row-list--pending",
    APPROVED: "row-list--approved",
    REJECTED: "row-list--rejected",
    DROPPED: "row-list--dropped",
}


def short_run(run_id: str, width: int = 9) -> str:
    """The tail of a run id (its distinguishing part), e.g. `…-05-29-a1b2`."""
    run_id = visible_line(run_id or "")
    return run_id if len(run_id) <= width else "…" + run_id[-(width - 1) :]


@dataclass
class Group:
    """One reason group of the Rejected view: a header line plus its rows (when expanded)."""

    reason: str
    slots: Sequence[int] = field(default_factory=list)  # a views.GroupSlots: listed on first use
    expanded: bool = True


class FlatLines:
    """Lines = the view's slots, one line each; nothing is copied."""

    grouped = False

    def __init__(self, view) -> None:
        self.view = view

    def __len__(self) -> int:
        return len(self.view)

    def at(self, y: int) -> int | Group:
        return self.view[y]

    def position_of(self, slot: int, reason: str | None = None) -> int | None:
        return self.view.position_of(slot)

    def position_after(self, slot: int, reason: str | None = None) -> int | None:
        """Where a slot that left the view would have been: the next remaining row."""
        return self.view.nearest_position(slot)


class GroupedLines:
    """Lines = for each group a header, then its slots when expanded (bisect over starts)."""

    grouped = True

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        self.by_reason: dict[str | None, int] = {g.reason: i for i, g in enumerate(groups)}
        self.starts: list[int] = []
        total = 0
        for group in groups:
            self.starts.append(total)
            total += 1 + (len(group.slots) if group.expanded else 0)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def at(self, y: int) -> int | Group:
        gi = bisect_right(self.starts, y) - 1
        group = self.groups[gi]
        offset = y - self.starts[gi]
        return group if offset == 0 else group.slots[offset - 1]

    def header_of(self, y: int) -> int:
        """Line number of the header of the group that contains line y."""
        return self.starts[bisect_right(self.starts, y) - 1]

    def group_of(self, y: int) -> Group:
        """The group that contains line y."""
        return self.groups[bisect_right(self.starts, y) - 1]

    def position_of(self, slot: int, reason: str | None = None) -> int | None:
        gi = self.by_reason.get(reason)
        if gi is None:
            return None
        group = self.groups[gi]
        if not group.expanded:
            return self.starts[gi]
        k = bisect_left(group.slots, slot)
        if k < len(group.slots) and group.slots[k] == slot:
            return self.starts[gi] + 1 + k
        return None

    def position_after(self, slot: int, reason: str | None = None) -> int | None:
        """The row after a slot that left group `reason` (the group's last row, its header
        when folded); None when that group is gone."""
        gi = self.by_reason.get(reason)
        if gi is None:
            return None
        group = self.groups[gi]
        if not group.expanded or not group.slots:
            return self.starts[gi]
        return self.starts[gi] + 1 + min(bisect_left(group.slots, slot), len(group.slots) - 1)


class RowSource(Protocol):
    """What a `RowList` reads of its rows: the `Store`, or the dropped dialog's entries
    (`restore_dialog.DroppedRowsSource`)."""

    @property
    def version(self) -> int: ...
    @property
    def status(self) -> bytes | bytearray: ...
    @property
    def kept_rows(self) -> tuple[int, int, int] | None:
        """(version before, version after, slots kept) of the last swap (`Store.kept_rows`)."""
        ...

    def row(self, i: int) -> dict: ...
    def reason_of(self, i: int) -> str | None: ...
    def changed_since(self, version: int) -> list[int] | None: ...
    def raw_line(self, i: int) -> bytes | None:
        """The row's line as on disk (its size is the length column), or None: no line."""
        ...


class RowList(ScrollView, can_focus=True):
    """The row list of one review tab. Line 0 is a sticky column title line.

    Every line is drawn over the widget's own theme colours (`$foreground` on `$surface`), so
    light themes read as well as dark ones.

    | Key(s) | Description |
    | :- | :- |
    | j, down | Move the cursor down. |
    | k, up | Move the cursor up. |
    | pagedown, ctrl+f | Page down. |
    | pageup, ctrl+b | Page up. |
    | g, home | The first row. |
    | G, end | The last row. |
    | space | Select or unselect the row under the cursor. |
    | shift+down, J | Select and move down. |
    | shift+up, K | Select and move up. |
    | *, ctrl+a | Select every row matching the filter. |
    | enter | Fold or unfold the group under the cursor (grouped lists). |
    | left, h | Fold the group. |
    | right, l | Unfold the group. |
    | ] | The next group. |
    | [ | The previous group. |
    | z | Fold or unfold every group. |

    | Class | Description |
    | :- | :- |
    | `row-list--title` | The column title line. |
    | `row-list--cursor` | The cursor line while the list has the focus. |
    | `row-list--cursor-blur` | The cursor line while it has not. |
    | `row-list--selected` | The `[x]` mark of a selected row. |
    | `row-list--selected-row` | A selected row's line. |
    | `row-list--header` | A reason group's header line (Rejected). |
    | `row-list--pending` | The status mark of a pending row. |
    | `row-list--approved` | The status mark of an approved row. |
    | `row-list--rejected` | The status mark of a rejected row. |
    | `row-list--dropped` | The status mark of a dropped row. |
    | `row-list--dim` | The run column. |
    """

    DEFAULT_CSS = """
    RowList {
        height: 3fr;
        min-height: 4;
        background: $surface;
        color: $foreground;
        overflow-y: scroll;  /* always there: a scrollbar that comes and goes re-lays out the screen */
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
    }
    RowList > .row-list--title { color: $text-muted; text-style: bold; background: $panel; }
    RowList > .row-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    RowList > .row-list--cursor-blur { background: $block-cursor-blurred-background; }
    RowList > .row-list--selected { color: $accent; text-style: bold; }
    RowList > .row-list--selected-row { background: $accent 20%; }
    RowList > .row-list--header { color: $warning; text-style: bold; background: $panel; }
    RowList > .row-list--pending { color: $text-muted; }
    RowList > .row-list--approved { color: $success; }
    RowList > .row-list--rejected { color: $error; }
    RowList > .row-list--dropped { color: $text-muted; }
    RowList > .row-list--dim { color: $text-muted; }
    """

    HELP_GROUP = "Rows"

    # the cursor's line: a reactive others may watch, with no repaint of its own (a move
    # repaints only the two lines it touches, see _set_cursor; a full refresh per key cost frames)
    cursor: reactive[int] = reactive(0, repaint=False, layout=False, init=False)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-list--title",
        "row-list--cursor",
        "row-list--cursor-blur",
        "row-list--selected",
        "row-list--selected-row",
        "row-list--header",
        "row-list--pending",
        "row-list--approved",
        "row-list--rejected",
        "row-list--dropped",
        "row-list--dim",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "move(1)", "Down", show=False),
        Binding("k,up", "move(-1)", "Up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("g,home", "first", "Top", show=False),
        Binding("G,end", "last", "Bottom", show=False),
        Binding("space", "toggle_select", "Select"),
        Binding("shift+down,J", "extend(1)", "Select, move down", show=False),
        Binding("shift+up,K", "extend(-1)", "Select, move up", show=False),
        Binding("asterisk,ctrl+a", "select_all", "Select all matching the filter", show=False),
        Binding("enter", "toggle_group", "Fold or unfold group", show=False),
        Binding("left,h", "collapse", "Fold group", show=False),
        Binding("right,l", "expand", "Unfold group", show=False),
        Binding("right_square_bracket", "next_group(1)", "Next group", show=False),
        Binding("left_square_bracket", "next_group(-1)", "Previous group", show=False),
        Binding("z", "fold_all", "Fold or unfold all groups", show=False),
    ]

    def __init__(
        self,
        store: RowSource,
        view,
        *,
        grouped: bool = False,
        on_cursor: Callable[[int | None], None] | None = None,
        on_selection: Callable[[int], None] | None = None,
        name=None,
        id=None,
        classes=None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # Called synchronously, not through messages: the owner's repaint (detail pane, info line)
        # then lands in the same frame as the list's own (a message would be handled after the
        # next frame, and its repaint wait for the one after: 2-4 frames per key instead of 1).
        self.on_cursor = on_cursor  # the row under the cursor changed: slot, or None on a header
        self.on_selection = on_selection  # the selection changed: its size
        self.store = store
        self.view = view
        self.grouped = grouped
        self.cursor = 0
        self.selected: set[int] = set()
        self._expanded: dict[str, bool] = {}
        self.columns: tuple[str, ...] = DEFAULT_COLUMNS  # shown after the prompt, in COLUMNS order
        self._cells: LRUCache[int, dict[str, str]] = LRUCache(512)
        self._strips: LRUCache[int, tuple[tuple, Strip]] = LRUCache(256)  # slot -> (what it showed, line)
        self._cells_version = -1
        self._lines_version = -1
        self._last_item: int | tuple | None = None  # the cursor's slot, or ("group", its reason)
        self._base_style: Style | None = None
        self._prefix: str | None = None  # the prompt template's shared start, elided in the list
        self._selection_serial = 0  # bumps on every selection change (keys the per-group counts)
        self._lines_serial = 0  # bumps on every rebuild of the line model
        self._selected_counts_key: tuple = ()
        self._selected_counts: dict = {}
        self.lines: FlatLines | GroupedLines = FlatLines(view)
        self._rebuild_lines()

    # ----------------------------------------------------------------- model
    def _rebuild_lines(self) -> None:
        if self.grouped:
            groups = [
                Group(reason, slots, self._expanded.get(reason, True)) for reason, slots in self.view.groups()
            ]
            self.lines = GroupedLines(groups)
        else:
            self.lines = FlatLines(self.view)
        self._lines_version = self.store.version
        self._lines_serial += 1
        set_virtual_size(self, Size(self.size.width, len(self.lines) + 1))

    def set_view(self, view) -> None:
        """Show another view (a new filter): cursor to the top, selection kept."""
        self.view = view
        self._prefix = None
        self._cells.clear()  # they hold prompts cut by the old view's shared prefix
        self._strips.clear()
        self.cursor = 0
        self._rebuild_lines()
        self.scroll_to(y=0, animate=False)
        self._moved(force=True)
        self.refresh()

    def sync(self) -> None:
        """After a decision or new rows: update the view in O(changed), keep the cursor's row.

        The cursor follows its slot; if that row left the view, the cursor stays at the same
        place, which is now the next row (the "move to the next pending row" habit).
        """
        slot = self.cursor_slot
        # the group the cursor was in (the store has already changed the row's reason)
        old_reason = (
            self.lines.group_of(self.cursor).reason
            if (isinstance(self.lines, GroupedLines) and len(self.lines))
            else None
        )
        old_len, old_cursor, old_top = len(self.lines), self.cursor, self.scroll_offset.y
        changed = None if self.grouped else self.store.changed_since(self._lines_version)
        if changed is not None and len(changed) <= 64:  # where the view starts to differ, before...
            first = min((p for p in map(self.view.position_of, changed) if p is not None), default=None)
        else:
            changed = first = None
        self.view.sync()
        if self.grouped or self.store.version != self._lines_version or len(self.view) != old_len:
            self._rebuild_lines()
        if slot is not None:
            pos = self.lines.position_of(slot, self.store.reason_of(slot) if self.grouped else None)
            if pos is None:
                pos = self.lines.position_after(slot, old_reason)
            if pos is not None:
                self.cursor = pos
        self.cursor = max(0, min(self.cursor, len(self.lines) - 1))
        self._scroll_to_cursor()
        self._moved()
        if changed is not None:  # ...and after (rows that came into the view)
            first = min(
                (p for p in [first, *map(self.view.position_of, changed)] if p is not None), default=None
            )
        if changed is not None and self.scroll_offset.y == old_top:
            # only the lines from the first changed row (or the cursor's old or new line) down
            # differ: rows above it neither moved nor changed (a decision on the cursor's row
            # redraws that line and the ones below it, not the whole list)
            start = min(p for p in (first, old_cursor, self.cursor) if p is not None) - old_top + 1
            if start > 1:  # (a screen row; refresh_lines takes virtual rows: + the scroll offset)
                self.refresh_lines(start + old_top, max(1, self.size.height - start))
                return
        self.refresh()

    def move_to_slot(self, slot: int) -> bool:
        """Put the cursor on a slot if it is in the view (after an undo, say)."""
        pos = self.lines.position_of(slot, self.store.reason_of(slot) if self.grouped else None)
        if pos is None:
            return False
        self.cursor = pos
        self._scroll_to_cursor()
        self._moved()
        self.refresh()
        return True

    @property
    def cursor_item(self) -> int | Group | None:
        if not len(self.lines):
            return None
        return self.lines.at(min(self.cursor, len(self.lines) - 1))

    @property
    def cursor_slot(self) -> int | None:
        item = self.cursor_item
        return item if isinstance(item, int) else None

    def targets(self, statuses: Iterable[int]) -> list[int]:
        """Slots an action applies to: the selection (still in one of `statuses`), else the cursor row."""
        wanted = set(statuses)
        status = self.store.status
        if self.selected:
            return sorted(s for s in self.selected if s < len(status) and status[s] in wanted)
        item = self.cursor_item
        if isinstance(item, Group):
            return [s for s in item.slots if status[s] in wanted]
        if item is not None and status[item] in wanted:
            return [item]
        return []

    def clear_selection(self) -> None:
        if self.selected:
            self.selected.clear()
            self._selection_serial += 1
            self._tell_selection()
            self.refresh()

    # ----------------------------------------------------------------- drawing
    def _shared_prefix(self) -> str:
        """The start most prompts share (a template like "Classify the sentiment…: "), from a
        sample of at most 64 rows of the view, cut at a word boundary; "" when there is none.

        Without this a one-line prompt column shows the same template on every line.
        """
        if self._prefix is None:
            view, n = self.view, len(self.view)
            if n < 2:
                return ""
            step = max(1, n // 64)
            prompts = [
                visible_line(str(self.store.row(view[k]).get("prompt", ""))[:CELL_CHARS])
                for k in range(0, n, step)
            ][:64]
            common = os.path.commonprefix(prompts)  # noqa: RUF071 (characters, not paths, are meant)
            cut = max(common.rfind(" "), common.rfind("⏎")) + 1
            common = common[:cut]
            self._prefix = common if len(common) >= 16 and all(len(p) > len(common) for p in prompts) else ""
        return self._prefix

    def _forget_changed_rows(self) -> None:
        """After a store change: only the rows that changed lose their cells and drawn lines; a
        decision must not make every visible row be parsed and drawn again."""
        store = self.store
        if self._cells_version == store.version:
            return
        changed = store.changed_since(self._cells_version) if self._cells_version >= 0 else None
        if changed is None and kept_since(store, self._cells_version) is not None:
            changed = []  # only the swap to the full columns: the rows drawn are the same rows
        if changed is None or len(changed) > 4096:
            self._cells.clear()
            self._strips.clear()
        else:
            for changed_slot in changed:
                self._cells.discard(changed_slot)
                self._strips.discard(changed_slot)
        self._cells_version = store.version

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # a theme or CSS change: the drawn lines carry the old colours

    def set_columns(self, columns) -> None:
        """Show these columns after the prompt (kept in COLUMNS order; unknown names ignored)."""
        wanted = set(columns)
        self.columns = tuple(c for c in COLUMNS if c in wanted)
        self._strips.clear()
        self.refresh()

    def _cell_texts(self, slot: int) -> dict[str, str]:
        self._forget_changed_rows()
        cells = self._cells.get(slot)
        if cells is None:
            row = self.store.row(slot)
            prompt = visible_line(str(row.get("prompt", ""))[:CELL_CHARS])
            prefix = self._shared_prefix()
            if prefix and prompt.startswith(prefix):
                prompt = "…" + prompt[len(prefix) :]
            raw = self.store.raw_line(slot)
            cells = {
                "prompt": prompt,
                "completion": visible_line(str(row.get("completion", ""))[:CELL_CHARS]),
                "run": short_run(str(row.get("run_id") or "")),
                "playbook": visible_line(str(row.get("playbook") or ""))[:CELL_CHARS],
                "created": visible_line(str(row.get("created_at") or ""))[:16].replace("T", " "),
                "length": _size(len(raw)) if raw is not None else "",
            }
            self._cells[slot] = cells
        return cells

    def _widths(self, width: int) -> list[tuple[str, int]]:
        """(column, width) of each column shown, the prompt first: it takes what the others
        leave. The chosen columns are kept in order while the prompt keeps PROMPT_MIN cells
        (the completion always: it is what a reviewer judges); the rest do not fit."""
        widths: list[tuple[str, int]] = []
        left = width - 6
        for column in self.columns:
            w = COLUMN_WIDTHS.get(column, max(8, width // 4))
            if column == "completion" or left - (w + 1) >= PROMPT_MIN:
                widths.append((column, w))
                left -= w + 1
        return [("prompt", max(8, left)), *widths]

    def _title_line(self, width: int) -> Text:
        text = Text(no_wrap=True, style=self.get_component_rich_style("row-list--title"))
        text.append("sel   ")
        prefix = self._shared_prefix()
        for n, (column, w) in enumerate(self._widths(width)):
            if n:
                text.append(" ")
            title = f"prompt (… = {prefix.strip()})" if column == "prompt" and prefix else column
            text.append_text(_fit(title, w))
        return text

    def _row_line(self, slot: int, width: int) -> Text:
        cells = self._cell_texts(slot)
        status = self.store.status[slot]
        text = Text(no_wrap=True)
        text.append(
            "[x] " if slot in self.selected else "[ ] ",
            self.get_component_rich_style("row-list--selected") if slot in self.selected else None,
        )
        text.append(
            STATUS_MARKS.get(status, "?") + " ",
            self.get_component_rich_style(STATUS_CLASSES.get(status, "row-list--dim")),
        )
        dim = self.get_component_rich_style("row-list--dim")
        for n, (column, w) in enumerate(self._widths(width)):
            if n:
                text.append(" ")
            text.append_text(
                _fit(cells[column], w, style=None if column in ("prompt", "completion") else dim)
            )
        return text

    def _selected_in(self, group: Group) -> int:
        """How many of a group's rows are selected: O(min(selection, group)) once per
        selection change, then cached (a header is redrawn on every frame)."""
        if not self.selected:
            return 0
        key = (self._lines_serial, self._selection_serial)
        if self._selected_counts_key != key:
            self._selected_counts_key, self._selected_counts = key, {}
        count = self._selected_counts.get(group.reason)
        if count is None:
            slots = group.slots
            if len(self.selected) < len(slots):
                count = 0
                for slot in self.selected:
                    k = bisect_left(slots, slot)
                    count += k < len(slots) and slots[k] == slot
            else:
                count = sum(1 for slot in slots if slot in self.selected)
            self._selected_counts[group.reason] = count
        return count

    def _header_line(self, group: Group, width: int) -> Text:
        selected = self._selected_in(group)
        box = "[x] " if selected and selected == len(group.slots) else ("[-] " if selected else "[ ] ")
        arrow = "▾ " if group.expanded else "▸ "
        text = Text(no_wrap=True, style=self.get_component_rich_style("row-list--header"))
        text.append(box)
        text.append(arrow)
        text.append(visible_line(group.reason or "(no reason)"))
        text.append(f"  {len(group.slots):,}")
        if selected and selected != len(group.slots):
            text.append(f"  ({selected:,} selected)")
        return text

    def render_lines(self, crop):
        # `rich_style` walks every ancestor's styles: once per repaint, not once per line
        self._base_style = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width  # without the scrollbar
        base = self._base_style if self._base_style is not None else self.rich_style
        key = None
        if y == 0:
            text = self._title_line(width)
        else:
            line_no = self.scroll_offset.y + y - 1
            if line_no >= len(self.lines):
                return Strip.blank(width, base)
            item = self.lines.at(line_no)
            if isinstance(item, Group):
                text = self._header_line(item, width)
            else:
                # a row's line is drawn once and reused while nothing it shows changed: after a
                # decision the rows below move up a line, and only the new ones are drawn
                self._forget_changed_rows()
                key = (
                    width,
                    self.store.status[item],
                    item in self.selected,
                    line_no == self.cursor,
                    self.has_focus,
                    self._prefix,
                    self.columns,
                )
                hit = self._strips.get(item)
                if hit is not None and hit[0] == key:
                    return hit[1]
                text = self._row_line(item, width)
                if item in self.selected:
                    text.stylize(self.get_component_rich_style("row-list--selected-row"))
            if line_no == self.cursor:
                text.stylize(
                    self.get_component_rich_style(
                        "row-list--cursor" if self.has_focus else "row-list--cursor-blur"
                    )
                )
        text.truncate(width, overflow="ellipsis", pad=True)
        # over the widget's colours: a segment with no style of its own would otherwise be
        # drawn in the terminal's default colours, whatever the theme
        strip = (
            Strip(text.render(self.app.console), text.cell_len).apply_style(base).crop_extend(0, width, base)
        )
        if key is not None and isinstance(item, int):
            self._strips[item] = (key, strip)
        return strip

    # ----------------------------------------------------------------- movement
    @property
    def _page(self) -> int:
        return max(1, self.size.height - 2)

    def _scroll_to_cursor(self) -> None:
        rows = max(1, self.size.height - 1)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, immediate=True)

    def _moved(self, force: bool = False) -> None:
        item = self.cursor_item
        # a group header is told apart from another by its reason (its slot is None for all)
        key = ("group", item.reason) if isinstance(item, Group) else item
        if force or key != self._last_item:
            self._last_item = key
            if self.on_cursor is not None:
                self.on_cursor(item if isinstance(item, int) else None)

    def _set_cursor(self, line: int) -> None:
        if not len(self.lines):
            return
        line = max(0, min(line, len(self.lines) - 1))
        if line != self.cursor:
            old = self.cursor
            self.cursor = line
            self._refresh_line(old)
            self._refresh_line(line)
            self._scroll_to_cursor()
        self._moved()

    def _refresh_line(self, line: int) -> None:
        """Repaint the screen row that shows `line` (if on screen). ScrollView's `refresh_line`
        takes a virtual row: the title is row 0, so `line` is virtual row line + 1."""
        y = line - self.scroll_offset.y + 1
        if 1 <= y < self.size.height:
            self.refresh_line(line + 1)

    def action_move(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        target = self.cursor + delta * self._page
        top = max(0, self.scroll_offset.y + delta * self._page)
        self.scroll_to(y=top, animate=False, immediate=True)
        self._set_cursor(target)
        self.refresh()

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self.lines) - 1)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.lines) + 1)
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._set_cursor(self.scroll_offset.y + event.y - 1)

    # ----------------------------------------------------------------- selection
    def _selection_changed(self) -> None:
        self._selection_serial += 1
        self._tell_selection()
        self.refresh()

    def _tell_selection(self) -> None:
        if self.on_selection is not None:
            self.on_selection(len(self.selected))

    def action_toggle_select(self) -> None:
        item = self.cursor_item
        if item is None:
            return
        if isinstance(item, Group):
            if all(s in self.selected for s in item.slots):
                self.selected.difference_update(item.slots)
            else:
                self.selected.update(item.slots)
        elif item in self.selected:
            self.selected.discard(item)
        else:
            self.selected.add(item)
        self._selection_changed()
        self._set_cursor(self.cursor + 1)

    def action_extend(self, delta: int) -> None:
        """J / K (shift+arrow): select the row under the cursor and move on, as space does but
        never unselecting, so every key selects exactly one row: `space J J J` selects 4."""
        item = self.cursor_item
        if isinstance(item, int):
            self.selected.add(item)
        self._set_cursor(self.cursor + delta)
        self._selection_changed()

    def action_select_all(self) -> None:
        """Select every row matching the current view and filter (an explicit O(rows) action)."""
        view = self.view
        self.selected.update(view[k] for k in range(len(view)))
        self._selection_changed()

    # ----------------------------------------------------------------- groups
    def _group_at_cursor(self) -> tuple[Group, int] | None:
        if not isinstance(self.lines, GroupedLines) or not len(self.lines):
            return None
        return self.lines.group_of(self.cursor), self.lines.header_of(self.cursor)

    def _set_expanded(self, expanded: bool | None) -> None:
        found = self._group_at_cursor()
        if found is None:
            return
        group, header = found
        new = (not group.expanded) if expanded is None else expanded
        if new == group.expanded:
            return
        self._expanded[group.reason] = new
        self.cursor = header
        self._rebuild_lines()
        self._scroll_to_cursor()
        self._moved()
        self.refresh()

    def action_toggle_group(self) -> None:
        self._set_expanded(None)

    def action_next_group(self, delta: int) -> None:
        """] / [: the header of the next / previous reason group."""
        lines = self.lines
        if not isinstance(lines, GroupedLines) or not lines.groups:
            return
        here = lines.groups.index(lines.group_of(self.cursor)) if len(lines) else 0
        on_header = self.cursor == lines.header_of(self.cursor)
        target = here + delta if on_header or delta > 0 else here  # [ inside a group: its header
        self._set_cursor(lines.starts[max(0, min(target, len(lines.groups) - 1))])

    def jump_to_group(self, reason: str) -> bool:
        """Put the cursor on the header of `reason`'s group; False when there is none."""
        lines = self.lines
        gi = lines.by_reason.get(reason) if isinstance(lines, GroupedLines) else None
        if gi is None or not isinstance(lines, GroupedLines):
            return False
        self._set_cursor(lines.starts[gi])
        return True

    def action_fold_all(self) -> None:
        """z: fold every group (each header then one line), or unfold them all when all are folded."""
        lines = self.lines
        if not isinstance(lines, GroupedLines) or not lines.groups:
            return
        here = lines.group_of(self.cursor).reason if len(lines) else None
        fold = any(group.expanded for group in lines.groups)
        for group in lines.groups:
            self._expanded[group.reason] = not fold
        self._rebuild_lines()
        gi = self.lines.by_reason.get(here) if isinstance(self.lines, GroupedLines) else None
        self.cursor = self.lines.starts[gi] if gi is not None and isinstance(self.lines, GroupedLines) else 0
        self._scroll_to_cursor()
        self._moved()
        self.refresh()

    def action_collapse(self) -> None:
        self._set_expanded(False)

    def action_expand(self) -> None:
        self._set_expanded(True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not on_shown_tab(self):
            return False  # the command palette lists only what the visible tab can do
        if action in ("toggle_group", "collapse", "expand", "next_group", "fold_all"):
            return self.grouped
        return True


def kept_since(store: RowSource, version: int) -> int | None:
    """When the store's only change since `version` is the swap to the full columns (see
    `Store.kept_rows`): how many slots hold the rows they held then; else None."""
    kept = store.kept_rows
    if kept is not None and version >= 0 and kept[0] == version and kept[1] == store.version:
        return int(kept[2])
    return None


def _size(n: int) -> str:
    """A row's stored size, short: 812, 4.1k, 12k, 3.2M."""
    if n < 1000:
        return str(n)
    for unit, scale in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if n < scale * 1000:
            value = n / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{n / 1e12:.0f}T"


def _fit(value: str, width: int, style: Style | None = None) -> Text:
    """A plain string cut (with an ellipsis) or padded to exactly `width` cells."""
    text = Text(value, style=style or "", no_wrap=True, end="")
    text.truncate(width, overflow="ellipsis", pad=True)
    return text
