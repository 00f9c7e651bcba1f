"""A small async HTTP/1.1 client over asyncio streams: JSON POSTs with keep-alive.

Why not a library: the openai generator needs one thing, POST a JSON body and read the
response, with a per-request timeout, a bounded pool of kept-alive connections and no
threads; that is about a hundred lines over `asyncio.open_connection`, where a client
library would be a new dependency for the whole product. Responses with Content-Length,
chunked transfer encoding, or read-to-close are understood; https works through `ssl`.

Errors never carry request headers (they hold the API key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BODY = 32 * 1024 * 1024
log = logging.getLogger(__name__)  # `--verbose`: URLs, sizes and statuses; never headers (the key)


class HTTPProtocolError(Exception):
    """The server's response is not HTTP/1.x we understand."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class HTTPClient:
    """POSTs to one origin (`base_url`), at most `max_connections` connections kept alive."""

    def __init__(self, base_url: str, *, max_connections: int = 4) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        default_port = (self.scheme == "https" and self.port == 443) or (
            self.scheme == "http" and self.port == 80
        )
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"
        self.max_connections = max_connections
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._closed = False

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host_header}{self.prefix}{path}"

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, *, timeout: float = 60.0
    ) -> Response:
        """POST `body` to `prefix + path`; the whole exchange must finish within `timeout` seconds."""
        log.info("POST %s (%d bytes)", self.url(path), len(body))
        async with asyncio.timeout(timeout):
            while True:
                reused = bool(self._idle)
                reader, writer = self._idle.pop() if reused else await self._connect()
                try:
                    response, keep = await self._exchange(reader, writer, path, body, headers or {})
                except (ConnectionError, asyncio.IncompleteReadError, HTTPProtocolError) as exc:
                    _close(writer)
                    if reused and not getattr(exc, "_got_status", False):
                        continue  # the server closed an idle connection: try a fresh one
                    raise
                except BaseException:
                    _close(writer)
                    raise
                if keep and not self._closed and len(self._idle) < self.max_connections:
                    self._idle.append((reader, writer))
                else:
                    _close(writer)
                log.info("POST %s: HTTP %d, %d bytes", self.url(path), response.status, len(response.body))
                return response

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        context = ssl.create_default_context() if self.scheme == "https" else None
        return await asyncio.open_connection(self.host, self.port, ssl=context, limit=1 << 20)

    async def _exchange(self, reader, writer, path, body, headers) -> tuple[Response, bool]:
        head = [
            f"POST {self.prefix}{path} HTTP/1.1",
            f"Host: {self.host_header}",
            "Content-Type: application/json",
            "Accept: application/json",
            f"Content-Length: {len(body)}",
            "Connection: keep-alive",
            "User-Agent: brewslm-tui",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection without a response")
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HTTPProtocolError(f"not an HTTP response: {status_line[:80]!r}")
        version, status = parts[0], int(parts[1])
        try:
            resp_headers = await _read_headers(reader)
            length = resp_headers.get("content-length")
            if resp_headers.get("transfer-encoding", "").lower() == "chunked":
                data = await _read_chunked(reader)
            elif length is not None:
                n = int(length)
                if n > MAX_BODY:
                    raise HTTPProtocolError(f"response too large ({n} bytes)")
                data = await reader.readexactly(n)
            else:
                data = await reader.read(MAX_BODY)
                resp_headers["connection"] = "close"
        except (ConnectionError, asyncio.IncompleteReadError, HTTPProtocolError, ValueError) as exc:
            exc._got_status = True  # type: ignore[union-attr]
            if isinstance(exc, ValueError):
                raise HTTPProtocolError(f"bad response framing: {exc}") from None
            raise
        conn = resp_headers.get("connection", "").lower()
        keep = conn != "close" and (version != "HTTP/1.0" or conn == "keep-alive")
        return Response(status, resp_headers, data), keep

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            _, writer = self._idle.pop()
            _close(writer)


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(200):
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise HTTPProtocolError(f"bad header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    raise HTTPProtocolError("too many header lines")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readline()
        size = int(size_line.split(b";")[0].strip() or b"x", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(out) > MAX_BODY:
            raise HTTPProtocolError("response too large")


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
