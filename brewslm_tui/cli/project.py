"""Commands about the project as a whole: `open` (the TUI), `check`, `stats`, `compact`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import orjson

from brewslm_tui.cli.output import EXIT_OK, EXIT_PROBLEMS, open_project, output


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("open", help="open the review app (the TUI)")
    p.add_argument("project", nargs="?", default=".")
    p.add_argument("--readonly", action="store_true", help="look without making decisions")

    p = sub.add_parser("check", help="validate project file, playbooks and data; list every problem")
    p.add_argument("project")

    p = sub.add_parser("stats", help="counts by status, reason, run, label")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("compact", help="fold the decision journal into the data files")
    p.add_argument("project")
    return {"open": cmd_open, "check": cmd_check, "stats": cmd_stats, "compact": cmd_compact}


def cmd_open(args) -> int:
    project = open_project(args.project)
    from brewslm_tui.core.store.store import Store

    builder = Store.start_early_builder(project)  # before textual is imported: a head start
    from brewslm_tui.ui.shell.app import run_app

    return run_app(project.root, readonly=args.readonly, builder=builder)


def cmd_check(args) -> int:
    from brewslm_tui.core.export import read_imported
    from brewslm_tui.core.store.store import Store

    project = open_project(args.project)
    out = output()
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

    project = open_project(args.project)
    stats = compute_stats(Store.open(project, readonly=True))
    if args.json:
        sys.stdout.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    out = output()
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


def cmd_compact(args) -> int:
    from brewslm_tui.core.store.store import Store

    project = open_project(args.project)
    with Store.open(project) as store:
        report = store.compact()
    output().line(f"compacted: {report}")
    return EXIT_OK
