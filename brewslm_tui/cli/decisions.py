"""Review decisions from the command line: approve, reject, pending, drop, restore, undo.

The same `Store` calls the TUI makes, so both faces leave the same files.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from brewslm_tui.cli.output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    UsageError,
    add_selectors,
    err,
    open_project,
    output,
    selector,
)


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
    p.add_argument("--id", dest="ids", action="append", default=[], metavar="ID")
    p.add_argument("--run")
    p.add_argument("--status")
    p.add_argument("--playbook")
    p.add_argument(
        "--where-reason", dest="where_reason", help="select rows currently rejected with this reason"
    )
    p.add_argument("--no-compact", action="store_true")

    p = sub.add_parser("drop", help="move rejected rows to data/dropped.jsonl (restorable)")
    p.add_argument("project")
    add_selectors(p)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--no-compact", action="store_true")

    p = sub.add_parser("restore", help="bring dropped rows back into the queue as pending")
    p.add_argument("project")
    add_selectors(p)
    p.add_argument("--no-compact", action="store_true")

    p = sub.add_parser("undo", help="undo the last decision not yet compacted")
    p.add_argument("project")

    return {
        "approve": lambda a: _decide(a, "approve"),
        "reject": lambda a: _decide(a, "reject"),
        "pending": lambda a: _decide(a, "pending"),
        "drop": lambda a: _decide(a, "drop"),
        "restore": lambda a: _decide(a, "restore"),
        "undo": cmd_undo,
    }


def _decide(args, op: str) -> int:
    from brewslm_tui.core.store.selectors import Selector, select_dropped, select_slots
    from brewslm_tui.core.store.store import Store

    project = open_project(args.project)
    out = output()
    if op == "reject":
        sel = Selector(
            ids=args.ids, run=args.run, reason=args.where_reason, status=args.status, playbook=args.playbook
        )
    else:
        sel = selector(args)
    if sel.empty:
        raise UsageError(
            f"brewslm-tui {op}: say which rows: --id, --run, --reason, --status or --playbook (combined with AND)"
        )
    store = Store.open(project, readonly=op == "drop" and args.dry_run)
    try:
        if op == "restore":
            ids = select_dropped(store, sel)
            decision = store.restore(ids)
            out.line(f"restored {decision.count} rows as pending ({sel.describe()})")
        else:
            slots = select_slots(store, sel)
            if op == "approve":
                decision = store.approve(slots)
            elif op == "reject":
                decision = store.reject(slots, args.reason, args.note)
            elif op == "pending":
                decision = store.set_pending(slots)
            else:  # drop
                rejected = [i for i in slots if store.status[i] == 2]
                by_reason = store.count_by_reason(rejected)
                verb = "would drop" if args.dry_run else "dropped"
                summary = ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items())) or "nothing"
                out.line(f"{verb} {len(rejected)} rows: {summary}")
                if len(slots) > len(rejected):
                    out.line(f"left alone {len(slots) - len(rejected)} selected rows that are not rejected")
                if args.dry_run:
                    return EXIT_OK
                decision = store.drop(rejected)
            if op != "drop":
                skipped = len(slots) - decision.count
                out.line(
                    f"{op}: {decision.count} rows ({sel.describe()})"
                    + (f"; {skipped} already so" if skipped else "")
                )
        if not args.no_compact and decision.count:
            store.compact()
        if decision.count == 0 and not (sel.ids or op == "drop"):
            return EXIT_OK
        if decision.count == 0 and sel.ids:
            err("no row matched; nothing changed")
            return EXIT_PROBLEMS
        return EXIT_OK
    finally:
        store.close()


def cmd_undo(args) -> int:
    from brewslm_tui.core.store.store import Store

    project = open_project(args.project)
    with Store.open(project) as store:
        decision = store.undo()
        if decision is None:
            err("nothing to undo (decisions already compacted into the data files cannot be undone here)")
            return EXIT_PROBLEMS
        output().line(f"undid {decision.count} rows")
        return EXIT_OK
