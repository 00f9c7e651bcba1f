"""Review decisions: each is one journal entry, fsync'd before it is applied and acknowledged.

An entry names its rows by id (with their slots as hints), says the target state (`set` for
all, or `each` per row) and records every row's previous state (and content, for an edit), so
an undo is simply a new entry that sets the previous state back. `Store.approve` and the
other public decisions call these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress
from typing import TYPE_CHECKING, Any

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.rows import APPROVED, DROPPED, PENDING, REJECTED, STATUS_NAMES, Row
from brewslm_tui.core.store.applying import (
    KEEP,
    STAMPING,
    apply_entry,
    effective_op,
    entry_time,
    find_rows,
    restore_slots,
)
from brewslm_tui.core.store.columns import F_NOTE, F_REVIEWED, Columns
from brewslm_tui.core.text import plural

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store


@dataclass
class Decision:
    """What a decision did, once it is durable. `by_reason`: rows per reject reason (a drop's)."""

    seq: int
    op: str
    count: int
    idxs: list[int] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)
    text: str = ""  # an undo / redo: what it did, in words ("undone: reject of 3 rows (wrong_label)")


def commit(
    store: Store,
    op: str,
    slots: list[int],
    *,
    set_: list | None = None,
    each: list[list] | None = None,
    content: list[dict | None] | None = None,
    extra: dict[str, Any] | None = None,
    unique: bool = False,
    even_empty: bool = False,
) -> Decision:
    """Journal one entry (fsync'd) and then apply it: durable before it is acknowledged.

    `unique`: the caller passes distinct slots (`live`), so the entry may be applied column-wise.
    `even_empty`: an undo / redo none of whose rows could be changed is still journalled, so
    the undo and redo stacks move past the decision (otherwise it would block them for good)."""
    store.writable()
    if not slots and not even_empty:
        return Decision(seq=0, op=op, count=0)
    entry: dict = {"op": op, "ids": store.ids_of(slots), "hints": list(slots)}
    if set_ is not None:
        entry["set"] = set_
    if each is not None:
        entry["each"] = each
    if content is not None:
        entry["content"] = content
    entry["prev"] = states_of(store, slots)
    if (extra or {}).get("redone_op", op) in STAMPING:
        stamps = stamps_of(store, slots)
        if any(stamps):  # (rows never decided before have none: the usual bulk approve)
            entry["prev_reviewed"] = stamps
    if content is not None:
        entry["prev_content"] = [content_of(store, i) for i in slots]
    if extra:
        entry.update(extra)
    entry = store.append_entry(entry)
    by_reason = count_by_reason(store.cols, slots) if op == "drop" else {}
    apply_entry(store, entry, slots, unique=unique)
    store.undo_log.push(entry)
    return Decision(seq=entry["seq"], op=op, count=len(slots), idxs=list(slots), by_reason=by_reason)


def count_by_reason(cols: Columns, slots: list[int]) -> dict[str, int]:
    """Rows per reject reason, in the order the rows come ("(no reason)" for none)."""
    rs = bytes(map(cols.reason.__getitem__, slots))
    by_reason: dict[str, int] = {}
    for r in sorted(set(rs), key=rs.index):
        code = cols.reason_codes[r] or "(no reason)"
        by_reason[code] = by_reason.get(code, 0) + rs.count(r)
    return by_reason


def live(store: Store, idxs: Iterable[int], allowed: tuple[int, ...]) -> list[int]:
    """The distinct slots of `idxs` whose status is one of `allowed`, in slot order."""
    slots = sorted(set(idxs))
    ok = [code in allowed for code in range(len(STATUS_NAMES))]
    return list(compress(slots, map(ok.__getitem__, map(store.cols.status.__getitem__, slots))))


def state_of(store: Store, i: int) -> list:
    return [STATUS_NAMES[store.cols.status[i]], store.reason_of(i), store.note_of(i)]


def states_of(store: Store, slots: list[int]) -> list[list]:
    """`[state_of(store, i) for i in slots]`. Rows without a note share one list per (status, reason)."""
    cols = store.cols
    names, codes, status, reason = STATUS_NAMES, cols.reason_codes, cols.status, cols.reason
    shared = [[[name, code, None] for code in codes] for name in names]
    out = [shared[status[i]][reason[i]] for i in slots]
    notes, flags = store.overlay.notes, cols.flags
    if notes or any(map(flags.__getitem__, slots)):
        for k, i in enumerate(slots):
            if i in notes or flags[i] & F_NOTE:
                out[k] = [names[status[i]], codes[reason[i]], store.note_of(i)]
    return out


