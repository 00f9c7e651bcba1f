"""Structured output, reasoning models, cut replies, usage, quotas and keys: the openai generator
against test servers on 127.0.0.1 that behave like each server family."""

from __future__ import annotations

import asyncio
import json
import uuid

import orjson
import pytest

from brewslm_tui.core.errors import ProjectError
from brewslm_tui.core.generation.generators import BackendError, GenRequest, Issue
from brewslm_tui.core.generation.generators.openai import OpenAIGenerator, parse_reply, scrub, strip_thinking
from brewslm_tui.core.generation.generators.rate_limit import RateLimiter
from brewslm_tui.core.generation.generators.structured import follows_schema, reply_schema
from brewslm_tui.core.generation.jobs import run_generation_job
from brewslm_tui.core.generation.playbooks import get_playbook, load_playbook
from tests.core.generation import test_generators_openai as base
from tests.core.generation.test_generators_openai import (
    LABELS,
    completion,
    landed,
    openai_playbook,
    rows_json,
)
from tests.helpers import make_project, write_playbook

chat_server = base.chat_server  # the fixture: a chat-completions server on 127.0.0.1
KNOWN_FIELDS = {"model", "messages", "temperature", "max_tokens", "seed", "stream", "response_format"}


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def schema_rows(schema: dict, tag: str, n_req: int) -> str:
    """A reply that follows `schema` exactly, as a constrained server would write it."""
    rows = schema["properties"]["rows"]
    item = rows["items"]["properties"]["completion"]
    out = []
    for i in range(rows["maxItems"]):
        if "enum" in item:
            value = item["enum"][i % len(item["enum"])]
        elif item["type"] == "object":
            value = {f: (None if i % 2 else f"{f}-{i}") for f in item["required"]}
        else:
            value = f"answer {i}"
        out.append({"prompt": f"Review {tag}-{n_req}-{i}: the toaster {i} is fine", "completion": value})
    return json.dumps({"rows": out})


def prose_rows(n: int, tag: str) -> str:
    return f"Sure! Here you go:\n```json\n{rows_json(n, tag)}\n```"


def family(name: str):
    """A reply function that behaves like one server family with respect to `response_format`.

    - openai (and vLLM): rejects unknown fields with 400 naming them; follows json_schema;
    - llama-cpp-python: `type` must be text or json_object (else a 500 naming response_format);
      follows a json_object's `schema`;
    - old: a server that knows no `response_format` at all (400 naming it);
    - ignores: takes `response_format` and answers in prose anyway.
    """

    def reply(n, body, headers):
        unknown = sorted(set(body) - KNOWN_FIELDS)
        if unknown:
            return (
                400,
                json.dumps({"error": {"message": f"Unrecognized request argument: {unknown[0]}"}}).encode(),
                None,
                0,
            )
        fmt = body.get("response_format")
        if fmt is None:
            return 200, completion(prose_rows(n, name)), None, 0
        if name == "old":
            msg = {"error": {"message": "Unrecognized request argument supplied: response_format"}}
            return 400, json.dumps(msg).encode(), None, 0
        if name == "llamacpp":
            if fmt.get("type") not in ("text", "json_object"):  # what llama-cpp-python 0.3 answers
                detail = (
                    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
                    "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"
                )
                error = {"error": {"message": detail, "type": "internal_server_error"}}
                return 500, json.dumps(error).encode(), None, 0
            return 200, completion(schema_rows(fmt["schema"], name, n)), None, 0
        if name == "openai":
            if fmt["type"] == "json_schema":
                spec = fmt["json_schema"]
                assert spec["name"] and spec["strict"] is True
                return 200, completion(schema_rows(spec["schema"], name, n)), None, 0
            return (
                400,
                b'{"error": {"message": "response_format.type: json_object needs the word json"}}',
                None,
                0,
            )
        return 200, completion(prose_rows(n, name)), None, 0  # ignores

    return reply


