"""The movement keys every list and scrollable screen takes, as the row lists do: j / k, g / G
and Home / End (vim and less habits), on top of the arrows and PageUp / PageDown that Textual
binds. One place, so a table, a selection list and a help page never disagree.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll

# descriptions as Textual's own ("cursor down", "scroll up"...): the palette leaves them out
TABLE_MOVES: list[BindingType] = [
    Binding("j", "cursor_down", "Cursor down", show=False),
    Binding("k", "cursor_up", "Cursor up", show=False),
    Binding("g,home", "scroll_top", "Top", show=False),
    Binding("G,end", "scroll_bottom", "Bottom", show=False),
]
OPTION_MOVES: list[BindingType] = [
    Binding("j", "cursor_down", "Cursor down", show=False),
    Binding("k", "cursor_up", "Cursor up", show=False),
    Binding("g", "first", "Top", show=False),
    Binding("G", "last", "Bottom", show=False),
]
SCROLL_MOVES: list[BindingType] = [
    Binding("j", "scroll_down", "Scroll down", show=False),
    Binding("k", "scroll_up", "Scroll up", show=False),
    Binding("g", "scroll_home", "Top", show=False),
    Binding("G", "scroll_end", "Bottom", show=False),
]


class MovingScroll(VerticalScroll):
    """A VerticalScroll that also scrolls with j / k / g / G.

    | Key(s) | Description |
    | :- | :- |
    | j | Scroll down. |
    | k | Scroll up. |
    | g | Scroll to the top. |
    | G | Scroll to the bottom. |
    """

    BINDINGS: ClassVar[list[BindingType]] = SCROLL_MOVES
