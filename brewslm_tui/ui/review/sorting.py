"""The order a flat review list shows its rows in (`SortedView`) and its columns (`COLUMNS`).

A `RowView` keeps slots in slot order (the order rows landed: "created"). `SortedView` wraps
one and keeps, beside it, the same slots as 64-bit composites `key << 32 | slot` in ascending
order: positions and lookups are bisections over that array, exactly as in a `RowView`. The
keys come from the store's compact columns (run, label) or the row's stored size, never from
parsing rows, so changing the sort is one sort of the view's slots; after a decision `sync`
patches only the changed slots (O(changed · log rows)), as the view under it does.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.worker import Worker, WorkerState

SORTS = ("created", "run", "length", "label")
SORT_TITLES = {
    "created": "created (the order rows landed)",
    "run": "run, then created",
    "length": "length (the row's stored size), then created",
    "label": "label, then created",
}
# the columns a flat list can show besides the prompt (always shown: it takes what is left)
COLUMNS = ("completion", "run", "playbook", "created", "length")
DEFAULT_COLUMNS = ("completion", "run")
SLOT_BITS = 32
SLOT_MASK = (1 << SLOT_BITS) - 1


def _rank(names) -> list[int]:
    """Index in a store's name table -> its rank in alphabetical order (None sorts first)."""
    order = sorted(range(len(names)), key=lambda k: (names[k] is not None, str(names[k] or "")))
    ranks = [0] * len(names)
    for rank, k in enumerate(order):
        ranks[k] = rank
    return ranks


def sort_key(store, sort: str) -> Callable[[int], int] | None:
    """slot -> a non-negative int to sort by (None: slot order, "created")."""
    if sort == "run":
        column, ranks = store.run_index_column(), _rank(store.runs)
        return lambda slot: ranks[column[slot]]
    if sort == "label":
        column, ranks = store.label_index_column(), _rank(store.labels)
        return lambda slot: ranks[column[slot]]
    if sort == "length":
        return lambda slot: min(len(store.raw_line(slot)), SLOT_MASK)
    return None


class SortedView:
    """A `RowView` in another order; the same reading interface (len, [k], position_of...)."""

    def __init__(self, base, sort: str, built: SortedOrder | None = None) -> None:
        """`built`: the order sorted already (in a thread, `SortedOrder.compute`); `sync` then
        catches it up with what changed since its snapshot."""
        self.base = base
        self.sort = sort
        self.store = base.store
        self._key: Callable[[int], int] | None
        if built is None:
            self._rebuild()
        else:
            self._key = built.key
            self._version = built.version
            self._built_for = built.names
            self._base_slots = built.base_slots
            self.order = built.order

    def _composite(self, slot: int) -> int:
        assert self._key is not None
        return (self._key(slot) << SLOT_BITS) | slot

    def _names(self) -> tuple[int, int, int]:
        store = self.store
        return store.generation, len(store.runs), len(store.labels)

    def _rebuild(self) -> None:
        """The one sort: when the sort, the whole view or the run / label names change (a new
        run's name ranks among the others)."""
        store = self.store
        self._key = sort_key(store, self.sort)
        self._version = store.version
        self._built_for = self._names()
        self._base_slots = getattr(self.base, "slots", None)  # a RowView rebuild makes a new array
        self.order = array("Q", sorted(map(self._composite, self.base)))

    def sync(self) -> bool:
        store = self.store
        changed = store.changed_since(self._version)
        touched = self.base.sync()
        rebuilt = getattr(self.base, "slots", None) is not self._base_slots
        if changed is None or rebuilt or self._names() != self._built_for:
            self._rebuild()
            return True
        self._version = store.version
        if not changed:
            return touched
        # every changed slot, even when `base.sync` moved nothing: the base may have been
        # synced already through another view over it (the order on screen while this one
        # was sorted in a thread); the patch is idempotent
        order = self.order
        patched = False
        for slot in set(changed):
            wanted = self.base.position_of(slot) is not None
            value = self._composite(slot)
            pos = bisect_left(order, value)
            present = pos < len(order) and order[pos] == value
            if wanted and not present:
                order.insert(pos, value)
                patched = True
            elif present and not wanted:
                del order[pos]
                patched = True
        if len(order) != len(self.base):  # a key changed under a row (e.g. an edit's size): re-sort
            self._rebuild()
            return True
        return touched or patched

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, k: int) -> int:
        return self.order[k] & SLOT_MASK

    def __iter__(self):
        return (value & SLOT_MASK for value in self.order)

    @property
    def slots(self):
        return list(self)

    def position_of(self, slot: int) -> int | None:
        value = self._composite(slot)
        pos = bisect_left(self.order, value)
        return pos if pos < len(self.order) and self.order[pos] == value else None

    def nearest_position(self, slot: int) -> int:
        return min(bisect_left(self.order, self._composite(slot)), max(len(self.order) - 1, 0))

    def groups(self):
        return self.base.groups()


