"""Which tab a widget is on: the five tab ids, and whether a widget's tab is the one shown.

Bindings and palette commands of a hidden tab must not act: Textual keeps hidden tab panes
mounted (with display off), so their widgets would otherwise still answer `check_action`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from textual.dom import DOMNode
from textual.widgets import TabPane

TABS = ("queue", "rejected", "approved", "runs", "balance")

_supposed_shown: list[DOMNode] = []  # tab panes the palette asks about as if they were shown


def on_shown_tab(widget: DOMNode) -> bool:
    """False for a widget inside a hidden tab pane (inactive tabs have display off)."""
    return all(node.display or node in _supposed_shown for node in widget.ancestors_with_self)


def tab_pane_of(widget: DOMNode) -> TabPane | None:
    """The tab pane a widget sits in (None for the header, the sidebar, the key bar)."""
    return next((node for node in widget.ancestors_with_self if isinstance(node, TabPane)), None)


@contextmanager
def supposing_shown(pane: TabPane) -> Iterator[None]:
    """What the widgets of `pane` could do were it shown: the palette lists the actions of
    every view, and runs one of a hidden view only after showing that view."""
    _supposed_shown.append(pane)
    try:
        yield
    finally:
        _supposed_shown.remove(pane)
