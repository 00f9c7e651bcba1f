"""The one-line header: project name, live counts, the bell, and the read-only banner.

Counts come from `store.counts()` (O(1)); while the store's background column pass runs
(`store.loaded` is False) they read "loading…" instead of numbers that are still growing.

The quarantined count is what `stats` and `check` say (`core.store.quarantine.count`: the lines
still outstanding in `.brewslm/quarantine/`, plus bad lines not copied there yet). It reads the
quarantine folder, so it is counted in a thread worker, never on a key: again when the store's
own problems change, every few seconds (another process may restore or discard a line), and
when asked (`recount_quarantine`, after the Quarantine screen acted).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from brewslm_tui.core.store import quarantine
from brewslm_tui.core.text import visible_line

QUARANTINE_RECOUNT_SECONDS = 3.0
SHORT_LABELS = {"pending": "pend", "approved": "appr", "rejected": "rej", "dropped": "drop"}

COUNT_STYLES = (
    ("pending", "header--pending"),
    ("approved", "header--approved"),
    ("rejected", "header--rejected"),
    ("dropped", "header--dropped"),
)


class HeaderBar(Static):
    """Redrawn by the app after every change (`show(...)`); holds no state of its own.

    | Class | Description |
    | :- | :- |
    | `header--name` | The project name. |
    | `header--pending` | The pending count. |
    | `header--approved` | The approved count. |
    | `header--rejected` | The rejected count. |
    | `header--dropped` | The dropped count. |
    | `header--bell` | Finished jobs not looked at yet. |
    | `header--readonly` | The read-only mark. |
    | `header--dim` | Labels and separators. |
    """

    DEFAULT_CSS = """
    HeaderBar {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    HeaderBar > .header--name { background: $primary; color: $background; text-style: bold; }
    HeaderBar > .header--pending { color: $accent; text-style: bold; }
    HeaderBar > .header--approved { color: $success; text-style: bold; }
    HeaderBar > .header--rejected { color: $error; text-style: bold; }
    HeaderBar > .header--dropped { color: $foreground-muted; text-style: bold; }
    HeaderBar > .header--bell { background: $warning; color: $background; text-style: bold; }
    HeaderBar > .header--readonly { background: $error; color: $background; text-style: bold; }
    HeaderBar > .header--dim { color: $foreground-muted; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "header--name",
        "header--pending",
        "header--approved",
        "header--rejected",
        "header--dropped",
        "header--bell",
        "header--readonly",
        "header--dim",
    }

    _last: tuple | None = None

    def __init__(self, *, store: Any = None, id: str | None = None) -> None:
        """`store`: whose quarantine to count (None: the count the app passes to `show`)."""
        super().__init__(id=id)
        self._store = store
        self.quarantined: int | None = None  # the last count, None until the first one is in
        self._counted_problems: int | None = None  # len(store.problems) when it was asked
        self._recount_again = False

    def on_mount(self) -> None:
        if self._store is not None:
            self.recount_quarantine()
            self.set_interval(QUARANTINE_RECOUNT_SECONDS, self.recount_quarantine, name="quarantine-count")

    def recount_quarantine(self) -> None:
        """Count the quarantined lines again, in a thread (one count at a time)."""
        store = self._store
        if store is None:
            return
        if any(w.group == "quarantine-count" and not w.is_finished for w in self.workers):
            self._recount_again = True
            return
        problems = list(store.problems)
        self._counted_problems = len(problems)
        self.run_worker(
            lambda: quarantine.count(store.state_dir, problems),
            thread=True,
            group="quarantine-count",
            exit_on_error=False,
        )

    @on(Worker.StateChanged)
    def _counted(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "quarantine-count":
            return
        event.stop()
        if not event.worker.is_finished:
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, int):
            changed = event.worker.result != self.quarantined
            self.quarantined = event.worker.result
            if changed and self._last is not None:
                self.show(*self._last)
        if self._recount_again:  # (a failed count, an unreadable folder: the last one stays)
            self._recount_again = False
            self.recount_quarantine()

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def show(
        self,
        name: str,
        counts: dict[str, int] | None,
        bell: int,
        readonly: str | None,
        problems: int = 0,
        session: tuple[int, float] | None = None,
    ) -> None:
        """`readonly` is the holder of the session lock when this app could only open read-only.
        `session`: rows reviewed this session and rows a minute (shown when there is room).
        `problems`: the store's load problems; with a `store` the header counts the quarantine
        itself (and again when this number changes)."""
        self._last = (name, counts, bell, readonly, problems, session)
        if self._store is not None:
            if self._counted_problems is not None and problems != self._counted_problems:
                self.recount_quarantine()
            if self.quarantined is not None:
                problems = self.quarantined
        style = self.get_component_rich_style
        width = self.size.width or 80

        def left_side(short: bool) -> Text:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(" " + visible_line(name) + " ", style("header--name"))
            text.append(" ")
            if counts is None:
                text.append("loading…", style("header--dim"))
            else:
                for key, cls in COUNT_STYLES:
                    text.append(f" {SHORT_LABELS[key] if short else key} ", style("header--dim"))
                    text.append(f"{counts.get(key, 0):,}", style(cls))
            if problems:
                text.append(f"  quarantined {problems:,}", style("header--rejected"))
                if self._store is not None:
                    text.append(" Q", style("header--dim"))
            return text

        text = left_side(False)
        if problems and text.cell_len + 8 > width:
            text = left_side(True)  # at 80 columns the quarantine count must not be cut off

        def right_side(with_session: bool) -> Text:
            right = Text(no_wrap=True)
            if with_session and session is not None and session[0]:
                reviewed, per_minute = session
                right.append(f"reviewed {reviewed:,}", style("header--dim"))
                right.append(f" {per_minute:.1f}/min  ", style("header--dim"))
            if readonly:
                right.append(" read-only ", style("header--readonly"))
                right.append(" ")
            right.append(
                f"bell {bell} " if bell else "bell 0 ",
                style("header--bell") if bell else style("header--dim"),
            )
            return right

        right = right_side(True)
        if width - text.cell_len - right.cell_len < 1:
            right = right_side(False)  # the counter goes first when the line is full (80 columns)
        gap = width - text.cell_len - right.cell_len
        if gap >= 1:
            text.append(" " * gap)
            text.append_text(right)
        else:
            text.append("  ")
            text.append_text(right)
            text.truncate(width, overflow="ellipsis")
        self.update(text, layout=False)  # one line, fixed height: never a reason to re-lay out
