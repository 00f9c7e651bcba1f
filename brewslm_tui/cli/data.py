"""Data in and out of the project: `import` (existing datasets) and `export` (the training data)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from brewslm_tui.cli.output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    UsageError,
    check_output_file,
    data_stream,
    err,
    open_project,
    open_store,
    output,
)
from brewslm_tui.core.text import visible_line

EXAMPLES_PER_REASON = 3


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("export", help="imported + approved synthetic rows: the candidate training data")
    p.add_argument("project")
    p.add_argument("-o", "--output", type=Path, help="a file (a folder with --split); stdout when absent")
    p.add_argument(
        "--format",
        default="prompt-completion",
        choices=["prompt-completion", "messages", "raw"],
        help="prompt-completion (default), messages (chat), raw (every field)",
    )
    p.add_argument("--system", help="a system message for --format messages")
    p.add_argument("--split", help="e.g. train=0.9,validation=0.1 (one file per split, in the -o folder)")
    p.add_argument("--seed", type=int, default=0, help="the seed of the split's shuffle (default 0)")
    p.add_argument(
        "--fields",
        choices=["provenance", "minimal"],
        default="provenance",
        help="keep the provenance fields (default) or only the training text",
    )
    p.add_argument("--allow-invalid", action="store_true", help="export rows that do not fit the project too")

    p = sub.add_parser(
        "import",
        help="bring existing rows into data/imported.jsonl (--dry-run shows what would be taken, writing nothing)",
    )
    p.add_argument("project")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="write nothing; show what would be taken")
    p.add_argument(
        "--format",
        dest="import_format",
        help="the file's format when its name does not say (jsonl, json, csv, tsv, parquet, hf, "
        "prodigy, label-studio, argilla)",
    )
    p.add_argument(
        "--map",
        dest="maps",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="take prompt or completion from a column (repeatable): --map prompt=text",
    )
    p.add_argument("--prompt-template", help='build the prompt from columns: "Classify: {text}"')
    return {"export": cmd_export, "import": cmd_import}


def cmd_export(args) -> int:
    from brewslm_tui.core.errors import BrewError
    from brewslm_tui.core.export import (
        ExportOptions,
        InvalidRowsError,
        export,
        parse_split,
        refuse_project_path,
    )

    project = open_project(args.project)
    try:
        options = ExportOptions(
            format=args.format,
            system=args.system,
            minimal=args.fields == "minimal",
            split=parse_split(args.split) if args.split else None,
            seed=args.seed,
            allow_invalid=args.allow_invalid,
        )
    except BrewError as exc:
        raise UsageError(str(exc)) from None
    if options.split and args.output is None:
        raise UsageError("--split writes one file per split: give an output folder with -o")
    if args.output is not None:
        refuse_project_path(project, args.output)  # the most specific refusal first
    if not options.split:
        check_output_file(args.output)
    elif not args.output.parent.is_dir():
        folder = args.output.parent
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise UsageError(
            f"{visible_line(str(args.output))}: the folder {visible_line(str(folder))} {what} (it is not created)"
        )
    store = open_store(project, readonly=True)
    out = output()
    try:
        report = export(store, args.output, options, stream=data_stream())
    except InvalidRowsError as exc:
        for row in exc.rows:
            err(visible_line(f"invalid: {row}"))
        raise
    for row in report.invalid:  # (on stderr: stdout may be the export itself)
        err(visible_line(f"invalid, exported anyway: {row}"))
    if args.output is None:
        sys.stdout.flush()
        return EXIT_OK
    by_source = report.counts["by_source"]
    imported = sum(n for s, n in by_source.items() if s == "imported" or s.startswith("import:"))
    out.line(
        f"wrote {imported} imported + {report.total - imported} approved synthetic rows "
        f"({options.format}) to {args.output}"
    )
    for f in report.files:
        if f.split:
            out.line(f"  {f.split}: {f.rows} rows in {f.path}")
    out.line(f"  manifest: {report.manifest}")
    return EXIT_OK


# the names `detect_format` tells a format from (tests/ui/test_ergonomics.py checks they agree)
NAMED_SUFFIXES = (
    ".csv",
    ".tsv",
    ".tab",
    ".parquet",
    ".pq",
    ".arrow",
    ".json",
    ".jsonl",
    ".ndjson",
    ".jsonlines",
)


def cmd_import(args) -> int:
    from brewslm_tui.core.errors import BrewError
    from brewslm_tui.core.importing import ImportOptions, run_import
    from brewslm_tui.core.importing.pipeline import FORMATS

    project = open_project(args.project)
    try:
        options = ImportOptions.from_args(args.maps, args.prompt_template, args.import_format)
    except BrewError as exc:
        raise UsageError(str(exc)) from None
    if args.import_format is None:  # a file whose name says no format is bad usage (2), not a problem
        for path in args.files:
            if not path.is_dir() and path.suffix.lower() not in NAMED_SUFFIXES:
                raise UsageError(
                    f"{path}: cannot tell the format from the name; say --format ({', '.join(FORMATS)})"
                )
    result = run_import(project, args.files, options, dry_run=args.dry_run)
    out = output()
    for line in result.summary_lines(EXAMPLES_PER_REASON):
        out.line(visible_line(line))
    if not (result.accepted or result.kept):  # a no-op is not a success
        return EXIT_PROBLEMS
    return EXIT_OK
