"""Views whose numbers come from one pass over the store's columns, done off the key path.

The runs and balance views need a pass over every slot (per-run counts, label counts). That
is O(rows): too slow for a keystroke at a million rows, cheap as a background job. This mixin
runs `compute()` in a thread worker when the store's `version` moved and the view is on
screen (a hidden view only marks itself stale and computes when shown), one pass at a time
(`exclusive`), then calls `show(result)` on the UI thread. A pass that starts while rows are
being appended reads a consistent prefix (`len(store)` taken once); the next `refresh_data`
catches up.
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.worker import Worker, WorkerState


class BackgroundTally:
    """Mix into a Widget; implement `compute()` (thread-safe reads only) and `show(result)`."""

    store: Any
    _tally_version: int | None = None
    _tally_running: bool = False
    _tally_again: bool = False

    def compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def show(self, result: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def refresh_data(self, force: bool = False) -> None:
        """Called by the app after store changes: recompute if the store changed and we are visible."""
        version = self.store.version
        if not force and version is not None and version == self._tally_version:
            return
        if not self._tally_visible():
            self._tally_version = None  # stale: recompute when shown
            return
        if self._tally_running:
            self._tally_again = True
            return
        self._tally_running = True
        self._tally_version = version
        self.run_worker(self.compute, thread=True, group="tally", exit_on_error=False)  # type: ignore[attr-defined]

    def _tally_visible(self) -> bool:
        """Mounted and not inside a hidden container (an inactive tab pane)."""
        widget: Any = self
        if not widget.is_mounted:
            return False
        return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))

    def on_show(self) -> None:
        self.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "tally":
            return
        if event.state == WorkerState.SUCCESS:
            self.show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.notify(f"Could not count rows: {event.worker.error}", severity="error")  # type: ignore[attr-defined]
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._tally_running = False
            if self._tally_again:
                self._tally_again = False
                self.refresh_data()
