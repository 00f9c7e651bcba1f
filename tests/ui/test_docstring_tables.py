"""Every widget, screen and app class under brewslm_tui/ui documents its keys and component
classes in the tables Textual's own widgets use, and the tables cannot drift from the code.

For each class that declares `BINDINGS` (or the review panes' `COMMON_BINDINGS`) or
`COMPONENT_CLASSES` in its own body:

- the declaration is annotated `ClassVar[...]`;
- every binding has a row in a `| Key(s) | Description |` table, in the class's docstring or in a
  base class's (the review panes document their shared keys once, on `ReviewPane`), and a row's
  keys are exactly one binding's keys (`j, down` for `Binding("j,down", ...)`);
- every row of the class's own table names a binding the class declares (no stale rows);
- the `| Class | Description |` table lists exactly the class's component classes.

A key may be written by its name (`slash`) or by the character it types (`/`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import ClassVar

import pytest
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import key_to_character

import brewslm_tui.ui

KEY_HEADER = re.compile(r"^\|\s*Key\(s\)\s*\|\s*Description\s*\|$")
CLASS_HEADER = re.compile(r"^\|\s*Class\s*\|\s*Description\s*\|$")
# names Textual's key_to_character does not turn into the character (Unicode calls "/" SOLIDUS)
CHARACTER_OF = {"slash": "/"}


def ui_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(brewslm_tui.ui.__path__, "brewslm_tui.ui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, DOMNode):
                found.append(cls)
    return found


def declared(cls: type) -> list[str]:
    return [n for n in ("BINDINGS", "COMMON_BINDINGS", "COMPONENT_CLASSES") if n in cls.__dict__]


CLASSES = [cls for cls in ui_classes() if declared(cls)]


def table(doc: str | None, header: re.Pattern[str]) -> list[list[str]]:
    """The first cells of the rows of the docstring table under `header` (split on commas)."""
    rows: list[list[str]] = []
    lines = [line.strip() for line in (inspect.cleandoc(doc) if doc else "").splitlines()]
    for at, line in enumerate(lines):
        if not header.match(line):
            continue
        for row in lines[at + 2 :]:  # after the header and the `| :- | :- |` line
            if not row.startswith("|"):
                break
            first = row.strip("|").split("|")[0]
            rows.append([part.strip().strip("`") for part in first.split(",")])
    return rows


def key_name(key: str) -> str:
    """One spelling for a key: the character it types where it has a visible one, else its name."""
    key = key.strip()
    if key in CHARACTER_OF:
        return CHARACTER_OF[key]
    if len(key) == 1:
        return key
    character = key_to_character(key)
    if character and character.isprintable() and not character.isspace():
        return character
    return key


def binding_keys(binding: object) -> frozenset[str]:
    key = binding.key if isinstance(binding, Binding) else binding[0]  # type: ignore[index]
    return frozenset(key_name(k) for k in key.split(","))


def own_bindings(cls: type) -> list[frozenset[str]]:
    return [binding_keys(b) for name in ("BINDINGS", "COMMON_BINDINGS") for b in cls.__dict__.get(name, [])]


def key_rows(cls: type) -> list[frozenset[str]]:
    return [frozenset(key_name(k) for k in row) for row in table(cls.__doc__, KEY_HEADER)]


def test_no_module_docstring_keeps_a_key_table_of_its_own():
    """Key tables live on the classes, where the tests below hold them to the bindings."""
    stale = []
    for info in pkgutil.walk_packages(brewslm_tui.ui.__path__, "brewslm_tui.ui."):
        doc = importlib.import_module(info.name).__doc__ or ""
        if re.search(r"^\|\s*Key", doc, re.M):
            stale.append(info.name)
    assert not stale


def test_the_walk_finds_the_classes_it_should():
    names = {cls.__name__ for cls in CLASSES}
    assert {"RowList", "HeaderBar", "KeyBar", "BrewApp", "QueuePane", "ReviewPane", "JobsSidebar"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_declarations_are_class_vars(cls):
    annotations = inspect.get_annotations(cls)
    for name in declared(cls):
        assert "ClassVar" in str(annotations.get(name, "")), f"{cls.__name__}.{name} is not a ClassVar"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_binding_has_its_row(cls):
    documented = {
        row for base in cls.__mro__ if base.__module__.startswith("brewslm_tui.") for row in key_rows(base)
    }
    missing = [sorted(keys) for keys in own_bindings(cls) if keys not in documented]
    assert not missing, f"{cls.__name__}: no `| Key(s) |` row for {missing}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_key_row_names_a_binding_of_the_class(cls):
    bound = set(own_bindings(cls))
    stale = [sorted(row) for row in key_rows(cls) if row not in bound]
    assert not stale, f"{cls.__name__}: table rows that match no binding of the class: {stale}"


@pytest.mark.parametrize(
    "cls",
    [c for c in CLASSES if "COMPONENT_CLASSES" in c.__dict__],
    ids=lambda c: f"{c.__module__}.{c.__name__}",
)
def test_component_class_table_matches(cls):
    rows = table(cls.__doc__, CLASS_HEADER)
    assert all(len(row) == 1 for row in rows), rows
    assert sorted(row[0] for row in rows) == sorted(cls.COMPONENT_CLASSES)


def test_the_table_reader_catches_drift():
    """The checks above can fail: a made-up class with a missing and a stale row fails them."""

    class Drifted:
        """Made up.

        | Key(s) | Description |
        | :- | :- |
        | j | Down. |
        | x | Nothing binds this. |
        """

        BINDINGS: ClassVar[list[Binding]] = [
            Binding("j,down", "down", "Down"),
            Binding("slash", "filter", "Filter"),
        ]

    assert key_rows(Drifted) == [frozenset({"j"}), frozenset({"x"})]
    assert set(own_bindings(Drifted)) == {frozenset({"j", "down"}), frozenset({"/"})}
    assert not set(own_bindings(Drifted)) & set(key_rows(Drifted))
