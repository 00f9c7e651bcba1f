"""A filtered, ordered list of row slots: what the Queue, Rejected and Approved lists scroll over.

Building a view is one pass over the compact columns (no row parsing unless a text filter
asks for it). After a decision or new rows, `sync()` patches the list with only the changed
slots (`Store.changed_since`), so a keystroke costs O(changed · log rows), not O(rows).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import compress

from brewslm_tui.core.rows import PENDING
from brewslm_tui.core.store.row_filter import RowFilter, code_mask


class RowView:
    """Slots whose status is in `statuses` and that match every filter set, in slot order."""

    def __init__(
        self,
        store,
        statuses: Iterable[int] = (PENDING,),
        *,
        text: str | None = None,
        run: str | None = None,
        playbook: str | None = None,
        label: str | None = None,
        reason: str | None = None,
        deferred: bool = False,
    ):
        """`deferred`: start empty; the first `sync()` builds it (a tab not on screen yet)."""
        self.store = store
        self.statuses = frozenset(statuses)
        self.filter = RowFilter(
            statuses=self.statuses,
            run=run or None,
            playbook=playbook or None,
            label=label or None,
            reason=reason or None,
            text=text or None,
        )
        self.slots = array("I")
        self._groups: list[tuple[str | None, GroupSlots]] | None = None
        if deferred:
            self._version = self._generation = -1
        else:
            self.rebuild()

    # ------------------------------------------------------------------ keeping current
    def rebuild(self) -> None:
        store = self.store
        self.slots = self.filter.select(store)
        self._version = store.version
        self._generation = store.generation
        self._groups = None

    def sync(self) -> bool:
        """Bring the view up to date with the store. Returns True if anything changed."""
        store = self.store
        if store.generation != self._generation:
            self.rebuild()
            return True
        changed = store.changed_since(self._version)
        if changed is None:
            self.rebuild()
            return True
        self._version = store.version
        if not changed:
            return False
        match = self.filter.matcher(store)
        slots = self.slots
        touched = False
        for slot in sorted(set(changed)):
            should = match(slot)
            pos = bisect_left(slots, slot)
            present = pos < len(slots) and slots[pos] == slot
            if should and not present:
                slots.insert(pos, slot)
                touched = True
            elif present and not should:
                del slots[pos]
                touched = True
        if touched:
            self._groups = None
        return touched

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, k: int) -> int:
        return self.slots[k]

    def __iter__(self):
        return iter(self.slots)

    def position_of(self, slot: int) -> int | None:
        pos = bisect_left(self.slots, slot)
        return pos if pos < len(self.slots) and self.slots[pos] == slot else None

    def nearest_position(self, slot: int) -> int:
        """Where `slot` is, or would be: keeps a cursor steady when its row leaves the view."""
        return min(bisect_left(self.slots, slot), max(len(self.slots) - 1, 0))

    def groups(self) -> list[tuple[str | None, GroupSlots]]:
        """Slots grouped by reject reason, in the project's reason order (unknown codes after)."""
        if self._groups is None:
            store = self.store
            slots = array("I", self.slots)  # a snapshot: `sync` edits self.slots in place
            # the reason code of each slot of the view; a group's size is a count over these
            # bytes, and its slots are selected (one C-speed pass) only when first asked for
            codes = bytes(map(store.reason.__getitem__, slots))
            present = sorted((k for k in range(256) if k in codes), key=lambda k: (k == 0, k))
            self._groups = [(store.reason_codes[k], GroupSlots(slots, codes, k)) for k in present]
        return self._groups


class GroupSlots(Sequence):
    """The slots of one reason group, in slot order: the size at once, the list on first use.

    A million-row project has hundreds of thousands of rejected rows; the Rejected view needs
    every group's size for its headers but only the rows of the groups on screen.
    """

    __slots__ = ("_code", "_codes", "_count", "_items", "_slots")

    def __init__(self, slots: array, codes: bytes, code: int) -> None:
        self._slots, self._codes, self._code = slots, codes, code
        self._count = codes.count(code)
        self._items: list[int] | None = None

    def _list(self) -> list[int]:
        if self._items is None:
            self._items = list(compress(self._slots, code_mask(self._codes, (self._code,))))
            self._slots, self._codes = array("I"), b""  # no longer needed
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, k):
        return self._list()[k]

    def __iter__(self):
        return iter(self._list())

    def __contains__(self, slot) -> bool:
        items = self._list()
        pos = bisect_left(items, slot)
        return pos < len(items) and items[pos] == slot

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, GroupSlots)) else NotImplemented

    def __repr__(self) -> str:
        return f"GroupSlots({len(self)} slots)"
