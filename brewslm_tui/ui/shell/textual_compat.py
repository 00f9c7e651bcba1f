"""The few private Textual APIs the app uses, in one place, each with why.

Textual 8 offers no public way to do these; when an upgrade renames one, this module is the
only place to change (and each function falls back to the public, slower way where one exists).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from itertools import pairwise

from textual._compositor import ChopsUpdate, Compositor
from textual.binding import Binding
from textual.dom import DOMNode
from textual.drivers._writer_thread import WriterThread
from textual.geometry import Region, Size
from textual.keys import _character_to_key
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget


def set_virtual_size(widget: Widget, size: Size) -> None:
    """`widget.virtual_size = size`, quietly: only the scrollbars are updated.

    `virtual_size` is a layout reactive: assigning it asks the screen for a full layout, which
    lands a frame later and costs a second repaint. A list whose length changes on every
    decision, or a detail pane showing another row, only needs its own scrollbars updated
    (they still ask for a layout if they appear or disappear, which `overflow-y: scroll` rules out).
    """
    if size == widget.virtual_size:
        return
    try:
        widget.set_reactive(type(widget).virtual_size, size)
        # private: ScrollView._scroll_update sets the scrollbars' sizes without a layout
        widget._scroll_update(size)
    except AttributeError:  # a Textual without `_scroll_update`: the plain, slower way
        widget.virtual_size = size


def bind_character(node: DOMNode, character: str, action: str, description: str) -> None:
    """Bind one typed character (a reason key from the project file) on `node` at runtime.

    private: `_bindings` is the node's BindingsMap (BINDINGS is per class, the reason keys are
    per project) and `_character_to_key` turns "?" into the key name "question_mark".
    """
    node._bindings.bind(_character_to_key(character), action, description, show=False)


def bindings_of(node: DOMNode) -> Iterator[tuple[str, Binding]]:
    """(key, Binding) pairs bound on `node` itself (for the command palette).

    private: `_bindings` is the node's own BindingsMap; the public `active_bindings` is only
    the focused chain's, and the palette lists the whole screen.
    """
    yield from node._bindings


def binding_chain_rank(screen: Screen) -> dict[int, int]:
    """id(node) -> its place in the screen's binding chain (focused widget first, app last).

    private: `_modal_binding_chain` is the chain Textual itself walks to match a key; the help
    screen orders its groups by it.
    """
    return {id(node): rank for rank, (node, _) in enumerate(screen._modal_binding_chain)}


WRITE_RETRY_SECONDS = 0.25


def _write_unless_gone(self: WriterThread, text: str | None) -> None:
    """Queue `text` for the terminal while the writer thread lives; drop it once it has died."""
    while self.is_alive():
        try:
            self._queue.put(text, timeout=WRITE_RETRY_SECONDS)
            return
        except queue.Full:
            continue


def _write(self: WriterThread, text: str) -> None:
    _write_unless_gone(self, text)


def _stop(self: WriterThread) -> None:
    _write_unless_gone(self, None)
    self.join()


def never_block_on_a_dead_terminal() -> None:
    """Writes to a terminal that is gone are dropped instead of blocking the app for ever.

    private: Textual's `WriterThread` (drivers/_writer_thread.py) dies on the first write that
    fails (EIO once the terminal is closed), and its `write` is a blocking `put` on a queue of
    30: the 31st frame after that blocked the event loop in a futex wait, so SIGHUP and SIGTERM
    (handled on the loop) were never acted on and the process held the session lock until
    someone `kill -9`ed it (issue 14.24). Idempotent.
    """
    WriterThread.write = _write  # type: ignore[method-assign]
    WriterThread.stop = _stop  # type: ignore[method-assign]


class _ChangedLinesCompositor(Compositor):
    """A compositor whose partial update draws only the screen lines that changed.

    private: Textual's `Compositor.render_partial_update` asks every visible widget whose
    *clip* (its container) overlaps the box around the changed regions for all of its visible
    lines, then keeps only the changed lines. A cursor move in the queue changes two lines of
    the row list and the detail pane, yet the header, the tabs, the sidebar, the key bar and
    every container behind them were drawn whole on every key (15 widgets, ~250 lines; about
    two thirds of a key's CPU time). Here each widget that overlaps the box is asked only for
    the runs of changed lines it covers, and a widget outside the box for nothing. Within
    those lines a widget is asked only where it is the front-most widget of a cut the update
    sends (one that overlaps a changed span): the containers behind the row list and the detail
    pane (queue pane, tab pane, switcher, tabs, body, screen: 10 of 16 `render_lines` calls of
    a cursor key) are not drawn at all. The output is the same: the lines and cuts left out are
    the ones the update never sends or a widget in front already drew.
    """

    def render_partial_update(self) -> ChopsUpdate | None:
        screen_region = self.size.region
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        crop = Region.from_union(update_regions).intersection(screen_region)
        spans = list(self._regions_to_spans(update_regions))
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        # open[y]: the cuts of line y that the update sends (they overlap one of its spans, by
        # ChopsUpdate's own test) and that no widget in front has filled yet
        ranges: dict[int, list[tuple[int, int]]] = {}
        for y, x1, x2 in spans:
            ranges.setdefault(y, []).append((x1, x2))
        open_: dict[int, set[int]] = {}
        for y, line_ranges in ranges.items():
            cut_set = cuts[y]
            open_[y] = {
                cut
                for cut, end in pairwise(cut_set)
                if any(not (cut > x2 or end <= x1) for x1, x2 in line_ranges)
            }
        left = sum(map(len, open_.values()))
        crop_overlaps = crop.overlaps
        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            if not left:
                break  # every cut the update sends is drawn: the widgets behind are hidden
            area = region.intersection(clip)
            if not area.width or not area.height or not crop_overlaps(area):
                continue
            x, first_cut, last_cut = area.x, area.x, area.right
            # the lines on which this widget is in front of an open cut, in runs
            runs: list[tuple[int, int]] = []  # [start, end) of each run of lines to draw
            for y in range(max(area.y, crop.y), min(area.bottom, crop.bottom)):
                line_open = open_.get(y)
                if not line_open or not any(first_cut <= cut < last_cut for cut in line_open):
                    continue
                if runs and runs[-1][1] == y:
                    runs[-1] = (runs[-1][0], y + 1)
                else:
                    runs.append((y, y + 1))
            for top, bottom in runs:
                strips = widget.render_lines(Region(x - region.x, top - region.y, area.width, bottom - top))
                for y, strip in zip(range(top, bottom), strips, strict=False):
                    line = chops[y]
                    line_open = open_[y]
                    final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                    for cut, piece in zip(
                        final_cuts, strip.divide([cut - x for cut in final_cuts[1:]]), strict=False
                    ):
                        if line.get(cut) is None:  # the front-most widget wins its cut
                            line[cut] = piece
                            if cut in line_open:
                                line_open.discard(cut)
                                left -= 1
        chop_ends = [cut_set[1:] for cut_set in cuts]
        return ChopsUpdate(chops, spans, chop_ends)


def draw_changed_lines_only(screen: Screen) -> None:
    """Make `screen` draw only its changed lines in a partial update (see `_ChangedLinesCompositor`).

    private: `Screen._compositor`; its class is swapped in place (its layout and cuts kept).
    Idempotent; a Textual whose compositor lacks these internals is left as it is.
    """
    compositor = getattr(screen, "_compositor", None)
    if type(compositor) is Compositor and all(
        hasattr(compositor, name)
        for name in ("_dirty_regions", "_regions_to_spans", "cuts", "visible_widgets")
    ):
        compositor.__class__ = _ChangedLinesCompositor
