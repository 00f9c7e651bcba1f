"""Changing a ScrollView's virtual size without re-laying out the whole screen.

`virtual_size` is a layout reactive: assigning it asks the screen for a full layout, which lands
a frame later and costs a second repaint (the scrollbars, resized by that layout). A list whose
length changes on every decision, or a detail pane showing another row, only needs its own
scrollbars updated; the widget's own size does not change.
"""

from __future__ import annotations

from textual.geometry import Size


def set_virtual_size(widget, size: Size) -> None:
    """`widget.virtual_size = size`, quietly: only the scrollbars are updated (they still ask for a
    layout if they appear or disappear, which `overflow-y: scroll` rules out)."""
    if size == widget.virtual_size:
        return
    try:
        widget.set_reactive(type(widget).virtual_size, size)
        widget._scroll_update(size)
    except AttributeError:  # a Textual without `_scroll_update`: the plain, slower way
        widget.virtual_size = size
