"""The openai generator on real networks, all on this machine: a private CA made here with the
`openssl` CLI, a CONNECT proxy and a plain HTTP proxy written here, gzip, redirects, IPv6, and
bodies that are too big or end by closing the connection."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from brewslm_tui.core.generation.generators import BackendError, GenRequest
from brewslm_tui.core.generation.generators.openai import OpenAIGenerator
from brewslm_tui.core.generation.jobs import run_generation_job
from brewslm_tui.core.generation.playbooks import get_playbook
from tests.core.generation import test_generators_openai as base
from tests.core.generation.test_generators_openai import completion, openai_playbook, rows_json
from tests.helpers import landed_rows as landed
from tests.helpers import make_project

chat_server = base.chat_server  # the fixture: a chat-completions server on 127.0.0.1
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def ok_reply(tag: str):
    return lambda n, body, headers: (200, completion(rows_json(n, tag)), None, 0)


async def collect(project, name: str = "llm", count: int = 10) -> list:
    """Everything the generator yields for a run of `count` rows, in order."""
    gen = OpenAIGenerator(GenRequest(project, get_playbook(project, name), count, 1))
    items: list = []
    stream = gen.stream()
    try:
        async for item in stream:
            items.append(item)
            if isinstance(item, dict):
                gen.feedback(item, True)
                if sum(isinstance(i, dict) for i in items) >= count:
                    break  # as the job does: stop reading once there are enough rows
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return items


# --- a private CA ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory):
    """(CA bundle path, server SSLContext): a CA and a localhost/127.0.0.1 certificate it signed."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a test CA")
    d = tmp_path_factory.mktemp("ca")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=brewslm test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "server.pem", d / "server.key")
    return d / "ca.pem", context


async def test_a_private_ca_is_trusted_through_ca_bundle(tmp_path, chat_server, private_ca):
    bundle, context = private_ca
    server = chat_server(ok_reply("tls"), tls=context)
    assert server.url.startswith("https://")
    (tmp_path / "certs").mkdir()
    shutil.copy(bundle, tmp_path / "certs" / "ca.pem")
    book = openai_playbook(server.url, count=20, ca_bundle=str(tmp_path / "certs" / "ca.pem"))
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert len(landed(project)) == 20


async def test_a_ca_bundle_relative_to_the_project_and_requests_ca_bundle_work(
    tmp_path, chat_server, private_ca, monkeypatch
):
    bundle, context = private_ca
    server = chat_server(ok_reply("rel"), tls=context)
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook(server.url, count=10, ca_bundle="ca.pem")}
    )
    shutil.copy(bundle, project.root / "ca.pem")
    assert len([i for i in await collect(project) if isinstance(i, dict)]) == 10
    plain = make_project(tmp_path / "env", playbooks={"llm": openai_playbook(server.url, count=10)})
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert len([i for i in await collect(plain) if isinstance(i, dict)]) == 10


async def test_an_untrusted_certificate_says_so_and_how_to_trust_a_private_ca(
    tmp_path, chat_server, private_ca
):
    _, context = private_ca
    server = chat_server(ok_reply("untrusted"), tls=context)
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=20, retries=3)})
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    error = record.diagnostic.last_backend_error
    assert "certificate of 127.0.0.1" in error and "not trusted" in error
    text = record.diagnostic_text()
    assert "ca_bundle" in text and "private CA" in text
    assert "up and reachable" not in text
    assert server.count == 0  # no request got through, and no retry was wasted on it
    assert landed(project) == []


def test_a_missing_ca_bundle_is_an_error_when_the_playbook_loads(tmp_path):
    from brewslm_tui.core.errors import ProjectError

    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook("https://127.0.0.1:9/v1", ca_bundle="nope.pem")}
    )
    with pytest.raises(ProjectError, match=r"openai.ca_bundle: no such file: .*nope.pem"):
        get_playbook(project, "llm")


async def test_a_ca_bundle_that_is_not_pem_fails_the_job_with_its_name(tmp_path):
    project = make_project(
        tmp_path, playbooks={"llm": openai_playbook("https://127.0.0.1:9/v1", ca_bundle="bad.pem")}
    )
    (project.root / "bad.pem").write_text("not a certificate\n")
    record = await run_generation_job(project, "llm")
    assert record.state == "failed"
    assert "bad.pem is not a PEM bundle" in record.diagnostic.headline


# --- proxies ------------------------------------------------------------------------------


