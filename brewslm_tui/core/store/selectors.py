"""Which rows a command acts on: `--id --run --reason --status --playbook`, combined with AND."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.rows import DROPPED, STATUS_CODES
from brewslm_tui.core.store.row_filter import RowFilter

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store


@dataclass
class Selector:
    ids: list[str] = field(default_factory=list)
    run: str | None = None
    reason: str | None = None
    status: str | None = None
    playbook: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.ids or self.run or self.reason or self.status or self.playbook)

    def describe(self) -> str:
        parts = [f"--id {i}" for i in self.ids]
        parts += [
            f"--{k} {getattr(self, k)}" for k in ("run", "reason", "status", "playbook") if getattr(self, k)
        ]
        return " ".join(parts) or "(nothing)"

    def check(self) -> None:
        if self.empty:
            raise BrewError(
                "say which rows: --id, --run, --reason, --status or --playbook (combined with AND)"
            )
        if self.status is not None and self.status not in STATUS_CODES:
            raise BrewError(f"unknown status {self.status!r} (pending, approved, rejected, dropped)")


def select_slots(store: Store, sel: Selector) -> list[int]:
    """Slots of live rows (synthetic.jsonl plus journal) that match every given selector."""
    sel.check()
    candidates = None
    if sel.ids:
        found: set[int] = set()
        for row_id in sel.ids:
            slots = store.slots_with_id(row_id)
            if len(slots) > 1:
                where = ", ".join(str(store.line_number(s) or "(restored)") for s in slots)
                raise BrewError(
                    f"{store.synthetic_path}: id {row_id!r} is on {len(slots)} rows (lines {where}):"
                    " select them another way (--run, --status), or give them distinct ids"
                )
            found.update(slots)
        candidates = sorted(found)
    row_filter = RowFilter(
        statuses=frozenset({STATUS_CODES[sel.status]}) if sel.status is not None else None,
        run=sel.run,
        playbook=sel.playbook,
        reason=sel.reason,
    )
    return list(row_filter.select(store, candidates))


def select_dropped(store: Store, sel: Selector) -> list[str]:
    """Ids of rows in dropped.jsonl (not already restored) that match; `--status` must be dropped if given."""
    sel.check()
    if sel.status not in (None, "dropped"):
        return []
    dropped = store.dropped
    wanted = set(sel.ids)
    out = []
    for j in range(len(dropped)):
        row_id = dropped.id_of(j)
        if wanted and row_id not in wanted:
            continue
        if sel.run is not None and dropped.run_of(j) != sel.run:
            continue
        if sel.playbook is not None and dropped.playbook_of(j) != sel.playbook:
            continue
        if sel.reason is not None and dropped.reason_of(j) != sel.reason:
            continue
        slot = store.restored_slot(row_id)
        if slot is not None and store.status[slot] != DROPPED:
            continue
        out.append(row_id)
    # rows dropped since the last compaction are still slots
    for i in select_slots(
        store, Selector(ids=sel.ids, run=sel.run, reason=sel.reason, status="dropped", playbook=sel.playbook)
    ):
        if not store.is_virtual(i):
            out.append(store.id_of(i))
    return out
