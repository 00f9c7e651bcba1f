"""How a job record reads on screen: state word and colour, progress, rates, times.

Shared by the jobs sidebar, the job detail screen and the runs view so a state is spelled
and coloured the same everywhere. Colours are theme variables (they read well in 256
colours), and every state also has its own word, so nothing depends on colour alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual.content import Content

from brewslm_tui.core.text import truncate, visible_line

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


def human_number(n: float) -> str:
    """3100 -> '3.1k', 12 -> '12', 2_500_000 -> '2.5M'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    if n >= 10 or n == int(n):
        return f"{int(n)}"
    return f"{n:.1f}"


def rate_text(rows_per_second: float | None) -> str:
    return f"{human_number(rows_per_second or 0)} rows/s"


def progress_fraction(record: Any) -> float:
    """Usable rows against the request (0..1)."""
    requested = count(record, "requested")
    if requested <= 0:
        return 0.0
    done = max(count(record, "usable"), 0)
    return min(1.0, done / requested)


def bar(fraction: float, width: int) -> str:
    """A plain-text bar of `width` cells with eighth-block resolution."""
    width = max(width, 1)
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
    return text + " " * (width - len(text))


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when_text(value: Any, now: datetime | None = None, *, compact: bool = False) -> str:
    """Local 'HH:MM' today, 'Mon DD HH:MM' otherwise ('Mon DD' if compact), '' when unknown."""
    moment = parse_time(value)
    if moment is None:
        return ""
    local = moment.astimezone()
    now = (now or datetime.now(UTC)).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M")
    return local.strftime("%b %d" if compact else "%b %d %H:%M")


def plain(text: Any, width: int | None = None) -> str:
    """Untrusted text for one line of a cell: control characters visible, optionally cut."""
    shown = visible_line(str(text if text is not None else ""))
    return truncate(shown, width) if width else shown


def diagnostic_headline(record: Any) -> str:
    """The diagnostic's headline (or the record's note) for a one-line cell."""
    diag = getattr(record, "diagnostic", None)
    text = diag.headline if diag is not None else (getattr(record, "note", None) or "")
    return text.strip().splitlines()[0] if text and text.strip() else ""
