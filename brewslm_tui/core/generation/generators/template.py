"""The `template` generator: rows composed from templates and slot vocabularies, offline.

Built in and the default, so a project can produce reviewable rows with no model at all. Each
candidate is drawn with one seeded `random.Random`, so the same playbook, count and seed give
the same rows:

1. the label (classification) that is furthest below the playbook's balance target, counting
   the rows the job accepted (`feedback`), so duplicates and invalid rows do not skew it;
2. a hard case, by weight, among those with templates for that label;
3. a template of that case, by weight, rendered with slot values drawn from the vocabularies;
4. optional noise the playbook asks for (`[template.noise]`): a subtly wrong answer (a
   confusable label, one slot of the answer redrawn) or a typo in the text, so a review
   queue holds rows a careful reviewer rejects, as real generated data does.

Template text: `{slot}` is a value drawn from the slot's vocabulary (once per row: two
`{product}` in one template are the same product), `{slot.attr}` an attribute of a slot whose
values are tables (`{fact.question}` and `{fact.answer}` come from the same drawn table),
`{label}` the row's label, `{{` and `}}` literal braces. Slot values may reference other
slots. `[template] prompt` wraps the composed text (`{text}`) into the prompt.

Where a slot is looked up, first match wins: the hard case's `label_slots.<label>`, the hard
case's `slots`, `[template.label_slots.<label>]`, `[template.slots]`.

What a template yields per task shape: classification templates are keyed by label
(`[hard_cases.templates] positive = [...]`); extraction entries are tables with `text` and
`fields` (a field left out is null); qa entries have `text` and `answer`; generation entries
`text` and `completion`.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from brewslm_tui.core.generation.generators import Generator, Item

if TYPE_CHECKING:
    from brewslm_tui.core.generation.playbooks import HardCase, Playbook
    from brewslm_tui.core.project import Project


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TemplateEntry(_Strict):
    """A template as a table: the text plus what the row's answer is, per task shape."""

    text: str
    fields: dict[str, str] | None = None  # extraction: field -> template; left out = null
    answer: str | None = None  # qa
    completion: str | None = None  # generation
    weight: float = Field(1.0, gt=0)


class Noise(_Strict):
    """Probabilities of deliberate flaws, so the review queue has something to reject."""

    wrong_answer: float = Field(0.0, ge=0, le=1)
    typo: float = Field(0.0, ge=0, le=1)


class TemplateSettings(_Strict):
    """`[template]`: the prompt wrapper, shared vocabularies and noise."""

    prompt: str = "{text}"
    slots: dict[str, list[Any]] = Field(default_factory=dict)
    label_slots: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)
    confusable: dict[str, list[str]] = Field(default_factory=dict)  # label -> labels a wrong answer picks
    noise: Noise = Field(default_factory=lambda: Noise.model_validate({}))


_REF_RE = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\}")
_BUILTINS = ("label", "text")


def refs(template: str) -> list[tuple[str, str | None]]:
    """The `(slot, attr)` references in a template string."""
    return [(m.group(1), m.group(2)) for m in _REF_RE.finditer(template) if m.group(1)]


def _entries(case: HardCase, label: str | None) -> list[tuple[str, TemplateEntry]]:
    """(key path, entry) of a case's templates for `label` (None: a shape without labels)."""
    raw = case.templates
    if isinstance(raw, dict):
        items = raw.get(label, []) if label is not None else []
        base = f"templates.{label}"
    else:
        items = raw if label is None else []
        base = "templates"
    return [
        (f"{base}[{i}]", e if isinstance(e, TemplateEntry) else TemplateEntry.model_validate({"text": e}))
        for i, e in enumerate(items)
    ]


def _chain(book: Playbook, case: HardCase, label: str | None) -> list[tuple[str, dict[str, list[Any]]]]:
    """Where slots are looked up for a row of `case` and `label`, first match wins."""
    chain = []
    if label is not None and label in case.label_slots:
        chain.append((f"label_slots.{label}", case.label_slots[label]))
    chain.append(("slots", case.slots))
    if label is not None and label in book.template.label_slots:
        chain.append((f"template.label_slots.{label}", book.template.label_slots[label]))
    chain.append(("template.slots", book.template.slots))
    return chain


