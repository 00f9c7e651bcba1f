"""The command palette (`ctrl+p`): every action of the app by name, wherever the focus is.

Every view's actions are listed, each saying the view it applies to: those of the view shown
by their name, those of a hidden view as "Approve — Queue"; choosing one of those first shows
that view (so the row or run it acts on is in sight), then runs it there. Nothing acts on a
hidden view behind the user's back (issue 11.3) and nothing is missing from Balance (11).

The list is derived, not hand-kept: the described bindings of every brewslm widget on the
screen, of the screen and of the app (each runs on the node that binds it, so "Approve" works
from the palette even when the jobs sidebar has the focus), plus entries no single key covers:
one "Show tab" entry per tab, and whatever a widget returns from an optional
`palette_commands()` hook (`[(title, help, callback), ...]`: the queue offers "Reject:
<reason>" for each of the project's reason codes there). Textual's own commands (Theme,
Quit, Keys, Screenshot...) come after all of these, from this one provider: with Textual's
provider beside it, whichever answered first was listed first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import TabbedContent, TabPane

from brewslm_tui.ui.shell.help_screen import group_name
from brewslm_tui.ui.shell.tabs import on_shown_tab, supposing_shown, tab_pane_of
from brewslm_tui.ui.shell.textual_compat import bindings_of

NAVIGATION = frozenset(
    {
        "up",
        "down",
        "left",
        "right",
        "top",
        "bottom",
        "first",
        "last",
        "home",
        "end",
        "page up",
        "page down",
        "page left",
        "page right",
        "scroll up",
        "scroll down",
        "scroll left",
        "scroll right",
        "cursor up",
        "cursor down",
    }
)


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    callback: Callable[[], object]


def _ours(node: DOMNode) -> bool:
    """App, screen and this package's widgets; not textual's own (scroll keys, Input editing)."""
    return isinstance(node, (App, Screen)) or type(node).__module__.startswith("brewslm_tui")


def _defined_here(node: DOMNode, action_name: str) -> bool:
    method = getattr(type(node), f"action_{action_name}", None)
    return method is not None and getattr(method, "__module__", "").startswith("brewslm_tui")


def view_title(pane: TabPane) -> str:
    """ "2 Rejected" -> "Rejected": the view's name without its key."""
    title = str(getattr(pane, "_title", "") or pane.id)
    head, _, rest = title.partition(" ")
    return rest if head.isdigit() and rest else title


def _where(node: DOMNode) -> str:
    """Which view a node's actions apply to, in words."""
    pane = tab_pane_of(node)
    if pane is not None:
        return view_title(pane)
    return "every view" if isinstance(node, (App, Screen)) else group_name(node)


def _on_view(app: App, pane: TabPane, run: Callable[[], object]) -> None:
    """Show the view `pane` (as its key would), then run an action of it once it is drawn."""
    if pane.id and app.check_action("show_tab", (pane.id,)) is not False and hasattr(app, "action_show_tab"):
        app.action_show_tab(pane.id)
    else:
        for tabbed in pane.ancestors:
            if isinstance(tabbed, TabbedContent):
                tabbed.active = pane.id or ""
                break
    app.call_after_refresh(run)


def _node_commands(app: App, node: DOMNode) -> Iterator[PaletteCommand]:
    """A node's commands: as they are when its view is shown; a hidden view's named and
    routed through `_on_view`; none for a node hidden for another reason."""
    if on_shown_tab(node):
        yield from _binding_commands(app, node)
        yield from _hook_commands(node)
        return
    pane = tab_pane_of(node)
    if pane is None:
        return
    with supposing_shown(pane):
        if not on_shown_tab(node):
            return
        commands = [*_binding_commands(app, node), *_hook_commands(node)]
    suffix = f" — {view_title(pane)}"
    for command in commands:
        yield PaletteCommand(
            command.title + suffix, command.help, partial(_on_view, app, pane, command.callback)
        )


def _hook_commands(node: DOMNode) -> Iterator[PaletteCommand]:
    hook = getattr(node, "palette_commands", None)
    if callable(hook):
        yield from (PaletteCommand(*entry) for entry in hook())


def _binding_commands(app: App, node: DOMNode) -> Iterator[PaletteCommand]:
    seen: set[str] = set()
    for _key, binding in bindings_of(node):
        if not binding.description or binding.action in seen:
            continue
        action_name = binding.action.split("(")[0]
        if "." in action_name:
            continue  # "app.x" / "screen.x" are listed on their own node
        if not binding.show and not _defined_here(node, action_name):
            continue  # textual's hidden keys (Input editing...) are not commands
        if binding.description.lower() in NAVIGATION:
            continue  # moving the cursor is what keys are for, not a command
        seen.add(binding.action)
        if node.check_action(action_name, ()) is False:
            continue
        keys = [app.get_key_display(b) for _k, b in bindings_of(node) if b.action == binding.action]
        yield PaletteCommand(
            binding.description,
            f"{_where(node)}   key: {' / '.join(dict.fromkeys(keys))}",
            partial(app.run_action, binding.action, node),
        )


def _tab_commands(screen: Screen, bound: str) -> Iterator[PaletteCommand]:
    """'Show tab: X' for each tab no binding already switches to (`bound`: every bound action)."""
    for tabbed in screen.query(TabbedContent):
        for pane in tabbed.query("TabPane"):
            title = str(getattr(pane, "_title", "") or pane.id)
            if pane.id and f"'{pane.id}'" not in bound and f'"{pane.id}"' not in bound:
                yield PaletteCommand(
                    f"Show tab: {title}",
                    "every view   switch view",
                    partial(setattr, tabbed, "active", pane.id),
                )


def palette_commands(screen: Screen) -> list[PaletteCommand]:
    """Every command available on `screen`: focused chain first, then the rest, deduplicated."""
    app = screen.app
    nodes: list[DOMNode] = []
    focused = screen.focused
    if focused is not None:
        nodes.extend(n for n in focused.ancestors_with_self if _ours(n) and n is not screen and n is not app)
    nodes.extend(n for n in screen.walk_children() if _ours(n) and n not in nodes)
    nodes.extend([screen, app])
    commands: list[PaletteCommand] = []
    titles: set[str] = set()

    def add(items: Iterable[PaletteCommand]) -> None:
        for command in items:
            if command.title.casefold() not in titles:
                titles.add(command.title.casefold())
                commands.append(command)

    for node in nodes:
        add(_node_commands(app, node))
    bound = " ".join(binding.action for node in nodes for _key, binding in bindings_of(node))
    add(_tab_commands(screen, bound))
    return commands


def all_commands(screen: Screen) -> list[PaletteCommand]:
    """The app's commands (`palette_commands`), then Textual's system commands not already named."""
    commands = palette_commands(screen)
    titles = {command.title.casefold() for command in commands}
    for system in screen.app.get_system_commands(screen):
        if system.title.casefold() not in titles:
            titles.add(system.title.casefold())
            commands.append(PaletteCommand(system.title, system.help, system.callback))
    return commands


class BrewCommands(Provider):
    """`App.COMMANDS` (alone): lists `all_commands(screen)` for the screen it was opened on."""

    async def discover(self) -> Hits:
        for command in all_commands(self.screen):
            yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in all_commands(self.screen):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    command.callback,
                    text=command.title,
                    help=command.help,
                )
