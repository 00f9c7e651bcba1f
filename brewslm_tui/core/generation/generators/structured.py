"""Structured output: the JSON schema of a reply, built from the project, and how to ask for it.

A small local model left to the prompt alone answers in prose, fences or half an array; asked
with a schema, the server constrains its sampling and every reply parses. The reply is always
one object, `{"rows": [row, ...]}` with exactly `rows_per_request` rows, each row
`{"prompt": str, "completion": ...}` where the completion follows the task shape:

- classification: one of the project's labels (an enum);
- extraction: an object with exactly the project's fields, each a string or null;
- qa: a string within the answer-length limit (words, for exact-match scoring) and
  `max_completion_chars`;
- generation: a string within `max_completion_chars`
(character limits only where a grammar can hold them: see `GRAMMAR_REPETITIONS`).

Server families take the schema differently (looked up in their sources and docs):

- `json_schema`: OpenAI, vLLM, Ollama >= 0.5 on `/v1`, llama.cpp's `llama-server`:
  `{"type": "json_schema", "json_schema": {"name": ..., "strict": true, "schema": {...}}}`;
- `json_object`: llama-cpp-python's server (its `type` is `text` or `json_object`, with an
  optional `schema`, turned into a grammar), older llama.cpp and vLLM builds:
  `{"type": "json_object", "schema": {...}}` (a server that does not read `schema` still
  returns one JSON object, which the prompt describes);
- `off`: no `response_format`; the prompt alone asks for the object.

`auto` walks that ladder from the top (see `StructuredLadder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from brewslm_tui.core.generation.playbooks import Playbook
    from brewslm_tui.core.project import Project

StructuredSetting = Literal["auto", "json_schema", "json_object", "off"]
StructuredMode = Literal["json_schema", "json_object", "off"]
LADDER: tuple[StructuredMode, ...] = ("json_schema", "json_object", "off")
SCHEMA_NAME = "brewslm_rows"
# An HTTP 400/422 reply that names one of these is the server refusing the field.
_REFUSAL_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar")
# Replies in a mode that must follow the schema before `auto` believes the server honours it.
HONOUR_SAMPLE = 2
# llama.cpp turns the schema into a grammar and refuses one whose repetitions multiply past
# 2,000 (its MAX_REPETITION_THRESHOLD: "failed to parse grammar", then an HTTP 500): a
# maxLength of 4,000 inside 10 rows is 40,000. A length limit goes into the schema only when
# rows x limit stays under that; otherwise the prompt states it and the validator enforces it.
GRAMMAR_REPETITIONS = 2000


def _text(max_chars: int, n: int) -> dict[str, Any]:
    """A non-empty string, with `maxLength` when a grammar of `n` such strings stays buildable."""
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    if n * max_chars <= GRAMMAR_REPETITIONS:
        text["maxLength"] = max_chars
    return text


def completion_schema(project: Project, playbook: Playbook, n: int) -> dict[str, Any]:
    """The schema of one row's completion (of `n` a reply), from the task shape and the limits."""
    limits = project.limits
    if project.task == "classification":
        return {"type": "string", "enum": list(project.labels)}
    if project.task == "extraction":
        return {
            "type": "object",
            "properties": {f: {"type": ["string", "null"]} for f in project.fields},
            "required": list(project.fields),
            "additionalProperties": False,
        }
    text = _text(limits.max_completion_chars, n)
    if project.task == "qa" and project.scoring == "exact_match":
        words = playbook.limits.max_answer_words or limits.qa_max_answer_words
        # at most `words` words, as the validator counts them (split on whitespace)
        text["pattern"] = rf"^[^\s]+(\s[^\s]+){{0,{max(0, words - 1)}}}$"
    return text


def reply_schema(project: Project, playbook: Playbook, n: int) -> dict[str, Any]:
    """The schema of a whole reply: `{"rows": [...]}` with exactly `n` rows."""
    row = {
        "type": "object",
        "properties": {
            "prompt": _text(project.limits.max_prompt_chars, n),
            "completion": completion_schema(project, playbook, n),
        },
        "required": ["prompt", "completion"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": row, "minItems": n, "maxItems": n}},
        "required": ["rows"],
        "additionalProperties": False,
    }


def response_format(mode: StructuredMode, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The request's `response_format` for `mode` (None: send no such field)."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def follows_schema(content: str) -> bool:
    """Whether a reply is the object the schema asks for (one JSON object with a `rows` list of rows).

    Only the frame is checked: the validator judges each row's completion, with causes.
    """
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    rows = value.get("rows") if isinstance(value, dict) else None
    return isinstance(rows, list) and all(
        isinstance(r, dict) and "prompt" in r and "completion" in r for r in rows
    )


def names_the_field(status: int, body: str) -> bool:
    """Whether an error reply is the server refusing `response_format`.

    HTTP 400/422 naming the field or a word of it, or a 500/501 naming `response_format`
    itself: llama-cpp-python's server answers a `type` it does not know with a 500 whose body
    is its request model's validation error (`'loc': ('body', 'response_format', 'type')`).
    """
    lowered = body.lower()
    if status in (400, 422):
        return any(word in lowered for word in _REFUSAL_WORDS)
    return status in (500, 501) and "response_format" in lowered


class StructuredLadder:
    """Which structured mode requests use now, stepping down when the server refuses or ignores one.

    Shared by every request of a run: the first refusal moves all later requests down, so a
    run does not pay for the same refusal `concurrency` times. A fixed setting (not `auto`)
    never moves. `history` says, in words, each step taken and why (for the diagnostic).
    """

    def __init__(self, setting: StructuredSetting) -> None:
        self.auto = setting == "auto"
        self.mode: StructuredMode = "json_schema" if setting == "auto" else setting
        self.history: list[str] = []
        self._honoured: set[str] = set()
        self._misses: dict[str, int] = {}

    def refused(self, mode: StructuredMode, why: str) -> bool:
        """The server rejected `mode`: step down (if auto and still there); True to resend the request."""
        if not self.auto or mode == "off":
            return False
        if self.mode == mode:
            self._step(f"the server refused response_format {mode} ({why})")
        return True

    def judging(self, mode: StructuredMode) -> bool:
        """Whether replies in `mode` are still evidence (so only the first few are checked)."""
        return mode != "off" and mode not in self._honoured and (not self.auto or self.mode == mode)

    def saw_reply(self, mode: StructuredMode, followed: bool) -> None:
        """A reply sent in `mode`: the first replies all off the schema mean the server ignores it."""
        if mode == "off" or mode in self._honoured:
            return
        if followed:
            self._honoured.add(mode)
            return
        self._misses[mode] = self._misses.get(mode, 0) + 1
        if self.auto and self.mode == mode and self._misses[mode] >= HONOUR_SAMPLE:
            self._step(f"the server accepted response_format {mode} but its first replies did not follow it")

    def _step(self, why: str) -> None:
        following = LADDER[LADDER.index(self.mode) + 1]
        self.history.append(f"{why}; now {following}")
        self.mode = following
