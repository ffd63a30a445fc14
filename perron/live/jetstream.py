"""Bluesky Jetstream over WebSocket: ``<endpoint>/subscribe?wantedCollections=…&wantedDids=…
&cursor=<time_us>``.

Each frame is one Jetstream event, normalized by the ``jetstream`` import format (posts,
deletions, likes, reposts, follows, profiles, handles). The cursor is the ``time_us`` of the
last event committed to the store. On reconnect or restart perron subscribes from that cursor
minus ``cursor_margin_s`` (default 2 s): Jetstream replays from there, so nothing is missed
(also when a load balancer sends us to another Jetstream instance, whose clock differs
slightly), and the few events seen twice are harmless because store writes are idempotent.

Options: ``collections`` (comma-separated NSIDs, default ``app.bsky.feed.post``; add
``app.bsky.feed.repost,app.bsky.feed.like,app.bsky.graph.follow`` for interactions), ``dids``
(only these accounts), ``cursor_margin_s``.

``compress=true`` (zstd with Jetstream's custom dictionary) is **not supported**: the
dictionary is not shipped with perron and is never downloaded at run time. Uncompressed
Jetstream costs more bandwidth (about ×1.5–2) but the same events.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec
import websockets
from websockets.exceptions import InvalidStatus, WebSocketException

from ..errors import ConfigError
from .base import Connector, Emit, SourceSpec, retry_after, setting
from .http import NETWORK_ERRORS

DEFAULT_COLLECTIONS = ("app.bsky.feed.post",)
MAX_FRAME = 4 * 1024 * 1024


class _Head(msgspec.Struct):
    time_us: int | None = None


_head = msgspec.json.Decoder(_Head)


class JetstreamConnector(Connector):
    kind = "jetstream"
    fmt = "jetstream"

    def __init__(self, spec: SourceSpec, token: str | None = None, **kw: Any) -> None:
        super().__init__(spec, token, **kw)
        endpoint = spec.endpoint or setting("jetstream.endpoint")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ConfigError(f"bad Jetstream endpoint {endpoint!r}",
                              hint="use a ws:// or wss:// URL, e.g. "
                                   "wss://jetstream2.us-east.bsky.network")
        if (spec.opt("compress") or "false").lower() in ("true", "1", "yes"):
            raise ConfigError("compress=true is not supported for Jetstream sources",
                              hint="remove the option: perron reads uncompressed Jetstream "
                                   "(zstd needs Jetstream's dictionary, which perron does not "
                                   "ship); see docs/listening.md")
        self.endpoint = endpoint.rstrip("/").removesuffix("/subscribe")
        self.collections = spec.opt_list("collections") or list(DEFAULT_COLLECTIONS)
        self.dids = spec.opt_list("dids")
        self.margin_us = int(spec.opt_float("cursor_margin_s", 2.0) * 1_000_000)
        self.frames = 0

    def url(self, cursor: int | None) -> str:
        params = [("wantedCollections", c) for c in self.collections]
        params += [("wantedDids", d) for d in self.dids]
        if cursor is not None:
            params.append(("cursor", str(max(0, cursor))))
        return f"{self.endpoint}/subscribe?{urlencode(params)}"

    async def run(self, cursor: str | None, emit: Emit) -> None:
        last = int(cursor) if cursor and cursor.isdigit() else None
        while True:
            wait_at_least = 0.0
            try:
                resume = None if last is None else last - self.margin_us
                async with websockets.connect(self.url(resume), max_size=MAX_FRAME,
                                              open_timeout=20, ping_interval=20,
                                              ping_timeout=30, close_timeout=2,
                                              user_agent_header="perron/0.1") as ws:
                    self.health.connected()
                    self.backoff.reset()
                    async for frame in ws:
                        last = await self._frame(frame, last, emit)
                self.health.failed("the server closed the connection")
            except InvalidStatus as exc:
                code = exc.response.status_code
                if code == 429:
                    wait_at_least = retry_after(exc.response.headers.get("Retry-After")) or 0.0
                    self.health.failed("Jetstream answered 429 Too Many Requests", "rate-limited")
                else:
                    self.health.failed(f"Jetstream refused the connection: HTTP {code}")
            except (WebSocketException, *NETWORK_ERRORS) as exc:
                self.health.failed(f"{type(exc).__name__}: {exc}")
            await self.backoff.wait(wait_at_least)

    async def _frame(self, frame: str | bytes, last: int | None, emit: Emit) -> int | None:
        self.frames += 1
        raw = frame.encode() if isinstance(frame, str) else frame
        # stable across replays (the same bad frame after the same event): one quarantine entry
        digest = hashlib.blake2b(raw, digest_size=4).hexdigest()
        where = f"after cursor {last}" if last is not None else "at start"
        where += f", frame {digest}"
        try:
            time_us = _head.decode(raw).time_us
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await emit(self.item(where, raw=raw,
                                 reason=f"invalid Jetstream frame: {exc}"))
            return last
        if time_us is None:
            await emit(self.item(where, raw=raw,
                                 reason="Jetstream event without time_us"))
            return last
        await emit(self.item(f"cursor {time_us}", raw=raw, cursor=str(time_us),
                             event_time=datetime.fromtimestamp(time_us / 1_000_000, UTC)))
        return time_us


def connector(spec: SourceSpec, token: str | None = None, *, check_only: bool = False,
              **kw: Any) -> JetstreamConnector:
    return JetstreamConnector(spec, token, **kw)