@dataclass
class SortedOrder:
    """A `SortedView`'s order, sorted off the event loop from a snapshot of the base's slots."""

    key: Callable[[int], int]
    version: int  # the store's version when the slots were taken: `sync` patches what came after
    names: tuple[int, int, int]
    base_slots: Any  # the base's slot array then (a rebuild of the base makes a new one)
    order: array

    @classmethod
    def snapshot(cls, view, sort: str) -> tuple[Callable[[], SortedOrder], Any]:
        """On the event loop: what the thread needs (a copy of the slots, the key over the
        columns as they are now); returns the thread's work and the base it sorts."""
        base = view.base if isinstance(view, SortedView) else view
        store = base.store
        key = sort_key(store, sort)
        assert key is not None
        # a copy (the base is patched in place while the thread sorts): a memory copy of an array
        held = getattr(base, "slots", None)
        slots = held[:] if isinstance(held, array) else array("I", base)
        version, names = store.version, (store.generation, len(store.runs), len(store.labels))
        base_slots = held

        def compute() -> SortedOrder:
            order = array("Q", sorted((key(slot) << SLOT_BITS) | slot for slot in slots))
            return cls(key, version, names, base_slots, order)

        return compute, base


class QueueSorter:
    """`S` in a flat review list: the sort runs in a thread worker, the old order stays on
    screen ("sorting by …" in the info line) until the new one is ready, then the view is
    swapped with the cursor on the same row. A second `S` while one runs supersedes it (the
    older result is dropped); "created" is the view's own order and needs no sort."""

    GROUP = "queue-sort"

    def __init__(self, pane) -> None:
        self.pane = pane
        self.wanted: str | None = None  # the order asked for and not on screen yet
        self._asked = 0  # bumped per request: an older worker's result is stale
        self.hold: threading.Event | None = None  # tests: the thread waits on it before sorting

    @property
    def running(self) -> bool:
        return self.wanted is not None

    def next_sort(self) -> str:
        """The order after the one last asked for (S cycles from what it showed or is sorting)."""
        current = self.wanted or self.pane.sort
        return SORTS[(SORTS.index(current) + 1) % len(SORTS)]

    def start(self, sort: str) -> None:
        pane = self.pane
        self._asked += 1
        view = pane.rows.view
        if sort == "created" or sort_key(pane.store, sort) is None:
            self.wanted = None
            base = view.base if isinstance(view, SortedView) else view
            self._swap(sort, base)
            return
        self.wanted = sort
        compute, base = SortedOrder.snapshot(view, sort)
        asked, hold = self._asked, self.hold

        def work() -> tuple[int, str, Any, SortedOrder]:
            if hold is not None:
                hold.wait()
            return asked, sort, base, compute()

        pane.run_worker(
            work, thread=True, exit_on_error=False, group=self.GROUP, name=f"sort-{asked}", exclusive=True
        )
        pane.show_sorting()

    def worker_changed(self, event: Worker.StateChanged) -> bool:
        """The pane's worker messages: True when it was this sort's (handled here)."""
        worker = event.worker
        if worker.group != self.GROUP:
            return False
        if event.state == WorkerState.ERROR and worker.name == f"sort-{self._asked}":
            self.wanted = None
            self.pane.show_sorting()
            error = worker.error
            self.pane.app.notify(
                f"could not sort: {type(error).__name__}: {error}", severity="error", markup=False
            )
        elif event.state == WorkerState.SUCCESS and worker.result is not None:
            asked, sort, base, built = worker.result
            if asked != self._asked:
                return True  # superseded by a later S
            view = self.pane.rows.view
            current = view.base if isinstance(view, SortedView) else view
            if current is not base:  # the filter changed meanwhile: sort the new rows
                self.start(sort)
                return True
            self.wanted = None
            self._swap(sort, base, built)
        return True

    def _swap(self, sort: str, base, built: SortedOrder | None = None) -> None:
        pane = self.pane
        rows = pane.rows
        slot = rows.cursor_slot
        if sort == "created" or built is None:
            view = sorted_view(base, sort)
        else:
            view = SortedView(base, sort, built)
            view.sync()  # what changed while it was sorted (a decision, new rows)
        pane.sort = sort
        rows.set_view(view)
        if slot is not None:
            rows.move_to_slot(slot)
        pane.show_sorting()
        pane.app.notify(f"sorted by {SORT_TITLES[sort]}", timeout=3)


def sorted_view(view, sort: str):
    """`view` itself for "created" (its own order), else a `SortedView` over it."""
    return view if sort == "created" or sort_key(view.store, sort) is None else SortedView(view, sort)
