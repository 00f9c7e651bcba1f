"""Data out of the project: `export`, the candidate training data."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from brewslm_tui.cli.output import EXIT_OK, check_output_file, data_stream, open_project, open_store, output


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("export", help="imported + approved synthetic rows: the candidate training data")
    p.add_argument("project")
    p.add_argument("-o", "--output", type=Path)

    return {"export": cmd_export}


def cmd_export(args) -> int:
    from brewslm_tui.core.export import export_to

    project = open_project(args.project)
    store = open_store(project, readonly=True)
    counts = export_to(store, check_output_file(args.output), stream=data_stream())
    if args.output:
        output().line(
            f"wrote {counts['imported']} imported + {counts['synthetic']} approved synthetic rows to {args.output}"
        )
    else:
        sys.stdout.flush()
    return EXIT_OK
