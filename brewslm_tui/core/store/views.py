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
        self.text = text or None
        self.run = run or None
        self.playbook = playbook or None
        self.label = label or None
        self.reason = reason or None
        self.slots = array("I")
        if deferred:
            self._version = self._generation = -1
            self._groups = None
        else:
            self.rebuild()

    # ------------------------------------------------------------------ filters
    def set_filters(self, **filters) -> None:
        """Change any of text/run/playbook/label/reason (None clears it) and rebuild."""
        for key, value in filters.items():
            if key not in ("text", "run", "playbook", "label", "reason"):
                raise TypeError(f"unknown filter {key}")
            setattr(self, key, value or None)
        self.rebuild()

    def describe_filters(self) -> str:
        parts = [
            f"{k}={getattr(self, k)!s}" for k in ("run", "playbook", "label", "reason") if getattr(self, k)
        ]
        if self.text:
            parts.insert(0, f'"{self.text}"')
        return " ".join(parts)

    @property
    def filtered(self) -> bool:
        return any((self.text, self.run, self.playbook, self.label, self.reason))

    def _column_test(self):
        store = self.store
        tests = []
        if self.run is not None:
            k = store._run_index.get(self.run, -1)
            col = store.run_index_column()
            tests.append(lambda i: col[i] == k)
        if self.playbook is not None:
            k = store._playbook_index.get(self.playbook, -1)
            col = store.playbook_index_column()
            tests.append(lambda i: col[i] == k)
        if self.label is not None:
            k = store.labels.index(self.label) if self.label in store.labels else -1
            col = store.label_index_column()
            tests.append(lambda i: col[i] == k)
        if self.reason is not None:
            k = store._reason_index.get(self.reason, -1)
            col = store.reason
            tests.append(lambda i: col[i] == k)
        if self.text is not None:
            needle = self.text.casefold()
            ascii_needle = needle.encode() if needle.isascii() else None

            def text_test(i: int) -> bool:
                if ascii_needle is not None and ascii_needle not in store.raw_line(i).lower():
                    return False
                row = store.row(i)
                return needle in row["prompt"].casefold() or needle in row["completion"].casefold()

            tests.append(text_test)
        return tests

    def matches(self, slot: int) -> bool:
        if self.store.status[slot] not in self.statuses:
            return False
        return all(test(slot) for test in self._column_test())

    # ------------------------------------------------------------------ keeping current
    def rebuild(self) -> None:
        store = self.store
        status = store.status
        wanted = self.statuses
        tests = self._column_test()
        if not tests:
            # no per-row test: select from the status column at C speed (no Python call per row)
            slots = array("I", compress(range(len(status)), _mask(status, wanted)))
        else:
            slots = array(
                "I", (i for i in range(len(status)) if status[i] in wanted and all(t(i) for t in tests))
            )
        self.slots = slots
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
        tests = self._column_test()
        status = store.status
        wanted = self.statuses
        slots = self.slots
        touched = False
        for slot in sorted(set(changed)):
            should = status[slot] in wanted and all(t(slot) for t in tests)
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

    def groups(self) -> list[tuple[str | None, list[int]]]:
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
            self._items = list(compress(self._slots, _mask(self._codes, (self._code,))))
            self._slots = self._codes = None  # type: ignore[assignment]
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


def _mask(codes, wanted) -> bytes:
    """One byte per code, non-zero where the code is in `wanted`: `bytes.translate` runs at
    memory speed, and `compress` takes the result as its selector."""
    table = bytes(1 if k in wanted else 0 for k in range(256))
    return bytes(codes).translate(table) if not isinstance(codes, bytes) else codes.translate(table)
