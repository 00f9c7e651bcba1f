"""A filtered, ordered list of row slots: what the Queue, Rejected and Approved lists scroll over.

Building a view is one pass over the compact columns (no row parsing unless a text filter
asks for it). After a decision or new rows, `sync()` patches the list with only the changed
slots (`Store.changed_since`), so a keystroke costs O(changed · log rows), not O(rows).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, islice

from brewslm_tui.core.rows import PENDING, REJECTED
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
        self._slots = array("I")
        # a view of statuses only is listed lazily, in slot order: `_slots` holds the matching
        # slots below `_listed`, the rest is read off the status column when asked for (the
        # first screen of a million-row queue needs 30 rows, not an array of 600k)
        self._lazy = not self.filter.column_tests(store)
        self._listed = 0
        self._unlisted: tuple[tuple[int, int, int], int] = (
            (-1, -1, -1),
            0,
        )  # (key, matching rows past _listed)
        self._groups: list[tuple[str | None, GroupSlots]] | None = None
        if deferred:
            self._version = self._generation = -1
            self._listed = _NEVER  # empty until the first sync builds it
        else:
            self.rebuild()

    @property
    def slots(self) -> array:
        """Every matching slot, in order (lists the rest of a lazy view first)."""
        self._list_through(None)
        return self._slots

    def _list_through(self, slot: int | None = None, position: int | None = None) -> None:
        """List a lazy view's slots past `slot` (or through `position`; everything when both are
        None), a chunk of the status column at a time, at C speed."""
        if not self._lazy:
            return
        end = len(self.store.status)
        while self._listed < end:
            if slot is not None and self._listed > slot:
                return
            if position is not None and len(self._slots) > position:
                return
            start = self._listed
            stop = end if slot is None and position is None else min(end, start + _LIST_CHUNK)
            mask = code_mask(self.store.status[start:stop], self.statuses)
            self._slots.extend(compress(range(start, stop), mask))
            self._listed = stop

    # ------------------------------------------------------------------ keeping current
    def rebuild(self) -> None:
        store = self.store
        if self._lazy:
            self._slots = array("I")
            self._listed = 0
            self._list_through(position=_FIRST_LISTED)
        else:
            self._slots = self.filter.select(store)
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
        slots = self._slots
        touched = False
        for slot in sorted(set(changed)):
            if self._lazy and slot >= self._listed:
                touched = True  # (not listed yet: it is read as it is when it is)
                break
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
        status, listed = self.store.status, self._listed
        if not self._lazy or listed >= len(status):
            return len(self._slots)
        store = self.store
        if (store.version, store.generation) == (self._version, self._generation) and getattr(
            store, "loaded", False
        ):
            # in step with the store, the listed part is exact, so the whole view is every row
            # of its statuses: the store's counts (kept per decision) say how many at once,
            # where a count of the unlisted column cost O(rows) on every decision (~1 ms at 1M
            # rows, 3.5 ms at the swap); a count that does not cover the column is not trusted
            counts = store.cols.counts
            if sum(counts) == len(status):
                return sum(counts[code] for code in self.statuses if code < len(counts))
        key = (store.version, len(status), listed)
        if self._unlisted[0] != key:  # (len is asked for on every line drawn: count once a change)
            self._unlisted = (key, sum(status.count(code, listed) for code in self.statuses))
        return len(self._slots) + self._unlisted[1]

    def __getitem__(self, k: int) -> int:
        if k < 0 or k >= len(self._slots):
            self._list_through(position=k if k >= 0 else None)
        return self._slots[k]

    def __iter__(self):
        return iter(self.slots)

    def position_of(self, slot: int) -> int | None:
        self._list_through(slot)
        slots = self._slots
        pos = bisect_left(slots, slot)
        return pos if pos < len(slots) and slots[pos] == slot else None

    def nearest_position(self, slot: int) -> int:
        """Where `slot` is, or would be: keeps a cursor steady when its row leaves the view."""
        self._list_through(slot)
        return min(bisect_left(self._slots, slot), max(len(self) - 1, 0))

    def groups(self) -> list[tuple[str | None, GroupSlots]]:
        """Slots grouped by reject reason, in the project's reason order (unknown codes after).

        The first screen costs what it shows: for the plain Rejected view (no filter but the
        status, and in step with the store) the sizes are the store's per-reason counts and a
        group's slots are found in the reason column as far as they are asked for; a filtered
        view reads its slots' reason codes (one pass) and selects a group on first use."""
        if self._groups is None:
            store = self.store
            plain = self._plain_rejected_counts()
            if plain is not None:
                self._groups = [
                    (store.reason_codes[k], GroupSlots(n, _rejected_with(store, k))) for k, n in plain
                ]
            else:
                slots = array("I", self.slots)  # a snapshot: `sync` edits self.slots in place
                codes = bytes(map(store.reason.__getitem__, slots))
                present = sorted((k for k in range(256) if k in codes), key=lambda k: (k == 0, k))
                self._groups = [
                    (store.reason_codes[k], GroupSlots(codes.count(k), _selected(slots, codes, k)))
                    for k in present
                ]
        return self._groups

    def _plain_rejected_counts(self) -> list[tuple[int, int]] | None:
        """(reason code, rejected rows) per code present, when the view is every rejected row as
        the store has them now; else None."""
        store, f = self.store, self.filter
        if (
            self.statuses != {REJECTED}
            or any(v is not None for v in (f.run, f.playbook, f.label, f.reason, f.text))
            or (self._version, self._generation) != (store.version, store.generation)
        ):
            return None
        counts = store.cols.reason_counts
        if sum(counts) != len(self):  # (the counts are kept per decision; never trust a mismatch)
            return None
        return sorted(((k, n) for k, n in enumerate(counts) if n), key=lambda kn: (kn[0] == 0, kn[0]))


