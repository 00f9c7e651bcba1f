"""core.text: hostile text made visible and inert; dedup keys; truncation."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brewslm_tui.core.text import (
    has_control_chars,
    normalize_for_dedup,
    truncate,
    visible,
    visible_line,
    visible_parts,
)

# The dangerous set, defined here independently of the module: every Cc control except \n and
# \t (C0, DEL, C1), bidi controls, zero-width characters, BOM, line/paragraph separators and
# tag characters.
BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
INVISIBLE = {0x200B, 0x200C, 0x200D, 0xFEFF, 0x2028, 0x2029, 0x2060, *range(0xE0000, 0xE0080)}


def dangerous(ch: str) -> bool:
    if ch in "\n\t":
        return False
    return unicodedata.category(ch) in ("Cc", "Cs") or ord(ch) in BIDI or ord(ch) in INVISIBLE


# --- visible -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("clear\x1b[2Jscreen", "clear\\x1b[2Jscreen"),
        (
            "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
            "\\x1b]8;;https://evil.example/\\x1b\\click me\\x1b]8;;\\x1b\\",
        ),
        (
            "\x1b]8;;https://evil.example/\x07link\x1b]8;;\x07",
            "\\x1b]8;;https://evil.example/\\x07link\\x1b]8;;\\x07",
        ),
        ("one-byte CSI \x9b2J", "one-byte CSI \\x9b2J"),
        ("\x9d0;title\x9c", "\\x9d0;title\\x9c"),
        ("user\u202eexe.txt", "user\\u202eexe.txt"),
        (
            "isolate \u2066x\u2069 and marks \u200e\u200f\u061c",
            "isolate \\u2066x\\u2069 and marks \\u200e\\u200f\\u061c",
        ),
        ("nul\x00byte", "nul\\x00byte"),
        ("overwrite\rhidden", "overwrite\\rhidden"),
        ("bell\x07 backspace\x08 del\x7f", "bell\\x07 backspace\\x08 del\\x7f"),
        ("zero\u200bwidth\u200c\u200d\ufeff", "zero\\u200bwidth\\u200c\\u200d\\ufeff"),
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("tag \U000e0041\U000e007f", "tag \\U000e0041\\U000e007f"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ],
)
def test_visible_escapes_hostile_characters(text: str, shown: str) -> None:
    assert visible(text) == shown
    assert not any(dangerous(ch) for ch in visible(text))


def test_visible_keeps_newline_tab_and_ordinary_unicode() -> None:
    text = "line one\n\tindented — café, 日本語, emoji 😀, [bold]not markup[/bold] \\x1b literal"
    assert visible(text) == text


def test_visible_returns_the_same_object_when_nothing_to_escape() -> None:
    text = "a perfectly ordinary review " * 10
    assert visible(text) is text
    assert visible_line(text) is text


def test_visible_line_shows_newline_and_tab() -> None:
    assert visible_line("a\nb\tc") == "a⏎b→c"
    assert visible_line("x\r\n\x1b[31m") == "x\\r⏎\\x1b[31m"


def test_visible_parts_marks_escapes() -> None:
    text = "ok\x1b[2J\x1bdone\u202e"
    parts = list(visible_parts(text))
    assert parts == [
        ("ok", False),
        ("\\x1b", True),
        ("[2J", False),
        ("\\x1b", True),
        ("done", False),
        ("\\u202e", True),
    ]
    assert "".join(p for p, _ in parts) == visible(text)
    assert list(visible_parts("")) == []
    assert list(visible_parts("plain")) == [("plain", False)]


# A strategy biased towards the interesting characters.
hostile_chars = st.sampled_from(
    [
        "\x1b",
        "\x00",
        "\r",
        "\n",
        "\t",
        "\x7f",
        "\x9b",
        "\x85",
        "\u202e",
        "\u2066",
        "\u200b",
        "\u200d",
        "\ufeff",
        "\u2028",
        "\U000e0041",
        "\udc80",
        "[",
        "\\",
        "x",
        "é",
        "😀",
        " ",
    ]
)
texts = st.one_of(
    st.text(),
    st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp"])),
    st.lists(st.one_of(hostile_chars, st.characters()), max_size=40).map("".join),
)


@settings(max_examples=400)
@given(texts)
def test_visible_never_lets_a_dangerous_character_through(text: str) -> None:
    out = visible(text)
    assert not any(dangerous(ch) for ch in out)
    assert out.count("\n") == text.count("\n") and out.count("\t") == text.count("\t")
    assert visible(out) == out  # output is already safe: idempotent
    line = visible_line(text)
    assert not any(dangerous(ch) or ch in "\n\t" for ch in line)
    assert "".join(p for p, _ in visible_parts(text)) == out


@given(st.text(st.characters(codec="utf-8")).filter(lambda t: not any(dangerous(c) for c in t)))
def test_visible_is_identity_on_safe_text(text: str) -> None:
    assert visible(text) == text


# --- has_control_chars -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["\x1b[2J", "a\x00", "\r\n", "\x7f", "\x9b", "\x85", "\u202e", "\u202a", "\u2066", "\u2069"]
)
def test_has_control_chars_true(text: str) -> None:
    assert has_control_chars(text)


@pytest.mark.parametrize(
    "text", ["", "plain", "multi\nline\twith tab", "שלום\u200f עולם", "emoji 😀", "café"]
)
def test_has_control_chars_false(text: str) -> None:
    assert not has_control_chars(text)


# --- normalize_for_dedup -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Great product!!", "great product"),
        ("  Great   product \n", "great PRODUCT."),
        ("Ｇｒｅａｔ ｐｒｏｄｕｃｔ", "great product"),  # NFKC: full-width
        ("ﬁne", "fine"),  # NFKC: ligature
        ("STRASSE", "straße"),  # casefold, not lower
        ("great\u200b product", "great product"),  # format characters removed
        ("«quoted»", "quoted"),
        ("...and so on...", "and so on"),
    ],
)
def test_normalize_for_dedup_collides(a: str, b: str) -> None:
    assert normalize_for_dedup(a) == normalize_for_dedup(b)


@pytest.mark.parametrize(
    ("a", "b"), [("not bad", "not, bad"), ("$5", "5"), ("positive", "negative"), ("it's", "its")]
)
def test_normalize_for_dedup_keeps_differences(a: str, b: str) -> None:
    assert normalize_for_dedup(a) != normalize_for_dedup(b)


def test_normalize_for_dedup_edges() -> None:
    assert normalize_for_dedup("") == ""
    assert normalize_for_dedup("?!.") == ""
    assert normalize_for_dedup("a\t\tb\n\nc") == "a b c"


# --- truncate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "out"),
    [
        ("hello", 10, "hello"),
        ("hello", 5, "hello"),
        ("hello", 4, "hel…"),
        ("hello", 1, "…"),
        ("hello", 0, ""),
        ("", 3, ""),
    ],
)
def test_truncate(text: str, n: int, out: str) -> None:
    assert truncate(text, n) == out


@given(st.text(), st.integers(0, 50))
def test_truncate_never_exceeds(text: str, n: int) -> None:
    out = truncate(text, n)
    assert len(out) <= n
    assert out == text or out.endswith("…") or n == 0


def test_plural() -> None:
    from brewslm_tui.core.text import plural

    assert plural(1, "row") == "1 row"
    assert plural(0, "row") == "0 rows"
    assert plural(2, "row") == "2 rows"
    assert plural(12345, "row") == "12,345 rows"
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