@pytest.mark.parametrize(
    ("server_family", "modes_sent", "mode_used"),
    [
        ("openai", ["json_schema"], "json_schema"),
        ("llamacpp", ["json_schema", "json_object"], "json_object"),
        ("old", ["json_schema", "json_object", None], "off"),
        ("ignores", ["json_schema", "json_schema", "json_object", "json_object", None], "off"),
    ],
)
async def test_auto_finds_the_mode_each_server_family_takes(
    tmp_path, chat_server, server_family, modes_sent, mode_used
):
    server = chat_server(family(server_family))
    book = openai_playbook(server.url, count=60, concurrency=1)
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm", seed=3)
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.structured_mode == mode_used
    sent = [(b.get("response_format") or {}).get("type") for b in server.bodies]
    assert sent[: len(modes_sent)] == modes_sent
    assert set(sent[len(modes_sent) :]) <= {modes_sent[-1]}  # it stays down once it stepped
    rows = landed(project)
    assert len(rows) == 60 == record.counts["landed"]
    assert {r["completion"] for r in rows} <= set(LABELS)
    assert all(r["review_status"] == "pending" and r["run_id"] == record.run_id for r in rows)
    saved = orjson.loads((project.state_dir / "jobs" / f"{record.run_id}.json").read_bytes())
    assert saved["structured_mode"] == mode_used


async def test_the_schema_carries_the_labels_and_the_prompt_asks_for_the_same_object(tmp_path, chat_server):
    server = chat_server(family("openai"))
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(server.url, count=10, rows_per_request=5)}
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    fmt = server.bodies[0]["response_format"]
    schema = fmt["json_schema"]["schema"]
    rows = schema["properties"]["rows"]
    assert (rows["minItems"], rows["maxItems"]) == (5, 5)
    assert rows["items"]["properties"]["completion"] == {"type": "string", "enum": LABELS}
    assert rows["items"]["additionalProperties"] is False and schema["required"] == ["rows"]
    assert '{"rows": [' in server.bodies[0]["messages"][0]["content"]
    assert '{"rows": [...]}' in server.bodies[0]["messages"][1]["content"]


@pytest.mark.parametrize("task", ["extraction", "qa", "generation"])
def test_the_schema_follows_each_task_shape(tmp_path, task):
    project = make_project(tmp_path, task=task, playbooks={"llm": openai_playbook("http://127.0.0.1:9/v1")})
    book = get_playbook(project, "llm")
    item = reply_schema(project, book, 3)["properties"]["rows"]["items"]["properties"]["completion"]
    if task == "extraction":
        assert item["type"] == "object" and item["required"] == list(project.fields)
        assert item["additionalProperties"] is False
        assert set(item["properties"]) == set(project.fields)
    elif task == "qa":  # exact_match: a short answer, words counted as the validator counts them
        assert item["pattern"].endswith("{0,3}$")  # qa_max_answer_words = 4 in the test project
        assert item["type"] == "string" and item["minLength"] == 1
    else:
        assert item == {"type": "string", "minLength": 1}  # 3 x 4,000 characters: no grammar holds it
        project.limits.max_completion_chars = 300
        short = reply_schema(project, book, 3)["properties"]["rows"]["items"]["properties"]["completion"]
        assert short == {"type": "string", "minLength": 1, "maxLength": 300}


async def test_a_fixed_mode_that_the_server_refuses_fails_with_what_to_set(tmp_path, chat_server):
    server = chat_server(family("llamacpp"))
    book = openai_playbook(server.url, count=20, retries=0, structured="json_schema")
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert {(b.get("response_format") or {}).get("type") for b in server.bodies} == {"json_schema"}
    assert "HTTP 500" in record.diagnostic.last_backend_error
    assert 'structured = "auto"' in record.diagnostic_text()
    assert "up and reachable" not in record.diagnostic_text()


async def test_structured_off_sends_no_response_format(tmp_path, chat_server):
    server = chat_server(family("openai"))
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(server.url, count=20, structured="off")}
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert all("response_format" not in b for b in server.bodies)
    assert record.structured_mode == "off" and len(landed(project)) == 20


async def test_reasoning_models_think_blocks_and_reasoning_content_are_ignored(tmp_path, chat_server):
    decoy = json.dumps([{"prompt": "DECOY from thinking", "completion": "positive"}])

    def reply(n, body, headers):
        schema = body["response_format"]["json_schema"]["schema"]
        if n % 2 == 0:
            content = f"<think>Let me draft: {decoy}</think>\n{schema_rows(schema, 'think', n)}"
        else:  # the chat template opened the block in the prompt: only its end is in the reply
            content = f"I will draft {decoy} first.</think>{schema_rows(schema, 'open', n)}"
        return 200, completion(content, reasoning=f"thinking about {decoy}"), None, 0

    server = chat_server(reply)
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=30)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    rows = landed(project)
    assert len(rows) == 30 and not any("DECOY" in r["prompt"] for r in rows)
    assert record.structured_mode == "json_schema"  # replies with a think block still count as honouring it


