"""What every command shares: exit codes, errors, inert output on a terminal or a pipe, selectors.

Exit codes, one rule for every command: 0 success; 1 the command ran and found problems (a
problem in the data, a job that failed, a file that could not be read or written); 2 bad usage
or a bad project (an unknown option, reason, status, run or playbook; a project file that does
not load). Errors go to stderr as one plain line per problem, `brewslm-tui: ...`.

Everything printed is untrusted unless proven otherwise: rows, reasons, run ids, playbook names
and a backend's error reply all come from files anyone may have written. So this layer never
parses markup (every string becomes a `rich.text.Text`, every table cell too), and passes every
string through `core.text.visible`, which turns ESC, C0/C1 controls, bidi overrides and other
invisible characters into escapes. Callers hand over plain `str`; there is no way to print
styled or raw text through it, and that is the point.
"""

from __future__ import annotations

import argparse
import codecs
import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from brewslm_tui.core.text import plural, visible

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
PROG = "brewslm-tui"

log = logging.getLogger("brewslm_tui.cli")


class UsageError(Exception):
    """Bad usage: the command line (not the data) is wrong. Exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2 with a usage dump; keep it to one line
        raise UsageError(f"{self.prog}: {message}")


# --- the terminal ----------------------------------------------------------------------------


def is_terminal(stream: IO[Any]) -> bool:
    """A terminal that understands styling: a tty whose TERM is not `dumb`."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def output() -> Output:
    return Output(is_terminal(sys.stdout))


def _console(stream: IO[str]):
    from rich.console import Console  # the CLI may use rich; core may not

    # markup, emoji and highlighting off: nothing in a string is ever interpreted
    return Console(file=stream, highlight=False, markup=False, emoji=False)


def inert(text: object) -> Any:
    """`text` as a Rich `Text` with every dangerous character made visible (never markup)."""
    from rich.text import Text

    return Text(visible(str(text)))


class Output:
    """Plain lines when piped; a Rich console (colour, tables) on a terminal. Every string is inert."""

    def __init__(self, rich: bool, stream: IO[str] | None = None):
        self.stream = stream or sys.stdout
        self.console = _console(self.stream) if rich else None

    def line(self, text: str = "") -> None:
        if self.console:
            self.console.print(inert(text), soft_wrap=True)  # the terminal wraps: paths copy whole
        else:
            print(visible(text), file=self.stream)

    def table(self, title: str, headers: list[str], rows: list[list]) -> None:
        """A table; piped, a title line, a header line and tab-separated rows (cut and awk read it)."""
        if self.console:
            from rich.table import Table

            table = Table(title=inert(title), title_justify="left", show_edge=False)
            for k, h in enumerate(headers):
                table.add_column(inert(h), justify="left" if k == 0 else "right")
            for row in rows:
                table.add_row(*[inert(c) for c in row])
            self.console.print(table)
        else:
            print(visible(title), file=self.stream)
            for row in [headers, *rows]:
                print("  " + "\t".join(visible(str(c)) for c in row), file=self.stream)

    def json(self, obj: object) -> None:
        """`obj` as indented JSON, with every dangerous character escaped (the same JSON value)."""
        text = orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n"
        self.stream.write(inert_json(text))
        self.stream.flush()


def err(message: str) -> None:
    """One error line per line of `message`, each `brewslm-tui: ...` (or `brewslm-tui CMD: ...`)."""
    for line in str(message).splitlines() or [""]:
        line = visible(line)
        print(line if line.startswith(PROG) else f"{PROG}: {line}", file=sys.stderr)


# --- JSON on a terminal ----------------------------------------------------------------------

# Characters `visible` escapes that orjson writes raw (it escapes only C0 and `"` `\`): C1, DEL,
# bidi and invisible format characters, separators, tags. In JSON text they can only sit inside
# strings, so writing them as \u escapes keeps the value and makes the bytes inert.
_RAW_IN_JSON = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def inert_json(text: str) -> str:
    """JSON text with the characters a terminal would act on written as `\\uXXXX` escapes."""
    return _RAW_IN_JSON.sub(_json_escape, text)


