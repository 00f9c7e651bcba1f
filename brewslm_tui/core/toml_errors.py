"""Error lines for people editing TOML: syntax errors with their line, pydantic errors by key.

Shared by the project file and the playbooks, so both speak the same way:
`FILE:LINE: TOML syntax: ...` and `key.path: message (got VALUE)`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")


def toml_syntax_message(shown: str, message: str, source: str | None = None) -> str:
    """tomllib's message with the position moved to the front, where editors and people look."""
    match = _TOML_POS_RE.search(message)
    if match:
        line, column = match.groups()
        return f"{shown}:{line}: TOML syntax: {message[: match.start()]} (column {column})"
    match = _TOML_END_RE.search(message)
    if match and source is not None:
        line = source.count("\n") + (0 if source.endswith("\n") or not source else 1)
        return f"{shown}:{max(line, 1)}: TOML syntax: {message[: match.start()]} (at end of file)"
    return f"{shown}: TOML syntax: {message}"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_branch_tag(part: Any) -> bool:
    """Parts of a pydantic location that name a validator or a union branch, not a key."""
    return isinstance(part, str) and (
        part.startswith("function-") or "[" in part or part in ("str", "int", "float", "TemplateEntry")
    )


def describe_validation_error(
    exc: ValidationError, *, suggest: Callable[[list[Any]], str] | None = None, collapse_unions: bool = False
) -> list[str]:
    """pydantic's errors as `key.path: message` lines.

    `suggest(loc)` adds a hint to an unknown key; `collapse_unions` keeps only the deepest error
    of a union (which reports one error per branch it tried).
    """
    found: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not _is_branch_tag(p)]
        where = ""
        for part in loc:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        kind, msg = err["type"], err["msg"]
        if kind == "missing":
            msg = "required"
        elif kind == "extra_forbidden":
            msg = "unknown key" + (suggest(loc) if suggest else "")
        elif kind in ("model_type", "dict_type"):
            msg = f"must be a table (got {short(err['input'])})"
        elif kind.startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        elif kind != "project" and "input" in err and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {short(err['input'])})"
        found.append((where or "(top level)", msg))
    if not collapse_unions:
        return [f"{where}: {msg}" for where, msg in found]
    lines: list[str] = []
    for k, (where, msg) in enumerate(found):
        deeper = any(w != where and (w.startswith((where + ".", where + "["))) for w, _ in found)
        line = f"{where}: {msg}"
        if not deeper and line not in lines and not any(w == where for w, _ in found[:k]):
            lines.append(line)
    return lines
