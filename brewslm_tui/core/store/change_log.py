"""Which slots changed, by version: how views stay current in O(changed) instead of O(rows)."""

from __future__ import annotations

BIG_CHANGE = 2000  # a change of more slots than this tells views to rebuild instead of patch
KEEP_CHANGES = 256  # changes remembered; a view further behind rebuilds


class ChangeLog:
    """`version` bumps on every change; `since(v)` lists the slots changed after version v."""

    def __init__(self) -> None:
        self.version = 0
        self._changes: list[tuple[int, list[int] | None]] = []

    def record(self, slots: list[int] | None) -> None:
        """Slots changed (None: everything may have, e.g. a reload or a compaction)."""
        self.version += 1
        if slots is not None and len(slots) > BIG_CHANGE:
            slots = None
        self._changes.append((self.version, slots))
        if len(self._changes) > KEEP_CHANGES:
            del self._changes[: KEEP_CHANGES // 2]

    def reset(self) -> None:
        """A reload: no view can patch across it."""
        self.version += 1
        self._changes = []

    def since(self, version: int) -> list[int] | None:
        """Slots changed after `version`, or None when a view should rebuild (too many, or reloaded)."""
        if version == self.version:
            return []
        if not self._changes or self._changes[0][0] > version + 1:
            return None
        out: list[int] = []
        for v, slots in self._changes:
            if v > version:
                if slots is None:
                    return None
                out.extend(slots)
        return out
