"""The `openai` generator: any OpenAI-compatible chat-completions server.

vLLM, llama.cpp server, Ollama or a hosted API: `POST {base_url}/chat/completions`. Each
request asks for `rows_per_request` rows aimed at one hard case and a slice of the label
balance; at most `concurrency` requests are in flight; each request gets `timeout` seconds
and up to `retries` retries with exponential backoff (from `backoff` seconds, doubling; a
`Retry-After` header is honoured up to 30 s) on 429, 5xx, timeouts and connection errors.
`requests_per_minute` / `tokens_per_minute` keep the run under a hosted API's quota.

Structured output (`structured`, see `structured.py`): the request carries the JSON schema
of the reply, `{"rows": [...]}`, built from the project, so even a small local model returns
rows of the right shape; `auto` steps down from `json_schema` to `json_object` to the prompt
alone when the server refuses the field or ignores it. The prompt asks for the same object,
and the reply is still parsed tolerantly (a JSON array, JSON objects one per line, inside
code fences or prose) as the last resort. A reasoning model's `<think>` block and
`reasoning_content` are ignored; a reply cut at `max_tokens` (`finish_reason: "length"`) is
its own cause, `reply_cut_short`.

The API key is read from the environment variable the playbook names in `api_key_env`, is
sent only in the Authorization header, and is scrubbed (with every 8+ character prefix of it)
from every reply text before anything is kept, so it never reaches a file, a log or a
diagnostic. A value in `api_key_env` that looks like a key rather than a variable's name is
refused when the playbook loads, without being echoed.

Token usage (`usage` of each reply) is summed in `self.usage`; with `price_per_million_input`
/ `_output` the generator also gives a cost.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from brewslm_tui.core.generation.generators.rate_limit import Booking, RateLimiter
from brewslm_tui.core.generation.generators.structured import (
    StructuredLadder,
    StructuredMode,
    StructuredSetting,
    follows_schema,
    names_the_field,
    reply_schema,
    response_format,
)

if TYPE_CHECKING:
    from brewslm_tui.core.generation.generators._http import HTTPClient

_ENV_RE = re.compile(r"[A-Z_][A-Z0-9_]*\Z")
_KEY_PREFIXES = ("sk-", "sk_", "gsk_", "hf_", "xai-", "pk-", "pk_", "ghp_", "github_pat_", "AKIA", "AIza")
RETRY_STATUSES = frozenset({408, 409, 425, 429})
SCRUB_MIN = 8  # a prefix of the key this long or longer is scrubbed too


def looks_like_a_key(value: str) -> bool:
    """Whether `value` is a pasted secret rather than an environment variable's NAME.

    Names are upper case with underscores (OPENAI_API_KEY); keys are lower or mixed case,
    carry a vendor prefix, or are long runs of letters and digits.
    """
    if value.startswith(_KEY_PREFIXES) or not _ENV_RE.match(value):
        return True
    digits = sum(c.isdigit() for c in value)
    random_run = len(value) >= 20 and "_" not in value and digits >= 2
    return random_run or (len(value) >= 16 and digits / len(value) > 0.25)


class OpenAISettings(BaseModel):
    """`[openai]`: where the server is, how to reach it, and how hard to push it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    base_url: str
    model: str
    api_key_env: str | None = None
    structured: StructuredSetting = "auto"
    ca_bundle: str | None = None  # PEM file of CAs to trust (relative to the project folder)
    temperature: float = Field(0.8, ge=0, le=2)
    max_tokens: int = Field(2048, ge=1)
    concurrency: int = Field(4, ge=1, le=64)
    timeout: float = Field(120.0, gt=0)  # seconds per request
    retries: int = Field(3, ge=0, le=10)
    backoff: float = Field(1.0, ge=0, le=60)  # first retry wait, doubling
    rows_per_request: int = Field(10, ge=1, le=200)
    examples: int = Field(3, ge=0, le=20)  # imported rows shown in the prompt
    system_prompt: str | None = None
    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)
    price_per_million_input: float | None = Field(None, ge=0)
    price_per_million_output: float | None = Field(None, ge=0)

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
        if looks_like_a_key(value):  # never echo it: it may be the key itself
            raise ValueError(
                "must be the NAME of an environment variable that holds the key (upper case, "
                "e.g. OPENAI_API_KEY), never the key itself; the value given was not stored"
            )
        return value

    def ca_bundle_path(self, root: Path) -> Path | None:
        """`ca_bundle` as a path (`~` expanded; relative to the project folder `root`)."""
        if self.ca_bundle is None:
            return None
        path = Path(self.ca_bundle).expanduser()
        return path if path.is_absolute() else root / path


