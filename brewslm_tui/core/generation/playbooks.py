"""Synthetic playbooks: `playbooks/*.toml` -> `Playbook`, checked against the project.

A playbook is recipe-aware: it is checked against the project's task shape, labels and fields
when it is loaded, so a mistake (a balance that names a label the project lacks, a template
that references an undefined slot, an openai setting out of range) is an error that names the
file and the key before any job starts, not a job that lands nothing.

    name = "hard-cases"                  # optional, defaults to the file name
    description = "Negation, sarcasm and mixed aspects"
    generator = "template"               # template (default) | openai | command
    count = 200                          # rows a run lands by default
    seed = 7                             # optional; a run without one draws a fresh seed
    balance = "even"                     # or [balance] positive = 2, negative = 1, ...
    instructions = "..."                 # free text for model-backed generators

    [limits]                             # when a run gives up (defaults below)
    max_failure_rate = 0.8
    min_candidates = 40

    [[hard_cases]]                       # what the playbook aims at
    name = "negation"
    description = "Negated praise and complaints: 'not bad', 'never disappointed'"
    weight = 2
    [hard_cases.templates]               # template generator: texts per label ...
    positive = ["Not bad at all: the {product} {good_thing}."]

    [template]  /  [openai]  /  [command]   # generator settings (see core/generation/generators/)
    # [openai]: base_url, model, api_key_env (a NAME), structured = "auto", ca_bundle, limits...

Template syntax (`{slot}`, `{slot.attr}`, `{{` for a literal brace) is described in
`core/generation/generators/template.py`, which also does the slot checks.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from brewslm_tui.core.errors import ProjectError
from brewslm_tui.core.generation.generators.command import CommandSettings, check_program
from brewslm_tui.core.generation.generators.openai import OpenAISettings
from brewslm_tui.core.generation.generators.template import TemplateEntry, TemplateSettings, check_templates
from brewslm_tui.core.project import Project
from brewslm_tui.core.toml_errors import describe_validation_error, did_you_mean, toml_syntax_message

GeneratorName = Literal["template", "openai", "command"]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def _valid_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid name (letters, digits, '_', '-', '.')")
    return value


Name = Annotated[str, AfterValidator(_valid_name)]  # a playbook's or a hard case's name


class _Strict(BaseModel):
    """No unknown keys (a typo must not silently change a run); ints stay ints."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PlaybookLimits(_Strict):
    """When a run gives up, and how long a short answer may be.

    A run stops early as failed once it has seen `min_candidates` attempts and more than
    `max_failure_rate` of them were not usable (invalid, duplicate, unparseable or a backend
    error), or after `max_backend_errors_in_a_row` backend errors with no success between them
    (the server is down: no point waiting out the failure rate).
    """

    max_failure_rate: float = Field(0.8, gt=0, le=1)
    min_candidates: int = Field(40, ge=1)
    max_backend_errors_in_a_row: int = Field(3, ge=1)
    max_candidates: int | None = Field(None, ge=1)  # default: 4 x count + 20
    max_answer_words: int | None = Field(None, ge=1)  # qa + exact_match; default: the project's
    batch_rows: int = Field(
        1000, ge=1, le=10_000
    )  # rows that start an append (rows also land at least once a second; rows that come while one is written join the next)


class HardCase(_Strict):
    """A hard case the playbook aims at: free text for people and models, templates for `template`."""

    name: Name
    description: str = ""
    weight: float = Field(1.0, ge=0)
    # template generator: per label (classification) or a plain list (other shapes)
    templates: dict[str, list[str | TemplateEntry]] | list[str | TemplateEntry] = Field(default_factory=list)
    slots: dict[str, list[Any]] = Field(default_factory=dict)
    label_slots: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)


class Playbook(_Strict):
    """One playbook file, loaded and checked against its project."""

    path: Path
    name: Name
    description: str = ""
    generator: GeneratorName = "template"
    count: int = Field(100, ge=1, le=10_000_000)
    seed: int | None = None
    balance: Literal["even"] | dict[str, float] = "even"
    instructions: str = ""
    hard_cases: list[HardCase] = Field(default_factory=list)
    limits: PlaybookLimits = Field(default_factory=lambda: PlaybookLimits.model_validate({}))
    template: TemplateSettings = Field(default_factory=TemplateSettings)
    openai: OpenAISettings | None = None
    command: CommandSettings | None = None

    def label_weights(self, project: Project) -> dict[str, float]:
        """The balance target as weights per label (classification; {} otherwise)."""
        if project.task != "classification":
            return {}
        if self.balance == "even":
            return dict.fromkeys(project.labels, 1.0)
        return {label: float(self.balance.get(label, 0.0)) for label in project.labels}

    def max_candidates(self, count: int) -> int:
        return self.limits.max_candidates or 4 * count + 20


# --- loading ------------------------------------------------------------------------------


