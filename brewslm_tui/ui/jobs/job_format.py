"""How a job record reads on screen: state word and colour, progress, rates.

Shared by the jobs sidebar, the job detail screen and the runs view so a state is spelled
and coloured the same everywhere. Colours are theme variables (they read well in 256
colours), and every state also has its own word, so nothing depends on colour alone.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content

# the general formatters live in ui/shell/text.py; re-exported for the jobs UI's imports
from brewslm_tui.ui.shell.text import bar as bar
from brewslm_tui.ui.shell.text import human_number as human_number
from brewslm_tui.ui.shell.text import parse_time as parse_time
from brewslm_tui.ui.shell.text import plain as plain
from brewslm_tui.ui.shell.text import when_text as when_text

# state -> (word, style)
STATES: dict[str, tuple[str, str]] = {
    "queued": ("queued", "$text-muted"),
    "running": ("running", "bold $warning"),
    "waiting": ("waiting", "$accent"),
    "succeeded": ("ok", "bold $success"),
    "failed": ("FAILED", "bold $error"),
    "cancelled": ("cancelled", "$text-muted"),
    "interrupted": ("interrupted", "bold $secondary"),
}
FINISHED = frozenset({"succeeded", "failed", "cancelled", "interrupted"})


def state_content(state: str) -> Content:
    word, style = STATES.get(state, (state, ""))
    return Content.styled(word, style)


def count(record: Any, key: str) -> int:
    """One count of a job record (0 when absent or not a number)."""
    value = record.counts.get(key, 0) if record is not None else 0
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def rate_text(rows_per_second: float | None) -> str:
    return f"{human_number(rows_per_second or 0)} rows/s"


def progress_fraction(record: Any) -> float:
    """Usable rows against the request (0..1)."""
    requested = count(record, "requested")
    if requested <= 0:
        return 0.0
    done = max(count(record, "usable"), 0)
    return min(1.0, done / requested)


def diagnostic_headline(record: Any) -> str:
    """The diagnostic's headline (or the record's note) for a one-line cell."""
    diag = getattr(record, "diagnostic", None)
    text = diag.headline if diag is not None else (getattr(record, "note", None) or "")
    return text.strip().splitlines()[0] if text and text.strip() else ""