class InertJsonStream:
    """A binary stream of JSON lines to a terminal: `inert_json` over the bytes, split-safe."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    def write(self, data: bytes) -> int:
        text = inert_json(self._decoder.decode(data))
        self.raw.write(text.encode("utf-8", errors="surrogateescape"))
        return len(data)

    def writelines(self, lines: Iterable[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        self.raw.flush()


def data_stream() -> IO[bytes]:
    """Where a command writes data (JSONL) to stdout: raw bytes to a pipe, inert ones to a terminal."""
    raw = sys.stdout.buffer
    return InertJsonStream(raw) if raw.isatty() else raw  # type: ignore[return-value]


# --- generate's progress ---------------------------------------------------------------------


class Progress:
    """A job's progress on stderr: a Rich progress bar on a terminal, a plain line every 2 s otherwise.

    Used as a context manager around the job; `event(e)` takes each JobEvent.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = 2.0):
        self.stream = stream or sys.stderr
        self.interval = interval
        self._bar: Any = None
        self._task: Any = None
        self._last = -1e9
        if is_terminal(self.stream):
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}", markup=False),
                TimeElapsedColumn(),
                console=_console(self.stream),
                transient=False,
            )

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def event(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind == "started":
            self.note(f"run {event.run_id}: {event.playbook or event.job_kind} started")
            if self._bar is not None:
                self._task = self._bar.add_task(
                    visible(event.run_id), total=event.requested or None, counts=""
                )
            return
        if kind not in ("progress", "rows_landed", "finished"):
            return
        if self._bar is not None and self._task is not None:
            counts = (
                f"{event.candidates} candidates, {event.invalid_total} invalid, "
                f"{event.duplicates} duplicates, {event.backend_errors} backend errors, "
                f"{event.rows_per_second:.1f} rows/s"
            )
            self._bar.update(self._task, completed=event.usable, total=event.requested or None, counts=counts)
            return
        import time

        now = time.monotonic()
        if kind == "finished" or now - self._last >= self.interval:
            self._last = now
            self.note(event.line())

    def note(self, text: str) -> None:
        """A line above the bar (or a plain line). A terminal that went away (SIGHUP, a closed
        pipe) ends the display, never the job."""
        try:
            if self._bar is not None:
                self._bar.console.print(inert(text), soft_wrap=True)
            else:
                print(visible(text), file=self.stream, flush=True)
        except (OSError, ValueError):
            self._bar = None
            self.stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the job


# --- the project and its names ---------------------------------------------------------------

_current_project: list[Path] = []


def open_project(path: str):
    """Load the project (ProjectError, exit 2, when it does not load) and remember it for errors."""
    from brewslm_tui.core.project import load_project

    project = load_project(path)
    _current_project[:] = [project.root]
    log.info("project %s: %s", project.root, project.name)
    return project


def open_store(project, *, readonly: bool = False):
    """`Store.open` for a command, logged (`--verbose`) with the files it reads."""
    from brewslm_tui.core.store.store import Store

    store = Store.open(project, readonly=readonly)
    log.info(
        "opened %s%s: %d rows, %d in %s, journal %s (%d entries)",
        project.synthetic_path,
        " read-only" if readonly else "",
        len(store),
        len(store.dropped),
        project.dropped_path,
        project.state_dir / "journal.jsonl",
        store.journal_size(),
    )
    return store


_TEMP_RE = re.compile(r"\.(.+)\.\d+\.tmp\Z")


def describe_os_error(exc: OSError) -> str:
    """One line naming the file and the cause: `data/synthetic.jsonl: No space left on device`.

    A temp file (`.NAME.PID.tmp`, staged beside its target) is shown as the file it stands for.
    """
    cause = exc.strerror or type(exc).__name__
    if exc.filename is not None:
        path = Path(os.fsdecode(exc.filename))
        temp = _TEMP_RE.match(path.name)
        where = str(path.with_name(temp.group(1))) if temp else str(path)
        if exc.filename2 is not None:
            where += f" -> {os.fsdecode(exc.filename2)}"
    elif _current_project:  # an fd-level error (os.write, fsync): the system names no file
        where = f"{_current_project[0]} (a file in this project; --verbose shows which step)"
    else:
        where = "(no file named)"
    return f"{where}: {cause}"


def check_name(value: str | None, option: str) -> str | None:
    """A playbook name or run id from the command line: a name, never a path."""
    from brewslm_tui.core.project import name_problem

    if value is None:
        return None
    problem = name_problem(value)
    if problem:
        raise UsageError(f"{option} '{visible(value)}': {problem}")
    return value


def check_like_run(project, run_id: str | None) -> str | None:
    """`--like RUN_ID`: a name, and a run this project has a job record of (else bad usage)."""
    if check_name(run_id, "--like") is None:
        return None
    from brewslm_tui.core.generation.jobs import jobs_dir, list_jobs

    if not (jobs_dir(project) / f"{run_id}.json").is_file():
        recent = [j.run_id for j in list_jobs(project)]
        raise UsageError(
            f"--like '{visible(str(run_id))}': no such run{_listing(recent) or ' (no runs yet)'}"
        )
    return run_id


def check_output_file(path: Path | None) -> Path | None:
    """An output file argument: its folder must exist (never created behind the user's back)."""
    if path is None:
        return None
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise UsageError(
            f"{visible(str(path))}: the folder {visible(str(folder))} {what} (it is not created)"
        )
    if path.is_dir():
        raise UsageError(f"{visible(str(path))}: is a folder; name a file")
    return path


# --- selectors -------------------------------------------------------------------------------


def add_selectors(p: argparse.ArgumentParser, *, reason: str = "--reason") -> None:
    p.add_argument("--id", dest="ids", action="append", default=[], metavar="ID", help="row id (repeatable)")
    p.add_argument("--run", help="run_id")
    p.add_argument(reason, dest="where_reason", help="select rows rejected with this reason code")
    p.add_argument("--status", help="pending, approved, rejected or dropped")
    p.add_argument("--playbook", help="playbook name")


def selector(args, store) -> Any:
    """The rows the command acts on; an unknown status, reason, run or playbook is bad usage."""
    from brewslm_tui.core.rows import STATUS_NAMES
    from brewslm_tui.core.store.selectors import Selector

    sel = Selector(
        ids=args.ids, run=args.run, reason=args.where_reason, status=args.status, playbook=args.playbook
    )
    if sel.empty:
        raise UsageError(
            f"{PROG} {args.command}: say which rows: --id, --run, --reason, --status or --playbook "
            "(combined with AND)"
        )
    if sel.status is not None and sel.status not in STATUS_NAMES:
        raise UsageError(
            f"--status '{visible(sel.status)}': unknown status (one of: {', '.join(STATUS_NAMES)})"
        )
    if sel.reason is not None:
        known_reason(store, sel.reason, "--where-reason" if args.command == "reject" else "--reason")
    dropped = store.dropped
    for option, value, known, of_dropped in (
        ("--run", sel.run, store.runs, dropped.run_of),
        ("--playbook", sel.playbook, store.playbooks, dropped.playbook_of),
    ):
        if (
            value is not None
            and value not in known
            and all(of_dropped(j) != value for j in range(len(dropped)))
        ):
            raise UsageError(f"{option} '{visible(value)}': no row has it{_listing(known)}")
    return sel


def known_reason(store, code: str, option: str, *, to_set: bool = False) -> str:
    """A reason code the project names; otherwise bad usage, listing the codes.

    To select rows (`to_set` False) a code that rows still carry counts too: a reason removed
    from `brewslm.toml` must stay reachable, so its rows can be dropped or re-decided.
    """
    project = store.project
    if project.reason(code) is not None:
        return code
    if not to_set and (
        code in store.reason_counts()
        or any(store.dropped.reason_of(j) == code for j in range(len(store.dropped)))
    ):
        return code
    codes = [r.code for r in project.reject_reasons]
    raise UsageError(
        f"{option} '{visible(code)}': unknown reject reason (this project's reasons: {', '.join(codes)})"
    )


def _listing(known: list[str], n: int = 5) -> str:
    names = [visible(k) for k in known if k][:n]
    if not names:
        return ""
    more = f", … {len(known) - n} more" if len(known) > n else ""
    return f" (known: {', '.join(names)}{more})"


def rows_text(n: int) -> str:
    return plural(n, "row")