def scrub(text: str, key: str | None) -> str:
    """`text` with the key, and every prefix of it of SCRUB_MIN+ characters, replaced by ***."""
    if not key or not text:
        return text
    if len(key) < SCRUB_MIN:
        return text.replace(key, "***")
    head, out, i = key[:SCRUB_MIN], list[str](), 0
    while (j := text.find(head, i)) >= 0:
        k = SCRUB_MIN
        while k < len(key) and j + k < len(text) and text[j + k] == key[k]:
            k += 1
        out += (text[i:j], "***")
        i = j + k
    out.append(text[i:])
    return "".join(out)


class OpenAIGenerator(Generator):
    """Candidates from a chat-completions server, `concurrency` requests at a time."""

    name = "openai"

    def __init__(self, request: GenRequest) -> None:
        super().__init__(request)
        self.settings: OpenAISettings = self.playbook_settings("openai")
        settings = self.settings
        self._key: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._client: HTTPClient | None = None
        self._ladder = StructuredLadder(settings.structured)
        self.structured_mode = self._ladder.mode
        self._schema = reply_schema(request.project, request.playbook, settings.rows_per_request)
        self._formats = {m: response_format(m, self._schema) for m in ("json_schema", "json_object", "off")}
        self._limiter = RateLimiter(settings.requests_per_minute, settings.tokens_per_minute)
        self._cut_short = 0
        # backpressure: rows asked for and not yet handed to the job, and rows the job found
        # usable. A worker starts a request only while these fall short of the count, so a fast
        # server is not asked for four times the rows the job needs.
        self._outstanding = 0
        self._usable = 0
        self._wake = asyncio.Event()
        self._waiting = 0  # workers waiting for the budget to free
        self._system: str | None = None

    def feedback(self, candidate: dict[str, Any], usable: bool) -> None:
        self._usable += usable
        self._budget_freed()

    def _budget_freed(self) -> None:
        """Wake the waiting workers only when one could start a request (not at every row:
        64 workers woken 20,000 times cost more CPU than the requests)."""
        if self._waiting and self._usable + self._outstanding < self.request.count:
            self._wake.set()

    def _scrub(self, text: str) -> str:
        return scrub(text, self._key)

    def cost(self) -> float | None:
        s, u = self.settings, self.usage
        if s.price_per_million_input is None and s.price_per_million_output is None:
            return None
        return round(
            u.prompt_tokens / 1e6 * (s.price_per_million_input or 0.0)
            + u.completion_tokens / 1e6 * (s.price_per_million_output or 0.0),
            6,
        )

    def advice(self) -> list[str]:
        s, out = self.settings, []
        if self._cut_short:
            out.append(
                f"{self._cut_short} replies were cut short at max_tokens = {s.max_tokens} "
                f'(finish_reason "length"): raise max_tokens, or lower rows_per_request '
                f"({s.rows_per_request}), in the playbook's [openai] table."
            )
        out += [f"Structured output: {step}." for step in self._ladder.history]
        return out

    async def stream(self) -> AsyncIterator[Item]:
        from brewslm_tui.core.generation.generators._http import HTTPClient, SetupError

        s, req = self.settings, self.request
        if s.api_key_env:
            self._key = os.environ.get(s.api_key_env)
            if not self._key:
                raise GeneratorFailed(
                    f"the environment variable {s.api_key_env} (openai.api_key_env) is not set; "
                    "export it with the API key before running this playbook"
                )
        try:
            self._client = HTTPClient(
                s.base_url, max_connections=s.concurrency, ca_bundle=s.ca_bundle_path(req.project.root)
            )
        except SetupError as exc:
            raise GeneratorFailed(str(exc)) from None
        total = math.ceil(req.playbook.max_candidates(req.count) / s.rows_per_request)
        queue: asyncio.Queue[list[Item] | None] = asyncio.Queue()
        next_index = iter(range(total))

        async def worker() -> None:
            try:
                for i in next_index:
                    while self._usable + self._outstanding >= req.count:
                        self._wake.clear()
                        self._waiting += 1
                        try:
                            await self._wake.wait()
                        finally:
                            self._waiting -= 1
                    self._outstanding += s.rows_per_request
                    items: list[Item] = []
                    try:
                        items = await self._one_request(i)
                    finally:
                        # what the reply did not bring (or a failed request) frees its share now
                        self._outstanding -= s.rows_per_request - sum(
                            1 for item in items if isinstance(item, dict)
                        )
                        self._budget_freed()
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
                        self._budget_freed()
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
        from brewslm_tui.core.generation.generators._http import TransportError

        s = self.settings
        case, messages = self._messages(index)
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        assert self._client is not None
        url = self._client.url("/chat/completions")
        error, attempt, advice = "", 0, None  # advice: what to do about `error`, if it is special
        while attempt <= s.retries:
            wait = s.backoff * (2**attempt)
            mode = self._ladder.mode
            body = self._body(messages, index, mode)
            booking = (
                await self._limiter.acquire(len(body) // 4 + s.max_tokens) if self._limiter.active else None
            )
            try:
                resp = await self._client.post("/chat/completions", body, headers, timeout=s.timeout)
            except TimeoutError:
                error = f"timed out after {s.timeout:g} s waiting for {url}"
            except TransportError as exc:
                error = f"cannot reach {url}: {exc}"
                if not exc.retry:
                    advice = exc.advice
                    break
            else:
                if resp.status == 200:
                    return self._parse(resp.body, case, mode, booking)
                # scrub the whole body BEFORE cutting it: a key near the cut must not survive in part
                text = self._scrub(resp.body.decode("utf-8", "replace")).strip()
                snippet = text[:200]
                if mode != "off" and names_the_field(resp.status, text):
                    if self._ladder.refused(mode, f"HTTP {resp.status}: {snippet}"):
                        self.structured_mode = self._ladder.mode
                        continue  # resend at once in the next mode: not a failed attempt
                    advice = (
                        f'The server does not take response_format {mode}: set structured = "auto" '
                        '(it steps down by itself) or "off" in the playbook\'s [openai] table.'
                    )
                error = f"HTTP {resp.status} from {url}" + (f": {snippet}" if snippet else "")
                if not (resp.status in RETRY_STATUSES or resp.status >= 500):
                    self.last_error, self.error_advice = error, advice
                    return [BackendError(error)]
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    wait = min(30.0, float(retry_after))
            attempt += 1
            if attempt <= s.retries:
                await asyncio.sleep(wait)
        error = self._scrub(error)
        self.last_error, self.error_advice = error, advice
        tries = min(attempt + 1, s.retries + 1)
        return [BackendError(error + (f" (after {tries} attempts)" if tries > 1 else ""))]

    def request_body(self, index: int) -> tuple[str | None, bytes]:
        """Request `index` of the run exactly as the live path first sends it (same seed, same
        messages, the structured mode the playbook starts with): the batch path's request.
        Returns the hard case it asks for, and the JSON body."""
        case, messages = self._messages(index)
        return case, self._body(messages, index, self._ladder.mode)

    def parse_response(self, raw: bytes, case: str | None) -> list[Item]:
        """A chat-completion response body (from a batch engine's output) -> candidates and issues,
        through the same parser, scrubbing and usage counting as a live reply."""
        return self._parse(raw, case, self._ladder.mode, None)

    def _messages(self, index: int) -> tuple[str | None, list[dict[str, str]]]:
        s, req = self.settings, self.request
        rng = random.Random(req.seed * 1_000_003 + index)
        cases = [c for c in req.playbook.hard_cases if c.weight > 0]
        case = rng.choices(cases, weights=[c.weight for c in cases])[0] if cases else None
        n = s.rows_per_request
        if self._system is None:  # the same for every request of the run: built once
            self._system = s.system_prompt or system_prompt(req)
        messages = [
            {"role": "system", "content": self._system},
            {
                "role": "user",
                "content": user_prompt(req, case, n, self._labels_for(index, n), req.examples[: s.examples]),
            },
        ]
        return (case.name if case else None), messages

    def _body(self, messages: list[dict[str, str]], index: int, mode: StructuredMode) -> bytes:
        s, req = self.settings, self.request
        body: dict[str, Any] = {
            "model": s.model,
            "messages": messages,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "seed": req.seed + index,
            "stream": False,
        }
        fmt = self._formats[mode]
        if fmt is not None:
            body["response_format"] = fmt
        return orjson.dumps(body)

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

    def _parse(
        self, raw: bytes, case: str | None, mode: StructuredMode, booking: Booking | None
    ) -> list[Item]:
        try:
            payload = orjson.loads(raw)
            choice = payload["choices"][0]
            content = choice["message"].get("content")  # reasoning_content is never read
            if content is None:
                content = ""  # a reasoning model that spent its tokens thinking
            if not isinstance(content, str):
                raise TypeError("content is not text")
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            text = self._scrub(raw.decode("utf-8", "replace"))[:RAW_KEEP]
            error = self._scrub(f"the server's response is not a chat completion ({_describe(exc)}): {text}")
            self.last_error = error
            return [BackendError(error)]
        tokens = self._count_usage(payload.get("usage"))
        if booking is not None and tokens:
            booking.settle(tokens)
        content = self._scrub(strip_thinking(content))
        cut = choice.get("finish_reason") == "length"
        if not cut and self._ladder.judging(mode):
            self._ladder.saw_reply(mode, follows_schema(content))
        self.structured_mode = self._ladder.mode
        rows = parse_reply(content)
        out: list[Item] = []
        for row in rows:
            cand = {"prompt": row.get("prompt"), "completion": row.get("completion")}
            if case:
                cand["hard_case"] = case
            out.append(cand)
        if cut and len(rows) < self.settings.rows_per_request:
            self._cut_short += 1
            out.append(
                Issue(
                    "reply_cut_short",
                    f"{len(rows)} of {self.settings.rows_per_request} rows before max_tokens "
                    f"({self.settings.max_tokens}) ran out: {content[:RAW_KEEP]}",
                )
            )
        elif not rows:
            out.append(Issue("unparseable_reply", content[:RAW_KEEP] or "(an empty reply)"))
        return out

    def _count_usage(self, usage: Any) -> int:
        """Add a reply's `usage` to the run's; returns its total tokens (0 when the server sent none)."""
        self.usage.requests += 1
        if not isinstance(usage, dict):
            return 0
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        prompt = prompt if isinstance(prompt, int) and prompt >= 0 else 0
        completion = completion if isinstance(completion, int) and completion >= 0 else 0
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        return prompt + completion


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
        'Reply with one JSON object, {"rows": [{"prompt": "...", "completion": ...}, ...]}, and nothing else.'
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
    parts.append(ask + ' Reply with only the JSON object {"rows": [...]}.')
    return "\n\n".join(parts)


# --- reply parsing ------------------------------------------------------------------------


_FENCE_RE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.S)
_THINK_RE = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_DECODER = json.JSONDecoder()
_OPENERS = frozenset("[{ \t\r\n")


def strip_thinking(text: str) -> str:
    """A reasoning model's reply without its `<think>...</think>` blocks.

    Some chat templates open the block in the prompt, so the reply holds only the closing tag:
    everything up to the last `</think>` is thinking. An unclosed block (cut at max_tokens)
    runs to the end.
    """
    if "</think>" in text:
        text = text.rpartition("</think>")[2]
    return _THINK_RE.sub("", text) if "<think>" in text else text


def parse_reply(text: str) -> list[dict[str, Any]]:
    """Rows in a model's reply: `{"rows": [...]}`, a JSON array, JSONL, or objects amid prose or fences."""
    try:
        whole = orjson.loads(text)  # the structured case: one clean object, no scan needed
    except orjson.JSONDecodeError:  # (also what orjson says past its depth limit of 1024)
        pass
    else:
        return _rows_in(whole)
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
        except RecursionError:
            # nested deeper than the interpreter recurses: no row lies inside such a run of
            # brackets, so skip all of it rather than retry from each of its characters
            # (restart at the run's last bracket: a row may open right there)
            k = last = j
            while k < n and text[k] in _OPENERS:
                last = k if text[k] in "[{" else last
                k += 1
            i = last if last > j else j + 1
            continue
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
