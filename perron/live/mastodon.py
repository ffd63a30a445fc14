"""Mastodon streaming (server-sent events or WebSocket) with REST backfill of what a
disconnect missed.

Streams (option ``stream``): ``hashtag`` (option ``tag``), ``hashtag:local``, ``public``,
``public:local``, ``list`` (option ``list``, an id) and ``user`` (the token's home timeline and
notifications). Transport (option ``transport``): ``sse`` (default,
``GET /api/v1/streaming/<stream>``) or ``websocket`` (``/api/v1/streaming?stream=…``, on the
instance or on the host given by option ``streaming``, the instance's ``streaming_api``).

The cursor is the highest status id seen (ids are per instance and grow with time). On every
(re)connection perron first opens the stream, then asks the matching REST timeline for what came
after the cursor (``min_id`` pagination, 40 a page, at most ``backfill_pages`` pages, default
50), then reads the stream: the gap left by a disconnect or a restart is filled, and statuses
seen twice are written once (idempotent store).

``delete`` events carry the instance-local id only. perron stores each status' local id (per
instance) with the status, in the same transaction, and resolves a delete through it: the post
is removed and the deletion recorded, also when it was stored before a restart or by another
source on the same instance. A delete for a status perron never stored is ignored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import websockets
from websockets.exceptions import InvalidStatus, WebSocketException

from ..errors import ConfigError
from .base import Connector, Emit, RateLimited, SourceSpec, Transient, resolve_token
from .http import NETWORK_ERRORS, check, check_url, client

STREAMS = ("hashtag", "hashtag:local", "public", "public:local", "list", "user")
PAGE = 40


class _Status(msgspec.Struct):
    id: str | None = None
    uri: str | None = None
    created_at: str | None = None


_status = msgspec.json.Decoder(_Status)


def _key(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id)  # numeric strings: longer is larger


class MastodonConnector(Connector):
    kind = "mastodon"
    fmt = "mastodon"

    def __init__(self, spec: SourceSpec, token: str | None = None, **kw: Any) -> None:
        super().__init__(spec, token, **kw)
        self.endpoint = check_url(spec.endpoint, "a Mastodon source (the instance URL)")
        self.stream = spec.opt("stream", "hashtag") or "hashtag"
        if self.stream not in STREAMS:
            raise ConfigError(f"unknown Mastodon stream {self.stream!r}",
                              hint="use one of: " + ", ".join(STREAMS))
        self.tag = (spec.opt("tag") or "").lstrip("#")
        self.list_id = spec.opt("list") or ""
        if self.stream.startswith("hashtag") and not self.tag:
            raise ConfigError("a Mastodon hashtag stream needs a tag",
                              hint="--option tag=montreal")
        if self.stream == "list" and not self.list_id:
            raise ConfigError("a Mastodon list stream needs a list id", hint="--option list=42")
        self.transport = spec.opt("transport", "sse") or "sse"
        if self.transport not in ("sse", "websocket"):
            raise ConfigError(f"unknown transport {self.transport!r}",
                              hint="use sse or websocket")
        self.backfill_pages = int(spec.opt_float("backfill_pages", 50))
        # an instance may stream from another host (its /api/v1/instance `streaming_api` URL)
        self.streaming = (spec.opt("streaming") or "").rstrip("/") or None
        if self.streaming and not self.streaming.startswith(("ws://", "wss://")):
            raise ConfigError(f"bad streaming URL {self.streaming!r}",
                              hint="use the instance's streaming_api URL, e.g. "
                                   "wss://streaming.mastodon.social")
        self.cursor: str | None = None
        self.http_transport: httpx.AsyncBaseTransport | None = None

    # -- urls ----------------------------------------------------------------------------
    def sse_url(self) -> str:
        path = {"hashtag": "hashtag", "hashtag:local": "hashtag/local", "public": "public",
                "public:local": "public/local", "list": "list", "user": "user"}[self.stream]
        return f"{self.endpoint}/api/v1/streaming/{path}{self._query()}"

    def ws_url(self) -> str:
        base = self.streaming or self.endpoint.replace("https://", "wss://", 1).replace(
            "http://", "ws://", 1)
        params = [("stream", self.stream)]
        if self.tag:
            params.append(("tag", self.tag))
        if self.list_id:
            params.append(("list", self.list_id))
        if self.token:
            params.append(("access_token", self.token))
        return f"{base}/api/v1/streaming?{urlencode(params)}"

    def _query(self) -> str:
        if self.stream.startswith("hashtag"):
            return "?" + urlencode({"tag": self.tag})
        if self.stream == "list":
            return "?" + urlencode({"list": self.list_id})
        return ""

    def timeline(self) -> tuple[str, dict[str, str]]:
        if self.stream.startswith("hashtag"):
            local = {"local": "true"} if self.stream.endswith(":local") else {}
            return f"/api/v1/timelines/tag/{self.tag}", local
        if self.stream.startswith("public"):
            return "/api/v1/timelines/public", ({"local": "true"}
                                                if self.stream.endswith(":local") else {})
        if self.stream == "list":
            return f"/api/v1/timelines/list/{self.list_id}", {}
        return "/api/v1/timelines/home", {}

    # -- items -----------------------------------------------------------------------------
    async def _status(self, raw: bytes, where: str, emit: Emit) -> None:
        try:
            head = _status.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await emit(self.item(where, raw=raw, reason=f"invalid status JSON: {exc}"))
            return
        if head.id and head.id.isdigit() and (self.cursor is None
                                              or _key(head.id) > _key(self.cursor)):
            self.cursor = head.id
        when = None
        if head.created_at:
            try:
                when = datetime.fromisoformat(head.created_at).astimezone(UTC)
            except ValueError:
                when = None
        local = ((self.endpoint, head.id, f"mastodon:{head.uri}") if head.id and head.uri
                 else None)
        await emit(self.item(f"status {head.id}" if head.id else where, raw=raw,
                             cursor=self.cursor, event_time=when, local_id=local))

    async def _event(self, event: str, data: str, where: str, emit: Emit) -> None:
        if event in ("update", "status.update"):
            await self._status(data.encode(), where, emit)
        elif event == "delete" and data.strip():
            await emit(self.item(f"delete {data.strip()}",
                                 delete_local=(self.endpoint, data.strip())))
        # notifications, filters_changed, announcements…: not posts

    # -- backfill ------------------------------------------------------------------------------
    async def backfill(self, http: httpx.AsyncClient, emit: Emit) -> int:
        if self.cursor is None:
            return 0
        path, params = self.timeline()
        n = 0
        for _page in range(self.backfill_pages):
            resp = await http.get(self.endpoint + path,
                                  params={**params, "min_id": self.cursor, "limit": str(PAGE)})
            check(resp, "mastodon")
            try:
                statuses = resp.json()
            except ValueError as exc:
                raise Transient(f"backfill: {path} did not answer JSON: {exc}") from None
            if not isinstance(statuses, list) or not statuses:
                return n
            statuses.sort(key=lambda s: _key(str(s.get("id", ""))) if isinstance(s, dict)
                          else (0, ""))
            for s in statuses:
                await self._status(json.dumps(s).encode(), f"backfill {path}", emit)
                n += 1
            if len(statuses) < PAGE:
                return n
        self.health.last_error = (f"backfill stopped after {self.backfill_pages} pages: older "
                                  "statuses of the gap were not fetched")
        return n

    # -- streaming -----------------------------------------------------------------------------
    async def run(self, cursor: str | None, emit: Emit) -> None:
        self.cursor = cursor
        if self.stream in ("user", "list"):
            self.token = resolve_token("mastodon", self.token, required=True,
                                       why=f"the {self.stream} stream is private")
        async with client(self.token, transport=self.http_transport) as http:
            while True:
                wait_at_least = 0.0
                try:
                    if self.transport == "sse":
                        await self._run_sse(http, emit)
                    else:
                        await self._run_ws(http, emit)
                    self.health.failed("the server closed the stream")
                except RateLimited as exc:
                    self.health.failed(str(exc), state="rate-limited")
                    wait_at_least = exc.retry_after or 0.0
                except InvalidStatus as exc:
                    self.health.failed(f"streaming refused: HTTP {exc.response.status_code}")
                except (Transient, WebSocketException, *NETWORK_ERRORS) as exc:
                    self.health.failed(f"{type(exc).__name__}: {exc}")
                await self.backoff.wait(wait_at_least)

    async def _run_sse(self, http: httpx.AsyncClient, emit: Emit) -> None:
        async with http.stream("GET", self.sse_url(),
                               headers={"Accept": "text/event-stream"}) as resp:
            check(resp, "mastodon")
            self.health.connected()
            await self.backfill(http, emit)  # the stream is open: nothing falls in between
            self.backoff.reset()
            async for event, data in _sse(resp.aiter_lines()):
                await self._event(event, data, "stream", emit)

    async def _run_ws(self, http: httpx.AsyncClient, emit: Emit) -> None:
        async with websockets.connect(self.ws_url(), open_timeout=20, ping_interval=30,
                                      close_timeout=2) as ws:
            self.health.connected()
            await self.backfill(http, emit)
            self.backoff.reset()
            async for frame in ws:
                raw = frame.encode() if isinstance(frame, str) else frame
                try:
                    msg = json.loads(raw)
                    event, payload = msg["event"], msg.get("payload", "")
                except (ValueError, KeyError, TypeError) as exc:
                    await emit(self.item("websocket frame", raw=raw,
                                         reason=f"invalid streaming message: {exc}"))
                    continue
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                await self._event(str(event), str(payload), "websocket frame", emit)


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """Server-sent events: (event, data) per blank-line-terminated block; comments skipped."""
    event, data = "message", []
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    # an event cut by the end of the stream is incomplete: dropped, as the SSE spec says


def connector(spec: SourceSpec, token: str | None = None, *, check_only: bool = False,
              **kw: Any) -> MastodonConnector:
    conn = MastodonConnector(spec, token, **kw)
    if not check_only:
        conn.token = resolve_token("mastodon", token, required=False)
    return conn
