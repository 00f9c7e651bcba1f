"""Balance: is the candidate training data lopsided? Counted here, drawn by `ui/insight/balance_view`.

Counted: the imported rows, the approved synthetic rows, and both together (the candidate
training data the export will hand on). Pending and rejected rows do not count: they are not
training data yet.

What is counted depends on the task shape:
- classification: labels (a completion that is no label shows as "(not a label)");
- extraction: one block per *categorical* field, i.e. a field with at most 12 distinct values
  over these rows (issue_type, requested_action...; free-text fields such as order ids are
  skipped), JSON null shown as "(null)"; if no field is categorical, how often each field
  is filled;
- qa and generation: completion length in words, bucketed (short answers vs paragraphs is
  what goes wrong there).

The dominance warning (classification labels, on the combined data): one label holds more
than 50% of the rows while the project has 3 or more labels, or the biggest label has more
than 3x the rows of the smallest; a label with no rows at all always warns.

Category names come from the data: they are made visible (`core.text.visible_line`) and cut
to a cell's width here, so every face shows the same inert text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from brewslm_tui.core.export import read_imported
from brewslm_tui.core.project import Project
from brewslm_tui.core.rows import APPROVED
from brewslm_tui.core.text import truncate, visible_line

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store


def plain(text: Any, width: int | None = None) -> str:
    """Untrusted text for one line of a cell: control characters visible, optionally cut."""
    shown = visible_line(str(text if text is not None else ""))
    return truncate(shown, width) if width else shown


MAX_CATEGORIES = 12
DOMINANT_SHARE = 0.5
DOMINANT_RATIO = 3.0
NOT_A_LABEL = "(not a label)"
NULL = "(null)"
LENGTH_BUCKETS = (
    (1, "1 word"),
    (2, "2 words"),
    (4, "3-4 words"),
    (8, "5-8 words"),
    (16, "9-16 words"),
    (64, "17-64 words"),
)


@dataclass
class Distribution:
    """One thing counted three ways; `order` fixes the row order (labels in project order)."""

    title: str
    imported: Counter = field(default_factory=Counter)
    approved: Counter = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # categories that should all be present

    @property
    def combined(self) -> Counter:
        return self.imported + self.approved

    def keys(self) -> list[str]:
        seen = list(self.order)
        for counter in (self.imported, self.approved):
            seen.extend(k for k in sorted(counter, key=lambda k: -counter[k]) if k not in seen)
        return seen


@dataclass
class Balance:
    task: str
    distributions: list[Distribution]
    imported_rows: int
    approved_rows: int
    warnings: list[str]
    note: str = ""


def dominance_warning(counts: Counter, labels: list[str]) -> str | None:
    """The rule in the module docstring; None when the labels are balanced enough."""
    if len(labels) < 2:
        return None
    total = sum(counts[label] for label in labels)
    if total == 0:
        return None
    missing = [label for label in labels if counts[label] == 0]
    if missing:
        return f"no training rows for {', '.join(plain(m, 24) for m in missing)}"
    top = max(labels, key=lambda label: counts[label])
    low = min(labels, key=lambda label: counts[label])
    share = counts[top] / total
    if len(labels) >= 3 and share > DOMINANT_SHARE:
        return f"{plain(top, 24)} dominates: {share:.0%} of the candidate training rows"
    ratio = counts[top] / counts[low]
    if ratio > DOMINANT_RATIO:
        return f"{plain(top, 24)} has {ratio:.1f}x the rows of {plain(low, 24)}"
    return None


def length_bucket(text: str) -> str:
    words = len(text.split())
    for limit, name in LENGTH_BUCKETS:
        if words <= limit:
            return name
    return f"{LENGTH_BUCKETS[-1][0] + 1}+ words"


def _approved_slots(store: Store, n: int) -> list[int]:
    status = bytes(store.status[:n])
    slots: list[int] = []
    find = status.find
    i = find(APPROVED)
    while i != -1:
        slots.append(i)
        i = find(APPROVED, i + 1)
    return slots


def _completion_object(text: str) -> dict | None:
    try:
        value = orjson.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _field_value(obj: dict | None, name: str) -> str:
    if obj is None:
        return "(not JSON)"
    value = obj.get(name)
    return (
        NULL
        if value is None
        else plain(value if isinstance(value, str) else orjson.dumps(value).decode(), 30)
    )


def compute_balance(store: Store, project: Project) -> Balance:
    """Count imported and approved synthetic rows by label / field value / length (see module doc)."""
    imported, _problems = read_imported(project) if project.imported_path.exists() else ([], [])
    n = len(store)
    approved = _approved_slots(store, n)
    warnings: list[str] = []
    note = ""
    if project.task == "classification":
        dist = Distribution("label", order=list(project.labels), expected=list(project.labels))
        dist.imported.update(project.label_for(row["completion"]) or NOT_A_LABEL for row in imported)
        labels = store.labels
        column = store.label_index_column()
        dist.approved.update(labels[column[i]] or NOT_A_LABEL for i in approved)
        distributions = [dist]
        warning = dominance_warning(dist.combined, dist.expected)
        if warning:
            warnings.append(warning)
    elif project.task == "extraction":
        imported_objs = [_completion_object(row["completion"]) for row in imported]
        approved_objs = [_completion_object(store.row(i).get("completion", "")) for i in approved]
        distributions = []
        for name in project.fields:
            dist = Distribution(name)
            dist.imported.update(_field_value(o, name) for o in imported_objs)
            dist.approved.update(_field_value(o, name) for o in approved_objs)
            if len(set(dist.combined) - {NULL}) <= MAX_CATEGORIES:
                distributions.append(dist)
        if not distributions:
            filled = Distribution("field filled")
            filled.order = list(project.fields)
            for name in project.fields:
                filled.imported[name] = sum(1 for o in imported_objs if o and o.get(name) is not None)
                filled.approved[name] = sum(1 for o in approved_objs if o and o.get(name) is not None)
            distributions = [filled]
            note = "no field has few enough distinct values to chart; showing how often each field is filled"
        else:
            skipped = [f for f in project.fields if f not in {d.title for d in distributions}]
            if skipped:
                note = f"free-text fields not charted: {', '.join(plain(s, 24) for s in skipped)}"
    else:
        order = [name for _limit, name in LENGTH_BUCKETS] + [f"{LENGTH_BUCKETS[-1][0] + 1}+ words"]
        dist = Distribution("answer length" if project.task == "qa" else "completion length")
        dist.imported.update(length_bucket(row["completion"]) for row in imported)
        dist.approved.update(length_bucket(store.row(i).get("completion", "")) for i in approved)
        dist.order = [name for name in order if dist.combined[name]]  # buckets that occur, short first
        distributions = [dist]
    return Balance(project.task, distributions, len(imported), len(approved), warnings, note)
