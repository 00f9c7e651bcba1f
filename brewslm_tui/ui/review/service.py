"""ReviewService: the one path every decision of the TUI takes.

It owns the store, the read-only policy (the one write check of the UI), undo and the change
notification. The panes are handed it at construction and call `review.approve(targets)` and
the like; the call is synchronous on purpose: the store call is durable when it returns, and the
panes' repaint then lands in the same frame as the key (see `RowList.__init__`). Errors become
one notification each; a refused or failed decision returns None and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.project import Project
from brewslm_tui.core.store.store import Decision, Store

REVIEW_OPS = frozenset({"approve", "reject", "edit"})  # what counts as reviewed in the session counter


class Notify(Protocol):
    """`App.notify`'s shape (the part the service uses)."""

    def __call__(
        self, message: str, *, severity: Any = ..., timeout: float | None = ..., markup: bool = ...
    ) -> None: ...


class ReviewService:
    """Decisions, undo and the read-only policy over one store.

    `on_change()` runs after every decision that took effect (the app syncs the tab on screen
    and the header); `before_change()` runs before one is attempted (the app drops a waiting
    `x` question whose rows may no longer be what they were).
    """

    def __init__(
        self,
        store: Store,
        project: Project,
        *,
        readonly_reason: str | None,
        notify: Notify,
        on_change: Callable[[], None] = lambda: None,
        before_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.project = project
        self.readonly_reason = readonly_reason
        self.notify = notify
        self.on_change = on_change
        self.before_change = before_change
        self.reviewed = 0  # rows approved, rejected or edited in this session (undo takes back)
        self._first_review: float | None = None  # monotonic time of the session's first one

    def per_minute(self) -> float:
        """Rows reviewed a minute since the session's first review (over at least a minute)."""
        if self._first_review is None:
            return 0.0
        return self.reviewed * 60.0 / max(60.0, time.monotonic() - self._first_review)

    # ------------------------------------------------------------ policy
    @property
    def writable(self) -> bool:
        return self.readonly_reason is None and not self.store.readonly

    def can_write(self, what: str) -> bool:
        """The one write check: True, or False after saying why (once per refused action)."""
        if self.writable:
            return True
        self.notify(
            f"read-only window: cannot {what} here (the banner at the top says why)",
            severity="warning",
            markup=False,
        )
        return False

    # ------------------------------------------------------------ decisions
    def approve(self, targets: Iterable[int]) -> Decision | None:
        return self._decide("approve", lambda: self.store.approve(targets), counts="approve")

    def reject(self, targets: Iterable[int], reason: str, note: str | None = None) -> Decision | None:
        return self._decide("reject", lambda: self.store.reject(targets, reason, note), counts="reject")

    def set_pending(self, targets: Iterable[int]) -> Decision | None:
        return self._decide("send back to pending", lambda: self.store.set_pending(targets))

    def edit(self, slot: int, *, prompt: str | None, completion: str | None) -> Decision | None:
        """Edit and approve one row (the original is kept in the row)."""
        return self._decide(
            "edit",
            lambda: self.store.edit(slot, prompt=prompt, completion=completion, approve=True),
            counts="edit",
        )

    def drop(self, targets: Iterable[int]) -> Decision | None:
        return self._decide("drop", lambda: self.store.drop(targets))

    def restore(self, dropped_ids: Iterable[str]) -> Decision | None:
        return self._decide("restore", lambda: self.store.restore(dropped_ids))

    def undo(self) -> tuple[Decision, str] | None:
        """Undo the most recent decision (also one compacted or made before a restart, from the
        CLI too); returns it with a sentence naming what was undone ("reject of 3 rows
        (label_ambiguous)") and the rows it left alone because they changed since."""
        return self._step("undo")

    def redo(self) -> tuple[Decision, str] | None:
        """Re-apply the decision most recently undone (ctrl+r); the sentence as for `undo`."""
        return self._step("redo")

    def _step(self, which: str) -> tuple[Decision, str] | None:
        if not self.can_write(which):
            return None
        op = self.store.last_decision_op() if which == "undo" else self.store.last_undone_op()
        if op is None:
            self.notify(f"nothing to {which}", severity="warning")
            return None
        call = self.store.undo if which == "undo" else self.store.redo
        decision = self._decide(which, call, checked=True, counts=op, sign=-1 if which == "undo" else 1)
        if decision is None:
            return None
        if decision.count == 0:  # every row changed since: nothing done, and it says why
            self.notify(decision.text, severity="warning", markup=False)
            return None
        return decision, decision.text.split(": ", 1)[1]

    def _decide(
        self,
        what: str,
        call: Callable[[], Decision | None],
        *,
        checked: bool = False,
        counts: str | None = None,
        sign: int = 1,
    ) -> Decision | None:
        """One store call (durable on return), errors as one notification; then the session
        counter (`counts`: the op it counts as, `sign` -1 for an undo) and the change notification."""
        if not checked and not self.can_write(what):
            return None
        self.before_change()
        try:
            decision = call()
        except BrewError as error:
            self.notify(str(error), severity="error", markup=False)
            return None
        except OSError as error:  # disk full, permissions: the journal append failed, nothing changed
            self.notify(
                f"could not write the decision, nothing was changed: {error}",
                severity="error",
                timeout=15,
                markup=False,
            )
            return None
        if decision is not None and counts in REVIEW_OPS:
            if self._first_review is None:
                self._first_review = time.monotonic()
            self.reviewed = max(0, self.reviewed + sign * decision.count)
        self.on_change()
        return decision
