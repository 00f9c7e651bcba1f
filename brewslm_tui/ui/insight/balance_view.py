"""The balance view: is the candidate training data lopsided?

Side by side, as plain-text bars: the imported rows, the approved synthetic rows, and both
together. What is counted, per task shape, and the dominance warning are `core.balance`'s;
this view only draws them. Counting is one background pass (`BackgroundTally`); no keys of
its own besides scrolling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from brewslm_tui.core.balance import Balance, compute_balance, dominance_warning
from brewslm_tui.ui.insight.background_tally import BackgroundTally
from brewslm_tui.ui.insight.colours import ROLES, theme_colours
from brewslm_tui.ui.shell.movement import SCROLL_MOVES
from brewslm_tui.ui.shell.text import bar, plain

__all__ = ["BalanceView", "compute_balance", "dominance_warning", "render_balance"]


def render_balance(balance: Balance, width: int, colours: Mapping[str, str] = ROLES) -> Text:
    """Three columns of bars (imported | approved synthetic | combined) for each distribution.
    `colours`: role -> colour (`colours.theme_colours`; the ANSI names without an app)."""
    text = Text()
    if balance.warnings:
        for warning in balance.warnings:
            text.append("⚠ ", style=f"bold {colours['warning']}")
            text.append(f"Imbalanced: {warning}\n", style=f"bold {colours['warning']}")
    elif balance.task == "classification":
        text.append("Balanced: no label over 50% or 3x the smallest.\n", style=colours["success"])
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
            text.append(
                f"{plain(key, name_width):<{name_width}}  ",
                style=f"bold {colours['error']}" if missing else "",
            )
            for _title, counter in columns:
                total = sum(counter.values())
                n = counter[key]
                share = n / total if total else 0.0
                if bar_width:
                    text.append(bar(share, bar_width), style=colours["primary"])
                text.append(
                    f" {n:>{digits},} {share:>4.0%} ".ljust(column_width - bar_width),
                    style="dim" if not n else "",
                )
            text.append("\n")
    text.rstrip()
    return text


class BalanceView(BackgroundTally, VerticalScroll):
    """Label (or field / length) distribution: imported, approved synthetic, combined. Scroll keys only.

    | Key(s) | Description |
    | :- | :- |
    | j | Scroll down. |
    | k | Scroll up. |
    | g | Scroll to the top. |
    | G | Scroll to the bottom. |
    """

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
            body = render_balance(self.balance, width, theme_colours(self.app))
            self.query_one("#balance-body", Static).update(body)

    def on_mount(self) -> None:
        # (Textual runs each class's on_mount in turn: no super() call)
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self, _theme: str) -> None:
        self.call_after_refresh(self._render_balance)  # after the app took the new variables in