async def test_a_reply_cut_at_max_tokens_is_its_own_cause_with_advice(tmp_path, chat_server):
    def reply(n, body, headers):
        whole = schema_rows(body["response_format"]["json_schema"]["schema"], "cut", n)
        cut = whole[: whole.index('"prompt"', whole.index('"prompt"') + 1) + 12]  # one whole row, then cut
        return 200, completion(cut, finish_reason="length"), None, 0

    server = chat_server(reply)
    book = openai_playbook(
        server.url, count=20, limits="min_candidates = 6\nmax_failure_rate = 0.6", max_tokens=64
    )
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.counts["by_cause"]["reply_cut_short"] >= 3
    assert 1 <= record.counts["landed"] == len(landed(project))  # the whole row of each cut reply is kept
    text = record.diagnostic_text()
    assert "raise max_tokens" in text and "max_tokens = 64" in text
    assert record.structured_mode == "json_schema"  # a cut reply does not count against the server


async def test_usage_is_summed_and_priced(tmp_path, chat_server):
    usage = {"prompt_tokens": 1000, "completion_tokens": 250, "total_tokens": 1250}
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "u"), usage=usage), None, 0))
    book = openai_playbook(
        server.url, count=30, price_per_million_input=2.0, price_per_million_output=8.0, structured="off"
    )
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.requests == server.count == 3
    assert (record.tokens_prompt, record.tokens_completion) == (3000, 750)
    assert record.cost == pytest.approx(3000 / 1e6 * 2.0 + 750 / 1e6 * 8.0)
    saved = orjson.loads((project.state_dir / "jobs" / f"{record.run_id}.json").read_bytes())
    assert (saved["tokens_prompt"], saved["tokens_completion"]) == (3000, 750)


async def test_without_prices_there_is_no_cost_and_no_usage_means_zero(tmp_path, chat_server):
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "z")), None, 0))
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=10)})
    record = await run_generation_job(project, "llm")
    assert (record.tokens_prompt, record.tokens_completion, record.cost) == (0, 0, None)


async def test_the_rate_limiter_keeps_requests_and_tokens_under_the_quota():
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, 1000, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(7):
        booking = await limiter.acquire(100)
        starts.append(now[0])
        booking.settle(150)  # the reply said 150 tokens
    # 3 requests a minute: requests 4-6 wait for the first three to leave the window
    assert starts == [0.0, 0.0, 0.0, 60.0, 60.0, 60.0, 120.0]
    for i, t in enumerate(starts):
        assert sum(1 for u in starts[: i + 1] if u > t - 60) <= 3

    now[0], waits[:] = 0.0, []
    tokens = RateLimiter(None, 1000, clock=lambda: now[0], sleep=sleep)
    first = await tokens.acquire(600)
    first.settle(900)
    await tokens.acquire(200)  # 900 + 200 > 1000: waits for the first to leave the window
    assert now[0] == 60.0
    huge = RateLimiter(None, 10, clock=lambda: now[0], sleep=sleep)
    await huge.acquire(5000)  # bigger than the whole quota: admitted alone, never stuck
    assert len(waits) == 1


async def test_a_limited_run_paces_its_requests(tmp_path, chat_server, monkeypatch):
    """requests_per_minute reaches the generator's limiter (with a fast clock, no real minute)."""
    from brewslm_tui.core.generation.generators import rate_limit

    now = [1000.0]

    async def fast_sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    real = rate_limit.RateLimiter.__init__

    def patched(self, rpm, tpm, **kw):
        real(self, rpm, tpm, clock=lambda: now[0], sleep=fast_sleep)

    monkeypatch.setattr(rate_limit.RateLimiter, "__init__", patched)
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "rpm", 5)), None, 0))
    book = openai_playbook(server.url, count=20, concurrency=4, rows_per_request=5, requests_per_minute=2)
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert now[0] >= 1000.0 + 60.0  # four requests at two a minute: at least one minute waited


def test_parse_reply_reads_the_rows_object_and_survives_deep_nesting():
    rows = [{"prompt": "a", "completion": "positive"}]
    assert parse_reply(json.dumps({"rows": rows})) == rows
    deep = "[" * 200_000 + "]" * 200_000
    assert parse_reply(deep) == []
    assert parse_reply("{" * 50_000) == []
    assert parse_reply("[" * 50_000 + " " + json.dumps(rows[0])) == rows  # a row right after the run
    assert parse_reply('{"a": ' * 3000 + "1" + "}" * 3000 + json.dumps(rows)) == rows
    assert strip_thinking("<think>x</think>ok") == "ok"
    assert strip_thinking("<think>never closed") == ""
    assert follows_schema(json.dumps({"rows": rows})) and not follows_schema(json.dumps(rows))


