"""Review decisions from the command line: approve, reject, pending, drop, restore, undo.

The same `Store` calls the TUI makes, so both faces leave the same files. Every line a decision
prints is printed after the store call returned, that is after the journal entry is fsync'd.

What each prints and returns (the same rule for every decision):
- something changed: `approve: 3 rows (--run x)`, exit 0;
- the selection matched rows that are already so: one line saying that, nothing changed, exit 0;
- an `--id` that names no row: `no row with id 'x'`, exit 1 (the other ids are still decided);
- an unknown status, reason, run or playbook: bad usage, exit 2, before anything is opened for writing.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from brewslm_tui.cli.output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    add_selectors,
    err,
    known_reason,
    open_project,
    open_store,
    output,
    rows_text,
    selector,
)
from brewslm_tui.core.rows import REJECTED
from brewslm_tui.core.text import plural

log = logging.getLogger("brewslm_tui.cli")

# the status each decision leads to, for "already so" lines
_TARGET = {"approve": "approved", "reject": "rejected", "pending": "pending", "drop": "dropped"}


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    for name, helptext in (("approve", "approve rows"), ("pending", "send rows back to pending")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("project")
        add_selectors(p)
        p.add_argument("--no-compact", action="store_true", help="leave the decision in the journal only")

    p = sub.add_parser("reject", help="reject rows with a reason code")
    p.add_argument("project")
    p.add_argument("--reason", required=True, help="reject reason code (the reason to set)")
    p.add_argument("--note")
    add_selectors(p, reason="--where-reason")
    p.add_argument("--no-compact", action="store_true", help="leave the decision in the journal only")

    p = sub.add_parser("drop", help="move rejected rows to data/dropped.jsonl (restorable)")
    p.add_argument("project")
    add_selectors(p)
    p.add_argument("--dry-run", action="store_true", help="say what would be dropped; change nothing")
    p.add_argument("--no-compact", action="store_true", help="leave the decision in the journal only")

    p = sub.add_parser("restore", help="bring dropped rows back into the queue as pending")
    p.add_argument("project")
    add_selectors(p)
    p.add_argument("--no-compact", action="store_true", help="leave the decision in the journal only")

    p = sub.add_parser(
        "undo",
        help="undo the most recent decision not yet undone (also one already compacted, or made "
        "before a restart; a drop's rows come back from data/dropped.jsonl)",
    )
    p.add_argument("project")
    p.add_argument(
        "--forget-history",
        action="store_true",
        help="undo nothing; from now on undo and redo never reach a decision made so far",
    )
    p.add_argument("--no-compact", action="store_true", help="leave the undo in the journal only")

    p = sub.add_parser("redo", help="re-apply the decision most recently undone")
    p.add_argument("project")
    p.add_argument("--no-compact", action="store_true", help="leave the redo in the journal only")

    return {
        op: (lambda a, op=op: _decide(a, op)) for op in ("approve", "reject", "pending", "drop", "restore")
    } | {"undo": lambda a: _step(a, "undo"), "redo": lambda a: _step(a, "redo")}


def _decide(args, op: str) -> int:
    from brewslm_tui.core.store.selectors import select_dropped, select_slots

    project = open_project(args.project)
    out = output()
    dry_run = op == "drop" and args.dry_run
    store = open_store(project, readonly=dry_run)
    try:
        sel = selector(args, store)  # bad usage (exit 2) is found before any decision is made
        if op == "reject":
            known_reason(store, args.reason, "--reason", to_set=True)
        missing = _missing_ids(store, sel.ids, dropped=op == "restore")
        if op == "restore":
            ids = select_dropped(store, sel)
            decision = store.restore(ids)
            selected = len(ids)
            if decision.count:
                out.line(f"restored {rows_text(decision.count)} as pending ({sel.describe()})")
        else:
            slots = select_slots(store, sel)
            selected = len(slots)
            if op == "drop":
                rejected = [i for i in slots if store.status[i] == REJECTED]
                if dry_run:
                    out.line(f"would drop {_by_reason(store, rejected)}")
                    _left_alone(out, len(slots) - len(rejected), "not rejected")
                    return _exit(missing)
                decision = store.drop(rejected)  # the count is printed once the drop is on disk
                if decision.count:
                    out.line(f"dropped {_summary(decision.count, decision.by_reason)}")
                _left_alone(out, len(slots) - len(rejected), "not rejected")
                selected = len(rejected)
            else:
                if op == "approve":
                    decision = store.approve(slots)
                elif op == "reject":
                    decision = store.reject(slots, args.reason, args.note)
                else:
                    decision = store.set_pending(slots)
                if decision.count:
                    out.line(f"{op}: {rows_text(decision.count)} ({sel.describe()})")
                already = selected - decision.count
                if decision.count and already:
                    out.line(f"left alone {rows_text(already)} already {_TARGET[op]}")
        log.info("%s: %d of %d selected rows changed", op, decision.count, selected)
        if decision.count == 0:
            if selected:
                what = "restored" if op == "restore" else _TARGET[op]
                out.line(
                    f"{op}: nothing to change: the {rows_text(selected)} selected "
                    f"{'is' if selected == 1 else 'are'} already {what} ({sel.describe()})"
                )
            elif not missing and not (op == "drop" and slots):
                out.line(f"{op}: no row matches {sel.describe()}; nothing changed")
        elif not args.no_compact:
            store.compact()
            log.info("compacted %s", project.synthetic_path)
        return _exit(missing)
    finally:
        store.close()


def _missing_ids(store, ids: list[str], *, dropped: bool) -> list[str]:
    """The `--id`s that name no row (live, or in dropped.jsonl for restore), each reported."""
    if not ids:
        return []
    in_dropped = {store.dropped.id_of(j) for j in range(len(store.dropped))} if dropped else set()
    missing = [i for i in dict.fromkeys(ids) if store.index_of(i) is None and i not in in_dropped]
    problems = store.problems + store.dropped.problems
    # the row may be on a line that could not be loaded: say where to look
    hint = ""
    if problems:
        files = sorted({p.path.name for p in problems})
        hint = f" (maybe on one of {plural(len(problems), 'line')} of {', '.join(files)} that could not be loaded; check lists them)"
    elif missing:
        from brewslm_tui.core.store.quarantine import outstanding

        held = outstanding(store.project.state_dir)  # lines a compaction already took out of the files
        if held:
            files = sorted({q.file.name for q in held})
            hint = (
                f" (maybe on one of {plural(len(held), 'quarantined line')} of {', '.join(files)}; "
                "`brewslm-tui quarantine PROJECT` lists them)"
            )
    for row_id in missing:
        err(f"no row with id '{row_id}'{hint}")
    return missing


def _exit(missing: list[str]) -> int:
    return EXIT_PROBLEMS if missing else EXIT_OK


def _by_reason(store, slots: list[int]) -> str:
    return _summary(len(slots), store.count_by_reason(slots))


def _summary(count: int, by_reason: dict[str, int]) -> str:
    summary = ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items()))
    return rows_text(count) + (f": {summary}" if summary else "")


def _left_alone(out, n: int, why: str) -> None:
    if n:
        out.line(f"left alone {rows_text(n)} selected that {'is' if n == 1 else 'are'} {why}")


def _step(args, which: str) -> int:
    """`undo` / `redo`: one journal entry, printed once it is on disk (the sentence says what it
    did, and which rows it left alone because they changed since)."""
    project = open_project(args.project)
    with open_store(project) as store:
        if which == "undo" and args.forget_history:
            store.forget_history()
            output().line("undo history forgotten: undo and redo no longer reach the decisions made so far")
            return EXIT_OK
        decision = store.undo() if which == "undo" else store.redo()
        if decision is None:
            err(
                f"nothing to {which}"
                + ("" if which == "undo" else " (no decision was undone since the last one)")
            )
            return EXIT_PROBLEMS
        output().line(decision.text)
        log.info("%s: seq %s, %d rows", which, decision.seq, decision.count)
        if decision.count and not args.no_compact:  # as every other decision of the CLI
            store.compact()
        return EXIT_OK if decision.count else EXIT_PROBLEMS
