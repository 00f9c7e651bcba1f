"""Which tab a widget is on: the five tab ids, and whether a widget's tab is the one shown.

Bindings and palette commands of a hidden tab must not act: Textual keeps hidden tab panes
mounted (with display off), so their widgets would otherwise still answer `check_action`.
"""

from __future__ import annotations

from textual.dom import DOMNode

TABS = ("queue", "rejected", "approved", "runs", "balance")


def on_shown_tab(widget: DOMNode) -> bool:
    """False for a widget inside a hidden tab pane (inactive tabs have display off)."""
    return all(node.display for node in widget.ancestors_with_self)
