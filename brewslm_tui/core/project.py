"""The project file: `brewslm.toml` -> `Project`.

A project folder holds `brewslm.toml`; everything else (data paths, state, playbooks) hangs off
its folder. The file is strict on purpose: an unknown key is an error, because a typo such as
`lables = [...]` must not silently leave the project without labels. Every problem becomes a
`ProjectError` whose lines read `FILE: field.path: what is wrong` (a TOML syntax error reads
`FILE:LINE: TOML syntax: ...`), never a traceback or a pydantic dump.

Which scoring mode fits which task shape (`SCORING_FOR_TASK`):

| scoring     | classification | extraction | qa  | generation |
|-------------|:--------------:|:----------:|:---:|:----------:|
| exact_match | yes            | yes        | yes |            |
| f1          | yes            | yes        | yes |            |
| rouge_l     |                |            | yes | yes        |
| judge       |                | yes        | yes | yes        |

exact_match and f1 need a closed or short reference answer (a label, a field value, a short
answer); rouge_l measures overlap of running text, meaningless for a label; judge (a model
grades the output) fits open answers and structured extraction, but adds nothing over an exact
comparison for a closed label set. Free generation has no single right answer, so only rouge_l
and judge fit it.

Labels belong to classification only (at least two, unique after `normalize_label`); `fields`
to extraction only (unique Python identifiers, the keys of the completion's JSON object).
Reject-reason keys are single characters that must not collide with the review keys
(`RESERVED_KEYS`); digits 1-9 are the natural choice.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import tomllib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from brewslm_tui.core.errors import ProjectError
from brewslm_tui.core.text import has_control_chars, visible
from brewslm_tui.core.toml_errors import describe_validation_error, toml_syntax_message

TaskShape = Literal["classification", "extraction", "qa", "generation"]
ScoringMode = Literal["exact_match", "f1", "rouge_l", "judge"]

SCORING_FOR_TASK: dict[str, tuple[str, ...]] = {
    "classification": ("exact_match", "f1"),
    "extraction": ("exact_match", "f1", "judge"),
    "qa": ("exact_match", "f1", "rouge_l", "judge"),
    "generation": ("rouge_l", "judge"),
}

PROJECT_FILE = "brewslm.toml"

# Keys the review screen already uses; a reject reason's key must be none of these.
RESERVED_KEYS = frozenset("axeupdjkgGncq /?")

_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")


def _fail(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as-is (no "Value error, " prefix)."""
    return PydanticCustomError("project", message.replace("{", "{{").replace("}", "}}"))


def _one_line(value: str, what: str = "", *, allow_empty: bool = False) -> str:
    """A one-line, printable text; `what` names it when the error's location does not."""
    prefix = f"{what} " if what else ""
    if not allow_empty and not value.strip():
        raise _fail(f"{prefix}must not be empty")
    if "\n" in value or "\r" in value:
        raise _fail(f"{prefix}must be one line")
    if has_control_chars(value):
        raise _fail(f"{prefix}contains control characters")
    return value


