"""The import: files -> records -> rows -> the validator and the duplicate check -> `imported.jsonl`.

One call, `run_import`, serves the CLI and the TUI. With `dry_run` it writes nothing and says
what would be taken and what would not, by reason. Without it, under the project's write lock
(so a job's append or a compaction cannot interleave), it runs the same plan against the files
as they are now and commits it as one step (`commit.MultiFileCommit`): the passing rows appended
to `data/imported.jsonl` with `source: "import:<file name>"` and an `import_id`, and every
rejected record written to `data/import-rejected/<import_id>.jsonl` with its reason. `keep`
names rejected records (by `where`) the user chose to take anyway.

Duplicates are checked against the imported, synthetic and dropped rows and within the files
being imported (by the normalised prompt, as for generated rows).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.validate import CAUSES, Validator
from brewslm_tui.core.importing import annotation_tools, hf, jsonish, tabular
from brewslm_tui.core.importing.records import ImportFormatError, Record
from brewslm_tui.core.store.commit import MultiFileCommit, recover
from brewslm_tui.core.store.jsonl import CopyRange
from brewslm_tui.core.store.locking import write_lock
from brewslm_tui.core.store.store import new_row_id

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "hf", "prodigy", "label-studio", "argilla")
# the columns a prompt / completion is taken from when --map does not say (the first present)
PROMPT_COLUMNS = ("prompt", "text", "input", "question", "instruction", "sentence")
COMPLETION_COLUMNS = ("completion", "label", "output", "answer", "response", "target")
IMPORT_CAUSES: dict[str, str] = {
    "unreadable": "the record could not be read (not JSON, not an object, a broken CSV line)",
    "not_accepted": "the annotation tool did not record an accepted annotation for it",
    "missing_field": "the record has no column for the prompt or the completion",
}
LOCK_WAIT = 30.0
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True)
class ImportOptions:
    """How records become rows: `columns` maps prompt/completion to an input column (dots go
    into nested objects), `template` builds the prompt from columns ("Classify: {text}")."""

    columns: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    format: str | None = None

    @classmethod
    def from_args(cls, maps: Iterable[str], template: str | None, fmt: str | None) -> ImportOptions:
        columns: dict[str, str] = {}
        for item in maps:
            target, sep, column = item.partition("=")
            if not sep or target.strip() not in ("prompt", "completion") or not column.strip():
                raise BrewError(f"--map {item!r}: say prompt=COLUMN or completion=COLUMN")
            columns[target.strip()] = column.strip()
        if template is not None:
            _check_template(template)
        if fmt is not None and fmt not in FORMATS:
            raise BrewError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
        return cls(columns, template, fmt)


@dataclass
class Reject:
    """A record the import did not take: `where`, a cause code, what was found, the row if one was built."""

    where: str
    cause: str
    detail: str
    row: dict[str, Any] | None  # prompt/completion (when they could be built): it can be kept anyway
    record: dict[str, Any] | None = None
    raw: str | None = None

    def explanation(self) -> str:
        return IMPORT_CAUSES.get(self.cause) or CAUSES.get(self.cause, self.cause)


@dataclass
class ImportResult:
    files: list[Path]
    dry_run: bool
    accepted: int
    kept: int
    rejects: list[Reject]
    import_id: str | None = None
    imported_path: Path | None = None
    rejected_path: Path | None = None

    def by_reason(self) -> dict[str, list[Reject]]:
        groups: dict[str, list[Reject]] = {}
        for reject in self.rejects:
            groups.setdefault(reject.cause, []).append(reject)
        return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))

    def summary_lines(self, examples: int = 3) -> list[str]:
        """What the CLI prints (and the TUI shows): the outcome, then per reason a count and examples."""
        names = ", ".join(p.name for p in self.files)
        taken = self.accepted + self.kept
        if self.dry_run:
            head = f"dry run of {names}: {taken} rows would be imported, {len(self.rejects)} rejected; nothing written"
        elif taken:
            head = f"imported {taken} rows from {names} into {self.imported_path} (import {self.import_id})"
        elif self.rejects:
            head = f"imported nothing from {names}: every record was rejected"
        else:
            head = f"imported nothing: no records in {names}"
        lines = [head]
        if self.kept:
            lines.append(f"  {self.kept} of them rejected by the checks but kept as you chose")
        for cause, group in self.by_reason().items():
            lines.append(f"  {len(group)} {cause}: {group[0].explanation()}")
            lines += [f"      {r.where}: {r.detail}" for r in group[:examples]]
        if self.rejected_path is not None:
            lines.append(f"  the rejected records are in {self.rejected_path}")
        return lines


def run_import(
    project,
    files: Iterable[Path],
    options: ImportOptions | None = None,
    *,
    dry_run: bool = False,
    keep: Iterable[str] = (),
    fixes: Mapping[str, Mapping[str, str]] | None = None,
) -> ImportResult:
    """Read, check and (unless `dry_run`) commit the import.

    `keep`: the `where`s of rejects to take anyway. `fixes`: `where` -> {"prompt", "completion"}
    typed by the user for a record; a fixed record is checked like any other.

    Raises `BrewError` (nothing written) for a file that cannot be read at all.
    """
    options = options or ImportOptions()
    files = [Path(f) for f in files]
    for path in files:
        if not path.exists():
            raise ImportFormatError(f"{path}: no such file or folder")
    if not files:
        raise BrewError("import: name at least one file")
    if dry_run:
        return _plan(project, files, options, set(keep), fixes or {}, dry_run=True)[0]
    lock = write_lock(project.state_dir)
    lock.acquire(timeout=LOCK_WAIT)
    try:
        result, lines, validator = _plan(project, files, options, set(keep), fixes or {}, dry_run=False)
        _commit(project, result, lines)
        validator.save_index()  # (only now: an import that fails or is a dry run writes nothing)
        return result
    finally:
        lock.release()


def _plan(
    project,
    files: list[Path],
    options: ImportOptions,
    keep: set[str],
    fixes: Mapping[str, Mapping[str, str]],
    *,
    dry_run: bool,
) -> tuple[ImportResult, list[bytes], Validator]:
    """Every record through mapping, the validator and the duplicate check; the lines to append
    (and the validator, whose prompt index is written once the import has committed)."""
    import_id = None if dry_run else new_import_id()
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    validator = Validator.for_project(project, persist=False)  # written once the import commits
    validator.in_run_cause = "duplicate_in_import"
    lines: list[bytes] = []
    rejects: list[Reject] = []
    accepted = kept = 0
    for path in files:
        try:
            for record in read_records(path, options.format):
                row, cause, detail = _to_row(record, options)
                fix = fixes.get(record.where)
                if fix is not None:
                    row, cause, detail = {**(row or {}), **fix}, None, ""
                if row is not None and cause is None:
                    verdict = validator.check(row)
                    if verdict.row is not None:
                        row = verdict.row
                    else:
                        cause, detail = verdict.cause, verdict.detail
                if cause is None or (record.where in keep and row is not None):
                    kept += cause is not None
                    accepted += cause is None
                    if row is not None and not dry_run:
                        lines.append(_dumps(_final_row(row, record, path, import_id, now)))
                    continue
                rejects.append(Reject(record.where, cause, detail, row, record.fields, record.raw))
        except OSError as exc:  # (nothing is written before every file was read)
            raise ImportFormatError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    result = ImportResult(files, dry_run, accepted, kept, rejects, import_id)
    return result, lines, validator


def read_records(path: Path, fmt: str | None = None) -> Iterator[Record]:
    """The records of one input file, by its format (named, or told by its name and first example)."""
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        return tabular.read_delimited(path, ",")
    if fmt == "tsv":
        return tabular.read_delimited(path, "\t")
    if fmt == "parquet":
        return tabular.read_parquet(path)
    if fmt == "hf":
        return hf.read_hf(path)
    array = fmt == "json" or (fmt != "jsonl" and _is_json_document(path))
    objects = (r for r, _ in (jsonish.read_json_array(path) if array else jsonish.read_jsonl(path)))
    if fmt in ("json", "jsonl"):
        return objects
    if fmt in annotation_tools.CONVERTERS:
        return annotation_tools.converted(objects, fmt)
    raise ImportFormatError(f"{path}: unknown format {fmt!r}")


def detect_format(path: Path) -> str:
    """The format of a file from its name, and for JSON from which tool's shape its first example has."""
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".arrow":
        return "hf"
    if suffix in (".json", ".jsonl", ".ndjson", ".jsonlines"):
        array = _is_json_document(path)
        tool = annotation_tools.looks_like(jsonish.first_object(path, array))
        return tool or ("json" if array else "jsonl")
    raise ImportFormatError(
        f"{path}: cannot tell the format from the name; say --format ({', '.join(FORMATS)})"
    )


