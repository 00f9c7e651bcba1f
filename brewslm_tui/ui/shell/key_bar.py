"""KeyBar: the one-line key hints at the bottom, drawn as one line of text.

Textual's `Footer` is a container of `FooterKey` widgets that it recomposes (unmounts, builds
and mounts again, then lays out) a frame after every focus change or screen push/pop. On a tab
switch or after a dialog that cost 3-4 extra frames (~50-70 ms) on top of the change itself.
This bar renders the same hints (the focused chain's `show=True` bindings, then the command
palette key on the right) as a single line when the screen's bindings change, in the same
frame, with no layout. A click on a hint presses its key, as in the Footer.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.strip import Strip
from textual.widget import Widget


class KeyBar(Widget):
    """Key hints of the current screen, e.g. `a Approve  x Reject  …   ^p palette`.

    | Class | Description |
    | :- | :- |
    | `key-bar--key` | A key. |
    | `key-bar--description` | What the key does. |
    | `key-bar--disabled` | A key that does nothing here now. |
    """

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        dock: bottom;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
    }
    KeyBar > .key-bar--disabled {
        color: $footer-description-foreground 50%;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description", "key-bar--disabled"}

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._hints: tuple = ()  # ((key, key display, description, enabled), ...) as last drawn
        self._palette: tuple | None = None
        self._spans: list[tuple[int, int, str]] = []  # (x0, x1, key) of each hint, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        """Called synchronously by the signal: redraw only if what the bar says changed."""
        if screen is not self.screen:
            return
        app = self.app
        active = screen.active_bindings
        hints, seen = [], set()
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue  # one hint per action (j and down both move)
            seen.add(binding.action)
            hints.append((binding.key, app.get_key_display(binding), binding.description, enabled))
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _node, binding, enabled, _tooltip = active[app.COMMAND_PALETTE_BINDING]
            palette = (binding.key, app.get_key_display(binding), binding.description, enabled)
        if (tuple(hints), palette) != (self._hints, self._palette):
            self._hints, self._palette = tuple(hints), palette
            self.refresh()

    HELP_KEY = "question_mark"

    def _fitting(self, width: int) -> list[tuple]:
        """The hints that fit in `width`, dropped from the end, never `? Help` (at 80 columns it
        fell off the end, and with it the way to every other key)."""
        hints = list(self._hints)

        def size(item: tuple) -> int:
            return cell_len(item[1]) + cell_len(item[2]) + 3  # as _line's hint() draws it

        while len(hints) > 1 and sum(map(size, hints)) > width:
            droppable = [k for k, item in enumerate(hints) if item[0] != self.HELP_KEY]
            if not droppable:
                break
            del hints[droppable[-1]]
        return hints

    @property
    def text(self) -> str:
        """The hints as plain text (tests)."""
        return self._line(self.size.width or 200).plain

    def _line(self, width: int) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        disabled_style = self.get_component_rich_style("key-bar--disabled")
        text = Text(no_wrap=True, end="")
        spans: list[tuple[int, int, str]] = []

        def hint(key: str, display: str, description: str, enabled: bool) -> None:
            start = text.cell_len
            text.append(f" {display} ", key_style if enabled else disabled_style)
            text.append(f"{description} ", description_style if enabled else disabled_style)
            spans.append((start, text.cell_len, key))

        for item in self._fitting(width):
            hint(*item)
        if self._palette is not None:
            right = cell_len(self._palette[1]) + cell_len(self._palette[2]) + 3  # as hint() draws it
            if text.cell_len + right <= width:
                text.append(" " * (width - text.cell_len - right))
                hint(*self._palette)
        self._spans = spans
        text.truncate(width, overflow="ellipsis", pad=True)
        return text

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y or not width:
            return Strip.blank(width, self.rich_style)
        text = self._line(width)
        return Strip(text.render(self.app.console), text.cell_len).crop_extend(0, width, self.rich_style)

    def on_click(self, event: events.Click) -> None:
        for x0, x1, key in self._spans:
            if x0 <= event.x < x1:
                self.app.simulate_key(key)
                return
