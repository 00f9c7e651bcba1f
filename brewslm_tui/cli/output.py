"""What every command shares: exit codes, usage errors, output on a terminal or a pipe, selectors.

Exit codes: 0 success; 1 the command ran and found problems (or a job failed); 2 bad usage or a
bad project. Errors go to stderr in one or two plain lines. Tables and colour only on a terminal.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2 with a usage dump; keep it to two lines
        raise UsageError(f"{self.prog}: {message}")


def output() -> Output:
    return Output(sys.stdout.isatty())


class Output:
    """Plain lines when piped; a Rich console on a terminal."""

    def __init__(self, rich: bool):
        self.console = None
        if rich:
            from rich.console import Console  # the CLI may use rich; core may not

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


def err(message: str) -> None:
    print(f"brewslm-tui: {message}", file=sys.stderr)


def open_project(path: str):
    from brewslm_tui.core.project import load_project

    return load_project(path)


def add_selectors(p: argparse.ArgumentParser) -> None:
    p.add_argument("--id", dest="ids", action="append", default=[], metavar="ID", help="row id (repeatable)")
    p.add_argument("--run", help="run_id")
    p.add_argument("--reason", help="reject reason code")
    p.add_argument("--status", help="pending, approved, rejected or dropped")
    p.add_argument("--playbook", help="playbook name")


def selector(args):
    from brewslm_tui.core.store.selectors import Selector

    return Selector(
        ids=args.ids, run=args.run, reason=args.reason, status=args.status, playbook=args.playbook
    )
