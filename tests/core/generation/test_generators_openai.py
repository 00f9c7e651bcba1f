"""The openai generator against a real chat-completions server on 127.0.0.1 (a thread here)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brewslm_tui.core.generation.generators.openai import parse_reply
from brewslm_tui.core.generation.jobs import list_jobs, run_generation_job
from tests.helpers import landed_rows as landed
from tests.helpers import make_project

LABELS = ["positive", "negative", "neutral", "mixed"]


def rows_json(n: int, tag: str, count: int = 10) -> str:
    return json.dumps(
        [
            {"prompt": f"Review {tag}-{n}-{i}: the blender number {i} is fine", "completion": LABELS[i % 4]}
            for i in range(count)
        ]
    )


def completion(
    content: str | None,
    *,
    finish_reason: str = "stop",
    usage: dict | None = None,
    reasoning: str | None = None,
) -> bytes:
    message: dict = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    reply: dict = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        reply["usage"] = usage
    return json.dumps(reply).encode()


class ChatServer:
    """A threaded HTTP/1.1 server speaking /v1/chat/completions; `reply(n, body, headers)` decides.

    `reply` returns (status, body bytes, extra headers, delay seconds). The server counts
    requests in flight at once and keeps every request body and Authorization header.
    """

    def __init__(self, reply, *, tls=None, host: str = "127.0.0.1") -> None:
        self.reply = reply
        self.paths: list[str] = []
        self.request_headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.inflight = self.max_inflight = self.count = 0
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []
        self.statuses: list[int] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                    n = server.count
                    server.count += 1
                    server.bodies.append(body)
                    server.auth.append(self.headers.get("Authorization"))
                    server.paths.append(self.path)
                    server.request_headers.append(dict(self.headers))
                try:
                    status, data, headers, delay = server.reply(n, body, self.headers)
                    if delay:
                        server.release.wait(delay)
                    with server.lock:
                        server.statuses.append(status)
                finally:
                    with server.lock:
                        server.inflight -= 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.httpd = server_class((host, 0), Handler)
        if tls is not None:  # an ssl.SSLContext: serve https
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{shown}:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    servers = []

    def start(reply, **options):
        server = ChatServer(reply, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def openai_playbook(url: str, *, count: int = 30, extra: str = "", limits: str = "", **settings) -> str:
    values = {
        "concurrency": 2,
        "timeout": 10.0,
        "retries": 2,
        "backoff": 0.01,
        "rows_per_request": 10,
        **settings,
    }
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    return f"""\
description = "reviews from a test server"
generator = "openai"
count = {count}
instructions = "Write product reviews."
{extra}
[limits]
{limits}
[[hard_cases]]
name = "sarcasm"
description = "Sarcastic praise"
[openai]
base_url = "{url}"
model = "test-model"
{lines}
"""


async def test_normal_replies_land_rows_and_the_prompt_carries_the_task(tmp_path, chat_server):
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "ok")), None, 0))
    imported = [json.dumps({"prompt": "Classify: the kettle is lovely", "completion": "positive"})]
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url)}, imported=imported)
    record = await run_generation_job(project, "llm", seed=5)
    assert record.state == "succeeded", record.diagnostic_text()
    rows = landed(project)
    assert len(rows) == 30 == record.counts["landed"]
    assert all(
        r["review_status"] == "pending" and r["run_id"] == record.run_id and r["hard_case"] == "sarcasm"
        for r in rows
    )
    body = server.bodies[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.8 and body["max_tokens"] == 2048
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "positive, negative, neutral, mixed" in system and "exact_match" in system
    assert "Write product reviews." in user and "Sarcastic praise" in user
    assert "Classify: the kettle is lovely" in user  # an imported row as an example
    users = [b["messages"][1]["content"] for b in server.bodies]
    assert any(
        "Labels: positive x3, negative x3, neutral x2, mixed x2." in u for u in users
    )  # the balance, per request
    assert any("Labels: positive x2, negative x2, neutral x3, mixed x3." in u for u in users)
    assert server.auth == [None] * len(server.auth)  # no api_key_env: no Authorization header


async def test_replies_in_code_fences_and_prose_are_parsed(tmp_path, chat_server):
    def reply(n, body, headers):
        if n % 2 == 0:
            content = f"Sure! Here are the rows:\n```json\n{rows_json(n, 'fence')}\n```\nLet me know if you need more."
        else:
            lines = "\n".join(json.dumps(r) for r in json.loads(rows_json(n, "jsonl")))
            content = f"```\n{lines}\n```"
        return 200, completion(content), None, 0

    server = chat_server(reply)
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=40)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.counts["landed"] == 40 and record.counts["by_cause"] == {}


async def test_unparseable_replies_fail_the_job_with_the_raw_text(tmp_path, chat_server):
    apology = "I'm sorry, but I can't produce reviews right now. " * 20
    server = chat_server(lambda n, body, h: (200, completion(apology), None, 0))
    project = make_project(
        tmp_path,
        playbooks={"llm": openai_playbook(server.url, limits="min_candidates = 5\nmax_failure_rate = 0.5")},
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert record.counts["by_cause"]["unparseable_reply"] >= 5
    examples = record.diagnostic.examples["unparseable_reply"]
    assert examples and examples[0].startswith("I'm sorry, but I can't") and len(examples[0]) <= 300
    assert "unparseable_reply" in record.diagnostic.headline
    assert '{"rows": [...]}' in record.diagnostic_text()
    assert landed(project) == []


async def test_429_then_success_is_retried_with_backoff(tmp_path, chat_server):
    def reply(n, body, headers):
        if n == 0:
            return 429, b'{"error": "rate limited"}', {"Retry-After": "0"}, 0
        return 200, completion(rows_json(n, "r")), None, 0

    server = chat_server(reply)
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=10, concurrency=1)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert server.statuses[:2] == [429, 200]
    assert record.counts["backend_errors"] == 0 and record.counts["landed"] == 10


async def test_500s_until_the_failure_threshold_stops_the_job(tmp_path, chat_server):
    server = chat_server(lambda n, body, h: (500, b'{"error": "CUDA out of memory"}', None, 0))
    project = make_project(
        tmp_path,
        playbooks={
            "llm": openai_playbook(
                server.url,
                count=500,
                retries=1,
                limits="min_candidates = 4\nmax_failure_rate = 0.5\nmax_backend_errors_in_a_row = 1000",
            )
        },
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert "Stopped early" in record.diagnostic.headline and "never answered" in record.diagnostic.headline
    assert 4 <= record.counts["backend_errors"] <= 4 + 2  # the requests already in flight may finish
    assert (
        "HTTP 500" in record.diagnostic.last_backend_error
        and "CUDA out of memory" in record.diagnostic.last_backend_error
    )
    assert server.count <= 2 * (
        record.counts["backend_errors"] + 2
    )  # each request tried twice (retries = 1), no more
    assert landed(project) == []


async def test_a_backend_that_keeps_failing_stops_after_errors_in_a_row(tmp_path, chat_server):
    server = chat_server(lambda n, body, h: (503, b"", None, 0))
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=500, retries=0)})
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert "backend requests in a row failed" in record.diagnostic.headline
    assert record.diagnostic.last_backend_error.startswith("HTTP 503 from " + server.url)


async def test_a_slow_server_hits_the_timeout(tmp_path, chat_server):
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "slow")), None, 30))
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, timeout=0.3, retries=0)})
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert "timed out after 0.3 s" in record.diagnostic.last_backend_error
    assert record.counts["backend_errors"] >= 3 and record.counts["landed"] == 0


async def test_nothing_listening_fails_loudly(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(f"http://127.0.0.1:{port}/v1", retries=1)}
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert record.diagnostic.last_backend_error.startswith(
        f"cannot reach http://127.0.0.1:{port}/v1/chat/completions"
    )
    assert f"Check that http://127.0.0.1:{port}/v1 is up" in record.diagnostic_text()


async def test_concurrency_never_exceeds_the_limit(tmp_path, chat_server):
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "c", 5)), None, 0.05))
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(server.url, count=60, concurrency=3, rows_per_request=5)}
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert server.count >= 12
    assert 1 <= server.max_inflight <= 3


async def test_the_api_key_is_sent_but_never_written(tmp_path, chat_server, monkeypatch):
    secret = "sk-test-" + uuid.uuid4().hex
    monkeypatch.setenv("BREWSLM_TEST_KEY", secret)

    def reply(n, body, headers):
        if headers.get("Authorization") != f"Bearer {secret}":
            return 401, b'{"error": "bad key"}', None, 0
        if n < 2:  # a server that echoes the header back in its error, and in a bad reply
            return 500, f'{{"error": "rejected {headers["Authorization"]}"}}'.encode(), None, 0
        if n == 2:
            return 200, completion(f"no rows for {headers['Authorization']}"), None, 0
        return 200, completion(rows_json(n, "k")), None, 0

    server = chat_server(reply)
    project = make_project(
        tmp_path,
        playbooks={
            "llm": openai_playbook(
                server.url, count=20, concurrency=1, retries=0, api_key_env="BREWSLM_TEST_KEY"
            )
        },
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert server.auth[0] == f"Bearer {secret}"
    assert record.counts["backend_errors"] == 2 and record.counts["by_cause"]["unparseable_reply"] == 1
    assert "***" in record.diagnostic.examples["unparseable_reply"][0]
    assert secret not in record.diagnostic_text() and secret not in json.dumps(record.to_json())
    for path in project.root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in json.dumps([j.to_json() for j in list_jobs(project)])


async def test_a_missing_key_variable_fails_with_its_name(tmp_path, chat_server, monkeypatch):
    monkeypatch.delenv("BREWSLM_NO_SUCH_KEY", raising=False)
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "x")), None, 0))
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(server.url, api_key_env="BREWSLM_NO_SUCH_KEY")}
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert "BREWSLM_NO_SUCH_KEY" in record.diagnostic.headline and server.count == 0


def test_parse_reply_is_tolerant():
    rows = [{"prompt": "a", "completion": "positive"}, {"prompt": "b", "completion": "negative"}]
    array = json.dumps(rows)
    assert parse_reply(array) == rows
    assert parse_reply(f"Here you go:\n```json\n{array}\n```\nEnjoy!") == rows
    assert parse_reply("\n".join(json.dumps(r) for r in rows)) == rows
    assert parse_reply(f"Rows: {json.dumps(rows[0])} and also {json.dumps(rows[1])}.") == rows
    assert parse_reply(json.dumps({"rows": rows})) == rows
    assert parse_reply('[{"prompt": "a", "completion": {"order_id": null}}]') == [
        {"prompt": "a", "completion": {"order_id": None}}
    ]
    assert parse_reply("Sorry, I cannot help with that.") == []
    assert parse_reply('[{"prompt": "cut off mid-') == []


async def test_rows_land_while_a_slow_request_is_still_out(tmp_path, chat_server):
    """Ten rows arrive, the next request hangs: the ten land anyway (timed flush) and review can start."""
    import asyncio

    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "t")), None, 0 if n == 0 else 60))
    project = make_project(
        tmp_path,
        playbooks={
            "llm": openai_playbook(
                server.url, count=50, concurrency=1, timeout=120.0, limits="batch_rows = 25"
            )
        },
    )
    cancel = asyncio.Event()

    def on_event(event):
        if event.kind == "rows_landed":
            cancel.set()

    record = await asyncio.wait_for(run_generation_job(project, "llm", cancel=cancel, on_event=on_event), 30)
    assert record.state == "cancelled"
    assert record.counts["landed"] == 10 == len(landed(project))


async def test_the_http_client_reads_chunked_replies_and_survives_closed_idle_connections():
    """Raw asyncio server: a chunked reply, then the server drops the kept-alive connection."""
    import asyncio

    from brewslm_tui.core.generation.generators._http import HTTPClient

    seen: list[bytes] = []

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")).split(b":")[1]
        )
        seen.append(head.split(b"\r\n")[0] + b" " + await reader.readexactly(length))
        body = b'{"ok": true, "n": %d}' % len(seen)
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 5]), body[i : i + 5]) for i in range(0, len(body), 5)
        )
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        await writer.drain()
        writer.close()  # keep-alive was promised, but the server hangs up: the client must reconnect

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HTTPClient(f"http://127.0.0.1:{port}/v1", max_connections=1)
    try:
        first = await client.post("/chat/completions", b'{"a": 1}', timeout=5)
        await asyncio.sleep(0.05)
        second = await client.post("/chat/completions", b'{"a": 2}', timeout=5)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert (first.status, json.loads(first.body)) == (200, {"ok": True, "n": 1})
    assert json.loads(second.body) == {"ok": True, "n": 2}
    assert seen == [
        b'POST /v1/chat/completions HTTP/1.1 {"a": 1}',
        b'POST /v1/chat/completions HTTP/1.1 {"a": 2}',
    ]


async def test_a_fast_server_is_not_asked_for_more_rows_than_the_job_needs(tmp_path, chat_server):
    # every reply brings 10 new, valid rows at once: 200 rows need 20 requests, and with 8 in
    # flight at most a few more may already be out when the job has enough
    server = chat_server(lambda n, body, h: (200, completion(rows_json(n, "fast")), None, 0))
    project = make_project(
        tmp_path,
        playbooks={"llm": openai_playbook(server.url, count=200, concurrency=8, rows_per_request=10)},
    )
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.counts["landed"] == 200
    assert server.count <= 20 + 8