def _is_json_document(path: Path) -> bool:
    """True for one JSON document (an array, or an object wrapping one), False for JSON Lines."""
    with open(path, "rb") as f:
        head = f.read(64).lstrip(jsonish.BOM + b" \t\r\n")
        if head.startswith(b"["):
            return True
        if not head.startswith(b"{"):
            return False
        f.seek(0)
        data = f.read()
    try:
        top = orjson.loads(data.removeprefix(jsonish.BOM))
    except orjson.JSONDecodeError:
        return False  # an object, then more: JSON Lines
    return isinstance(top, dict) and any(isinstance(top.get(k), list) for k in jsonish.ARRAY_KEYS)


def _to_row(record: Record, options: ImportOptions) -> tuple[dict | None, str | None, str]:
    """(row with prompt and completion, cause, detail): what mapping makes of a record."""
    if record.problem is not None:
        return None, "unreadable", record.problem
    fields = record.fields or {}
    prompt, prompt_column = _column(fields, options.columns.get("prompt"), PROMPT_COLUMNS)
    completion, completion_column = _column(fields, options.columns.get("completion"), COMPLETION_COLUMNS)
    if "messages" in fields and prompt is None and completion is None:
        prompt, completion = _from_messages(fields["messages"])
        prompt_column = completion_column = "messages"
    if options.template is not None:
        prompt, missing = fill_template(options.template, fields)
        if missing:
            return None, "missing_field", f"no column {missing!r} for the prompt template"
    if (prompt is None or completion is None) and record.skip is not None:
        return None, "not_accepted", record.skip
    if prompt is None or completion is None:
        want = "prompt" if prompt is None else "completion"
        named = options.columns.get(want)
        found = ", ".join(map(str, fields)) or "none"
        column = f"column {named!r}" if named else f"any of {', '.join(_candidates(want))}"
        return None, "missing_field", f"no {want}: no {column} (columns: {found})"
    meta = {
        k: v
        for k, v in fields.items()
        if k not in (prompt_column, completion_column)
        and not (options.template and _in_template(options.template, k))
    }
    row: dict[str, Any] = {"prompt": _text(prompt), "completion": _text(completion, keep_objects=True)}
    if meta:
        row["meta"] = meta
    if record.skip is not None:
        return row, "not_accepted", record.skip
    return row, None, ""


