"""Validation of every row that can become training data, and duplicate detection.

One check of the task shape (labels, extraction fields, JSON, answer length, limits) serves a
generated candidate, an edit, an imported row, `check` and `export`: `Validator.shape` (and
`validate_row` for one row). A row that does not fit is named by a short cause code (`CAUSES`)
that a diagnostic explains in a sentence. Duplicates are
found by the normalised prompt (`core.text.normalize_for_dedup`): a prompt that an imported
row, an existing synthetic (or dropped) row, or an earlier row of the same run already has is
not a new training example, whatever its completion says.

Existing prompts are held as sorted 8-byte hashes (`core.generation.prompt_index`), not dicts
or strings: a million rows cost 8 MB and a lookup is a bisect. They come from a persistent
index beside the project, so a job or an import does not re-read every prompt to start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from brewslm_tui.core.generation.prompt_index import PromptSet, indexed_prompt_keys, prompt_key
from brewslm_tui.core.project import Project
from brewslm_tui.core.text import has_control_chars

CAUSES: dict[str, str] = {
    "malformed_candidate": "the generator gave something without a text prompt and completion",
    "empty_prompt": "the prompt is empty",
    "empty_completion": "the completion is empty",
    "control_chars": "the text holds control characters (escape sequences, NUL, bidi overrides)",
    "too_long": "the prompt or completion is longer than the project's limits allow",
    "not_a_label": "the completion is not one of the project's labels",
    "bad_json": "the completion is not a JSON object",
    "wrong_fields": "the completion's JSON object does not have exactly the project's fields",
    "answer_too_long": "the answer is longer than a short exact-match answer may be",
    "duplicate_imported": "the prompt repeats an imported row",
    "duplicate_synthetic": "the prompt repeats a synthetic row already in the project",
    "duplicate_in_run": "the prompt repeats another row of this run",
    "duplicate_in_import": "the prompt repeats another row of the files being imported",
    "unparseable_reply": "the model's reply held no rows that could be parsed",
    "reply_cut_short": "the model's reply was cut at max_tokens before all its rows were written",
    "unparseable_line": "the command printed a line that is not a JSON object",
}
DUPLICATE_CAUSES = ("duplicate_imported", "duplicate_synthetic", "duplicate_in_run")


@dataclass(frozen=True)
class Problem:
    """Why a row cannot be training data: a cause code (`CAUSES`) and what was found."""

    cause: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.cause}: {self.detail}" if self.detail else self.cause


@dataclass(frozen=True)
class Verdict:
    """The outcome for one candidate: `row` (canonical prompt/completion) or `cause` + `detail`."""

    row: dict[str, Any] | None
    cause: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.row is not None


class Validator:
    """Checks candidates of one run against the project; remembers the run's own prompts.

    What the checks read from the project (task, limits, labels, fields) is taken once, when
    the validator is made: a run validates against the project as it was when it started.
    """

    def __init__(
        self,
        project: Project,
        *,
        imported: PromptSet | None = None,
        synthetic: PromptSet | None = None,
        max_answer_words: int | None = None,
    ) -> None:
        self.project = project
        self.imported = imported or PromptSet()
        self.synthetic = synthetic or PromptSet()
        self.in_run: set[int] = set()
        self.last_key = 0  # the prompt key of the last usable candidate `check` passed
        self.in_run_cause = "duplicate_in_run"  # an import says "duplicate_in_import"
        self.max_answer_words = max_answer_words or project.limits.qa_max_answer_words
        self._task = project.task
        self._exact_qa = project.task == "qa" and project.scoring == "exact_match"
        self._max_prompt = project.limits.max_prompt_chars
        self._max_completion = project.limits.max_completion_chars
        self._fields = list(project.fields)
        self._field_set = frozenset(project.fields)
        self._labels: dict[str, str | None] = {}  # completion -> label_for(completion), memoised

    @classmethod
    def for_project(
        cls, project: Project, *, max_answer_words: int | None = None, persist: bool = True
    ) -> Validator:
        """A validator that knows every prompt already in the project (imported, synthetic, dropped).

        The keys come from the project's prompt index (`prompt_index.indexed_prompt_keys`),
        which reads only what it does not cover yet; the answer is the same as a full scan's.
        With `persist=False` the index is read and brought up to date in memory only, until
        `save_index` (an import writes it once it has committed; a dry run never does).
        """
        state = project.state_dir

        def keys(path, name):
            return indexed_prompt_keys(path, state, name, persist=persist)

        return cls(
            project,
            imported=keys(project.imported_path, "imported"),
            synthetic=keys(project.synthetic_path, "synthetic") | keys(project.dropped_path, "dropped"),
            max_answer_words=max_answer_words,
        )

    def save_index(self) -> None:
        """Write the prompt index that `for_project(persist=False)` read but held back."""
        self.imported.save_index()
        self.synthetic.save_index()

    def check(self, candidate: dict[str, Any]) -> Verdict:
        """Validate one candidate; a usable one is remembered so the run cannot repeat it."""
        verdict = self.shape(candidate)
        if verdict.row is None:
            return verdict
        key = prompt_key(verdict.row["prompt"])
        cause = self._duplicate_cause_of(key)
        if cause:
            return _bad(cause, _q(verdict.row["prompt"]))
        self.in_run.add(key)
        self.last_key = key
        return verdict

    def duplicate_cause(self, prompt: str) -> str | None:
        """The duplicate cause of a prompt (imported, synthetic or dropped, this run), or None."""
        return self._duplicate_cause_of(prompt_key(prompt))

    def _duplicate_cause_of(self, key: int) -> str | None:
        if key in self.imported:
            return "duplicate_imported"
        if key in self.synthetic:
            return "duplicate_synthetic"
        if key in self.in_run:
            return self.in_run_cause
        return None

    def problems(self, row: dict[str, Any]) -> list[Problem]:
        """What keeps `row` from being training data for this project (no duplicate check); [] = fits."""
        verdict = self.shape(row)
        return [] if verdict.ok else [Problem(verdict.cause or "", verdict.detail)]

    def shape(self, candidate: dict[str, Any]) -> Verdict:
        """The task-shape checks alone: text fields, control characters, limits, label / JSON / answer.

        The verdict's row holds the canonical completion (the project's spelling of a label, the
        extraction object in field order); nothing is remembered.
        """
        canonical, cause, detail = self.canonical(candidate)
        if cause is not None:
            return _bad(cause, detail)
        row = {k: v for k, v in candidate.items() if not k.startswith("_")}
        row["prompt"], row["completion"] = candidate["prompt"], canonical
        return Verdict(row)

    def canonical(self, candidate: dict[str, Any]) -> tuple[Any, str | None, str]:
        """`shape` without building the row (an export checks every row it writes):
        (canonical completion, None, "") when it fits, else (the completion, cause, detail)."""
        prompt, completion = candidate.get("prompt"), candidate.get("completion")
        if self._task == "extraction" and isinstance(completion, dict):
            completion = orjson.dumps(completion).decode()
        if not isinstance(prompt, str) or not isinstance(completion, str):
            return (
                completion,
                "malformed_candidate",
                f"keys: {', '.join(map(str, candidate)) or 'none'}; "
                f"prompt is {type(prompt).__name__}, completion is {type(completion).__name__}",
            )
        if not prompt or prompt.isspace():  # (`not prompt.strip()`, without a copy)
            return completion, "empty_prompt", _shown(prompt, completion)
        if _has_control_chars(prompt) or _has_control_chars(completion):
            return completion, "control_chars", _shown(prompt, completion)
        if len(prompt) > self._max_prompt or len(completion) > self._max_completion:
            return (
                completion,
                "too_long",
                f"prompt {len(prompt)} chars (limit {self._max_prompt}), completion "
                f"{len(completion)} chars (limit {self._max_completion}): {_shown(prompt, completion)}",
            )
        canonical, cause, why = self._check_shape(completion)
        if cause:
            shown = _shown(prompt, completion)
            return completion, cause, f"{why}: {shown}" if why else shown
        return canonical, None, ""

    def plainly(self) -> Callable[[dict[str, Any]], Any]:
        """A quick test for the common row, for a loop over many (`check`, `export`): it returns
        the canonical completion when the row plainly fits, else `UNSURE` (then `canonical`
        decides, and names the cause). "Plainly" is what `canonical` checks, taken in one go on
        the usual shape: string prompt and completion, ASCII without control characters, within
        the limits, a completion that is one of the labels (classification, memoised) or not
        blank (free text, QA scored other than by exact match). An extraction or exact-match QA
        row is always UNSURE. A row it passes is one `canonical` passes with that completion."""
        task = self._task
        if task == "extraction" or self._exact_qa:
            return _unsure
        max_prompt, max_completion, allowed = self._max_prompt, self._max_completion, _ASCII_ALLOWED
        labels: dict[str, str] = {}  # completion -> its label, for completions that plainly fit
        classification = task == "classification"

        def plain_label(completion: str) -> Any:
            if (
                len(labels) < 4096
                and len(completion) <= max_completion
                and not _has_control_chars(completion)
            ):
                label = self.project.label_for(completion)
                if label is not None:
                    labels[completion] = label
                    return label
            return UNSURE

        def plainly(row: dict[str, Any]) -> Any:
            get = row.get
            prompt, completion = get("prompt"), get("completion")
            if (
                type(prompt) is not str
                or type(completion) is not str
                or not prompt
                or len(prompt) > max_prompt
                or not prompt.isascii()
                or prompt.encode().translate(None, allowed)
                or prompt.isspace()
            ):
                return UNSURE
            if classification:
                label = labels.get(completion)
                return plain_label(completion) if label is None else label
            if (
                len(completion) > max_completion
                or not completion.isascii()
                or completion.encode().translate(None, allowed)
                or not completion
                or completion.isspace()
            ):
                return UNSURE
            return completion

        return plainly

    def _check_shape(self, completion: str) -> tuple[str, str | None, str]:
        """(canonical completion, cause or None, why) for the project's task shape."""
        task = self._task
        if task == "classification":
            labels = self._labels
            if completion in labels:
                label = labels[completion]
            else:
                label = self.project.label_for(completion)
                if len(labels) < 4096:  # completions of a classification run are a handful of labels
                    labels[completion] = label
            if label is None:
                return completion, "not_a_label", f"labels: {', '.join(self.project.labels)}"
            return label, None, ""
        if task == "extraction":
            try:
                obj = orjson.loads(completion)
            except orjson.JSONDecodeError as exc:
                return completion, "bad_json", str(exc).split(":")[0]
            if not isinstance(obj, dict):
                return completion, "bad_json", f"a JSON {type(obj).__name__}, not an object"
            fields = self._fields
            if len(obj) != len(self._field_set) or not self._field_set.issuperset(obj):
                missing = [f for f in fields if f not in obj]
                extra = [k for k in obj if k not in self._field_set]
                why = "; ".join(
                    s
                    for s in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"extra {', '.join(map(str, extra))}" if extra else "",
                    )
                    if s
                )
                return completion, "wrong_fields", why
            return orjson.dumps({f: obj[f] for f in fields}).decode(), None, ""
        if not completion.strip():
            return completion, "empty_completion", ""
        if self._exact_qa:
            words = len(completion.split())
            if words > self.max_answer_words:
                return completion, "answer_too_long", f"{words} words (limit {self.max_answer_words})"
        return completion, None, ""