def _labels_of(book: Playbook, project: Project) -> list[str | None]:
    if project.task != "classification":
        return [None]
    return [label for label, w in book.label_weights(project).items() if w > 0]


# --- load-time checks ---------------------------------------------------------------------


def check_templates(book: Playbook, project: Project) -> list[str]:
    """Problems of a template playbook against `project`, each `key.path: what is wrong`."""
    problems: list[str] = []
    task = project.task
    label: str | None
    if "{text}" not in book.template.prompt:
        problems.append("template.prompt: must contain {text} (where the composed text goes)")
    for name, values in _all_vocabularies(book):
        if not values:
            problems.append(f"{name}: an empty vocabulary (give at least one value)")
        for j, value in enumerate(values):
            if isinstance(value, dict):
                bad = [k for k, v in value.items() if not isinstance(v, str)]
                if bad or not value:
                    problems.append(f"{name}[{j}]: a table value needs string attributes")
            elif not isinstance(value, str):
                problems.append(
                    f"{name}[{j}]: values are strings or tables of strings (got {type(value).__name__})"
                )
    for label, others in book.template.confusable.items():
        for other in [label, *others]:
            if task != "classification" or other not in project.labels:
                problems.append(f"template.confusable.{label}: {other!r} is not a label of this project")
    if problems:
        return problems

    active = [(i, c) for i, c in enumerate(book.hard_cases) if c.weight > 0]
    if not active:
        return [
            "hard_cases: a template playbook needs at least one [[hard_cases]] with templates and weight > 0"
        ]
    for i, case in enumerate(book.hard_cases):
        where = f"hard_cases[{i}]"
        if task == "classification":
            if not isinstance(case.templates, dict):
                if case.templates:
                    problems.append(
                        f"{where}.templates: in a classification project templates are keyed by label, "
                        f"e.g. [hard_cases.templates] {project.labels[0]} = [...]"
                    )
                continue
            for label in case.templates:
                if label not in project.labels:
                    problems.append(
                        f"{where}.templates.{label}: not a label of this project "
                        f"(labels: {', '.join(project.labels)})"
                    )
        elif isinstance(case.templates, dict):
            problems.append(
                f"{where}.templates: per-label templates are for classification projects; "
                f"use a list of templates"
            )
            continue
        for label in (
            [lbl for lbl in case.templates if lbl in project.labels] if task == "classification" else [None]
        ):
            for key, entry in _entries(case, label):
                problems.extend(f"{where}.{key}{p}" for p in _check_entry(entry, task, project))
                problems.extend(
                    f"{where}.{key}: {p}" for p in _check_refs(book, case, label, _entry_strings(entry))
                )
    if problems:
        return problems
    for label in _labels_of(book, project):
        if not any(_entries(c, label) for _, c in active):
            what = f"label {label!r}" if label else "this playbook"
            problems.append(
                f"hard_cases: no templates for {what}, which the balance asks for "
                f"(add [hard_cases.templates] {label} = [...] or give it weight 0 in [balance])"
                if label
                else "hard_cases: no templates at all"
            )
    for label in _labels_of(book, project):
        for i, case in active:
            if _entries(case, label):
                problems.extend(
                    f"template.prompt: {p} (hard_cases[{i}])"
                    for p in _check_refs(book, case, label, [book.template.prompt], in_prompt=True)
                )
    return sorted(set(problems), key=problems.index)


def _all_vocabularies(book: Playbook):
    for name, values in book.template.slots.items():
        yield f"template.slots.{name}", values
    for label, slots in book.template.label_slots.items():
        for name, values in slots.items():
            yield f"template.label_slots.{label}.{name}", values
    for i, case in enumerate(book.hard_cases):
        for name, values in case.slots.items():
            yield f"hard_cases[{i}].slots.{name}", values
        for label, slots in case.label_slots.items():
            for name, values in slots.items():
                yield f"hard_cases[{i}].label_slots.{label}.{name}", values


def _entry_strings(entry: TemplateEntry) -> list[str]:
    out = [entry.text]
    out.extend((entry.fields or {}).values())
    out.extend(s for s in (entry.answer, entry.completion) if s is not None)
    return out