def stamps_of(store: Store, slots: list[int]) -> list[list[str] | None]:
    """Each row's [reviewed_by, reviewed_at] (None: none): what an undo puts back. Only rows
    stamped on disk (the flags column) or this session are looked at, so O(decided rows)."""
    cols, reviewed = store.cols, store.overlay.reviewed
    if not reviewed and not any(flag & F_REVIEWED for flag in map(cols.flags.__getitem__, slots)):
        return [None] * len(slots)
    out: list[list[str] | None] = []
    for i in slots:
        stamp = store.reviewed_of(i)
        out.append(list(stamp) if stamp else None)
    return out


def content_of(store: Store, i: int) -> dict:
    row = store.row(i)
    return {"prompt": row["prompt"], "completion": row["completion"], "original": row.get("original")}


def approve(store: Store, idxs: Iterable[int]) -> Decision:
    slots = live(store, idxs, (PENDING, REJECTED))
    return commit(store, "approve", slots, set_=["approved", None, None], unique=True)


def reject(store: Store, idxs: Iterable[int], reason: str, note: str | None = None) -> Decision:
    if store.project.reason(reason) is None:
        codes = ", ".join(r.code for r in store.project.reject_reasons)
        raise BrewError(f"unknown reject reason {reason!r} (this project's reasons: {codes})")
    slots = live(store, idxs, (PENDING, APPROVED, REJECTED))
    return commit(store, "reject", slots, set_=["rejected", reason, note or None], unique=True)


def set_pending(store: Store, idxs: Iterable[int]) -> Decision:
    slots = live(store, idxs, (APPROVED, REJECTED))
    return commit(store, "pending", slots, set_=["pending", None, None], unique=True)


def edit(store: Store, i: int, prompt: str | None, completion: str | None, approve: bool) -> Decision:
    """Change prompt and/or completion, keeping the first original under `original`."""
    if store.cols.status[i] == DROPPED:
        raise BrewError("a dropped row cannot be edited; restore it first")
    current = content_of(store, i)
    change: dict = {}
    if prompt is not None and prompt != current["prompt"]:
        change["prompt"] = prompt
    if completion is not None and completion != current["completion"]:
        change["completion"] = completion
    if change:
        Row.model_validate({**store.row(i), **change})
        change["original"] = current["original"] or {
            "prompt": current["prompt"],
            "completion": current["completion"],
        }
    target = ["approved", None, None] if approve else state_of(store, i)
    return commit(store, "edit", [i], set_=target, content=[change or None])


def drop(store: Store, idxs: Iterable[int]) -> Decision:
    slots = live(store, idxs, (REJECTED,))
    return commit(store, "drop", slots, set_=["dropped", KEEP, KEEP], unique=True)


def restore(store: Store, dropped_ids: Iterable[str]) -> Decision:
    """Rows of dropped.jsonl (or dropped since the last compaction) back as pending."""
    store.writable()
    ids = list(dict.fromkeys(dropped_ids))
    hints = []
    for row_id in ids:
        slot = None
        if store.restored_slot(row_id) is None and store.dropped.position_of(row_id) is None:
            slot = store.index_of(row_id)
            if slot is None or store.cols.status[slot] != DROPPED:
                raise BrewError(f"{store.dropped_path}: no dropped row with id {row_id}")
        hints.append(-1 if slot is None else slot)
    found = restore_slots(store, ids, hints)
    slots = [slot for slot in found if slot is not None and store.cols.status[slot] == DROPPED]
    return commit(store, "restore", slots, set_=["pending", None, None])


# undo and redo: a linear history over every journal entry since the floor (`UndoLog`)
#
# An undo takes back the most recent decision not yet undone, wherever it is: in the journal or,
# after a compaction or a restart, in the journal archive. It is a new entry that sets each row
# back to the state the decision recorded (`prev`, `prev_content`, `prev_reviewed`); rows a
# compaction moved to dropped.jsonl come back from there (an undo of a drop), rows a compaction
# wrote into synthetic.jsonl go back out (an undo of a restore). Because the history is linear,
# a later decision on the same row is always undone first. A row that is not as the decision
# left it all the same (changed by hand, or by a decision before the floor) is refused and
# counted in the sentence, never overwritten. A redo re-applies the decision most recently
# undone, with the same rule the other way round; a new decision empties the redo stack.

_OP_WORDS = {"pending": "send back to pending"}


