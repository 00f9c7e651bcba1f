"""Untrusted text and numbers as the screen shows them: literal, one line, short.

Shared by every feature (review, jobs, insight) so a value is cut, counted and dated the same
way everywhere. Nothing here parses markup: `plain` gives a `str` for a cell that is then put
in a `Content`/`Text`, `literal` gives the `Content` itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual.content import Content

from brewslm_tui.core.text import truncate, visible, visible_line


def plain(text: Any, width: int | None = None) -> str:
    """Untrusted text for one line of a cell: control characters visible, optionally cut."""
    shown = visible_line(str(text if text is not None else ""))
    return truncate(shown, width) if width else shown


def literal(text: str) -> Content:
    """A label from untrusted text, lines kept: no markup, control characters visible."""
    return Content(visible(text))


def counted(n: int, noun: str = "row") -> str:
    """'1 row', '2 rows', '1,204 rows': a count with its noun in the right number."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def human_number(n: float) -> str:
    """3100 -> '3.1k', 12 -> '12', 2_500_000 -> '2.5M'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    if n >= 10 or n == int(n):
        return f"{int(n)}"
    return f"{n:.1f}"


def bar(fraction: float, width: int) -> str:
    """A plain-text bar of `width` cells with eighth-block resolution."""
    width = max(width, 1)
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
    return text + " " * (width - len(text))


def parse_time(value: Any) -> datetime | None:
    """A timestamp from a record (ISO text, epoch seconds or a datetime), in UTC when naive."""
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