def _check_entry(entry: TemplateEntry, task: str, project: Project) -> list[str]:
    """Shape problems of one template entry, each starting with the sub-key (or ': ')."""
    problems = []
    if not entry.text.strip():
        problems.append(": empty text")
    if task == "extraction":
        if entry.fields is None:
            problems.append(
                f": extraction templates are tables with text and fields "
                f"(fields: {', '.join(project.fields)}; a field left out is null)"
            )
        else:
            for name in entry.fields:
                if name not in project.fields:
                    problems.append(
                        f".fields.{name}: not a field of this project (fields: {', '.join(project.fields)})"
                    )
    elif entry.fields is not None:
        problems.append(".fields: only for extraction projects")
    if task == "qa" and entry.answer is None:
        problems.append(": qa templates are tables with text and answer")
    elif task != "qa" and entry.answer is not None:
        problems.append(".answer: only for qa projects")
    if task == "generation" and entry.completion is None:
        problems.append(": generation templates are tables with text and completion")
    elif task != "generation" and entry.completion is not None:
        problems.append(
            ".completion: only for generation projects (the completion follows from the task shape)"
        )
    return problems


def _check_refs(
    book: Playbook, case: HardCase, label: str | None, strings: list[str], in_prompt: bool = False
) -> list[str]:
    """Undefined slots, bad attributes and cycles reachable from `strings` in this context."""
    chain = _chain(book, case, label)
    problems: list[str] = []

    def lookup(name: str):
        for where, slots in chain:
            if name in slots:
                return where, slots[name]
        return None, None

    def visit(text: str, stack: tuple[str, ...], in_prompt: bool) -> None:
        for name, attr in refs(text):
            if name == "label":
                if label is None:
                    problems.append("{label} is only defined in classification projects")
                continue
            if name == "text":
                if not in_prompt:
                    problems.append("{text} is only defined in template.prompt")
                continue
            if name in stack:
                problems.append(f"slot {name!r} refers to itself ({' -> '.join((*stack, name))})")
                continue
            where, values = lookup(name)
            if values is None:
                known = sorted({n for _, slots in chain for n in slots} | ({"label"} if label else set()))
                problems.append(
                    f"{{{name}}} is not a defined slot"
                    + (f" for label {label!r}" if label else "")
                    + f" (slots here: {', '.join(known) or 'none'})"
                )
                continue
            for value in values:
                if isinstance(value, dict):
                    if attr is None:
                        problems.append(
                            f"{{{name}}}: {where}.{name} holds tables; use {{{name}.<attr>}} "
                            f"(attributes: {', '.join(value)})"
                        )
                        break
                    if attr not in value:
                        problems.append(f"{{{name}.{attr}}}: a value of {where}.{name} has no {attr!r}")
                        break
                    visit(value[attr], (*stack, name), in_prompt)
                else:
                    if attr is not None:
                        problems.append(f"{{{name}.{attr}}}: {where}.{name} holds strings, not tables")
                        break
                    visit(value, (*stack, name), in_prompt)

    for s in strings:
        visit(s, (), in_prompt)
    return sorted(set(problems), key=problems.index)


# --- generation ---------------------------------------------------------------------------
#
# Templates are compiled once per string (`compile_template`: literal text around `(kind, name,
# attr)` references), so a row is a walk over a few parts instead of a regex substitution with
# a Python callback per reference. The walk visits references in the same order as the
# left-to-right substitution it replaces and draws from the same `random.Random` in the same
# order, so a seed gives the same rows as before, byte for byte.

_SLOT, _LABEL, _TEXT = 0, 1, 2
_Parts = str | tuple[str, tuple[tuple[int, str, str | None, str], ...]]
"""A compiled template: its text when it has no references, else `(head, steps)` where each step
is `(kind, name, attr, tail)`: a reference and the literal text after it."""


def compile_template(template: str) -> _Parts:
    """`template` compiled: literal text (with `{{`/`}}` unescaped) around `(kind, name, attr)` refs."""
    if "{" not in template and "}" not in template:
        return template
    head: str | None = None
    steps: list[tuple[int, str, str | None, str]] = []
    literal: list[str] = []
    ref: tuple[int, str, str | None] | None = None
    pos = 0
    for m in _REF_RE.finditer(template):
        literal.append(template[pos : m.start()])
        pos = m.end()
        name, attr = m.group(1), m.group(2)
        if name is None:
            literal.append(m.group(0)[0])  # `{{` -> `{`, `}}` -> `}`
            continue
        if ref is None:
            head = "".join(literal)
        else:
            steps.append((*ref, "".join(literal)))
        literal = []
        ref = (_LABEL if name == "label" else _TEXT if name == "text" else _SLOT, name, attr)
    literal.append(template[pos:])
    if ref is None:
        return "".join(literal)
    steps.append((*ref, "".join(literal)))
    return head or "", tuple(steps)


