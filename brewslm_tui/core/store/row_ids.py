"""Row ids by slot and slots by id.

An id is read off the mapped line without a parse when it has the common layout
(`FileRows.id_at`, `plain_ids`); rows the parse flagged are answered from small maps: a row
without a usable id has one the store assigned (`assigned`), a row with two "id" keys has the
last (`override`). The id -> slot map is built on first use (O(rows) once, never on the review
path); an id on several rows maps to the first, the others are listed (`slots_with_id`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from brewslm_tui.core.store.columns import VIRTUAL, moved_slots

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store


class RowIds:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.assigned: dict[int, str] = {}  # slot -> the id the store gives a row without a usable one
        self.override: dict[int, str] = {}  # slot -> the id of a row with two "id" keys (the last)
        self._map: dict[str, int] | None = None
        self._shared: dict[str, list[int]] = {}  # (with the map) ids on several slots: all their slots

    def id_of(self, i: int) -> str:
        if i in self.assigned:
            return self.assigned[i]
        if i in self.override:
            return self.override[i]
        store = self._store
        off = store.cols.offsets[i]
        if off == VIRTUAL:
            return store.overlay.virtual[i]["id"]
        return store.file.id_at(off)

    def ids_of(self, slots: Iterable[int]) -> list[str]:
        """`[self.id_of(i) for i in slots]`, for many slots at once (a bulk decision names every row).

        The common layout (`{"id":"` first, no escape in the id) is read for all slots together
        (`FileRows.plain_ids`). A slot that does not fit takes `id_of`, so the answers are the same.
        """
        slots = slots if isinstance(slots, list) else list(slots)
        store = self._store
        if len(slots) < 32 or not store.file.buf:
            return [self.id_of(i) for i in slots]
        offs = list(map(store.cols.offsets.__getitem__, slots))
        if not (self.assigned or self.override or store.overlay.virtual):
            ids = store.file.plain_ids(offs)
            return ids if ids is not None else [self.id_of(i) for i in slots]
        assigned, override = self.assigned, self.override
        odd = {
            k for k, off in enumerate(offs) if off == VIRTUAL or slots[k] in assigned or slots[k] in override
        }
        plain = [k for k in range(len(slots)) if k not in odd]
        ids = store.file.plain_ids([offs[k] for k in plain])
        if ids is None:
            return [self.id_of(i) for i in slots]
        out = [""] * len(slots)
        for k, row_id in zip(plain, ids, strict=True):
            out[k] = row_id
        for k in odd:
            out[k] = self.id_of(slots[k])
        return out

    def index_of(self, row_id: str) -> int | None:
        """Slot of a row id: the first, if several rows share it."""
        if self._map is None:
            n = len(self._store)
            ids = self.ids_of(range(n))
            self._map = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))  # the first slot wins
            self._shared = {}
            if len(self._map) < n:  # some id is on several rows: list them (rare; one more pass)
                first = self._map
                for i, each in enumerate(ids):
                    if first[each] != i:
                        self._shared.setdefault(each, [first[each]]).append(i)
        return self._map.get(row_id)

    def slots_with_id(self, row_id: str) -> list[int]:
        first = self.index_of(row_id)
        return [] if first is None else self._shared.get(row_id, [first])

    def add(self, row_id: str, slot: int) -> None:
        """A new slot for `row_id` (a new or restored row), if the map is built."""
        if self._map is None:
            return
        first = self._map.setdefault(row_id, slot)
        if first != slot:
            self._shared.setdefault(row_id, [first]).append(slot)

    def add_slots(self, slots: range) -> None:
        """New rows appended to the file (`Store.refresh`)."""
        if self._map is not None:
            for i in slots:
                self.add(self.id_of(i), i)

    def resolve_many(self, hints: list[int], ids: list[str]) -> list[int | None]:
        """The slot of each (hint, id) of a journal entry: the hinted slot if it still has that id,
        else the slot of the id."""
        n = len(self._store)
        try:
            in_range = len(hints) >= 32 and min(hints) >= 0 and max(hints) < n
        except (TypeError, ValueError):
            in_range = False
        if not in_range:
            return [
                hint if 0 <= hint < n and self.id_of(hint) == row_id else self.index_of(row_id)
                for hint, row_id in zip(hints, ids, strict=True)
            ]
        return [
            hint if found == row_id else self.index_of(row_id)
            for hint, found, row_id in zip(hints, self.ids_of(hints), ids, strict=True)
        ]

    def after_compaction(self, pieces: list[list[int]]) -> RowIds:
        """The ids of the compacted file: assigned ids are written into it now; a row with two
        "id" keys still has both (its bytes are kept), at its new slot."""
        new = RowIds(self._store)
        new.override = {slot: self.override[old] for slot, old in moved_slots(pieces, self.override)}
        return new