def _candidates(target: str) -> tuple[str, ...]:
    return PROMPT_COLUMNS if target == "prompt" else COMPLETION_COLUMNS


def _column(fields: dict, named: str | None, defaults: tuple[str, ...]) -> tuple[Any, str | None]:
    """The value of the named column (dotted path into nested objects) or of the first default present."""
    if named is not None:
        value: Any = fields
        for part in named.split("."):
            if not isinstance(value, dict) or part not in value:
                return None, None
            value = value[part]
        return value, named.split(".")[0]
    for name in defaults:
        if fields.get(name) is not None:
            return fields[name], name
    return None, None


def _from_messages(messages: Any) -> tuple[Any, Any]:
    """A chat example: the user turns make the prompt, the last assistant turn the completion."""
    if not isinstance(messages, list):
        return None, None
    user = [
        m["content"]
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)
    ]
    assistant = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    if not user or not assistant:
        return None, None
    return "\n\n".join(user), assistant[-1]


def _text(value: Any, keep_objects: bool = False) -> Any:
    """A scalar as text (CSV gives text already; Parquet and JSON may give numbers)."""
    if isinstance(value, str) or (keep_objects and isinstance(value, dict)):
        return value
    if isinstance(value, bool) or value is None:
        return value  # not text: the validator names it
    if isinstance(value, int | float):
        return str(value)
    return value