def _selected(slots: array, codes: bytes, code: int) -> Iterator[int]:
    """The slots whose code is `code`, selected at C speed when first asked for."""
    yield from compress(slots, code_mask(codes, (code,)))


def _rejected_with(store, code: int) -> Iterator[int]:
    """The rejected slots of one reason, in slot order, found in the reason column one at a time
    (C-speed `find` between them). Code 0 (no reason) is every undecided row's code too, so that
    group, rare, is selected from the status column in one pass instead."""
    reason, status = store.reason, store.status
    if code == 0:
        for slot in compress(range(len(status)), code_mask(status, (REJECTED,))):
            if reason[slot] == 0:
                yield slot
        return
    needle = bytes((code,))
    pos = reason.find(needle)
    while pos >= 0:
        if status[pos] == REJECTED:
            yield pos
        pos = reason.find(needle, pos + 1)


_BATCH = 256  # slots listed at a time: a screenful and more
_LIST_CHUNK = 1 << 16  # slots of the status column a lazy view lists at a time
_NEVER = 1 << 62  # `_listed` of a deferred view: nothing is listed before its first sync
_FIRST_LISTED = 4096  # positions a lazy view lists when it is made (screens of rows, and more)


class GroupSlots(Sequence):
    """The slots of one reason group, in slot order: the size at once, the slots as far as asked.

    A million-row project has hundreds of thousands of rejected rows; the Rejected view needs
    every group's size for its headers but only the rows on screen. A group is read against the
    store as it was when the view made it; the view makes new groups on every change it syncs.
    """

    __slots__ = ("_count", "_items", "_rest")

    def __init__(self, count: int, listing: Iterator[int]) -> None:
        self._count = count
        self._items: list[int] = []
        self._rest: Iterator[int] | None = listing

    def _through(self, k: int | None) -> list[int]:
        """The slots listed at least through index k (all of them when k is None)."""
        rest = self._rest
        if rest is not None:
            if k is None:
                self._items.extend(rest)
                self._rest = None
            elif k >= len(self._items):
                self._items.extend(islice(rest, max(k + 1 - len(self._items), _BATCH)))
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, k):
        if isinstance(k, slice) or k < 0:
            return self._through(None)[k]
        items = self._through(k)
        if k >= self._count:
            raise IndexError(k)
        return items[k]

    def __iter__(self):
        return iter(self._through(None)[: self._count])

    def __contains__(self, slot) -> bool:
        items = self._through(None)
        pos = bisect_left(items, slot)
        return pos < len(items) and items[pos] == slot

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, GroupSlots)) else NotImplemented

    def __repr__(self) -> str:
        return f"GroupSlots({len(self)} slots)"