class Proxy:
    """A tiny forward proxy: CONNECT tunnels (https) and absolute-form requests (plain http)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(65536)
            if not data:
                client.close()
                return
            head += data
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.decode().split(" ")
        self.seen.append((method, target))
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            leftover = rest.partition(b"\r\n\r\n")[2]
        else:
            hostport, _, path = target.removeprefix("http://").partition("/")
            host, port = hostport.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            leftover = f"{method} /{path} {version}\r\n".encode() + rest
        if leftover:
            upstream.sendall(leftover)
        pipe = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        pipe.start()
        _pipe(client, upstream)

    def close(self) -> None:
        self.sock.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy():
    p = Proxy()
    yield p
    p.close()


async def test_http_proxy_from_the_environment_carries_plain_http(tmp_path, chat_server, proxy, monkeypatch):
    server = chat_server(ok_reply("proxied"))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=20)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert ("POST", f"{server.url}/chat/completions") in proxy.seen
    assert len(landed(project)) == 20


async def test_no_proxy_is_honoured(tmp_path, chat_server, proxy, monkeypatch):
    server = chat_server(ok_reply("direct"))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=10)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert proxy.seen == [] and len(landed(project)) == 10


async def test_https_goes_through_a_connect_proxy_with_the_private_ca(
    tmp_path, chat_server, proxy, private_ca, monkeypatch
):
    bundle, context = private_ca
    server = chat_server(ok_reply("tunnel"), tls=context)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=20)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    port = server.url.split(":")[2].split("/")[0]
    assert ("CONNECT", f"127.0.0.1:{port}") in proxy.seen
    assert len(landed(project)) == 20


async def test_a_proxy_that_is_down_is_named(tmp_path, chat_server, monkeypatch):
    server = chat_server(ok_reply("x"))
    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=10, retries=0)})
    items = await collect(project)
    errors = [i for i in items if isinstance(i, BackendError)]
    assert errors and "proxy" in errors[0].message and server.count == 0


# --- gzip, redirects, IPv6 ------------------------------------------------------------------


async def test_gzip_replies_are_decoded(tmp_path, chat_server):
    def reply(n, body, headers):
        return 200, gzip.compress(completion(rows_json(n, "gz"))), {"Content-Encoding": "gzip"}, 0

    server = chat_server(reply)
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=20)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert "gzip" in server.request_headers[0].get("Accept-Encoding", "")
    assert len(landed(project)) == 20


async def test_same_origin_redirects_are_followed_with_the_post(tmp_path, chat_server, monkeypatch):
    monkeypatch.setenv("BREWSLM_TEST_KEY", "test-key-not-secret")
    holder: dict = {}

    def reply(n, body, headers):
        if holder["server"].paths[n] == "/v1/chat/completions":
            return 307, b"", {"Location": "/v2/chat/completions"}, 0
        return 200, completion(rows_json(n, "moved")), None, 0

    server = holder["server"] = chat_server(reply)
    book = openai_playbook(server.url, count=20, concurrency=1, api_key_env="BREWSLM_TEST_KEY")
    project = make_project(tmp_path, playbooks={"llm": book})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert server.paths[:2] == ["/v1/chat/completions", "/v2/chat/completions"]
    assert server.bodies[0] == server.bodies[1] and server.auth[1] == "Bearer test-key-not-secret"
    assert len(landed(project)) == 20


async def test_a_redirect_to_another_origin_is_refused_and_gets_no_key(tmp_path, chat_server, monkeypatch):
    monkeypatch.setenv("BREWSLM_TEST_KEY", "test-key-not-secret")
    elsewhere = chat_server(ok_reply("elsewhere"))
    server = chat_server(lambda n, b, h: (302, b"", {"Location": f"{elsewhere.url}/chat/completions"}, 0))
    book = openai_playbook(server.url, count=10, retries=2, api_key_env="BREWSLM_TEST_KEY")
    project = make_project(tmp_path, playbooks={"llm": book})
    items = await collect(project)
    errors = [i for i in items if isinstance(i, BackendError)]
    assert errors and "redirected to another origin" in errors[0].message
    assert elsewhere.count == 0 and server.count == len(errors)  # not retried either


async def test_an_ipv6_server_is_reached_with_a_bracketed_host(tmp_path, chat_server):
    try:
        server = chat_server(ok_reply("v6"), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert server.url.startswith("http://[::1]:")
    project = make_project(tmp_path, playbooks={"llm": openai_playbook(server.url, count=10)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    port = server.url.split("]:")[1].split("/")[0]
    assert server.request_headers[0]["Host"] == f"[::1]:{port}"


# --- bodies: too big, or ended by closing the connection ------------------------------------


async def raw_server(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)


async def test_a_chunked_body_over_the_cap_is_refused(tmp_path):
    """One chunk declared at 2 GiB, streamed in 1 MiB pieces: reading stops soon after 32 MiB."""
    sent: list[int] = []

    async def handle(reader, writer):
        await read_request(reader)
        sent.append(0)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(b"%x\r\n" % (2 << 30))
        piece = b"[" * (1 << 20)
        try:
            for _ in range(100):  # 100 MiB if nobody stops reading
                writer.write(piece)
                await writer.drain()
                sent[-1] += len(piece)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server, url = await raw_server(handle)
    try:
        book = openai_playbook(url, count=10, retries=0, limits="max_candidates = 10")
        project = make_project(tmp_path, playbooks={"llm": book})
        items = await collect(project)
    finally:
        server.close()
    errors = [i for i in items if isinstance(i, BackendError)]
    assert len(errors) == 1 and "response too large" in errors[0].message
    assert not [i for i in items if isinstance(i, dict)]
    assert max(sent) < 60 * (1 << 20)  # the client stopped reading soon after 32 MiB


async def test_a_content_length_over_the_cap_is_refused_before_reading(tmp_path):
    async def handle(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n[" % (64 << 20))
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    server, url = await raw_server(handle)
    try:
        project = make_project(
            tmp_path,
            playbooks={"llm": openai_playbook(url, count=10, retries=0, limits="max_candidates = 10")},
        )
        items = await asyncio.wait_for(collect(project), 60)
    finally:
        server.close()
    assert any(isinstance(i, BackendError) and "too large" in i.message for i in items)


async def test_a_body_ended_by_closing_the_connection_is_read_whole(tmp_path):
    async def handle(reader, writer):
        await read_request(reader)
        body = completion(rows_json(0, "close"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        for i in range(0, len(body), 97):  # in small pieces, with pauses: more than one buffer's worth
            writer.write(body[i : i + 97])
            await writer.drain()
            await asyncio.sleep(0.005)
        writer.close()

    server, url = await raw_server(handle)
    try:
        project = make_project(tmp_path, playbooks={"llm": openai_playbook(url, count=10, concurrency=1)})
        items = await collect(project)
    finally:
        server.close()
    cands = [i for i in items if isinstance(i, dict)]
    assert len(cands) == 10 and not [i for i in items if isinstance(i, BackendError)]


# --- the cost of importing ----------------------------------------------------------------


def test_launch_and_check_do_not_import_the_http_client(tmp_path):
    """Loading playbooks, the generator module and `check` leave aiohttp unimported."""
    project = make_project(tmp_path, playbooks={"llm": openai_playbook("http://127.0.0.1:9/v1")})
    code = (
        "import sys\n"
        "from brewslm_tui.cli import main\n"
        "from brewslm_tui.core.generation.playbooks import load_playbooks\n"
        "import brewslm_tui.core.generation.generators.openai\n"
        "from brewslm_tui.core.project import load_project\n"
        f"books, errors = load_playbooks(load_project({str(project.root)!r}))\n"
        "assert books and not errors, errors\n"
        "try:\n"
        f"    main(['check', {str(project.root)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'yarl', 'multidict'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[3]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the snippets of docs/BACKENDS.md -------------------------------------------------------

DOCS = Path(__file__).resolve().parents[3] / "docs" / "BACKENDS.md"


def doc_snippets() -> dict[str, str]:
    """The ```toml blocks of docs/BACKENDS.md, by the heading above each."""
    found, heading = {}, ""
    for m in re.finditer(r"^#+ (.*?)$|^```toml\n(.*?)^```", DOCS.read_text(), re.M | re.S):
        if m.group(1) is not None:
            heading = m.group(1)
        else:
            found[heading] = m.group(2)
    return found


def test_the_docs_show_a_snippet_per_backend():
    assert [h.split(" ")[0] for h in doc_snippets()] == ["vLLM", "llama.cpp", "Ollama", "A"]


@pytest.mark.parametrize(
    ("heading", "server_family", "mode"),
    [
        ("vLLM", "openai", "json_schema"),
        ("llama.cpp", "llamacpp", "json_object"),
        ("Ollama", "openai", "json_schema"),
    ],
)
async def test_the_local_server_snippets_in_the_docs_run(tmp_path, chat_server, heading, server_family, mode):
    from tests.core.generation.test_generators_openai_structured import family

    snippet = next(text for h, text in doc_snippets().items() if h.startswith(heading))
    server = chat_server(family(server_family))
    project = make_project(tmp_path, playbooks={"llm": docs_playbook(snippet, server.url)})
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.structured_mode == mode and len(landed(project)) == 20


async def test_the_hosted_api_snippet_in_the_docs_runs_with_key_proxy_and_private_ca(
    tmp_path, chat_server, proxy, private_ca, monkeypatch
):
    from tests.core.generation.test_generators_openai_structured import family

    bundle, context = private_ca
    snippet = next(text for h, text in doc_snippets().items() if h.startswith("A hosted API"))
    server = chat_server(family("openai"), tls=context)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-for-the-docs")
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    project = make_project(tmp_path, playbooks={"llm": docs_playbook(snippet, server.url)})
    (project.root / "certs").mkdir()
    shutil.copy(bundle, project.root / "certs" / "corp-ca.pem")
    record = await run_generation_job(project, "llm")
    assert record.state == "succeeded", record.diagnostic_text()
    assert record.structured_mode == "json_schema" and len(landed(project)) == 20
    assert set(server.auth) == {"Bearer test-key-for-the-docs"}
    assert any(method == "CONNECT" for method, _ in proxy.seen)
    assert record.cost == 0.0  # priced (the test server reports no usage)


def docs_playbook(snippet: str, url: str) -> str:
    table = re.sub(r"^base_url = .*$", f'base_url = "{url}"', snippet, flags=re.M)
    return f'description = "from docs/BACKENDS.md"\ngenerator = "openai"\ncount = 20\n{table}'
