"""The `brewslm-tui` command: opens the TUI, and runs the same core operations headless.

Exit codes: 0 success; 1 the command ran and found problems (or a job failed); 2 bad usage or a
bad project. Errors go to stderr in one or two plain lines. Tables and colour only on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import orjson

from brewslm_tui.core.errors import BrewError, ProjectError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2 with a usage dump; keep it to two lines
        raise UsageError(f"{self.prog}: {message}")


def _out() -> _Output:
    return _Output(sys.stdout.isatty())


class _Output:
    """Plain lines when piped; a Rich console on a terminal."""

    def __init__(self, rich: bool):
        self.console = None
        if rich:
            from rich.console import Console  # cli.py may use rich; core may not

            self.console = Console(highlight=False)

    def line(self, text: str = "") -> None:
        if self.console:
            from rich.text import Text

            self.console.print(Text(text))
        else:
            print(text)

    def table(self, title: str, headers: list[str], rows: list[list]) -> None:
        if self.console:
            from rich.table import Table

            table = Table(title=title, title_justify="left", show_edge=False)
            for h in headers:
                table.add_column(h, justify="right" if h not in headers[:1] else "left")
            for row in rows:
                table.add_row(*[str(c) for c in row])
            self.console.print(table)
        else:
            print(title)
            for row in rows:
                print("  " + "\t".join(str(c) for c in row))


def _err(message: str) -> None:
    print(f"brewslm-tui: {message}", file=sys.stderr)


def _project(path: str):
    from brewslm_tui.core.project import load_project

    return load_project(path)


def _add_selectors(p: argparse.ArgumentParser) -> None:
    p.add_argument("--id", dest="ids", action="append", default=[], metavar="ID", help="row id (repeatable)")
    p.add_argument("--run", help="run_id")
    p.add_argument("--reason", help="reject reason code")
    p.add_argument("--status", help="pending, approved, rejected or dropped")
    p.add_argument("--playbook", help="playbook name")


def _selector(args):
    from brewslm_tui.core.store.selectors import Selector

    return Selector(
        ids=args.ids, run=args.run, reason=args.reason, status=args.status, playbook=args.playbook
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="brewslm-tui", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("open", help="open the review app (the TUI)")
    p.add_argument("project", nargs="?", default=".")
    p.add_argument("--readonly", action="store_true", help="look without making decisions")

    p = sub.add_parser("check", help="validate project file, playbooks and data; list every problem")
    p.add_argument("project")

    p = sub.add_parser("stats", help="counts by status, reason, run, label")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")

    for name, helptext in (("approve", "approve rows"), ("pending", "send rows back to pending")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("project")
        _add_selectors(p)
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
    _add_selectors(p)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--no-compact", action="store_true")

    p = sub.add_parser("restore", help="bring dropped rows back into the queue as pending")
    p.add_argument("project")
    _add_selectors(p)
    p.add_argument("--no-compact", action="store_true")

    p = sub.add_parser("undo", help="undo the last decision not yet compacted")
    p.add_argument("project")

    p = sub.add_parser("export", help="imported + approved synthetic rows: the candidate training data")
    p.add_argument("project")
    p.add_argument("-o", "--output", type=Path)

    p = sub.add_parser("compact", help="fold the decision journal into the data files")
    p.add_argument("project")

    p = sub.add_parser("generate", help="run a synthetic playbook as a job")
    p.add_argument("project")
    p.add_argument("--playbook", help="playbook name (may be left out with --like)")
    p.add_argument("--count", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--like", dest="like", metavar="RUN_ID", help="regenerate this run: same playbook, fresh seed"
    )

    p = sub.add_parser("jobs", help="list the project's jobs")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    return parser


# ---------------------------------------------------------------------- commands
def cmd_open(args) -> int:
    project = _project(args.project)
    from brewslm_tui.core.store.store import Store

    builder = Store.start_early_builder(project)  # before textual is imported: a head start
    from brewslm_tui.ui.shell.app import build_app

    app = build_app(project.root, readonly=args.readonly, builder=builder)
    app.run()
    return getattr(app, "return_code", 0) or 0


def cmd_check(args) -> int:
    from brewslm_tui.core.export import read_imported
    from brewslm_tui.core.store.store import Store

    project = _project(args.project)
    out = _out()
    problems: list[str] = []
    try:
        from brewslm_tui.core.generation.playbooks import load_playbooks

        books, errors = load_playbooks(project)
        problems += [str(e) for e in errors]
    except ImportError:
        books = []
    _, imported_problems = read_imported(project)
    problems += [str(p) for p in imported_problems]
    store = Store.open(project, readonly=True)
    problems += [str(p) for p in store.problems + store.dropped.problems]
    size = project.synthetic_path.stat().st_size if project.synthetic_path.exists() else 0
    if size > store.scanned_bytes:
        problems.append(
            f"{project.synthetic_path}: final line has no newline (a torn write; the next writer quarantines it)"
        )
    seen: dict[str, int] = {}
    for i in range(len(store)):
        row_id = store.id_of(i)
        if row_id in seen:
            problems.append(f"{project.synthetic_path}: row id {row_id} appears more than once")
        seen[row_id] = i
    counts = store.counts()
    out.line(
        f"{project.name}: {project.task} / {project.scoring}, {len(books)} playbooks, "
        f"{len(store)} synthetic rows ({', '.join(f'{k} {v}' for k, v in counts.items())})"
    )
    for problem in problems:
        out.line(problem)
    out.line(f"{len(problems)} problem(s)" if problems else "no problems")
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_stats(args) -> int:
    from brewslm_tui.core.stats import compute_stats
    from brewslm_tui.core.store.store import Store

    project = _project(args.project)
    stats = compute_stats(Store.open(project, readonly=True))
    if args.json:
        sys.stdout.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    out = _out()
    out.line(f"{stats['project']}: {stats['total']} synthetic rows, {stats['quarantined']} quarantined lines")
    out.table("by status", ["status", "rows"], [[k, v] for k, v in stats["by_status"].items()])
    out.table("rejected, by reason", ["reason", "rows"], [[k, v] for k, v in stats["by_reason"].items()])
    out.table(
        "by run",
        ["run_id", "total", "pending", "approved", "rejected", "dropped"],
        [
            [r or "(none)", c["total"], c["pending"], c["approved"], c["rejected"], c["dropped"]]
            for r, c in stats["by_run"].items()
        ],
    )
    if stats["by_label"]:
        out.table("by label", ["label", "rows"], [[k, v] for k, v in stats["by_label"].items()])
    return EXIT_OK


def _decide(args, op: str) -> int:
    from brewslm_tui.core.store.selectors import Selector, select_dropped, select_slots
    from brewslm_tui.core.store.store import Store

    project = _project(args.project)
    out = _out()
    if op == "reject":
        sel = Selector(
            ids=args.ids, run=args.run, reason=args.where_reason, status=args.status, playbook=args.playbook
        )
    else:
        sel = _selector(args)
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
                by_reason: dict[str, int] = {}
                for i in rejected:
                    code = store.reason_of(i) or "(no reason)"
                    by_reason[code] = by_reason.get(code, 0) + 1
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
            _err("no row matched; nothing changed")
            return EXIT_PROBLEMS
        return EXIT_OK
    finally:
        store.close()


def cmd_undo(args) -> int:
    from brewslm_tui.core.store.store import Store

    project = _project(args.project)
    with Store.open(project) as store:
        decision = store.undo()
        if decision is None:
            _err("nothing to undo (decisions already compacted into the data files cannot be undone here)")
            return EXIT_PROBLEMS
        _out().line(f"undid {decision.count} rows")
        return EXIT_OK


def cmd_export(args) -> int:
    from brewslm_tui.core.export import export_to
    from brewslm_tui.core.store.store import Store

    project = _project(args.project)
    store = Store.open(project, readonly=True)
    counts = export_to(store, args.output, stream=sys.stdout.buffer)
    if args.output:
        _out().line(
            f"wrote {counts['imported']} imported + {counts['synthetic']} approved synthetic rows to {args.output}"
        )
    else:
        sys.stdout.flush()
    return EXIT_OK


def cmd_compact(args) -> int:
    from brewslm_tui.core.store.store import Store

    project = _project(args.project)
    with Store.open(project) as store:
        report = store.compact()
    _out().line(f"compacted: {report}")
    return EXIT_OK


def cmd_generate(args) -> int:
    from brewslm_tui.core.generation.jobs import run_generation_job

    if not args.playbook and not args.like:
        raise UsageError(
            "brewslm-tui generate: say which playbook: --playbook NAME, or --like RUN_ID to regenerate a run"
        )
    if args.count is not None and args.count <= 0:
        raise UsageError("brewslm-tui generate: --count must be a positive number")
    project = _project(args.project)
    tty = sys.stderr.isatty()
    cancel = asyncio.Event()
    last = {"n": 0.0}

    def on_event(event) -> None:
        kind = getattr(event, "kind", "")
        if kind == "started":
            print(f"run {event.run_id}: {getattr(event, 'playbook', args.playbook)} started", file=sys.stderr)
            return
        if kind not in ("progress", "rows_landed"):
            return
        if tty:
            sys.stderr.write("\r\x1b[2K" + _progress_bar(event))
            sys.stderr.flush()
        else:
            import time

            now = time.monotonic()
            if now - last["n"] >= 2.0:
                last["n"] = now
                print(event.line(), file=sys.stderr)

    async def main() -> object:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, cancel.set)
        loop.add_signal_handler(signal.SIGTERM, cancel.set)
        return await run_generation_job(
            project,
            args.playbook,
            count=args.count,
            seed=args.seed,
            like_run_id=args.like,
            on_event=on_event,
            cancel=cancel,
        )

    record = asyncio.run(main())
    if tty:
        sys.stderr.write("\n")
    print(record.run_id)
    print(record.summary())
    if record.state != "succeeded":
        diagnostic = record.diagnostic_text()
        if diagnostic:
            print(diagnostic, file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _progress_bar(event) -> str:
    """One terminal line: a bar of usable rows out of those requested, then the live counts."""
    width = 24
    done = int(width * event.fraction)
    return f"[{'#' * done}{'-' * (width - done)}] {event.line()}"


def cmd_jobs(args) -> int:
    from brewslm_tui.core.generation.jobs import list_jobs

    project = _project(args.project)
    jobs = list_jobs(project)
    if args.json:
        sys.stdout.write(
            orjson.dumps([j.to_json() for j in jobs], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return EXIT_OK
    out = _out()
    if not jobs:
        out.line("no jobs yet: brewslm-tui generate PROJECT --playbook NAME")
    for job in jobs:
        out.line(job.summary())
    return EXIT_OK


COMMANDS = {
    "open": cmd_open,
    "check": cmd_check,
    "stats": cmd_stats,
    "approve": lambda a: _decide(a, "approve"),
    "reject": lambda a: _decide(a, "reject"),
    "pending": lambda a: _decide(a, "pending"),
    "drop": lambda a: _decide(a, "drop"),
    "restore": lambda a: _decide(a, "restore"),
    "undo": cmd_undo,
    "export": cmd_export,
    "compact": cmd_compact,
    "generate": cmd_generate,
    "jobs": cmd_jobs,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return EXIT_USAGE
        return COMMANDS[args.command](args)
    except (UsageError, ProjectError) as exc:  # bad usage or a bad project file
        _err(str(exc))
        return EXIT_USAGE
    except BrewError as exc:  # the command ran and hit a problem (a lock held, a bad reason...)
        _err(str(exc))
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
