"""HTTP plumbing shared by the polling and streaming connectors (httpx), and the polling loop.

Third-party errors become ours here: 429 → :class:`RateLimited` (with ``Retry-After``),
5xx and network errors → :class:`Transient` (retried with backoff), 401/403 → a
:class:`~perron.errors.ConfigError` naming the token to fix (the source stops).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigError
from .base import Connector, Emit, RateLimited, Transient, retry_after

USER_AGENT = "perron/0.1 (open-source social listening)"


def check_url(url: str | None, what: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    if not url:
        raise ConfigError(f"{what} needs an --endpoint URL",
                          hint="e.g. perron sources add NAME --kind … --endpoint https://…")
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"bad endpoint {url!r} for {what}",
                          hint=f"give a {' or '.join(s + '://' for s in schemes)} URL")
    return url.rstrip("/")


def client(token: str | None = None, user_agent: str = USER_AGENT, timeout: float = 30.0,
           transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    headers = {"User-Agent": user_agent, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # read: Mastodon streams send a heartbeat every ~15 s, so 90 s of silence is a dead link
    return httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout, read=90.0),
                             follow_redirects=True, transport=transport)


def check(resp: httpx.Response, kind: str) -> None:
    """Raise the right error for a non-success answer (2xx and 304 pass)."""
    code = resp.status_code
    if code < 300 or code == 304:
        return
    if code == 429:
        raise RateLimited(f"{resp.request.url.host} answered 429 Too Many Requests",
                          retry_after(resp.headers.get("Retry-After")))
    if code in (401, 403):
        raise ConfigError(f"{resp.request.url} answered {code}: the {kind} token is missing, "
                          "wrong or lacks a scope",
                          hint=f"check PERRON_{kind.upper()}_TOKEN / `--token {kind}=…` / "
                               f"[{kind}] token in perron.toml")
    raise Transient(f"{resp.request.url} answered HTTP {code}")


NETWORK_ERRORS: tuple[type[BaseException], ...] = (httpx.TransportError, OSError,
                                                   asyncio.TimeoutError)


class PollingConnector(Connector):
    """A connector that asks every ``interval`` seconds (RSS, Reddit)."""

    default_interval = 300.0

    def __init__(self, spec: Any, token: str | None = None, **kw: Any) -> None:
        super().__init__(spec, token, **kw)
        self.interval = spec.opt_float("interval", self.default_interval)
        self.transport: httpx.AsyncBaseTransport | None = None
        self.requests = 0

    async def poll(self, http: httpx.AsyncClient, emit: Emit) -> None:
        raise NotImplementedError

    def load(self, cursor: str | None) -> None:
        """Restore state from the saved cursor."""

    def make_client(self) -> httpx.AsyncClient:
        return client(self.token, transport=self.transport)

    async def run(self, cursor: str | None, emit: Emit) -> None:
        self.load(cursor)
        async with self.make_client() as http:
            while True:
                try:
                    await self.poll(http, emit)
                except RateLimited as exc:
                    self.health.failed(str(exc), state="rate-limited")
                    await self.backoff.wait(exc.retry_after or 0.0)
                    continue
                except (Transient, *NETWORK_ERRORS) as exc:
                    self.health.failed(f"{type(exc).__name__}: {exc}")
                    await self.backoff.wait()
                    continue
                self.health.connected()
                self.backoff.reset()
                await self.backoff.sleep(self.interval)