class _Plan:
    """A case's templates for one label, ready to draw from: entries, weights, slot lookup."""

    __slots__ = ("answer_names", "case", "cum_weights", "entries", "slots")

    def __init__(self, book: Playbook, case: HardCase, label: str | None) -> None:
        self.case = case
        self.entries = [e for _, e in _entries(case, label)]
        self.cum_weights = list(accumulate(e.weight for e in self.entries))
        # first match wins: merge the chain from its last (weakest) link to its first
        self.slots: dict[str, list[Any]] = {}
        for _, slots in reversed(_chain(book, case, label)):
            self.slots.update(slots)
        self.answer_names: dict[int, set[str]] = {}


class TemplateGenerator(Generator):
    """Offline rows from templates; deterministic per (playbook, count, seed)."""

    name = "template"
    _produced: dict[str | None, int]

    def feedback(self, candidate: dict[str, Any], usable: bool) -> None:
        """Count the label that landed (noise may have changed it), not the one aimed at."""
        if self.request.project.task != "classification":
            return
        aimed = candidate.get("_label")
        self._produced[aimed] -= 1
        if usable:
            landed = candidate.get("completion")
            key = landed if landed in self._produced else aimed
            self._produced[key] += 1

    async def stream(self) -> AsyncIterator[Item]:
        req = self.request
        book, project = req.playbook, req.project
        rng = random.Random(req.seed)
        weights = book.label_weights(project)
        named = [lbl for lbl, w in weights.items() if w > 0]
        labels: list[str | None] = [*named] or [None]
        total_w = sum(weights[lbl] for lbl in named) if named else 1.0
        shares = [weights[lbl] / total_w for lbl in named]
        produced = self._produced = dict.fromkeys(labels, 0)
        cases = [c for c in book.hard_cases if c.weight > 0]
        # per label: the cases with templates for it (and their cumulative weights), and a plan
        # per (case, label); `rng.choices(..., cum_weights=...)` draws exactly as `weights=` does
        plans: dict[str | None, tuple[list[_Plan], list[float]]] = {}
        label: str | None
        for label in labels:
            usable = [c for c in cases if _entries(c, label)]
            plans[label] = (
                [_Plan(book, c, label) for c in usable],
                list(accumulate(c.weight for c in usable)),
            )
        renderer = _Renderer(book, project, rng)
        limit = book.max_candidates(req.count)
        choice, choices = rng.choice, rng.choices
        for n in range(limit):
            if labels == [None]:
                label = None
            else:
                done = sum(produced.values()) + 1
                deficits = [share * done - produced[lbl] for share, lbl in zip(shares, labels, strict=False)]
                top = max(deficits) - 1e-9
                label = choice([lbl for lbl, d in zip(labels, deficits, strict=False) if d >= top])
                produced[label] += 1
            case_plans, case_cum = plans[label]
            plan = choices(case_plans, cum_weights=case_cum)[0]
            entry = choices(plan.entries, cum_weights=plan.cum_weights)[0]
            yield renderer.build(plan, label, entry)
            if n % 64 == 63:
                await asyncio.sleep(0)  # let a cancel or the UI in


