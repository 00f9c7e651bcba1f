"""The `openai` generator: any OpenAI-compatible chat-completions server.

vLLM, llama.cpp server, Ollama or a hosted API: `POST {base_url}/chat/completions`. Each
request asks for `rows_per_request` rows aimed at one hard case and a slice of the label
balance; at most `concurrency` requests are in flight; each request gets `timeout` seconds
and up to `retries` retries with exponential backoff (from `backoff` seconds, doubling; a
`Retry-After` header is honoured up to 30 s) on 429, 5xx, timeouts and connection errors.

The API key is read from the environment variable the playbook names in `api_key_env`, is
sent only in the Authorization header, and is scrubbed from every error message, so it is
never written to a file, a log or a diagnostic.

The prompt is built from the task spec (shape, labels or fields, scoring, limits), the
playbook's instructions and hard case, and a few imported rows as examples. The reply is
parsed tolerantly: a JSON array of objects, JSON objects one per line, inside code fences
or surrounded by prose; a reply with no rows in it is an `unparseable_reply` issue with the
raw text kept (truncated).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brewslm_tui.core.generation.generators import (
    RAW_KEEP,
    BackendError,
    Generator,
    GeneratorFailed,
    GenRequest,
    Issue,
    Item,
    task_spec,
)
from brewslm_tui.core.generation.generators._http import HTTPClient, HTTPProtocolError

_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RETRY_STATUSES = frozenset({408, 409, 425, 429})


class OpenAISettings(BaseModel):
    """`[openai]`: where the server is and how hard to push it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    base_url: str
    model: str
    api_key_env: str | None = None
    temperature: float = Field(0.8, ge=0, le=2)
    max_tokens: int = Field(2048, ge=1)
    concurrency: int = Field(4, ge=1, le=64)
    timeout: float = Field(120.0, gt=0)  # seconds per request
    retries: int = Field(3, ge=0, le=10)
    backoff: float = Field(1.0, ge=0, le=60)  # first retry wait, doubling
    rows_per_request: int = Field(10, ge=1, le=200)
    examples: int = Field(3, ge=0, le=20)  # imported rows shown in the prompt
    system_prompt: str | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError(
                f"must be an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1 (got {value!r})"
            )
        return value.rstrip("/")

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the model the server serves")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _ENV_RE.match(value) or value.startswith(("sk-", "sk_")):
            raise ValueError(
                "must be the NAME of an environment variable that holds the key (e.g. OPENAI_API_KEY), "
                "never the key itself"
            )
        return value


