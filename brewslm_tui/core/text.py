"""Untrusted text made safe to show, and text normalised for duplicate detection.

Every prompt and completion is untrusted: an ESC sequence could clear the screen or forge a
hyperlink (OSC 8), a C1 control (U+009B is a one-byte CSI) could do the same on some terminals,
a bidi override could make text read differently from what it is (Trojan Source), and
zero-width characters could hide text. `visible` replaces each such character with a
Python-style escape, so the reader sees exactly what is there and the terminal receives only
inert characters:

- C0 controls except `\\n` and `\\t`, DEL and C1 controls -> `\\x1b`, `\\x00`, `\\x7f`, `\\x9b`
  (`\\r` -> `\\r`: the one escape everybody knows)
- bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), zero-width and other
  invisible format characters (U+200B-U+200D, U+2060-U+2064, U+206A-U+206F, U+FEFF,
  U+FFF9-U+FFFB), line/paragraph separators (U+2028, U+2029) and tag characters
  (U+E0000-U+E007F, used to smuggle invisible ASCII) -> `\\u202e`, `\\U000e0041`
- lone surrogates (U+D800-U+DFFF; `json.loads` lets them through and writing one to a UTF-8
  terminal raises) -> `\\ud800`

Escapes are the same spelling as in Python and JSON, so a reader can search for them. A text
that literally contains a backslash followed by `x1b` looks the same as a real ESC; when that
matters (the detail pane), `visible_parts` tells escapes from text so the UI can style them.

All functions are used per visible row, so the common case (nothing to escape) is one
precompiled regex search and no copy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_FORMAT_RANGES = (
    (0x061C, 0x061C),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xD800, 0xDFFF),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0xE0000, 0xE007F),
)

_DANGEROUS: frozenset[int] = frozenset(
    [c for c in range(0x20) if c not in (0x09, 0x0A)]
    + list(range(0x7F, 0xA0))
    + [c for lo, hi in _FORMAT_RANGES for c in range(lo, hi + 1)]
)
"""Code points `visible` never lets through (as ints, for tests and other checks)."""


def _escape(code: int) -> str:
    if code == 0x0D:
        return "\\r"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _char_class(codes: frozenset[int]) -> str:
    """A regex class of `codes` written as ranges (a class of single characters is ~20x slower)."""
    parts, ordered = [], sorted(codes)
    start = prev = ordered[0]
    for code in [*ordered[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        parts.append(re.escape(chr(start)) + (f"-{re.escape(chr(prev))}" if prev > start else ""))
        start = prev = code
    return "[" + "".join(parts) + "]"


_VISIBLE_TABLE = {c: _escape(c) for c in _DANGEROUS}
_LINE_TABLE = {**_VISIBLE_TABLE, 0x0A: "⏎", 0x09: "→"}
# `_ANY_*` answer "anything to do?" (the common case, twice as fast as the `+` forms);
# `_RUN_*` find runs to replace.
_ANY_RE = re.compile(_char_class(_DANGEROUS))
_RUN_RE = re.compile(_char_class(_DANGEROUS) + "+")
_ANY_LINE_RE = re.compile(_char_class(_DANGEROUS | {0x09, 0x0A}))
_RUN_LINE_RE = re.compile(_char_class(_DANGEROUS | {0x09, 0x0A}) + "+")

# What candidate validation refuses: controls a row must never carry (C0 except \n \t, DEL,
# C1) and the bidi embeddings/overrides/isolates that reorder text (marks U+200E/F are normal
# in right-to-left text and stay allowed).
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with every terminal-dangerous or invisible character shown as an escape."""
    if _ANY_RE.search(text) is None:
        return text
    return _RUN_RE.sub(_escape_run, text)


def visible_line(text: str) -> str:
    """`visible` for a one-line cell: newline shown as `⏎`, tab as `→`."""
    if _ANY_LINE_RE.search(text) is None:
        return text
    return _RUN_LINE_RE.sub(_escape_line_run, text)


def _escape_run(match: re.Match[str]) -> str:
    return match.group().translate(_VISIBLE_TABLE)


def _escape_line_run(match: re.Match[str]) -> str:
    return match.group().translate(_LINE_TABLE)


def visible_parts(text: str) -> Iterator[tuple[str, bool]]:
    """`visible(text)` in pieces: (piece, True) for escapes, (piece, False) for plain text."""
    pos = 0
    for match in _RUN_RE.finditer(text):
        if match.start() > pos:
            yield text[pos : match.start()], False
        yield match.group().translate(_VISIBLE_TABLE), True
        pos = match.end()
    if pos < len(text):
        yield text[pos:], False


def has_control_chars(text: str) -> bool:
    """True if `text` holds a C0 control other than `\\n`/`\\t`, DEL, a C1 control or a bidi override."""
    return _CONTROL_RE.search(text) is not None


def normalize_for_dedup(text: str) -> str:
    """A key under which near-identical texts collide, for duplicate detection.

    NFKC (full-width and ligature forms fold to plain ones), format characters such as
    zero-width spaces removed, casefold, every whitespace run collapsed to one space, and
    punctuation stripped from both ends ("Great product!!" == "great product"). Inner
    punctuation and symbols stay: "not, bad" and "not bad" remain different texts, as do
    "$5" and "5".
    """
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = " ".join(text.casefold().split())  # as re `\s+` -> " ": both split where str.isspace(); 4x faster
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge(ch: str) -> bool:
    return ch == " " or unicodedata.category(ch)[0] == "P"


def truncate(text: str, n: int) -> str:
    """At most `n` characters; a cut text ends in `…` (counted in `n`)."""
    if len(text) <= n:
        return text
    if n <= 0:
        return ""
    return text[: n - 1] + "…"


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 row`, `2 rows`, `0 rows` (`many` for irregular plurals: `plural(n, "entry", "entries")`)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


SECRET_PIECE = 8  # a cut-off start of a secret this long is still too much of it


def without_secret(text: str, secret: str | None) -> str:
    """`text` with `secret` shown as `***`, including a start of it (SECRET_PIECE+ characters)
    that a cut left at the very end: scrub, then cut, then scrub the cut's end."""
    if not secret:
        return text
    text = text.replace(secret, "***")
    for n in range(len(secret) - 1, SECRET_PIECE - 1, -1):
        if text.endswith(secret[:n]):
            return text[:-n] + "***"
    return text