def _check_template(template: str) -> None:
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name is not None and not name.strip():
            raise BrewError("--prompt-template: an empty {} placeholder (name a column: {text})")


def fill_template(template: str, fields: dict) -> tuple[str, str | None]:
    """`template` with each `{column}` replaced by that column's text ({{ and }} are braces).

    Only plain substitution: no attribute access or format specs (str.format would allow both).
    Returns (text, the first missing column or None).
    """
    missing: list[str] = []

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        value, _ = _column(fields, match.group(1).strip(), ())
        if value is None:
            missing.append(match.group(1).strip())
            return ""
        return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()

    text = _PLACEHOLDER.sub(sub, template)
    return text, (missing[0] if missing else None)


def _in_template(template: str, column: str) -> bool:
    return any(
        m.group(1) is not None and m.group(1).strip().split(".")[0] == column
        for m in _PLACEHOLDER.finditer(template)
    )


def _final_row(row: dict, record: Record, path: Path, import_id: str | None, now: str) -> dict:
    """The row as it lands in imported.jsonl: a fresh id, provenance, the input's other columns under meta."""
    final: dict[str, Any] = {
        "id": new_row_id(),
        "prompt": row["prompt"],
        "completion": row["completion"]
        if isinstance(row["completion"], str)
        else _dumps_text(row["completion"]),
        "source": f"import:{path.name}",
        "import_id": import_id,
        "imported_from": record.where,
        "created_at": now,
    }
    if row.get("meta"):
        final["meta"] = row["meta"]
    return final


def _dumps_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _dumps(obj: dict) -> bytes:
    """A JSONL line; values JSON has no type for (dates, decimals, bytes from Parquet) become text."""
    return orjson.dumps(obj, default=str) + b"\n"


def new_import_id() -> str:
    return "imp-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()


def rejected_dir(project) -> Path:
    return project.imported_path.parent / "import-rejected"


def _commit(project, result: ImportResult, lines: list[bytes]) -> None:
    """imported.jsonl (old bytes copied by the kernel + the new lines) and the rejects file, as one step."""
    assert result.import_id is not None
    imported = project.imported_path
    rejected = rejected_dir(project) / f"{result.import_id}.jsonl"
    state_dir = project.state_dir
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        recover(state_dir, [imported, rejected])
        commit = MultiFileCommit(state_dir)
        if lines:
            commit.stage(imported, _appended(imported, lines))
        if result.rejects:
            commit.stage(rejected, (_dumps(_reject_line(r, result.import_id)) for r in result.rejects))
    except OSError as exc:
        recover(state_dir, [imported, rejected])  # no intent yet: this discards the staged temps
        raise BrewError(
            f"import: cannot write {exc.filename or imported}: {exc.strerror}; nothing was imported"
        ) from None
    try:
        commit.apply()
    except OSError as exc:
        raise BrewError(
            f"import {result.import_id}: interrupted while committing ({exc.strerror}); "
            "the next writer of the project finishes it or discards it"
        ) from None
    result.imported_path = imported if lines else None
    result.rejected_path = rejected if result.rejects else None


def _appended(path: Path, lines: list[bytes]) -> Iterator[Any]:
    """The chunks of `path` with `lines` after it: its bytes copied by the kernel, then the lines."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield from lines
        return
    try:
        size = os.fstat(fd).st_size
        if size:
            yield CopyRange(fd, 0, size)
            if os.pread(fd, 1, size - 1) != b"\n":
                yield b"\n"  # a hand-edited file without a final newline
        yield from lines
    finally:
        os.close(fd)


def _reject_line(reject: Reject, import_id: str) -> dict:
    line: dict[str, Any] = {
        "import_id": import_id,
        "where": reject.where,
        "reason": reject.cause,
        "detail": reject.detail,
    }
    if reject.row is not None:
        line["row"] = reject.row
    if reject.record is not None:
        line["record"] = reject.record
    if reject.raw is not None:
        line["raw"] = reject.raw
    return line
