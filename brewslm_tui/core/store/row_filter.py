"""Which slots match: one filter engine over the store's columns, for the views and the CLI selectors.

Statuses, run, playbook, label and reason are compared as column codes (no row is parsed); only a
text filter reads rows, and then only those whose raw line could contain it.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brewslm_tui.core.store.store import Store

SlotTest = Callable[[int], bool]


@dataclass(frozen=True)
class RowFilter:
    """Every condition set must hold (AND); None means "any"."""

    statuses: frozenset[int] | None = None
    run: str | None = None
    playbook: str | None = None
    label: str | None = None
    reason: str | None = None
    text: str | None = None  # in prompt or completion, case-insensitive

    def column_tests(self, store: Store) -> list[SlotTest]:
        """One test per condition other than status, each reading one column (or the row, for text)."""
        tests: list[SlotTest] = []
        for value, code_of, column in (
            (self.run, store.run_code, store.run_index_column()),
            (self.playbook, store.playbook_code, store.playbook_index_column()),
            (self.label, store.label_code, store.label_index_column()),
            (self.reason, store.reason_code, store.reason),
        ):
            if value is not None:
                tests.append(_equals(column, code_of(value)))
        if self.text is not None:
            tests.append(_text_test(store, self.text))
        return tests

    def matcher(self, store: Store) -> SlotTest:
        """`slot -> bool` for this filter (build it once, call it per slot)."""
        tests = self.column_tests(store)
        status, wanted = store.status, self.statuses
        if wanted is None:
            return lambda i: all(t(i) for t in tests)
        return lambda i: status[i] in wanted and all(t(i) for t in tests)

    def select(self, store: Store, candidates: Iterable[int] | None = None) -> array:
        """The matching slots among `candidates` (all slots when None), in the order given."""
        tests = self.column_tests(store)
        if candidates is None and not tests:
            status = store.status
            if self.statuses is None:
                return array("I", range(len(status)))
            # no per-row test: select from the status column at C speed (no Python call per row)
            return array("I", compress(range(len(status)), code_mask(status, self.statuses)))
        match = self.matcher(store)
        return array("I", filter(match, range(len(store)) if candidates is None else candidates))


def _equals(column, code: int) -> SlotTest:
    return lambda i: column[i] == code


# characters whose casefold holds ASCII ("ß" -> "ss", "ﬁ" -> "fi", Kelvin "K" -> "k"): in UTF-8
_FOLDS_TO_ASCII = re.compile(
    b"|".join(
        re.escape(chr(c).encode())
        for c in (
            0xDF,
            0x130,
            0x149,
            0x17F,
            0x1F0,
            0x1E96,
            0x1E97,
            0x1E98,
            0x1E99,
            0x1E9A,
            0x1E9E,
            0x212A,
            *range(0xFB00, 0xFB07),
        )
    )
)


def _text_test(store: Store, text: str) -> SlotTest:
    """Case-insensitive (`casefold`) substring of prompt or completion.

    Most rows are rejected without a parse: a plain ASCII needle that is not in the raw line
    (lowercased) is not in the row, unless JSON escaping hides it (a quote, backslash or control
    character in the needle; a `\\u` or `\\/` escape in the line) or casefolding makes it (a
    character in the line that folds to ASCII)."""
    needle = text.casefold()
    plain = needle.isascii() and needle.isprintable() and '"' not in needle and "\\" not in needle
    ascii_needle = needle.encode() if plain else None

    def test(i: int) -> bool:
        if ascii_needle is not None:
            raw = store.raw_line(i)
            if (
                ascii_needle not in raw.lower()
                and b"\\u" not in raw
                and b"\\/" not in raw
                and (raw.isascii() or not _FOLDS_TO_ASCII.search(raw))
            ):
                return False
        row = store.row(i)
        return needle in row["prompt"].casefold() or needle in row["completion"].casefold()

    return test


def code_mask(codes, wanted: Iterable[int]) -> bytes:
    """One byte per code, non-zero where the code is in `wanted`: `bytes.translate` runs at
    memory speed, and `compress` takes the result as its selector."""
    wanted = set(wanted)
    table = bytes(1 if k in wanted else 0 for k in range(256))
    return bytes(codes).translate(table) if not isinstance(codes, bytes) else codes.translate(table)
