"""Deferred: a slot whose widget is imported, built and mounted right after the first frame.

Textual's `Lazy` defers the mount of a widget that already exists (and raises `MountError`
when the app shuts down before that mount: a SIGHUP right after start ended with exit code 1);
this defers its *import* too, and gives up quietly when its parent is gone. The jobs sidebar, the Runs and the Balance views pull in the job runner, the generators,
the playbook models and `DataTable`: about 70 ms of imports that the first screen of the queue
does not need. The slot takes the widget's place in the layout (same id-based CSS through
`classes`), so nothing moves when the real widget arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import MountError, Widget


class Deferred(Widget):
    """Holds `factory()`'s place; replaced by it once the first frame is on screen."""

    DEFAULT_CSS = """
    Deferred {
        background: $background;
    }
    """

    def __init__(self, factory: Callable[[], Widget], *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._factory = factory

    def render(self) -> str:
        return ""  # (a bare Widget draws its own name: "Deferred.sidebar-slot" showed at start)

    def on_mount(self) -> None:
        self.call_after_refresh(self._replace)

    async def _replace(self) -> None:
        parent = self.parent
        if not isinstance(parent, Widget) or not parent.is_mounted or not self.is_attached:
            return  # the app is shutting down (SIGHUP in the first frames): nothing to show
        try:
            await parent.mount(self._factory(), after=self)
        except MountError:  # the parent went away meanwhile (the same shutdown race)
            return
        await self.remove()
