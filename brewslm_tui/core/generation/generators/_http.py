"""The openai generator's HTTP client: aiohttp, with the limits and the words a user needs.

Why aiohttp: real networks need proxies from the environment (CONNECT for https, NO_PROXY),
a private CA, gzip, redirects and IPv6; aiohttp does all of that and, measured on this box
against `benchmarks/instant_server.py` at concurrency 64, sustains about 1,900 requests/s
(httpx: 60). This module imports aiohttp, so only `openai.stream()` imports this module:
starting the app, `check` and loading playbooks never pay for it.

What is added here:

- every body is capped at `MAX_BODY` however it is framed (Content-Length, chunked, ended by
  closing the connection; after gzip is undone, so a small bomb cannot expand past it);
- redirects are followed (at most 5) only to the same origin: the Authorization header never
  goes to a host the playbook did not name;
- the trusted CAs are the playbook's `ca_bundle`, else `REQUESTS_CA_BUNDLE`, else
  `SSL_CERT_FILE` (OpenSSL's own variable), else the system's;
- failures become `TransportError` with one plain sentence; a certificate that is not trusted
  says so and how to trust a private CA, and is not retried (no retry fixes it).

Errors never carry request headers (they hold the API key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp.helpers import basicauth_from_netrc, get_env_proxy_for_url, netrc_from_env
from yarl import URL

MAX_BODY = 32 * 1024 * 1024
MAX_REDIRECTS = 5
log = logging.getLogger(__name__)  # `--verbose`: URLs, sizes and statuses; never headers (the key)
_REDIRECTS = frozenset({301, 302, 307, 308})  # re-sent as the same POST; 303 means "GET elsewhere"


class TransportError(Exception):
    """A request that got no usable HTTP response; `retry` False when retrying cannot help."""

    def __init__(self, message: str, *, retry: bool = True, advice: str | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.advice = advice


class SetupError(Exception):
    """The client cannot be built as configured (a CA bundle that is missing or not PEM)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def ca_file(ca_bundle: Path | None) -> tuple[str | None, str]:
    """(the CA file to trust, where that choice came from), or (None, "system") for the defaults."""
    if ca_bundle is not None:
        return str(ca_bundle), "openai.ca_bundle"
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(name)
        if value:
            return value, name
    return None, "system"


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A verifying TLS context trusting `ca_file(ca_bundle)`; SetupError names a bad bundle."""
    cafile, origin = ca_file(ca_bundle)
    try:
        return ssl.create_default_context(cafile=cafile)
    except FileNotFoundError:
        raise SetupError(f"{origin}: no such CA bundle file: {cafile}") from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise SetupError(f"{origin}: {cafile} is not a PEM bundle of CA certificates ({exc})") from None


def _untrusted_advice() -> str:
    return (
        "If the server (or a TLS-inspecting proxy) uses a private CA, trust it: set "
        'ca_bundle = "path/to/ca.pem" in the playbook\'s [openai] table (or export '
        "REQUESTS_CA_BUNDLE / SSL_CERT_FILE); never turn verification off."
    )


class HTTPClient:
    """POSTs to one origin (`base_url`), at most `max_connections` connections, proxies from the environment."""

    def __init__(self, base_url: str, *, max_connections: int = 4, ca_bundle: Path | None = None) -> None:
        url = URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base = url.with_path(url.path.rstrip("/")).with_query(None).with_fragment(None)
        self.max_connections = max_connections
        self._ssl = ssl_context(ca_bundle) if url.scheme == "https" else None
        self._session: aiohttp.ClientSession | None = None
        self._proxy: URL | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None
        self._netrc_auth: aiohttp.BasicAuth | None = None

    def url(self, path: str) -> str:
        return str(self.base.with_user(None)) + path

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._read_env()
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, ssl=self._ssl if self._ssl is not None else True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,  # the environment is read once, in `_read_env`
                timeout=aiohttp.ClientTimeout(total=None),  # `post` bounds the whole exchange
                headers={"User-Agent": "brewslm-tui", "Accept": "application/json"},
            )
        return self._session

    def _read_env(self) -> None:
        """The proxy (HTTP(S)_PROXY, NO_PROXY and their lower-case forms) and ~/.netrc login for
        the one origin, read once, as aiohttp's `trust_env=True` would read them.

        `trust_env=True` looks both up again for every request, each in a thread (the netrc
        file read and parsed every time): measured, that was most of the job's CPU per request
        against a fast local server. Redirects stay on the same origin, so one lookup holds.
        """
        with contextlib.suppress(LookupError):
            self._proxy, self._proxy_auth = get_env_proxy_for_url(self.base)
        netrc = netrc_from_env()
        if netrc is not None and self.base.host:
            with contextlib.suppress(LookupError):
                self._netrc_auth = basicauth_from_netrc(netrc, self.base.host)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, *, timeout: float = 60.0
    ) -> Response:
        """POST `body` to `base_url + path`; the whole exchange (redirects too) within `timeout` seconds."""
        session = self._open()
        target = URL(self.url(path))
        sent = {"Content-Type": "application/json", **(headers or {})}
        auth = self._netrc_auth if "Authorization" not in sent else None  # (aiohttp refuses both)
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    async with session.post(
                        target,
                        data=body,
                        headers=sent,
                        allow_redirects=False,
                        proxy=self._proxy,
                        proxy_auth=self._proxy_auth,
                        auth=auth,
                    ) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in _REDIRECTS and location:
                            target = self._redirect(target, location)
                            continue
                        data = await _read_capped(resp)
                        if log.isEnabledFor(logging.INFO):
                            shown = target.with_user(None)
                            log.info(
                                "POST %s (%d bytes): HTTP %d, %d bytes",
                                shown,
                                len(body),
                                resp.status,
                                len(data),
                            )
                        return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, data)
                except TransportError:
                    raise
                except aiohttp.ClientError as exc:
                    raise _translate(exc, target) from None
            raise TransportError(f"more than {MAX_REDIRECTS} redirects from {self.url(path)}", retry=False)

    def _redirect(self, target: URL, location: str) -> URL:
        new = target.join(URL(location))
        if (new.scheme, new.host, new.port) != (self.base.scheme, self.base.host, self.base.port):
            raise TransportError(
                f"{target.with_user(None)} redirected to another origin ({new.with_user(None).origin()}); "
                "the key is never sent there: set base_url to the new address if you trust it",
                retry=False,
            )
        return new

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    """The (decoded) body, refused past MAX_BODY whatever the framing."""
    length, encoded = resp.content_length, bool(resp.headers.get("Content-Encoding"))
    if length is not None and not encoded:  # the common case: the size is known and final
        if length > MAX_BODY:
            raise TransportError(f"response too large ({length} bytes; the limit is 32 MiB)")
        return await resp.read()
    out = bytearray()
    async for chunk in resp.content.iter_chunked(1 << 16):
        out += chunk
        if len(out) > MAX_BODY:
            raise TransportError("response too large (more than 32 MiB); not read further")
    return bytes(out)


def _translate(exc: aiohttp.ClientError, target: URL) -> TransportError:
    """One plain sentence for an aiohttp failure (never with the request's headers)."""
    where = f"{target.host}:{target.port}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) or _is_untrusted(exc):
        reason = getattr(getattr(exc, "certificate_error", None), "verify_message", None) or "verify failed"
        return TransportError(
            f"the TLS certificate of {where} was not trusted ({reason})",
            retry=False,
            advice=_untrusted_advice(),
        )
    if isinstance(exc, aiohttp.ClientSSLError):
        return TransportError(f"the TLS handshake with {where} failed: {_first_line(exc)}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return TransportError(
            f"cannot reach the proxy from the environment (HTTPS_PROXY/HTTP_PROXY): {_first_line(exc)}"
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return TransportError(
            f"the proxy from the environment refused the connection to {where}: HTTP {exc.status} {exc.message}",
            retry=exc.status >= 500,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError(f"cannot connect to {where}: {exc.os_error.strerror or exc.os_error}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransportError("the server closed the connection without a complete response")
    return TransportError(f"bad response: {_first_line(exc)}")


def _is_untrusted(exc: BaseException) -> bool:
    """A certificate verification failure anywhere in the chain (e.g. behind a CONNECT proxy)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "os_error", None)
    return False


def _first_line(exc: BaseException) -> str:
    text = (str(exc) or type(exc).__name__).splitlines()[0]
    return text if len(text) < 200 else text[:197] + "..."
