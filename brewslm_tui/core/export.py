"""The candidate training data: imported rows plus approved synthetic rows, provenance kept.

Never a pending, rejected or dropped row. Each synthetic row is validated at this edge; an
imported line that cannot be read is reported by file and line, never passed through.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from brewslm_tui.core.rows import APPROVED, Row
from brewslm_tui.core.store.jsonl import LoadProblem, dumps_line, line_starts, map_file, replace_durably


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


def export_rows(store):
    """Yield the rows of the candidate training data, imported first."""
    imported, _ = read_imported(store.project)
    for row in imported:
        if "source" not in row:
            row = {**row, "source": "imported"}
        yield row
    status = store.status
    for i in range(len(store)):
        if status[i] == APPROVED:
            row = store.row(i)
            Row.model_validate(row)
            yield row


def export_to(store, out: Path | None, stream=None) -> dict[str, int]:
    """Write the export to `out` atomically (or to a binary stream); return counts by source."""
    counts = {"imported": 0, "synthetic": 0}

    def chunks():
        for row in export_rows(store):
            counts[
                "synthetic"
                if row.get("review_status") == "approved" and row.get("source") != "imported"
                else "imported"
            ] += 1
            yield dumps_line(row)

    if out is not None:
        replace_durably(Path(out), chunks())
    else:
        for chunk in chunks():
            stream.write(chunk)
    return counts
