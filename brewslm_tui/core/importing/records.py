"""What every reader yields: a `Record` (the fields of one input example and where it came from).

A reader never drops an input example silently: one it cannot read is a record with
`problem` set (and its raw text), one an annotation tool marked as not accepted is a record
with `skip` set, so the import counts and keeps both among its rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brewslm_tui.core.errors import BrewError


@dataclass
class Record:
    """One input example: `fields` (a flat-ish dict), `where` ("file:line 3"), or why it is unusable."""

    where: str
    fields: dict[str, Any] | None = None
    problem: str | None = None  # unreadable: not JSON, not an object, a broken CSV record
    skip: str | None = None  # read, but not an accepted annotation (Prodigy "reject", ...)
    raw: str | None = None  # the unreadable text, kept for the rejects file


class ImportFormatError(BrewError):
    """A file that cannot be read at all (missing, not UTF-8, not the format it claims)."""


def needs_extra(what: str, module: str) -> ImportFormatError:
    return ImportFormatError(
        f"reading {what} needs the optional package {module}: pip install 'brewslm-tui[import]'"
    )
