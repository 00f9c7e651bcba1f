"""Generators: three backends behind one interface, an async stream of candidates.

A generator is built from a `GenRequest` (project, playbook, count, seed, a few imported rows
as examples) and `stream()` yields, in any mix:

- a candidate: a dict with `prompt` and `completion` (and optional extra fields that land on
  the row, e.g. `hard_case`); keys starting with `_` are the generator's private notes and
  never land;
- an `Issue`: output that is not a candidate (an unparseable reply, a garbage line), counted
  under its cause code with the raw text kept, truncated, for the diagnostic;
- a `BackendError`: a request that failed after its retries (HTTP 500, timeout, refused).

A fatal problem (the command exited non-zero) raises `GeneratorFailed`, which fails the job
with its message. After each candidate the job calls `feedback(candidate, usable)`. The job
stops reading when it has enough usable rows and then calls
`aclose()`, which must cancel in-flight work (HTTP requests, a child process) promptly.
Generators never see where rows land: validation, dedup and writing belong to the job.

What the job reads from a generator for the run's record (a model backend fills them in; the
others leave the defaults): `usage` (tokens and requests so far), `structured_mode` (the
structured-output mode in use, see `structured.py`), `cost()` (from the playbook's prices),
`error_advice` (what to do about `last_error`, when the generic "is it up?" would mislead,
e.g. a certificate not trusted) and `advice()` (more lines for the diagnostic).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from brewslm_tui.core.errors import BrewError

if TYPE_CHECKING:
    from brewslm_tui.core.generation.playbooks import Playbook
    from brewslm_tui.core.project import Project

RAW_KEEP = 300  # characters of raw backend output kept per diagnostic example


@dataclass(frozen=True)
class Issue:
    """Generator output that is not a candidate; `cause` is a code from `core.validate.CAUSES`."""

    cause: str
    detail: str


@dataclass(frozen=True)
class BackendError:
    """One backend request that failed for good (after retries). Never holds a secret."""

    message: str


class GeneratorFailed(BrewError):
    """The backend failed in a way no retry fixes; the job fails with this message."""


@dataclass
class GenRequest:
    """What a generator is asked for. `examples` are a few imported rows (dicts)."""

    project: Project
    playbook: Playbook
    count: int
    seed: int
    examples: list[dict[str, Any]] = field(default_factory=list)


Item = dict[str, Any] | Issue | BackendError


@dataclass
class Usage:
    """Tokens a backend reported (`usage` of each reply), summed over the run's requests."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0  # requests answered with a reply (retries and failures excluded)


class Generator:
    """Base of every generator. Subclasses set `name` and implement `stream()`."""

    name: ClassVar[str] = ""

    def __init__(self, request: GenRequest) -> None:
        self.request = request
        self.last_error: str | None = None  # the backend's last error, for the diagnostic
        self.error_advice: str | None = None  # what to do about it, when the generic advice would mislead
        self.usage = Usage()
        self.structured_mode: str | None = None  # None: the generator has no such thing

    def playbook_settings(self, table: str) -> Any:
        """The playbook's `[table]` settings (`openai`, `command`); GeneratorFailed when it has none."""
        settings = getattr(self.request.playbook, table)
        if settings is None:
            raise GeneratorFailed(f"{self.request.playbook.name}: no [{table}] settings")
        return settings

    def stream(self) -> AsyncIterator[Item]:  # pragma: no cover - interface
        raise NotImplementedError

    def feedback(self, candidate: dict[str, Any], usable: bool) -> None:
        """The job's verdict on the candidate just yielded (before the next is asked for).

        A generator that aims at a target (the label balance) counts what actually lands,
        so duplicates and invalid rows do not skew it. Default: ignored.
        """

    async def aclose(self) -> None:
        """Stop promptly: cancel requests in flight, end child processes."""

    def notes(self) -> str | None:
        """Extra words for the diagnostic (e.g. a command's stderr tail), if any."""
        return None

    def advice(self) -> list[str]:
        """Lines of advice only the generator can give (e.g. replies cut at max_tokens)."""
        return []

    def cost(self) -> float | None:
        """What the run's tokens cost so far, from the playbook's prices (None: no prices given)."""
        return None


def generator_class(name: str) -> type[Generator]:
    """The generator called `name` (imported here, not at the top: those modules import this one)."""
    if name == "template":
        from brewslm_tui.core.generation.generators.template import TemplateGenerator

        return TemplateGenerator
    if name == "openai":
        from brewslm_tui.core.generation.generators.openai import OpenAIGenerator

        return OpenAIGenerator
    if name == "command":
        from brewslm_tui.core.generation.generators.command import CommandGenerator

        return CommandGenerator
    raise ValueError(f"unknown generator {name!r}")


def task_spec(project: Project, playbook: Playbook, count: int, seed: int) -> dict[str, Any]:
    """The task as data: what `command` gets on stdin and what `openai` prompts are built from."""
    spec: dict[str, Any] = {
        "project": project.name,
        "description": project.description,
        "task": project.task,
        "scoring": project.scoring,
        "playbook": playbook.name,
        "playbook_description": playbook.description,
        "instructions": playbook.instructions,
        "count": count,
        "seed": seed,
        "limits": {
            "max_prompt_chars": project.limits.max_prompt_chars,
            "max_completion_chars": project.limits.max_completion_chars,
        },
        "hard_cases": [
            {"name": c.name, "description": c.description, "weight": c.weight} for c in playbook.hard_cases
        ],
    }
    if project.task == "classification":
        spec["labels"] = list(project.labels)
        spec["balance"] = playbook.label_weights(project)
    if project.task == "extraction":
        spec["fields"] = list(project.fields)
    if project.task == "qa" and project.scoring == "exact_match":
        spec["limits"]["max_answer_words"] = (
            playbook.limits.max_answer_words or project.limits.qa_max_answer_words
        )
    return spec