class _Strict(BaseModel):
    """TOML values arrive typed: no coercion (a quoted "4000" is not an int), no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RejectReason(_Strict):
    """Why a row was rejected; `key` is the one-key shortcut in the reasons picker."""

    model_config = ConfigDict(frozen=True)

    code: str
    title: str
    key: str
    description: str = ""

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CODE_RE.match(value):
            raise _fail(f"{value!r} is not a valid code (letters, digits, '_' and '-', e.g. wrong_label)")
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _one_line(value)

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return _one_line(value, allow_empty=True)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if len(value) != 1:
            raise _fail(f"must be exactly one character (got {value!r}); digits 1-9 work best")
        if value in RESERVED_KEYS:
            shown = "space" if value == " " else value
            raise _fail(f"{shown!r} is a review key; pick another (digits 1-9 work best)")
        if not value.isprintable() or value.isspace():
            raise _fail(f"{value!r} is not a printable key")
        return value


DEFAULT_REASONS: tuple[RejectReason, ...] = (
    RejectReason(
        code="label_ambiguous",
        title="Label ambiguous",
        key="1",
        description="Reasonable people could pick a different label for this text.",
    ),
    RejectReason(
        code="wrong_label",
        title="Wrong label",
        key="2",
        description="The completion contradicts the prompt; the answer is simply wrong.",
    ),
    RejectReason(
        code="minor_typo",
        title="Minor typo",
        key="3",
        description="Right idea, small slip in wording or format; fix it and approve.",
    ),
    RejectReason(
        code="off_task",
        title="Off task",
        key="4",
        description="The row does not exercise the task this project trains.",
    ),
    RejectReason(
        code="duplicate",
        title="Duplicate",
        key="5",
        description="Same as, or a trivial rewording of, a row we already have.",
    ),
    RejectReason(
        code="unsafe",
        title="Unsafe",
        key="6",
        description="Harmful, private or otherwise unfit text to train on.",
    ),
    RejectReason(
        code="low_quality",
        title="Low quality",
        key="7",
        description="Unnatural, garbled or too easy to teach the model anything.",
    ),
)


class Limits(_Strict):
    """Size limits candidate validation applies to generated rows."""

    max_prompt_chars: int = Field(default=4000, gt=0)
    max_completion_chars: int = Field(default=4000, gt=0)
    qa_max_answer_words: int = Field(default=8, gt=0)


class DataPaths(_Strict):
    """Data files, relative to the project folder and inside it (see `confine_data_paths`).

    A project file is untrusted input: `synthetic = "../victim.txt"` or an absolute path would
    let compaction rewrite a file elsewhere, so both are refused. `allow_symlinks = true` is the
    explicit opt-in for data files (or `.brewslm/`) that are symlinks, e.g. data on another disk.
    """

    imported: str = "data/imported.jsonl"
    synthetic: str = "data/synthetic.jsonl"
    dropped: str = "data/dropped.jsonl"
    allow_symlinks: bool = False

    @field_validator("imported", "synthetic", "dropped")
    @classmethod
    def _path(cls, value: str) -> str:
        _one_line(value)
        if "\x00" in value:
            raise _fail("must not contain a NUL byte")
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
            raise _fail(f"{value!r} is an absolute path; data paths are relative to the project folder")
        if ".." in PurePosixPath(value.replace("\\", "/")).parts:
            raise _fail(f"{value!r} leaves the project folder ('..'); data paths stay inside it")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> DataPaths:
        if len({Path(self.imported), Path(self.synthetic), Path(self.dropped)}) < 3:
            raise _fail("imported, synthetic and dropped must be three different files")
        return self


class Project(_Strict):
    """A loaded project. `root` is the project folder (absolute), `file` its `brewslm.toml`."""

    root: Path = Field(strict=False)
    file: Path = Field(strict=False)
    name: str
    description: str = ""
    task: TaskShape
    scoring: ScoringMode
    labels: list[str] = Field(default_factory=list, validate_default=True)
    fields: list[str] = Field(default_factory=list, validate_default=True)
    reject_reasons: list[RejectReason] = Field(default_factory=lambda: list(DEFAULT_REASONS))
    data: DataPaths = Field(default_factory=DataPaths)
    limits: Limits = Field(default_factory=Limits)

    _by_code: dict[str, RejectReason] = PrivateAttr(default_factory=dict)
    _by_key: dict[str, RejectReason] = PrivateAttr(default_factory=dict)
    _by_label: dict[str, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        self._by_code = {r.code: r for r in self.reject_reasons}
        self._by_key = {r.key: r for r in self.reject_reasons}
        self._by_label = {self.normalize_label(label): label for label in self.labels}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _one_line(value)

    @field_validator("scoring")
    @classmethod
    def _scoring(cls, value: str, info: ValidationInfo) -> str:
        task = info.data.get("task")
        if task is not None and value not in SCORING_FOR_TASK[task]:
            fits = ", ".join(SCORING_FOR_TASK[task])
            raise _fail(f'"{value}" does not fit task = "{task}" (use one of: {fits})')
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str], info: ValidationInfo) -> list[str]:
        task = info.data.get("task")
        if task is None:
            return value
        if task != "classification":
            if value:
                raise _fail(f'only for task = "classification" (this project has task = "{task}")')
            return value
        if not value:
            raise _fail('required when task = "classification"')
        if len(value) < 2:
            raise _fail("a classifier needs at least two labels")
        scoring = info.data.get("scoring")
        seen: dict[str, str] = {}
        for label in value:
            if label != label.strip() or not label:
                raise _fail(f"label {label!r} is empty or has surrounding whitespace")
            _one_line(label, f"label {label!r}")
            norm = _normalize(label, scoring)
            if norm in seen:
                raise _fail(
                    f"{label!r} repeats {seen[norm]!r}"
                    + (
                        " (labels compare case-insensitively under exact_match)"
                        if label != seen[norm]
                        else ""
                    )
                )
            seen[norm] = label
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str], info: ValidationInfo) -> list[str]:
        task = info.data.get("task")
        if task is None:
            return value
        if task != "extraction":
            if value:
                raise _fail(f'only for task = "extraction" (this project has task = "{task}")')
            return value
        if not value:
            raise _fail('required when task = "extraction" (the keys of the completion\'s JSON object)')
        for name in value:
            if not name.isidentifier():
                raise _fail(f"{name!r} is not an identifier (letters, digits and '_', e.g. order_id)")
        repeated = sorted({n for n in value if value.count(n) > 1})
        if repeated:
            raise _fail(f"{', '.join(map(repr, repeated))} listed more than once")
        return value

    @field_validator("reject_reasons")
    @classmethod
    def _reasons(cls, value: list[RejectReason]) -> list[RejectReason]:
        if not value:
            raise _fail("name at least one reason, or leave [[reject_reasons]] out to get the defaults")
        problems = []
        for attr in ("code", "key"):
            seen: dict[str, int] = {}
            for i, reason in enumerate(value):
                item = getattr(reason, attr)
                if item in seen:
                    problems.append(f"{attr} {item!r} used twice ([{seen[item]}] and [{i}])")
                seen.setdefault(item, i)
        if problems:
            raise _fail("; ".join(problems))
        return value

    # --- paths -------------------------------------------------------------------------

    @property
    def imported_path(self) -> Path:
        return self.root / self.data.imported

    @property
    def synthetic_path(self) -> Path:
        return self.root / self.data.synthetic

    @property
    def dropped_path(self) -> Path:
        return self.root / self.data.dropped

    @property
    def state_dir(self) -> Path:
        return self.root / ".brewslm"

    @property
    def playbooks_dir(self) -> Path:
        return self.root / "playbooks"

    # --- lookups -----------------------------------------------------------------------

    def reason(self, code: str) -> RejectReason | None:
        return self._by_code.get(code)

    def reason_for_key(self, key: str) -> RejectReason | None:
        return self._by_key.get(key)

    def normalize_label(self, text: str) -> str:
        """What the scoring mode implies about comparing labels: strip; casefold for exact_match."""
        return _normalize(text, self.scoring)

    def label_for(self, text: str) -> str | None:
        """The canonical label `text` stands for after `normalize_label`, or None."""
        return self._by_label.get(self.normalize_label(text))


def _normalize(text: str, scoring: str | None) -> str:
    text = text.strip()
    return text.casefold() if scoring == "exact_match" else text


# --- loading ------------------------------------------------------------------------------

_KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "": tuple(k for k in Project.model_fields if k not in ("root", "file")),
    "data": tuple(DataPaths.model_fields),
    "limits": tuple(Limits.model_fields),
    "reject_reasons": tuple(RejectReason.model_fields),
}


def load_project(path: str | Path) -> Project:
    """Load a project from its folder or its `brewslm.toml`; every problem is a `ProjectError`."""
    path = Path(path)
    file = path / PROJECT_FILE if path.is_dir() else path
    shown = str(file)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        if path.is_dir():
            raise ProjectError(f"{path}: not a brewslm project (no {PROJECT_FILE} in this folder)") from None
        raise ProjectError(f"{shown}: no such file or folder") from None
    except OSError as exc:
        raise ProjectError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    try:
        source = raw.decode("utf-8-sig")  # a BOM from a Windows editor is not an error
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProjectError(f"{shown}:{line}: not UTF-8 text") from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise _error([toml_syntax_message(shown, str(exc), source)]) from None

    # root and file are ours, not the file's: as keys in the file they are unknown keys
    problems = [f"{shown}: {key}: unknown key{_suggest([key])}" for key in ("root", "file") if key in data]
    settings = {k: v for k, v in data.items() if k not in ("root", "file")}
    try:
        project = Project.model_validate(
            {**settings, "root": file.parent.absolute(), "file": file.absolute()}
        )
    except ValidationError as exc:
        problems.extend(f"{shown}: {line}" for line in describe_validation_error(exc, suggest=_suggest))
    if problems:
        raise _error(problems)
    problems = confine_data_paths(project)
    if problems:
        raise _error([f"{shown}: {line}" for line in problems])
    return project


def confine_data_paths(project: Project) -> list[str]:
    """Problems that would let a command touch a file outside the project folder.

    Each data file and `.brewslm/` must resolve inside the (resolved) project folder, and no
    part of its path below the folder may be a symlink unless `[data] allow_symlinks = true`
    (then a symlink may point anywhere: the user said so). Checked once, at load; a path that
    does not exist yet is checked up to its deepest existing part.
    """
    root = project.root.resolve()
    allow = project.data.allow_symlinks
    checks = (
        ("data.imported", project.data.imported),
        ("data.synthetic", project.data.synthetic),
        ("data.dropped", project.data.dropped),
        (".brewslm", ".brewslm"),
    )
    problems = []
    links: dict[Path, list[str]] = {}  # a symlink on the way -> the fields whose path crosses it
    for field, rel in checks:
        part = root
        for name in PurePosixPath(rel.replace("\\", "/")).parts:
            part = part / name
            if part.is_symlink() and not allow:
                links.setdefault(part, []).append(field)
                break
        else:
            target = (root / rel).resolve()
            if not allow and not target.is_relative_to(root):
                problems.append(f"{field}: {visible(str(target))} is outside the project folder {root}")
    for link, fields in links.items():
        shown = visible(str(link.relative_to(root)))
        problems.append(
            f"{', '.join(fields)}: {shown} is a symlink (to {visible(os.readlink(link))}); "
            "refused unless [data] allow_symlinks = true"
        )
    return problems


_NAME_RE = re.compile(r"[^\x00-\x20/\\\x7f][^\x00-\x1f/\\\x7f]*\Z")


def name_problem(value: str) -> str | None:
    """Why `value` cannot be a playbook name or run id, or None.

    Names pick files (`playbooks/<name>.toml`, `.brewslm/jobs/<run_id>.json`), so a name that
    is a path (`../x`, `/etc/x`), hidden (`.x`) or holds control characters is refused.
    """
    if not value:
        return "must not be empty"
    if value.startswith(".") or not _NAME_RE.match(value) or has_control_chars(value):
        return "is not a name (no '/', '\\', control characters, or leading '.')"
    return None


def writable_problem(project: Project) -> str | None:
    """Why decisions cannot be saved here (a read-only filesystem or folder), or None.

    A real probe, not `os.access` (which says yes to root on most folders): create and remove
    a temporary file where the store writes first, `.brewslm/` (or the project folder when
    `.brewslm/` does not exist yet).
    """
    folder = project.state_dir if project.state_dir.is_dir() else project.root
    try:
        fd, name = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
    except OSError as exc:
        return f"{exc.strerror or exc}: cannot write in {folder}"  # the cause first: banners are narrow
    os.close(fd)
    os.unlink(name)
    return None


def _error(lines: list[str]) -> ProjectError:
    """One line per problem; keys and values from the file are untrusted, so made visible."""
    return ProjectError("\n".join(visible(line) for line in lines))


def _suggest(loc: list[Any]) -> str:
    section = str(loc[0]) if len(loc) > 1 else ""
    known = _KNOWN_KEYS.get(section)
    if not known:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(known)}){hint}"
