"""The balance view: is the candidate training data lopsided?

Side by side, as plain-text bars: the imported rows, the approved synthetic rows, and both
together (the candidate training data the export will hand on). Pending and rejected rows do
not count: they are not training data yet.

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

Counting is one background pass (`BackgroundTally`); no keys of its own besides scrolling.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from brewslm_tui.core.export import read_imported
from brewslm_tui.core.rows import APPROVED
from brewslm_tui.ui.insight.background_tally import BackgroundTally
from brewslm_tui.ui.shell.movement import SCROLL_MOVES
from brewslm_tui.ui.shell.text import bar, plain

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


def _approved_slots(store: Any, n: int) -> list[int]:
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


def compute_balance(store: Any, project: Any) -> Balance:
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


def render_balance(balance: Balance, width: int) -> Text:
    """Three columns of bars (imported | approved synthetic | combined) for each distribution."""
    text = Text()
    if balance.warnings:
        for warning in balance.warnings:
            text.append("⚠ ", style="bold yellow")
            text.append(f"Imbalanced: {warning}\n", style="bold yellow")
    elif balance.task == "classification":
        text.append("Balanced: no label over 50% or 3x the smallest.\n", style="green")
    text.append("training = imported + approved synthetic\n", style="dim")
    if balance.note:
        text.append(balance.note + "\n", style="dim")
    for dist in balance.distributions:
        keys = dist.keys()
        name_width = min(max([len(k) for k in keys] + [len(dist.title), 8]), 16)
        digits = max(len(f"{n:,}") for n in [*dist.combined.values(), 0])
        numbers_width = digits + 7  # " 1,234  38% "
        bar_width = (width - name_width - 2) // 3 - numbers_width
        if bar_width < 2:
            bar_width = 0  # too narrow for bars: the numbers alone
        column_width = max(bar_width + numbers_width, 12)
        names = (
            ("imported", "imp", dist.imported),
            ("approved", "appr", dist.approved),
            ("training", "train", dist.combined),
        )
        long_titles = all(len(f"{name} {sum(c.values()):,}") < column_width for name, _short, c in names)
        columns = tuple(
            (f"{name if long_titles else short} {sum(counter.values()):,}", counter)
            for name, short, counter in names
        )
        text.append("\n")
        text.append(f"{plain(dist.title, name_width):<{name_width}}  ", style="bold")
        for title, _counter in columns:
            text.append(f"{plain(title, column_width - 1):<{column_width}}", style="bold")
        text.append("\n")
        for key in keys:
            missing = key in dist.expected and dist.combined[key] == 0
            text.append(f"{plain(key, name_width):<{name_width}}  ", style="bold red" if missing else "")
            for _title, counter in columns:
                total = sum(counter.values())
                n = counter[key]
                share = n / total if total else 0.0
                if bar_width:
                    text.append(bar(share, bar_width), style="cyan")
                text.append(
                    f" {n:>{digits},} {share:>4.0%} ".ljust(column_width - bar_width),
                    style="dim" if not n else "",
                )
            text.append("\n")
    text.rstrip()
    return text


class BalanceView(BackgroundTally, VerticalScroll):
    """Label (or field / length) distribution: imported, approved synthetic, combined. Scroll keys only."""

    HELP_GROUP = "Balance"

    BINDINGS: ClassVar[list[BindingType]] = SCROLL_MOVES

    DEFAULT_CSS = """
    BalanceView {
        height: 1fr;
        padding: 0 1;
    }
    BalanceView #balance-body {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, store: Any, project: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.project = project
        self.balance: Balance | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("counting…", style="dim"), id="balance-body")

    def compute(self) -> Balance:
        return compute_balance(self.store, self.project)

    def show(self, balance: Balance) -> None:
        self.balance = balance
        self._render_balance()

    def on_resize(self) -> None:
        self._render_balance()

    def _render_balance(self) -> None:
        if self.balance is not None:
            width = max(self.scrollable_content_region.width - 2, 40)  # room for a vertical scrollbar
            self.query_one("#balance-body", Static).update(render_balance(self.balance, width))
