"""Row fields and review status codes.

Rows stay plain dicts on the bulk path (a million pydantic models would cost seconds and
gigabytes); the `Row` model validates at the edges: a row generated, edited or exported.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator

PENDING, APPROVED, REJECTED, DROPPED = 0, 1, 2, 3
STATUS_NAMES = ("pending", "approved", "rejected", "dropped")
STATUS_CODES = {name: code for code, name in enumerate(STATUS_NAMES)}
# statuses a row may carry in synthetic.jsonl (dropped rows live in dropped.jsonl)
FILE_STATUSES = ("pending", "approved", "rejected")

SOURCE_SYNTH = "synth_playbook"


def now_iso() -> str:
    """The timestamp rows and journal entries carry: UTC, milliseconds, a trailing Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Row(BaseModel):
    """One candidate row. Unknown fields are kept untouched (extra="allow")."""

    model_config = ConfigDict(extra="allow")

    id: str
    prompt: str
    completion: str
    review_status: str = "pending"
    source: str | None = None
    run_id: str | None = None
    playbook: str | None = None
    created_at: str | None = None
    reject_reason: str | None = None
    review_note: str | None = None

    @field_validator("review_status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in FILE_STATUSES:
            raise ValueError(f"unknown review_status {value!r} (expected one of {', '.join(FILE_STATUSES)})")
        return value