class _Renderer:
    """Renders rows of one stream: compiled templates (cached per string), one seeded rng.

    A row's drawn slot values live in a dict for that row only, so a slot means one thing per
    row (two `{product}` are the same product, `{fact.q}` and `{fact.a}` the same table).
    """

    def __init__(self, book: Playbook, project: Project, rng: random.Random) -> None:
        self.book, self.project, self.rng = book, project, rng
        self.noise = book.template.noise
        self.prompt = compile_template(book.template.prompt)
        self.compiled: dict[str, _Parts] = {}
        self.label: str | None = None
        self.slots: dict[str, list[Any]] = {}

    def parts(self, template: str) -> _Parts:
        parts = self.compiled.get(template)
        if parts is None:
            parts = self.compiled[template] = compile_template(template)
        return parts

    def render(self, parts: _Parts, drawn: dict[str, Any], text: str = "") -> str:
        """The text of compiled `parts`: slots drawn on first use (into `drawn`), then reused."""
        if isinstance(parts, str):
            return parts
        out, steps = parts
        for kind, name, attr, tail in steps:
            if kind == _SLOT:
                if name in drawn:
                    value = drawn[name]
                else:
                    value = drawn[name] = self.rng.choice(self.slots[name])
                if attr is not None:
                    value = value[attr]
                compiled = self.compiled.get(value)
                if compiled is None:
                    compiled = self.compiled[value] = compile_template(value)
                out += compiled if compiled.__class__ is str else self.render(compiled, drawn)
            elif kind == _LABEL:
                out += self.label or ""
            else:
                out += text
            out += tail
        return out

    def build(self, plan: _Plan, label: str | None, entry: TemplateEntry) -> dict[str, Any]:
        self.label, self.slots = label, plan.slots
        noise, rng = self.noise, self.rng
        drawn: dict[str, Any] = {}
        text = self.render(self.parts(entry.text), drawn)
        completion = self._completion(entry, drawn)
        notes = []
        if noise.wrong_answer and rng.random() < noise.wrong_answer:
            wrong = self._wrong_completion(plan, entry, drawn)
            if wrong is not None and wrong != completion:
                completion = wrong
                notes.append("wrong_answer")
        if noise.typo and rng.random() < noise.typo:
            typoed = typo(text, rng)
            if typoed != text:
                text = typoed
                notes.append("typo")
        prompt = self.render(self.prompt, drawn, text)
        row: dict[str, Any] = {"prompt": prompt, "completion": completion, "hard_case": plan.case.name}
        if notes:
            row["_noise"] = ",".join(notes)
        if label is not None:
            row["_label"] = label
        return row

    def _completion(self, entry: TemplateEntry, drawn: dict[str, Any]) -> str:
        task = self.project.task
        if task == "classification":
            return self.label or ""
        if task == "extraction":
            fields = entry.fields or {}
            obj = {
                f: (self.render(self.parts(fields[f]), drawn) if f in fields else None)
                for f in self.project.fields
            }
            return orjson.dumps(obj).decode()
        if task == "qa":
            return self.render(self.parts(entry.answer or ""), drawn)
        return self.render(self.parts(entry.completion or ""), drawn)

    def _wrong_completion(self, plan: _Plan, entry: TemplateEntry, drawn: dict[str, Any]) -> str | None:
        """The answer with one thing subtly wrong: a confusable label, or one slot redrawn."""
        if self.project.task == "classification":
            others = self.book.template.confusable.get(self.label or "") or [
                lbl for lbl in self.project.labels if lbl != self.label
            ]
            return self.rng.choice(others) if others else None
        names_of = plan.answer_names.get(id(entry))
        if names_of is None:
            answer_strings = [
                s for s in (*(entry.fields or {}).values(), entry.answer, entry.completion) if s
            ]
            names_of = plan.answer_names[id(entry)] = {
                name for s in answer_strings for name, _ in refs(s) if name not in _BUILTINS
            }
        names = sorted(name for name in names_of if name in drawn)
        if not names:
            return None
        name = self.rng.choice(names)
        options = [v for v in self.slots[name] if v != drawn[name]]
        if not options:
            return None
        return self._completion(entry, {**drawn, name: self.rng.choice(options)})


def typo(text: str, rng: random.Random) -> str:
    """`text` with one realistic slip in one word: two letters swapped, one dropped or doubled."""
    words = list(re.finditer(r"[A-Za-z]{4,}", text))
    if not words:
        return text
    m = rng.choice(words)
    w = m.group(0)
    i = rng.randrange(1, len(w) - 2)
    kind = rng.randrange(3)
    if kind == 0 and w[i] != w[i + 1]:
        w2 = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    elif kind == 1:
        w2 = w[:i] + w[i + 1 :]
    else:
        w2 = w[:i] + w[i] + w[i:]
    return text[: m.start()] + w2 + text[m.end() :]
