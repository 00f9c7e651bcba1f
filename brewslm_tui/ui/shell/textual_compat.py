"""The few private Textual APIs the app uses, in one place, each with why.

Textual 8 offers no public way to do these; when an upgrade renames one, this module is the
only place to change (and each function falls back to the public, slower way where one exists).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

from textual.binding import Binding
from textual.dom import DOMNode
from textual.drivers._writer_thread import WriterThread
from textual.geometry import Size
from textual.keys import _character_to_key
from textual.screen import Screen
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
