"""Commands about the project as a whole: `open` (the TUI), `check`, `stats`, `compact`."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from brewslm_tui.cli.output import EXIT_OK, EXIT_PROBLEMS, open_project, open_store, output
from brewslm_tui.core.text import plural

log = logging.getLogger("brewslm_tui.cli")


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
    from brewslm_tui.core.project import writable_problem

    project = open_project(args.project)
    # a read-only filesystem or folder: open for looking, and say why in the banner
    unwritable = None if args.readonly else writable_problem(project)
    readonly: bool | str = unwritable or args.readonly
    from brewslm_tui.core.store.store import Store

    # before textual is imported: a head start (the builder writes the column cache: not here
    # when nothing can be written)
    builder = None if unwritable else Store.start_early_builder(project)
    from brewslm_tui.ui.shell.app import run_app

    return run_app(project.root, readonly=readonly, builder=builder)


def cmd_check(args) -> int:
    from brewslm_tui.core.export import invalid_rows, read_imported
    from brewslm_tui.core.store import quarantine

    project = open_project(args.project)
    out = output()
    problems: list[tuple[str, str]] = []  # (file, the line to print)
    try:
        from brewslm_tui.core.generation.playbooks import load_playbooks

        books, errors = load_playbooks(project)
        for error in errors:
            problems += [(line.split(":", 1)[0], line) for line in str(error).splitlines()]
    except ImportError:
        books = []
    _, imported_problems = read_imported(project)
    problems += [(str(p.path), str(p)) for p in imported_problems]
    with open_store(project, readonly=True) as store:
        problems += [(str(p.path), str(p)) for p in store.problems + store.dropped.problems]
        problems += [
            (str(project.state_dir / "quarantine"), line)
            for line in quarantine.check_lines(project.state_dir, store.problems + store.dropped.problems)
        ]
        synthetic = str(project.synthetic_path)
        size = project.synthetic_path.stat().st_size if project.synthetic_path.exists() else 0
        if size > store.scanned_bytes:
            problems.append(
                (
                    synthetic,
                    f"{synthetic}: final line has no newline (a torn write; the next writer quarantines it)",
                )
            )
        for row_id in store.repeated_ids():
            problems.append((synthetic, f"{synthetic}: row id {row_id} appears more than once"))
        problems += [
            (synthetic, f"would be exported but does not fit the project: {row}")
            for row in invalid_rows(store)
        ]
        counts = store.counts()
        n_rows = len(store)
    out.line(
        f"{project.name}: {project.task} / {project.scoring}, {plural(len(books), 'playbook')}, "
        f"{plural(n_rows, 'synthetic row')} ({', '.join(f'{k} {v}' for k, v in counts.items())})"
    )
    if project.data.allow_symlinks:
        out.line(
            f"note: {project.file}: [data] allow_symlinks = true: data files may point outside the project"
        )
    for _, line in problems:
        out.line(line)
    n_files = len({file for file, _ in problems})
    out.line(
        f"{plural(len(problems), 'problem')} in {plural(n_files, 'file')}" if problems else "no problems"
    )
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_stats(args) -> int:
    from brewslm_tui.core.stats import compute_stats

    project = open_project(args.project)
    with open_store(project, readonly=True) as store:
        stats = compute_stats(store)
    out = output()
    if args.json:
        out.json(stats)
        return EXIT_OK
    out.line(
        f"{stats['project']}: {plural(stats['total'], 'synthetic row')}, "
        f"{plural(stats['quarantined'], 'quarantined line')}"
    )
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

    project = open_project(args.project)
    with open_store(project) as store:
        report = store.compact()
    log.info("compacted %s", project.synthetic_path)
    output().line(f"compacted: {report}")
    return EXIT_OK
