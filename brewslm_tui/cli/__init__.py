"""The `brewslm-tui` command: opens the TUI, and runs the same core operations headless.

One module per group of commands (`project`, `decisions`, `data`, `jobs`); each registers its
subcommands and returns their handlers. `output` holds what they share: exit codes (0 ok, 1
found problems or a job failed, 2 bad usage or a bad project), error lines, tables on a terminal.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from brewslm_tui.cli import data, decisions, jobs, project, quarantine
from brewslm_tui.cli.output import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Parser, UsageError, err
from brewslm_tui.core.errors import BrewError, ProjectError

GROUPS = (project, decisions, data, jobs, quarantine)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    parser = Parser(prog="brewslm-tui", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {}
    for group in GROUPS:
        commands.update(group.register(sub))
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    parser, commands = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return EXIT_USAGE
        return commands[args.command](args)
    except (UsageError, ProjectError) as exc:  # bad usage or a bad project file
        err(str(exc))
        return EXIT_USAGE
    except BrewError as exc:  # the command ran and hit a problem (a lock held, a bad reason...)
        err(str(exc))
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        err("interrupted")
        return 130
