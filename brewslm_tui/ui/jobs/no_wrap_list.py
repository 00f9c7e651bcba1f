"""An OptionList whose cursor stops at the ends instead of wrapping around.

Textual's OptionList jumps from the last option to the first: in a short list of playbooks or
jobs, holding `down` then lands on the wrong one. Here `up` on the first and `down` on the
last stay put; disabled options (a broken playbook) are skipped.
"""

from __future__ import annotations

from textual.widgets import OptionList


class NoWrapOptionList(OptionList):
    """OptionList without wrap-around (see the module docstring)."""

    def _step(self, direction: int) -> None:
        options = self.options
        start = self.highlighted
        if start is None:
            start = -1 if direction > 0 else len(options)
        index = start + direction
        while 0 <= index < len(options):
            if not options[index].disabled:
                self.highlighted = index
                return
            index += direction

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(1)