async def test_a_deeply_nested_reply_does_not_end_the_job(tmp_path, chat_server):
    def reply(n, body, headers):
        if n == 0:
            return 200, completion("[" * 100_000 + "]" * 100_000), None, 0
        return 200, completion(rows_json(n, "deep")), None, 0

    server = chat_server(reply)
    book = openai_playbook(server.url, count=20, concurrency=1, structured="off")
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.counts["by_cause"]["unparseable_reply"] == 1 and len(landed(project)) == 20


def test_scrub_removes_the_key_and_every_long_prefix_of_it():
    key = "sk-" + "a1b2c3d4e5f6g7h8i9j0" * 2
    assert scrub(f"x {key} y", key) == "x *** y"
    assert scrub(f"cut: {key[:12]}", key) == "cut: ***"
    assert scrub(f"short {key[:7]}", key) == f"short {key[:7]}"  # 7 characters say nothing
    assert scrub(f"{key[:9]}Z and {key}", key) == "***Z and ***"


async def test_a_key_echoed_near_the_truncation_point_never_survives_in_part(
    tmp_path, chat_server, monkeypatch
):
    secret = "sk-proj-" + uuid.uuid4().hex + uuid.uuid4().hex
    monkeypatch.setenv("BREWSLM_TEST_KEY", secret)

    def reply(n, body, headers):
        if n < 3:  # the key starts just before the 200-character cut of the error snippet
            return 400, (b"x" * (185 + n * 5) + headers["Authorization"].encode()), None, 0
        return 200, completion(rows_json(n, "k")), None, 0

    server = chat_server(reply)
    book = openai_playbook(server.url, count=10, concurrency=1, retries=0, api_key_env="BREWSLM_TEST_KEY")
    project = make_project(
        tmp_path, playbooks={"llm": book.replace("[limits]", "[limits]\nmax_backend_errors_in_a_row = 10")}
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.counts["backend_errors"] == 3
    for path in project.root.rglob("*"):
        if path.is_file():
            assert secret[:8].encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    "pasted",
    [
        "sk-proj-Ab12Cd34Ef56Gh78",
        "gsk_4f9a0b7c2d1e8f3a6b5c",
        "hf_AbCdEfGhIjKlMnOpQrStUv",
        "openai_api_key",  # lower case: not how a variable is named
        "A1B2C3D4E5F6G7H8I9J0K1L2",  # random-looking
        "AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_a_key_pasted_into_api_key_env_is_refused_and_not_echoed(tmp_path, pasted):
    project = make_project(tmp_path)
    path = write_playbook(project, "llm", openai_playbook("http://127.0.0.1:9/v1", api_key_env=pasted))
    with pytest.raises(ProjectError) as info:
        load_playbook(project, path)
    message = str(info.value)
    assert "api_key_env" in message and "NAME of an environment variable" in message
    assert pasted not in message and pasted[:8] not in message


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "GROQ_API_KEY", "HF_TOKEN", "MY_KEY_2"])
def test_real_variable_names_are_accepted(tmp_path, name):
    project = make_project(tmp_path)
    path = write_playbook(project, "llm", openai_playbook("http://127.0.0.1:9/v1", api_key_env=name))
    assert load_playbook(project, path).openai.api_key_env == name


async def test_the_generator_yields_rows_issues_and_errors_as_the_job_sees_them(tmp_path, chat_server):
    """The generator alone: a schema-valid reply, a prose reply, and a refusal, item by item."""

    def reply(n, body, headers):
        if n == 0:
            return (
                200,
                completion(schema_rows(body["response_format"]["json_schema"]["schema"], "g", n)),
                None,
                0,
            )
        if n == 1:
            return 200, completion("no rows today"), None, 0
        return 404, b'{"error": "no such model"}', None, 0

    server = chat_server(reply)
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(server.url, count=10, concurrency=1, retries=0)}
    )
    book = get_playbook(project, "llm")
    gen = OpenAIGenerator(GenRequest(project, book, 30, 1))
    items = [item async for item in gen.stream()]
    cands = [i for i in items if isinstance(i, dict)]
    issues = [i for i in items if isinstance(i, Issue)]
    errors = [i for i in items if isinstance(i, BackendError)]
    assert len(cands) == 10 and {c["completion"] for c in cands} <= set(LABELS)
    assert issues[0].cause == "unparseable_reply" and issues[0].detail == "no rows today"
    assert errors and errors[0].message.startswith(f"HTTP 404 from {server.url}/chat/completions")