UNSURE = object()  # what `Validator.plainly`'s test returns when `canonical` must decide


def _unsure(row: dict[str, Any]) -> Any:
    return UNSURE


def validate_row(project: Project, row: dict[str, Any]) -> list[Problem]:
    """What keeps one row (edited, imported, about to be exported) from being training data; [] = fits.

    The same checks a generated candidate passes, without the duplicate check. For many rows,
    make one `Validator(project)` and call `problems` (the label lookups are memoised there).
    """
    return Validator(project).problems(row)


def _has_control_chars(text: str) -> bool:
    """`has_control_chars`, for an ASCII text (most of them) by deleting the allowed bytes (tab,
    newline, space to `~`) at C speed: what is left is a C0 control or DEL."""
    if text.isascii():
        return bool(text.encode().translate(None, _ASCII_ALLOWED))
    return has_control_chars(text)


_ASCII_ALLOWED = b"\t\n" + bytes(range(0x20, 0x7F))


def _shown(prompt: str, completion: str) -> str:
    """Both texts of a refused candidate, quoted and shortened, for the diagnostic."""
    return f"{_q(prompt)} -> {_q(completion)}"


def _bad(cause: str, detail: str) -> Verdict:
    return Verdict(None, cause, detail)


def _q(text: str, n: int = 140) -> str:
    """A short, quoted, one-line rendering of untrusted text for a diagnostic.

    Long texts keep their start and their end: generated prompts often share a long fixed
    instruction, and what tells them apart is at the end.
    """
    if len(text) > n:
        head = n // 3
        text = text[:head] + "…" + text[-(n - head - 1) :]
    return orjson.dumps(text).decode()