class OpenAIGenerator(Generator):
    """Candidates from a chat-completions server, `concurrency` requests at a time."""

    name = "openai"

    def __init__(self, request: GenRequest) -> None:
        super().__init__(request)
        settings = request.playbook.openai
        if settings is None:
            raise GeneratorFailed(f"{request.playbook.name}: no [openai] settings")
        self.settings = settings
        self._key: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._client: HTTPClient | None = None
        # backpressure: rows asked for and not yet handed to the job, and rows the job found
        # usable. A worker starts a request only while these fall short of the count, so a fast
        # server is not asked for four times the rows the job needs.
        self._outstanding = 0
        self._usable = 0
        self._wake = asyncio.Event()

    def feedback(self, candidate: dict[str, Any], usable: bool) -> None:
        self._usable += usable
        self._wake.set()

    def _scrub(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return text

    async def stream(self) -> AsyncIterator[Item]:
        s, req = self.settings, self.request
        if s.api_key_env:
            self._key = os.environ.get(s.api_key_env)
            if not self._key:
                raise GeneratorFailed(
                    f"the environment variable {s.api_key_env} (openai.api_key_env) is not set; "
                    "export it with the API key before running this playbook"
                )
        self._client = HTTPClient(s.base_url, max_connections=s.concurrency)
        total = math.ceil(req.playbook.max_candidates(req.count) / s.rows_per_request)
        queue: asyncio.Queue[list[Item] | None] = asyncio.Queue()
        next_index = iter(range(total))

        async def worker() -> None:
            try:
                for i in next_index:
                    while self._usable + self._outstanding >= req.count:
                        self._wake.clear()
                        await self._wake.wait()
                    self._outstanding += s.rows_per_request
                    items: list[Item] = []
                    try:
                        items = await self._one_request(i)
                    finally:
                        # what the reply did not bring (or a failed request) frees its share now
                        self._outstanding -= s.rows_per_request - sum(
                            1 for item in items if isinstance(item, dict)
                        )
                        self._wake.set()
                    queue.put_nowait(items)
            finally:
                queue.put_nowait(None)

        self._tasks = [asyncio.create_task(worker()) for _ in range(min(s.concurrency, total))]
        running = len(self._tasks)
        try:
            while running:
                items = await queue.get()
                if items is None:
                    running -= 1
                    continue
                for item in items:
                    yield item
                    if isinstance(item, dict):
                        self._outstanding -= 1
                        self._wake.set()
            for task in self._tasks:
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()

    # --- one request ---------------------------------------------------------------------

    async def _one_request(self, index: int) -> list[Item]:
        s = self.settings
        case, body = self._body(index)
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        assert self._client is not None
        url = self._client.url("/chat/completions")
        error = ""
        for attempt in range(s.retries + 1):
            wait = s.backoff * (2**attempt)
            try:
                resp = await self._client.post("/chat/completions", body, headers, timeout=s.timeout)
            except TimeoutError:
                error = f"timed out after {s.timeout:g} s waiting for {url}"
            except (OSError, asyncio.IncompleteReadError, HTTPProtocolError) as exc:
                error = f"cannot reach {url}: {_describe(exc)}"
            else:
                if resp.status == 200:
                    return self._parse(resp.body, case)
                snippet = resp.body[:200].decode("utf-8", "replace").strip()
                error = f"HTTP {resp.status} from {url}" + (f": {snippet}" if snippet else "")
                if not (resp.status in RETRY_STATUSES or resp.status >= 500):
                    return [BackendError(self._scrub(error))]
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    wait = min(30.0, float(retry_after))
            if attempt < s.retries:
                await asyncio.sleep(wait)
        self.last_error = self._scrub(error)
        return [BackendError(self._scrub(error) + f" (after {s.retries + 1} attempts)")]

    def _body(self, index: int) -> tuple[str | None, bytes]:
        s, req = self.settings, self.request
        rng = random.Random(req.seed * 1_000_003 + index)
        cases = [c for c in req.playbook.hard_cases if c.weight > 0]
        case = rng.choices(cases, weights=[c.weight for c in cases])[0] if cases else None
        n = s.rows_per_request
        messages = [
            {"role": "system", "content": s.system_prompt or system_prompt(req)},
            {
                "role": "user",
                "content": user_prompt(req, case, n, self._labels_for(index, n), req.examples[: s.examples]),
            },
        ]
        body = {
            "model": s.model,
            "messages": messages,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "seed": req.seed + index,
            "stream": False,
        }
        return (case.name if case else None), orjson.dumps(body)

    def _labels_for(self, index: int, n: int) -> list[str]:
        """Labels for rows index*n .. index*n+n-1 of the run, following the balance target."""
        req = self.request
        weights = {k: w for k, w in req.playbook.label_weights(req.project).items() if w > 0}
        if not weights:
            return []
        before, upto = _allocate(weights, index * n), _allocate(weights, index * n + n)
        counts = {lbl: max(0, upto[lbl] - before[lbl]) for lbl in weights}
        top = max(weights, key=weights.__getitem__)
        counts[top] += n - sum(counts.values())
        return [lbl for lbl in weights for _ in range(max(0, counts[lbl]))][:n]

    def _parse(self, raw: bytes, case: str | None) -> list[Item]:
        try:
            payload = orjson.loads(raw)
            content = payload["choices"][0]["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not text")
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            text = raw[:RAW_KEEP].decode("utf-8", "replace")
            error = self._scrub(f"the server's response is not a chat completion ({_describe(exc)}): {text}")
            self.last_error = error
            return [BackendError(error)]
        rows = parse_reply(content)
        if not rows:
            return [Issue("unparseable_reply", self._scrub(content[:RAW_KEEP]))]
        out: list[Item] = []
        for row in rows:
            cand = {"prompt": row.get("prompt"), "completion": row.get("completion")}
            if case:
                cand["hard_case"] = case
            out.append(cand)
        return out


def _allocate(weights: dict[str, float], k: int) -> dict[str, int]:
    """`k` rows shared out by weight, largest remainder first."""
    total = sum(weights.values())
    exact = {lbl: w / total * k for lbl, w in weights.items()}
    out = {lbl: math.floor(x) for lbl, x in exact.items()}
    for lbl in sorted(weights, key=lambda lbl: out[lbl] - exact[lbl])[: k - sum(out.values())]:
        out[lbl] += 1
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


# --- prompts ------------------------------------------------------------------------------


_SHAPE_TEXT = {
    "classification": "Each row is a text to classify (prompt) and its label (completion). The completion is exactly "
    "one of the labels: {labels}, nothing else.",
    "extraction": "Each row is a text (prompt) and the fields extracted from it (completion): a JSON object with "
    "exactly these keys: {fields}; a value the text does not state is null.",
    "qa": "Each row is a question with its context (prompt) and the answer (completion).",
    "generation": "Each row is an instruction or input (prompt) and the ideal output (completion).",
}


def system_prompt(req: GenRequest) -> str:
    project = req.project
    spec = task_spec(project, req.playbook, req.count, req.seed)
    shape = _SHAPE_TEXT[project.task].format(
        labels=", ".join(project.labels), fields=", ".join(project.fields)
    )
    lines = [
        "You write training data for a small language model.",
        f"Project: {project.name}. {project.description}".strip(),
        f"Task shape: {project.task}; scoring: {project.scoring}. {shape}",
        f"Limits: prompt at most {project.limits.max_prompt_chars} characters, completion at most "
        f"{project.limits.max_completion_chars} characters.",
    ]
    if "max_answer_words" in spec["limits"]:
        lines.append(
            f"Answers are short: at most {spec['limits']['max_answer_words']} words, the answer only."
        )
    lines.append(
        'Reply with a JSON array of objects, each {"prompt": "...", "completion": ...}, and nothing else.'
    )
    return "\n".join(lines)


def user_prompt(req: GenRequest, case: Any, n: int, labels: list[str], examples: list[dict[str, Any]]) -> str:
    book = req.playbook
    parts = []
    if book.description:
        parts.append(f"Goal: {book.description}")
    if book.instructions:
        parts.append(book.instructions.strip())
    if case is not None:
        parts.append(
            f"Focus on this hard case: {case.name}" + (f": {case.description}" if case.description else "")
        )
    if examples:
        shown = "\n".join(
            orjson.dumps({"prompt": e["prompt"], "completion": e["completion"]}).decode() for e in examples
        )
        parts.append(f"Examples of existing rows (write new ones, do not copy them):\n{shown}")
    ask = f"Write {n} new, varied rows."
    if labels:
        counts = {lbl: labels.count(lbl) for lbl in dict.fromkeys(labels)}
        ask += " Labels: " + ", ".join(f"{k} x{v}" for k, v in counts.items()) + "."
    parts.append(ask + " Reply with only the JSON array.")
    return "\n\n".join(parts)


# --- reply parsing ------------------------------------------------------------------------


_FENCE_RE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.S)
_DECODER = json.JSONDecoder()


def parse_reply(text: str) -> list[dict[str, Any]]:
    """Rows in a model's reply: a JSON array, JSONL, or objects amid prose or code fences."""
    blocks = _FENCE_RE.findall(text) or [text]
    rows: list[dict[str, Any]] = []
    for block in blocks:
        rows.extend(_scan(block))
    if not rows and blocks != [text]:
        rows = _scan(text)
    return rows


def _scan(text: str) -> list[dict[str, Any]]:
    """Decode every top-level JSON array/object in `text`; keep objects that look like rows."""
    rows: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        j = min((k for k in (text.find("[", i), text.find("{", i)) if k >= 0), default=-1)
        if j < 0:
            break
        try:
            value, end = _DECODER.raw_decode(text, j)
        except ValueError:
            i = j + 1
            continue
        rows.extend(_rows_in(value))
        i = end
    return rows


def _rows_in(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        if "prompt" in value or "completion" in value:
            return [value]
        for v in value.values():  # {"rows": [...]} and friends
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                return v
    return []