def describe(entry: dict) -> str:
    """A decision in words: "reject of 3 rows (label_ambiguous)", "drop of 13 rows (minor_typo 8,
    wrong_label 5)", "restore of 1 row from dropped", "approve of 2 rows"."""
    op = effective_op(entry)
    n = len(entry.get("ids") or [])
    text = f"{_OP_WORDS.get(op, op)} of {plural(n, 'row')}"
    if op in ("reject", "drop"):
        prev = entry.get("prev") or []
        reasons: dict[str, int] = {}
        for k in range(n):
            target = _target(entry, k)
            code = target[1] if target[1] != KEEP else (prev[k][1] if k < len(prev) else None)
            reasons[code or "(no reason)"] = reasons.get(code or "(no reason)", 0) + 1
        if len(reasons) == 1:
            text += f" ({next(iter(reasons))})"
        elif reasons:
            text += " (" + ", ".join(f"{code} {count}" for code, count in sorted(reasons.items())) + ")"
    elif op == "restore":
        text += " from dropped"
    return text


def _target(entry: dict, k: int) -> list:
    return entry["set"] if entry.get("set") is not None else entry["each"][k]


def _after(entry: dict, k: int) -> list:
    """Row k's state right after `entry` (KEEP resolved against its previous state)."""
    status, reason, note = _target(entry, k)
    prev = entry["prev"][k]
    if reason == KEEP:
        reason = prev[1]
    if status not in ("rejected", "dropped"):
        reason = None
    return [status, reason, prev[2] if note == KEEP else note]


def _step(store: Store, entry: dict, *, back: bool) -> Decision:
    """One undo (`back`) or redo of `entry`: the rows still as the other side left them change."""
    found = find_rows(store, entry, anywhere=True)
    keep: list[int] = []
    refused = 0
    for k, slot in enumerate(found):
        if slot is None:
            continue
        expected = _after(entry, k) if back else list(entry["prev"][k])
        if state_of(store, slot) != expected:
            refused += 1
            continue
        keep.append(k)
    missing = sum(slot is None for slot in found)
    slots = [found[k] for k in keep]
    op = effective_op(entry)
    stamping = op in STAMPING and bool(entry.get("by") or entry.get("reviewed"))
    if back:
        content = entry.get("prev_content")
        extra: dict[str, Any] = {"undo_of": entry["seq"], "undone_op": op}
        targets = [entry["prev"][k] for k in keep]
        if stamping:
            stamps = entry.get("prev_reviewed") or [None] * len(found)
            extra["reviewed"] = [stamps[k] for k in keep]
    else:
        content = entry.get("content")
        extra = {"redo_of": entry["seq"], "redone_op": op}
        targets = [_target(entry, k) for k in keep]
        if stamping:
            own = [entry["by"], entry_time(entry) or ""] if entry.get("by") else None
            stamps = entry.get("reviewed") or [own] * len(found)
            extra["reviewed"] = [stamps[k] for k in keep]
    decision = commit(
        store,
        "undo" if back else "redo",
        slots,  # type: ignore[arg-type]
        each=targets,
        content=None if content is None else [None if content[k] is None else dict(content[k]) for k in keep],
        extra=extra,
        even_empty=True,
    )
    done = "undone" if back else "redone"
    if keep:
        decision.text = f"{done}: {describe(entry)}"
        if (
            back and op != "restore"
        ):  # where the rows went: "back to pending" (a few names at most: O(rows undone))
            where = sorted({t[0] for t in targets})
            decision.text += f", back to {' / '.join(where)}"
    else:
        decision.text = f"nothing {done}: {describe(entry)}"
    if refused:
        verb = "has" if refused == 1 else "have"
        decision.text += f"; {plural(refused, 'row')} left alone: {verb} changed since"
    if missing:
        decision.text += f"; {plural(missing, 'row')} no longer found"
    return decision


def undo(store: Store) -> Decision | None:
    """Undo the most recent decision not yet undone (a bulk one as a whole), across compactions
    and restarts; None when there is none since the floor."""
    store.writable()
    entry = store.undo_log.last()
    return None if entry is None else _step(store, entry, back=True)


def redo(store: Store) -> Decision | None:
    """Re-apply the decision most recently undone; None when nothing was undone since the last
    new decision."""
    store.writable()
    entry = store.undo_log.last_undone()
    return None if entry is None else _step(store, entry, back=False)


def forget_history(store: Store) -> None:
    """Undo and redo no longer reach any decision made so far (the journal archive is kept)."""
    store.writable()
    with store.write_lock:
        store.undo_log.forget(store.journal_span()[1])
