"""The candidate training data, in the shape a trainer reads: imported rows plus approved synthetic rows.

Never a pending, rejected or dropped row. Every row passes the project's validator
(`core.generation.validate`) first: a row that no longer fits (the labels changed, a row was
edited by hand) stops the export and is named by id and cause, unless the user allows it.

Formats: `prompt-completion` ({prompt, completion} + provenance), `messages` (chat:
{"messages": [user, assistant]}, an optional system message) and `raw` (every field of the row).
A classification completion is written in the project's spelling of the label, an extraction
object with its fields in the project's order (`raw` keeps the row as it is).

Splits (`train=0.9,validation=0.1`) are drawn with a seeded shuffle, stratified by label for a
classification project, one file each; a row is in exactly one split. A `manifest.json` beside
the files says what is in them (counts by source, label, playbook and run; the project's task;
each file's sha256), and is what the next stage starts from.

Durability: each file is written in full to a temp beside it and fsynced, then every file is
renamed into place, the manifest last: a manifest on disk describes whole files (its hashes
let a reader check). An output path that is one of the project's own files is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from brewslm_tui import __version__
from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.validate import UNSURE, Problem, Validator
from brewslm_tui.core.rows import APPROVED
from brewslm_tui.core.store.columns import VIRTUAL
from brewslm_tui.core.store.jsonl import (
    LoadProblem,
    dumps_line,
    fsync_dir,
    line_starts,
    map_file,
    write_durably,
)
from brewslm_tui.core.text import visible

FORMATS = ("prompt-completion", "messages", "raw")
# the fields that say where a row came from and who decided on it (kept unless fields=minimal)
PROVENANCE = (
    "id",
    "source",
    "run_id",
    "playbook",
    "import_id",
    "created_at",
    "review_status",
    "reviewed_by",
    "reviewed_at",
)
MANIFEST = "manifest.json"


def read_imported(project) -> tuple[list[dict], list[LoadProblem]]:
    """The hand-made rows (read-only for this app)."""
    path = project.imported_path
    buf = map_file(path)
    starts, end = line_starts(buf)
    rows, problems = [], []
    for lineno, start in enumerate(starts, start=1):
        raw = buf[start : buf.find(b"\n", start)]
        try:
            obj = orjson.loads(raw)
        except ValueError as exc:
            problems.append(LoadProblem(path, lineno, f"bad JSON ({exc})"))
            continue
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("prompt"), str)
            or not isinstance(obj.get("completion"), str)
        ):
            problems.append(
                LoadProblem(path, lineno, "not a row (an object with string prompt and completion)")
            )
            continue
        rows.append(obj)
    if end < len(buf):
        problems.append(LoadProblem(path, len(starts) + 1, "final line has no newline (not read)"))
    return rows, problems


def export_rows(store, imported: list[dict] | None = None) -> Iterator[dict]:
    """Yield the rows of the candidate training data, imported first (as stored, not yet validated)."""
    if imported is None:
        imported, _ = read_imported(store.project)
    for row in imported:
        if "source" not in row:
            row = {**row, "source": "imported"}
        yield row
    yield from _rows_released_as_read(store, approved_slots(store))


RELEASE_ROWS = 4096  # rows read between two looks at how far into the file they are
RELEASE_BYTES = 16 << 20  # the mapped file's pages read past are handed back in steps of this


def _rows_released_as_read(store, slots: list[int]) -> Iterator[dict]:
    """`store.rows(slots)` (slots in file order), handing the pages of the mapped file that the
    rows have been read past back to the kernel (`MADV_DONTNEED`), so an export's resident
    memory does not grow with the file. The mapping is read-only and shared: a page read again
    later (a split's second pass) comes back from the page cache with the same bytes."""
    buf = store.file.buf
    madvise = getattr(buf, "madvise", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if madvise is None or advice is None:
        yield from store.rows(slots)
        return
    offsets, page, done = store.cols.offsets, mmap.PAGESIZE, 0
    for at in range(0, len(slots), RELEASE_ROWS):
        chunk = slots[at : at + RELEASE_ROWS]
        yield from store.rows(chunk)
        off = offsets[chunk[-1]]
        upto = off - off % page  # the pages wholly before the last line read
        if off != VIRTUAL and upto - done >= RELEASE_BYTES:
            madvise(advice, done, upto - done)
            done = upto


def approved_slots(store) -> list[int]:
    """The approved slots in order, found by a C search (most rows are not approved)."""
    find, approved = store.status.find, bytes([APPROVED])
    slots = []
    i = find(approved)
    while i >= 0:
        slots.append(i)
        i = find(approved, i + 1)
    return slots


@dataclass(frozen=True)
class InvalidRow:
    """An exportable row that does not fit the project any more."""

    id: str
    source: str
    problems: list[Problem]

    def __str__(self) -> str:
        return f"{self.id} ({self.source}): {'; '.join(map(str, self.problems))}"


def invalid_rows(store) -> list[InvalidRow]:
    """Every row an export would write that the validator refuses (for `check`)."""
    validator = Validator(store.project)
    canonical, plainly = validator.canonical, validator.plainly()
    invalid = []
    for row in export_rows(store):  # (`_checked_rows` inline: the quick test, `canonical` when unsure)
        if plainly(row) is UNSURE:
            _, cause, detail = canonical(row)
            if cause is not None:
                invalid.append(_invalid(row, [Problem(cause, detail)]))
    return invalid


def _invalid(row: dict, problems: list[Problem]) -> InvalidRow:
    return InvalidRow(str(row.get("id", "(no id)")), str(row.get("source", "")), problems)


class InvalidRowsError(BrewError):
    """The export was refused because rows do not validate; nothing was written."""

    def __init__(self, rows: list[InvalidRow]):
        self.rows = rows
        super().__init__(
            f"{len(rows)} row(s) that would be exported do not fit the project; nothing was written "
            "(fix or reject them, or pass --allow-invalid)"
        )


@dataclass
class ExportOptions:
    """How to shape the export. `split` maps a split name to its fraction (in order)."""

    format: str = "prompt-completion"
    system: str | None = None
    minimal: bool = False
    split: dict[str, float] | None = None
    seed: int = 0
    allow_invalid: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise BrewError(f"unknown export format {self.format!r} (one of {', '.join(FORMATS)})")
        if self.format == "raw" and self.minimal:
            raise BrewError("--format raw keeps every field; it cannot be combined with --fields minimal")
        if self.system is not None and self.format != "messages":
            raise BrewError("a system message needs --format messages")


def parse_split(text: str) -> dict[str, float]:
    """`train=0.9,validation=0.1` -> {"train": 0.9, "validation": 0.1}; the fractions sum to 1."""
    split: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not name or not (0 < fraction <= 1):
            raise BrewError(f"--split: {part.strip()!r} is not NAME=FRACTION with a fraction in (0, 1]")
        if not name.replace("-", "").replace("_", "").isalnum() or name in split:
            raise BrewError(f"--split: {name!r} is not a new split name (letters, digits, - and _)")
        split[name] = fraction
    if abs(sum(split.values()) - 1) > 1e-6:
        raise BrewError(f"--split: the fractions add up to {sum(split.values()):g}, not 1")
    return split


@dataclass
class ExportFile:
    path: Path
    split: str | None
    rows: int
    sha256: str


@dataclass
class ExportReport:
    files: list[ExportFile]
    manifest: Path | None
    counts: dict[str, Any]
    invalid: list[InvalidRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.counts["total"])


def refuse_project_path(project, path: Path) -> None:
    """Refuse to write onto the project's own files (data, project file, import rejects, `.brewslm/`)."""
    target = Path(os.path.abspath(path)).resolve()
    guarded_files = [project.file, project.imported_path, project.synthetic_path, project.dropped_path]
    guarded_dirs = [project.state_dir, project.imported_path.parent / "import-rejected"]
    for guarded in guarded_files:
        if target == Path(os.path.abspath(guarded)).resolve() or _same_file(target, guarded):
            raise BrewError(f"{path}: that is the project's own file {guarded}; export somewhere else")
    for folder in guarded_dirs:
        folder = Path(os.path.abspath(folder)).resolve()
        if target == folder or folder in target.parents:
            raise BrewError(f"{path}: that is inside the project's {folder}; export somewhere else")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def output_files(out: Path, split: dict[str, float] | None) -> tuple[dict[str | None, Path], Path]:
    """Where an export goes: one file (and `manifest.json` beside it), or a folder of `<split>.jsonl`."""
    if split:
        return {name: out / f"{name}.jsonl" for name in split}, out / MANIFEST
    return {None: out}, out.parent / MANIFEST


def export(store, out: Path | None, options: ExportOptions | None = None, stream=None) -> ExportReport:
    """Validate, then write the export to `out` (files + manifest, atomically) or to a binary stream.

    Raises `InvalidRowsError` (nothing written) when rows do not validate and the options do
    not allow it; `BrewError` for an output path that is the project's own.
    """
    options = options or ExportOptions()
    project = store.project
    if out is None and options.split:
        raise BrewError("--split writes one file per split: give an output folder with -o")
    targets: dict[str | None, Path] = {}
    manifest_path = Path(MANIFEST)  # (set below; unused when streaming)
    if out is not None:
        out = Path(out)
        targets, manifest_path = output_files(out, options.split)
        for path in [out, *targets.values(), manifest_path]:
            refuse_project_path(project, path)
        if not options.split and out.is_dir():
            raise BrewError(f"{out}: is a folder; give a file name (or --split for a folder of splits)")
        if options.split and out.exists() and not out.is_dir():
            raise BrewError(f"{out}: --split writes a folder of files, and this is a file")

    imported, _ = read_imported(project)
    validator = Validator(project)
    classification = project.task == "classification"
    strata: list[str] = []  # per exported row, its label (classification) or ""
    invalid: list[InvalidRow] = []
    counter = _Counts(project)

    def first_pass(write: bool) -> Iterator[bytes]:
        """Every row validated; each exported one counted, and its line yielded when `write`
        (one file, no split: the only pass). Once a row is refused, nothing more is yielded."""
        for row, completion, problems in _checked_rows(export_rows(store, imported), validator):
            if problems:
                invalid.append(_invalid(row, problems))
                if not options.allow_invalid:
                    continue
            stratum = str(completion) if classification else ""
            strata.append(stratum)
            counter.add(stratum, row)
            if write and (options.allow_invalid or not invalid):
                yield dumps_line(_shape(row, completion, options))

    def second_pass(assignment: list[int]) -> Iterator[tuple[int, bytes]]:
        """(split index, line) of each exported row, shaped again from the store (not kept in memory)."""
        checked = _checked_rows(export_rows(store, imported), validator)
        exported = (c for c in checked if options.allow_invalid or not c[2])
        for (row, completion, _), k in zip(exported, assignment, strict=True):
            yield k, dumps_line(_shape(row, completion, options))

    def refuse_invalid() -> None:
        if invalid and not options.allow_invalid:
            raise InvalidRowsError(invalid)

    if out is None:  # a stream cannot be taken back: validate everything before the first byte
        for _ in first_pass(False):
            pass
        refuse_invalid()
        stream.writelines(line for _, line in second_pass([0] * len(strata)))
        return ExportReport([], None, counter.result(strata, [0] * len(strata)), invalid)

    files: list[ExportFile] = []
    temps: list[tuple[Path, Path]] = []
    made = _missing_folders([t.parent for t in targets.values()])  # removed again if nothing is written
    try:
        if not options.split:  # one pass: validated, counted and written as it goes
            [(split_name, target)] = targets.items()
            digest, n = hashlib.sha256(), [0]
            target.parent.mkdir(parents=True, exist_ok=True)
            temps.append((write_durably(target, _hashed(first_pass(True), digest, n)), target))
            refuse_invalid()
            files.append(ExportFile(target, split_name, n[0], digest.hexdigest()))
            assignment = [0] * len(strata)
        else:
            for _ in first_pass(False):
                pass
            refuse_invalid()
            assignment = _assign_splits(strata, options.split, options.seed)
            for target in targets.values():
                target.parent.mkdir(parents=True, exist_ok=True)
            written = _write_splits(list(targets.values()), second_pass(assignment))
            for (split_name, target), (tmp, rows, sha) in zip(targets.items(), written, strict=True):
                temps.append((tmp, target))
                files.append(ExportFile(target, split_name, rows, sha))
        counts = counter.result(strata, assignment)
        manifest = _manifest(project, options, files, counts, invalid, manifest_path.parent)
        text = orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
        temps.append((write_durably(manifest_path, [text]), manifest_path))
    except BaseException as exc:
        half_written = [
            t.with_name(f".{t.name}.{os.getpid()}.tmp") for t in [*targets.values(), manifest_path]
        ]
        for tmp in [*(tmp for tmp, _ in temps), *half_written]:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # (only if empty)
        if isinstance(exc, OSError):
            raise _write_error(exc, "nothing was written") from None
        raise
    try:
        for tmp, target in temps:  # the manifest last: once it is there, the files it names are whole
            os.replace(tmp, target)
        for folder in {target.parent for _, target in temps}:
            fsync_dir(folder)
    except OSError as exc:
        raise _write_error(exc, "the export is incomplete (no manifest describes it)") from None
    return ExportReport(files, manifest_path, counts, invalid)


def _missing_folders(folders: list[Path]) -> list[Path]:
    """The folders (and their missing parents) that do not exist yet, deepest first."""
    missing: list[Path] = []
    for folder in folders:
        for path in [folder, *folder.parents]:
            if path.exists() or path in missing:
                break
            missing.append(path)
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


def _hashed(lines: Iterator[bytes], digest, count: list[int]) -> Iterator[bytes]:
    """`lines` in chunks of about 1 MiB, counted, and hashed in order on a second thread while
    the next chunk is made (hashlib releases the GIL on big buffers: the other core does it)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as hasher:  # one thread: the updates stay in order
        pending = []
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size >= 1 << 20:
                count[0] += len(chunk)
                data = b"".join(chunk)
                pending.append(hasher.submit(digest.update, data))
                yield data
                chunk, size = [], 0
        if chunk:
            count[0] += len(chunk)
            data = b"".join(chunk)
            pending.append(hasher.submit(digest.update, data))
            yield data
        for done in pending:
            done.result()


def _write_splits(targets: list[Path], lines: Iterator[tuple[int, bytes]]) -> list[tuple[Path, int, str]]:
    """Each (split index, line) into the temp file beside its split's target, all in one pass;
    every temp fsynced. Returns (temp, rows, sha256) per split."""
    temps = [t.with_name(f".{t.name}.{os.getpid()}.tmp") for t in targets]
    digests = [hashlib.sha256() for _ in targets]
    rows = [0] * len(targets)
    with contextlib.ExitStack() as stack:
        outs = [stack.enter_context(open(tmp, "wb")) for tmp in temps]
        for k, line in lines:
            outs[k].write(line)
            digests[k].update(line)
            rows[k] += 1
        for f in outs:
            f.flush()
            os.fsync(f.fileno())
    return [(tmp, n, d.hexdigest()) for tmp, n, d in zip(temps, rows, digests, strict=True)]


def _write_error(exc: OSError, outcome: str) -> BrewError:
    """One line naming the file the user asked for (never our temp) and the cause."""
    name = str(exc.filename or "the output")
    temp = re.fullmatch(r"(.*/)?\.(.+)\.\d+\.tmp", name)
    if temp:
        name = (temp.group(1) or "") + temp.group(2)
    return BrewError(f"{visible(name)}: {exc.strerror or exc}; {outcome}")


def _checked_rows(rows: Iterator[dict], validator: Validator) -> Iterator[tuple[dict, Any, list[Problem]]]:
    """(row, completion to write, problems) for each row: the canonical completion when the row
    fits (the project's spelling of a label, extraction fields in order), else its own."""
    canonical, plainly = validator.canonical, validator.plainly()
    for row in rows:
        completion = plainly(row)  # the common row in one quick test; `canonical` for the rest
        if completion is not UNSURE:
            yield row, completion, []
            continue
        completion, cause, detail = canonical(row)
        if cause is None:
            yield row, completion, []
        else:
            yield row, row.get("completion"), [Problem(cause, detail)]


def _shape(row: dict, completion: Any, options: ExportOptions) -> dict:
    """One row in the export's format: its text, then the provenance fields it has (in order)."""
    if options.format == "raw":
        return row
    if options.format == "messages":
        messages = [] if options.system is None else [{"role": "system", "content": options.system}]
        messages += [
            {"role": "user", "content": row["prompt"]},
            {"role": "assistant", "content": completion},
        ]
        shaped: dict = {"messages": messages}
    else:
        shaped = {"prompt": row["prompt"], "completion": completion}
    if not options.minimal:
        for key in PROVENANCE:
            if key in row:
                shaped[key] = row[key]
    return shaped


def _assign_splits(strata: list[str], split: dict[str, float] | None, seed: int) -> list[int]:
    """The split index of each row: a seeded shuffle within each stratum, sizes by largest remainder.

    Every stratum is divided in the split's proportions (so each split has the labels in the
    same proportions, up to rounding); the same rows, split and seed give the same assignment.
    """
    if not split:
        return [0] * len(strata)
    fractions = list(split.values())
    by_stratum: dict[str, list[int]] = {}
    for i, stratum in enumerate(strata):
        by_stratum.setdefault(stratum, []).append(i)
    rng = random.Random(seed)
    assignment = [0] * len(strata)
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        rng.shuffle(members)
        sizes = _portion(len(members), fractions)
        at = 0
        for k, size in enumerate(sizes):
            for i in members[at : at + size]:
                assignment[i] = k
            at += size
    return assignment


def _portion(n: int, fractions: list[float]) -> list[int]:
    """n divided in the given proportions, in whole rows (largest remainder; ties to the first)."""
    exact = [n * f for f in fractions]
    sizes = [int(x) for x in exact]
    by_remainder = sorted(range(len(fractions)), key=lambda k: (-(exact[k] - sizes[k]), k))
    for k in by_remainder[: n - sum(sizes)]:
        sizes[k] += 1
    return sizes


class _Counts:
    """Counts for the manifest: by source, label, playbook and run (and by label per split).

    A row is one increment of its (source, label, playbook, run) combination; there are few of
    them, and they are summed into the four counts at the end.
    """

    def __init__(self, project) -> None:
        self.classification = project.task == "classification"
        self._n: Counter = Counter()

    def add(self, stratum: str, row: dict) -> None:
        get = row.get
        source, book, run = get("source", "imported"), get("playbook"), get("run_id")
        if type(source) is not str:
            source = str(source)
        if book is not None and type(book) is not str:
            book = str(book)
        if run is not None and type(run) is not str:
            run = str(run)
        self._n[source, stratum, book, run] += 1

    def result(self, strata: list[str], assignment: list[int]) -> dict[str, Any]:
        by: dict[str, Counter] = {k: Counter() for k in ("source", "label", "playbook", "run")}
        for (source, stratum, book, run), n in self._n.items():
            by["source"][source] += n
            if self.classification:
                by["label"][stratum] += n
            if book is not None:
                by["playbook"][book] += n
            if run is not None:
                by["run"][run] += n
        counts: dict[str, Any] = {"total": sum(by["source"].values())}
        counts.update({f"by_{name}": dict(sorted(c.items())) for name, c in by.items()})
        per_split: dict[int, Counter] = {}
        if self.classification and strata and not any(assignment):
            per_split[0] = Counter(strata)  # one file: no need to pair rows with splits
        elif self.classification:
            for stratum, k in zip(strata, assignment, strict=True):
                per_split.setdefault(k, Counter())[stratum] += 1
        counts["by_split_label"] = {k: dict(sorted(c.items())) for k, c in sorted(per_split.items())}
        return counts


def _manifest(project, options, files, counts, invalid, base: Path) -> dict[str, Any]:
    by_split_label = counts["by_split_label"]
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "app": {"name": "brewslm-tui", "version": __version__},
        "project": {
            "name": project.name,
            "task": project.task,
            "scoring": project.scoring,
            "labels": list(project.labels),
            "fields": list(project.fields),
        },
        "format": options.format,
        "fields": "minimal" if options.minimal else ("all" if options.format == "raw" else "provenance"),
        "system": options.system,
        "split": options.split,
        "seed": options.seed if options.split else None,
        "files": [
            {
                "path": os.path.relpath(f.path, base),
                "split": f.split,
                "rows": f.rows,
                "sha256": f.sha256,
                **({"by_label": by_split_label.get(k, {})} if project.task == "classification" else {}),
            }
            for k, f in enumerate(files)
        ],
        "counts": {k: v for k, v in counts.items() if k != "by_split_label"},
        "invalid_included": [
            {"id": r.id, "source": r.source, "problems": list(map(str, r.problems))} for r in invalid
        ],
    }