def find_playbook_file(project: Project, name: str) -> Path:
    """The file of playbook `name`: `playbooks/<name>.toml`, or a file whose `name` key says so."""
    direct = project.playbooks_dir / f"{name}.toml"
    if direct.is_file():
        return direct
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.is_file():
        return candidate
    files = sorted(project.playbooks_dir.glob("*.toml")) if project.playbooks_dir.is_dir() else []
    for file in files:
        try:
            data = tomllib.loads(file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("name") == name:
            return file
    known = [f.stem for f in files]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "none"
    raise ProjectError(f"{_shown(project, direct)}: no playbook named {name!r} (playbooks: {listing}){hint}")


def load_playbook(project: Project, path: str | Path) -> Playbook:
    """Load one playbook file and check it against `project`; problems raise `ProjectError`."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = project.root / path
    shown = _shown(project, path)
    try:
        source = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{shown}: no such file") from None
    except UnicodeDecodeError:
        raise ProjectError(f"{shown}: not UTF-8 text") from None
    except OSError as exc:
        raise ProjectError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(toml_syntax_message(shown, str(exc))) from None

    problems: list[str] = []
    if "path" in data:
        problems.append("path: unknown key")
        data.pop("path")
    if isinstance(data.get("openai"), dict) and "api_key" in data["openai"]:
        problems.append(
            "openai.api_key: never put a key in a playbook; set api_key_env to the name "
            "of an environment variable that holds it"
        )
        data["openai"] = {k: v for k, v in data["openai"].items() if k != "api_key"}
    data.setdefault("name", path.stem)
    try:
        playbook = Playbook.model_validate({**data, "path": path.absolute()})
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc, collapse_unions=True))
        raise ProjectError("\n".join(f"{shown}: {p}" for p in problems)) from None
    problems.extend(_check_against_project(playbook, project))
    if problems:
        raise ProjectError("\n".join(f"{shown}: {p}" for p in problems))
    return playbook


def load_playbooks(project: Project) -> tuple[list[Playbook], list[ProjectError]]:
    """Every playbook of the project, in file-name order, and an error for each bad file."""
    books: list[Playbook] = []
    errors: list[ProjectError] = []
    folder = project.playbooks_dir
    if not folder.is_dir():
        return books, errors
    seen: dict[str, Path] = {}
    for file in sorted(folder.glob("*.toml")):
        try:
            book = load_playbook(project, file)
        except ProjectError as exc:
            errors.append(exc)
            continue
        if book.name in seen:
            errors.append(
                ProjectError(
                    f"{_shown(project, file)}: name: {book.name!r} is already the name of "
                    f"{_shown(project, seen[book.name])}"
                )
            )
            continue
        seen[book.name] = file
        books.append(book)
    return books, errors


def get_playbook(project: Project, name: str) -> Playbook:
    """The playbook called `name` (file stem or `name` key), loaded and checked."""
    return load_playbook(project, find_playbook_file(project, name))


# --- recipe-aware checks ------------------------------------------------------------------


def _check_against_project(book: Playbook, project: Project) -> list[str]:
    problems: list[str] = []
    labels = project.labels
    if isinstance(book.balance, dict):
        if project.task != "classification":
            problems.append(
                f'balance: only for classification projects (this project has task = "{project.task}"); '
                'leave it out or write balance = "even"'
            )
        else:
            for label, weight in book.balance.items():
                if label not in labels:
                    problems.append(
                        f"balance.{label}: not a label of this project (labels: {', '.join(labels)})"
                        + did_you_mean(label, labels)
                    )
                elif weight < 0:
                    problems.append(f"balance.{label}: must be 0 or more (got {weight})")
            if not any(w > 0 for lbl, w in book.balance.items() if lbl in labels):
                problems.append("balance: at least one label needs a weight above 0")
    names = [c.name for c in book.hard_cases]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"hard_cases: name {name!r} used more than once")
    for i, case in enumerate(book.hard_cases):
        for label in case.label_slots:
            if label not in labels:
                problems.append(
                    f"hard_cases[{i}].label_slots.{label}: not a label of this project"
                    f" (labels: {', '.join(labels) or 'none: this is not a classification project'})"
                )
    for label in book.template.label_slots:
        if label not in labels:
            problems.append(
                f"template.label_slots.{label}: not a label of this project"
                f" (labels: {', '.join(labels) or 'none: this is not a classification project'})"
            )
    if book.generator == "template":
        problems.extend(check_templates(book, project))
    elif book.generator == "openai":
        if book.openai is None:
            problems.append('openai: generator = "openai" needs an [openai] table (base_url, model, ...)')
        else:
            bundle = book.openai.ca_bundle_path(project.root)
            if bundle is not None and not bundle.is_file():
                problems.append(f"openai.ca_bundle: no such file: {bundle} (a PEM file of the CAs to trust)")
    elif book.generator == "command":
        if book.command is None:
            problems.append('command: generator = "command" needs a [command] table with argv = [...]')
        else:
            why = check_program(book.command.argv[0], project.root)
            if why:
                problems.append(f"command.argv[0]: {why}")
    if book.limits.max_answer_words is not None and project.task != "qa":
        problems.append(
            f'limits.max_answer_words: only for qa projects (this project has task = "{project.task}")'
        )
    return problems


# --- messages -----------------------------------------------------------------------------


def _shown(project: Project, path: Path) -> str:
    try:
        return str(path.absolute().relative_to(project.root))
    except ValueError:
        return str(path)
