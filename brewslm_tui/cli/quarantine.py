"""`brewslm-tui quarantine`: the lines that could not be loaded, and putting fixed ones back.

A quarantined line stays listed (and counted by `stats` and `check`) until it is restored or
discarded; see `core/store/quarantine.py`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from brewslm_tui.cli.output import EXIT_OK, UsageError, open_project, output


def register(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("quarantine", help="list quarantined lines; restore a fixed one or discard one")
    p.add_argument("project")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--restore", metavar="ID_OR_LINE", help="put a fixed line back (an id, or FILE:LINE)")
    action.add_argument("--discard", metavar="ID_OR_LINE", help="stop keeping a line in sight")
    fix = p.add_mutually_exclusive_group()
    fix.add_argument("--line", help="the fixed line (JSON) for --restore (default: the quarantined bytes)")
    fix.add_argument(
        "--from", dest="from_file", metavar="FILE", help="read the fixed line from FILE (- for stdin)"
    )
    return {"quarantine": cmd_quarantine}


def cmd_quarantine(args) -> int:
    from brewslm_tui.core.store import quarantine
    from brewslm_tui.core.text import visible

    project = open_project(args.project)
    out = output()
    if (args.line is not None or args.from_file is not None) and not args.restore:
        raise UsageError("brewslm-tui quarantine: --line and --from go with --restore")
    if args.restore:
        line, where = quarantine.restore(project, args.restore, _fixed_text(args))
        out.line(f"restored {visible(line.location)} as {visible(where)} (quarantined copy {line.id} kept)")
        return EXIT_OK
    if args.discard:
        line = quarantine.discard(project, args.discard)
        out.line(
            f"discarded {visible(line.location)} ({line.id}); its bytes stay in {visible(str(line.raw_path))}"
        )
        return EXIT_OK
    lines = quarantine.outstanding(project.state_dir)
    if not lines:
        out.line(f"{visible(project.name)}: no quarantined lines")
        return EXIT_OK
    out.line(
        f"{visible(project.name)}: {len(lines)} quarantined line(s) in {visible(str(project.state_dir / 'quarantine'))}"
    )
    for q in lines:
        preview = q.raw()[:60].decode("utf-8", errors="replace")
        out.line(f"{q.id}  {visible(q.location)}: {visible(q.reason)} ({q.size} bytes)")
        out.line(f"    {visible(preview)}{'…' if q.size > 60 else ''}")
    out.line("restore a fixed line: --restore ID --line JSON (or --from FILE); or --discard ID")
    return EXIT_OK


def _fixed_text(args) -> bytes | None:
    if args.line is not None:
        return args.line.encode()
    if args.from_file == "-":
        return sys.stdin.buffer.read()
    if args.from_file is not None:
        try:
            with open(args.from_file, "rb") as f:
                return f.read(1 << 26)
        except OSError as exc:
            raise UsageError(f"brewslm-tui quarantine: {args.from_file}: {exc.strerror}") from None
    return None
