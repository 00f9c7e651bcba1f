"""`?`: every key that works where the focus is, grouped by where it is bound.

Built from the screen's *active* bindings (the focused widget, its ancestors, the screen and
the app, the same chain the key bar and the key dispatcher use), snapshotted when the help is
opened, so the list can never drift from what the keys really do. Hidden bindings (`j/k`,
page keys...) are listed too: the key bar has no room for them, the help does.

Bindings: `?`, `escape`, `q` close the help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from brewslm_tui.ui.shell.movement import MovingScroll
from brewslm_tui.ui.shell.textual_compat import binding_chain_rank

# Textual's horizontal page keys on every scrollable (ctrl+pgup "Page Left"): the app's lists
# and panes scroll only vertically (long lines wrap), so the help does not offer them
NOT_LISTED = frozenset({"page_left", "page_right", "scroll_left", "scroll_right"})
# Textual's own words for a few of its bindings, in the app's ("palette" for ctrl+p)
IN_OUR_WORDS = {"command_palette": "Every action by name (command palette)"}


@dataclass
class HelpEntry:
    keys: list[str]
    description: str
    enabled: bool
    shown: bool = True  # in the key bar: the view's own keys, listed before navigation keys


def group_name(node: DOMNode) -> str:
    """A heading for the bindings of one node: its HELP_GROUP, else a readable class name."""
    explicit = getattr(node, "HELP_GROUP", None)
    if explicit:
        return str(explicit)
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return "This screen"
    name = type(node).__name__
    words = "".join(" " + c if c.isupper() and i else c for i, c in enumerate(name))
    return words.strip()


def collect_help(screen: Screen) -> list[tuple[str, list[HelpEntry]]]:
    """Group the screen's active bindings by where they are bound (focused widget first).

    A group is a node's `group_name`; several keys bound to one action (`j` and `down`) are one entry.
    """
    app = screen.app
    chain_rank = binding_chain_rank(screen)
    groups: dict[str, dict[str, HelpEntry]] = {}  # nodes with the same group name share a heading
    rank: dict[str, int] = {}
    for active_binding in screen.active_bindings.values():
        node, binding = active_binding.node, active_binding.binding
        if binding.action in NOT_LISTED:
            continue
        name = group_name(node)
        entries = groups.setdefault(name, {})
        rank[name] = min(rank.get(name, len(chain_rank)), chain_rank.get(id(node), len(chain_rank)))
        display = app.get_key_display(binding)
        entry = entries.get(binding.action)
        if entry is None:
            entries[binding.action] = HelpEntry(
                [display], describe(binding), active_binding.enabled, binding.show
            )
        elif display not in entry.keys:
            entry.keys.append(display)
    # the binding chain starts at the focused widget and ends at the app: keep that order
    order = sorted(groups, key=lambda name: rank[name])
    return [(name, sorted(groups[name].values(), key=lambda e: not e.shown)) for name in order]


def describe(binding: Binding) -> str:
    """The binding's description, or its action made readable when it has none."""
    if binding.action in IN_OUR_WORDS:
        return IN_OUR_WORDS[binding.action]
    if binding.description:
        return binding.description
    return binding.action.split("(")[0].split(".")[-1].replace("_", " ")


def render_help(groups: list[tuple[str, list[HelpEntry]]], key_width: int = 14, widest: int = 22) -> Text:
    """The keys in a column as wide as the widest (up to `widest` cells: longer ones push
    their description along), so "home / ^home / g" does not run into "Top"."""
    longest = max((len(" / ".join(e.keys)) for _t, entries in groups for e in entries), default=0)
    key_width = max(key_width, min(widest, longest))
    text = Text()
    for n, (title, entries) in enumerate(groups):
        if n:
            text.append("\n")
        text.append(title.upper() + "\n", style="bold")
        for entry in entries:
            keys = " / ".join(entry.keys)
            style = "" if entry.enabled else "dim"
            text.append(f"  {keys:<{key_width}} ", style="bold " + style if style else "bold")
            text.append(entry.description + "\n", style=style)
    text.rstrip()
    return text


class HelpScreen(ModalScreen[None]):
    """Every binding of the view the help was opened from.

    | Key(s) | Description |
    | :- | :- |
    | ? | Close. |
    | escape | Close. |
    | q | Close. |
    """

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > .modal-box {
        border-title-align: center;
    }
    HelpScreen MovingScroll {
        height: auto;
        max-height: 100%;
    }
    HelpScreen .hint {
        dock: bottom;  /* the close hint stays on screen however long the list (80x24) */
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "close", "Close help"),
        Binding("escape", "close", "Close help", show=False),
        Binding("q", "close", "Close help", show=False),
    ]

    def __init__(self, source: Screen) -> None:
        """`source` is the screen whose keys to list (snapshotted now, before this one is pushed)."""
        super().__init__()
        self.groups = collect_help(source)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = "Keys"
            with MovingScroll():
                yield Static(render_help(self.groups), id="help-body")
            yield Static(Text("? / escape / q close   ctrl+p: every action by name"), classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
