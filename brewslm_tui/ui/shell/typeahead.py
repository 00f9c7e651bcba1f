"""Typeahead: keys typed while the app starts are held, then replayed in order, one at a time.

Until every deferred part is mounted (the Rejected/Approved panes, Runs, Balance, the jobs
sidebar), a key may reach a widget that is not there yet: `2` typed 0.1-0.7 s after launch
switched to a tab whose pane did not exist, and the `space` after it selected a Queue row. As
a shell does, the app holds those keys and replays them once it is whole, each after the
previous one was handled (and its frame drawn), so `2 space` selects in Rejected as it would
have if typed a second later. Keys that arrive during the replay queue up behind it.

Each replayed key goes to the widget with the focus, so before each one `before_replay` gives
the main view its focus back if nothing holds it (a key typed at launch in a real terminal
opened the help without the Queue's keys, and `e` opened nothing: no widget had the focus
when the held keys were replayed, so they went to the screen alone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import monotonic

from textual import events
from textual.app import App

SETTLE_POLL_SECONDS = 0.02
GIVE_UP_SECONDS = 20.0  # a part that never mounts must not hold the keyboard for ever (a loaded
# machine can take seconds to mount them: giving up early replays keys into parts not there yet)
PASS_THROUGH = frozenset({"ctrl+q", "ctrl+c"})  # quitting is never held


class Typeahead:
    """Holds an app's key events until `is_settled()`; `handle` is the app's own key path."""

    def __init__(
        self,
        app: App,
        is_settled: Callable[[], bool],
        handle: Callable[[events.Key], Awaitable[None]],
        before_replay: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.is_settled = is_settled
        self.handle = handle
        self.before_replay = before_replay
        self.held: list[events.Key] | None = []  # None once open: keys go straight through
        self._since = monotonic()

    def hold(self, event: events.Key) -> bool:
        """True when the key was taken to be replayed later (the caller drops it)."""
        if self.held is None or event.key in PASS_THROUGH:
            return False
        self.held.append(event)
        return True

    def start(self) -> None:
        """From on_mount: wait for the app to settle, then replay."""
        self._since = monotonic()
        self.app.set_timer(SETTLE_POLL_SECONDS, self._poll, name="typeahead")

    def _poll(self) -> None:
        if self.is_settled() or monotonic() - self._since > GIVE_UP_SECONDS:
            self.app.call_after_refresh(self._replay_next)
        else:
            self.app.set_timer(SETTLE_POLL_SECONDS, self._poll, name="typeahead")

    async def _replay_next(self) -> None:
        held = self.held
        if held is None:
            return
        if not held:
            self.held = None  # caught up: from now on keys are handled as they come
            return
        self.before_replay()
        await self.handle(held.pop(0))
        self.app.call_after_refresh(self._replay_next)
