"""The order a flat review list shows its rows in (`SortedView`) and its columns (`COLUMNS`).

A `RowView` keeps slots in slot order (the order rows landed: "created"). `SortedView` wraps
one and keeps, beside it, the same slots as 64-bit composites `key << 32 | slot` in ascending
order: positions and lookups are bisections over that array, exactly as in a `RowView`. The
keys come from the store's compact columns (run, label) or the row's stored size, never from
parsing rows, so changing the sort is one sort of the view's slots; after a decision `sync`
patches only the changed slots (O(changed · log rows)), as the view under it does.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable

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

    def __init__(self, base, sort: str) -> None:
        self.base = base
        self.sort = sort
        self.store = base.store
        self._rebuild()

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
        if not touched:
            return False
        order = self.order
        for slot in set(changed):
            wanted = self.base.position_of(slot) is not None
            value = self._composite(slot)
            pos = bisect_left(order, value)
            present = pos < len(order) and order[pos] == value
            if wanted and not present:
                order.insert(pos, value)
            elif present and not wanted:
                del order[pos]
        if len(order) != len(self.base):  # a key changed under a row (e.g. an edit's size): re-sort
            self._rebuild()
        return True

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


def sorted_view(view, sort: str):
    """`view` itself for "created" (its own order), else a `SortedView` over it."""
    return view if sort == "created" or sort_key(view.store, sort) is None else SortedView(view, sort)
