"""Small real servers on 127.0.0.1 that replay recorded payloads, with scripted faults.

- :class:`JetstreamServer`: a WebSocket server (``websockets``) speaking Jetstream's
  ``/subscribe?…&cursor=<time_us>``; honours the cursor; can drop the connection after N
  frames, send malformed frames, refuse connections with 429 (``Retry-After``) or 5xx, and pace
  events at a given rate with live ``time_us`` (for lag measurements).
- :class:`MastodonServer`: SSE streaming (``/api/v1/streaming/hashtag?tag=…``) and the REST
  timelines (``min_id`` pagination); statuses can be "published while nobody listens" to
  check that the backfill fills the gap; ``delete`` events.
- :class:`FeedServer`: one RSS/Atom feed with ``ETag`` / ``Last-Modified`` and 304 answers.
- :class:`RedditServer`: listings honouring ``before``/``limit`` and enforcing a rate-limit
  window with ``X-Ratelimit-*`` headers (and counting violations).

Generators turn the real recorded events/statuses into as many as a test or a benchmark needs
(new rkeys / ids / times, same shape). Every server runs in its own thread, so a test can
drive a ``perron listen`` subprocess against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import zstandard

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sources"
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


# --- generators -----------------------------------------------------------------------------

def tid(n: int) -> str:
    """A Bluesky-TID-shaped record key (13 base32-sortable chars) for the integer ``n``."""
    out = []
    for _ in range(13):
        out.append(_B32[n & 31])
        n >>= 5
    return "".join(reversed(out))


def recorded_jetstream(fixtures: Path = FIXTURES) -> list[dict[str, Any]]:
    """The recorded (real and synthetic, valid) Jetstream events."""
    out = []
    for name in ("jsonbench_greptimedb.jsonl", "events_fr.jsonl"):
        for line in (fixtures / "jetstream" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def jetstream_events(n_posts: int, *, start_us: int = 1_732_206_400_000_000,
                     step_us: int = 1000, deletions: int = 0, others: bool = True,
                     seed: int = 7, fixtures: Path = FIXTURES
                     ) -> tuple[list[dict[str, Any]], set[str]]:
    """``n_posts`` post-create events (plus, with ``others``, one like/follow/identity event
    every ~10 posts) shaped like the recorded ones, then ``deletions`` deletes of the first
    posts. Returns (events in time order, ids of the posts that must remain)."""
    rng = random.Random(seed)
    recorded = recorded_jetstream(fixtures)
    posts = [e for e in recorded if e.get("kind") == "commit"
             and e["commit"].get("collection") == "app.bsky.feed.post"
             and e["commit"].get("operation") == "create"]
    rest = [e for e in recorded if e not in posts and e.get("kind") == "commit"
            and e["commit"].get("operation") == "create"]
    events: list[dict[str, Any]] = []
    created: list[str] = []
    t = start_us
    for i in range(n_posts):
        e = deepcopy(posts[i % len(posts)])
        e["did"] = f"did:plc:gen{i % 997:04d}{e['did'][8:20]}"
        e["commit"]["rkey"] = tid(1_000_000 + i)
        e["commit"]["rev"] = tid(2_000_000 + i)
        e["commit"]["record"]["text"] = f"{e['commit']['record'].get('text', '')} #{i}"
        t += step_us
        e["time_us"] = t
        events.append(e)
        created.append(f"bluesky:at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}")
        if others and rest and rng.random() < 0.1:
            o = deepcopy(rng.choice(rest))
            o["commit"]["rkey"] = tid(3_000_000 + i)
            t += step_us
            o["time_us"] = t
            events.append(o)
    for i in range(deletions):
        src = events_by_id(events, created[i])
        t += step_us
        events.append({"did": src["did"], "time_us": t, "kind": "commit",
                       "commit": {"rev": tid(4_000_000 + i), "operation": "delete",
                                  "collection": "app.bsky.feed.post",
                                  "rkey": src["commit"]["rkey"]}})
    return events, set(created[deletions:])


def events_by_id(events: list[dict[str, Any]], post_id: str) -> dict[str, Any]:
    did, rkey = post_id.split("at://", 1)[1].split("/app.bsky.feed.post/")
    return next(e for e in events if e["did"] == did and e.get("commit", {}).get("rkey") == rkey)


def mastodon_statuses(n: int, *, start_id: int = 112_000_000_000_001_000,
                      fixtures: Path = FIXTURES) -> list[dict[str, Any]]:
    """``n`` statuses shaped like the recorded ones (the real Mastodon.py status and the
    synthetic streaming capture), with increasing ids."""
    templates = [json.loads((fixtures / "mastodon" / "status_Mastodon.py.json").read_text())]
    for line in (fixtures / "mastodon" / "streaming_public.txt").read_text().splitlines():
        if line.startswith("data:"):
            obj = json.loads(line[5:])
            if isinstance(obj, dict) and isinstance(obj.get("account"), dict):
                templates.append(obj)
    out = []
    for i in range(n):
        s = deepcopy(templates[i % len(templates)])
        sid = str(start_id + i)
        user = s["account"]["username"]
        s["id"] = sid
        s["uri"] = f"https://piaille.example.fr/users/{user}/statuses/{sid}"
        s["url"] = f"https://piaille.example.fr/@{user}/{sid}"
        s["account"]["url"] = f"https://piaille.example.fr/@{user}"
        s["content"] = f"<p>Statut numéro {i} #perron</p>"
        s["in_reply_to_id"] = s["in_reply_to_account_id"] = None
        s["reblog"] = None
        out.append(s)
    return out


def mastodon_post_id(status: dict[str, Any]) -> str:
    return f"mastodon:{status['uri']}"


# --- a server in a thread ------------------------------------------------------------------

class _Threaded:
    host = "127.0.0.1"
    port = 0

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


# --- Jetstream ----------------------------------------------------------------------------------

@dataclass
class JetstreamScript:
    #: close connection k after this many frames (missing/None: never close)
    disconnect_after: list[int | None] = field(default_factory=list)
    #: answer connection attempt k with this HTTP status instead of accepting it
    refuse: list[int | None] = field(default_factory=list)
    retry_after: float = 0.2
    #: send a malformed frame before the event at these positions of the replay
    malformed_at: set[int] = field(default_factory=set)
    #: events per second (None: as fast as possible)
    rate: float | None = None
    #: stamp events with the send time (live firehose) instead of their recorded time_us
    live: bool = False
    #: a zstd dictionary: subscribers asking ``compress=true`` get each event compressed with
    #: it, as binary frames (and a corrupt zstd frame at ``malformed_at``), as Jetstream does
    zstd_dictionary: bytes | None = None


class JetstreamServer(_Threaded):
    """Replays ``events`` to every subscriber from the requested cursor, then stays open."""

    def __init__(self, events: list[dict[str, Any]] | list[bytes],
                 script: JetstreamScript | None = None) -> None:
        self.frames = [e if isinstance(e, bytes) else json.dumps(e).encode() for e in events]
        decoded = [json.loads(f) for f in self.frames]
        self.times = [e["time_us"] for e in decoded]
        self.collections = [(e.get("commit") or {}).get("collection") for e in decoded]
        self.script = script or JetstreamScript()
        self.connections: list[dict[str, Any]] = []
        self.live_serial = 0
        self.attempts = 0
        self.sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, self.host, 0, process_request=self._process,
                         compression=None, max_queue=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            server.close(close_connections=True)

    def _process(self, connection: Any, request: Any) -> Any:
        k = self.attempts
        self.attempts += 1
        code = self.script.refuse[k] if k < len(self.script.refuse) else None
        if code:
            resp = connection.respond(code, "refused by the test script\n")
            if code == 429:
                resp.headers["Retry-After"] = str(self.script.retry_after)
            return resp
        return None

    def _now(self, frame: bytes) -> bytes:
        obj = json.loads(frame)
        now_us = time.time_ns() // 1000
        obj["time_us"] = now_us
        commit = obj.get("commit") or {}
        if "rkey" in commit:
            self.live_serial += 1
            commit["rkey"] = tid(50_000_000 + self.live_serial)
        record = commit.get("record")
        if isinstance(record, dict):
            record["createdAt"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
                now_us // 1_000_000)) + f".{now_us % 1_000_000:06d}Z"
        return json.dumps(obj).encode()

    async def _handler(self, ws: Any) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        wanted = set(query.get("wantedCollections", []))
        zc = None
        if query.get("compress") == ["true"] and self.script.zstd_dictionary:
            zc = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(
                self.script.zstd_dictionary))
        k = len(self.connections)
        self.connections.append({"path": ws.request.path, "cursor": cursor, "sent": 0})
        limit = (self.script.disconnect_after[k] if k < len(self.script.disconnect_after)
                 else None)
        start = 0
        if cursor is not None and not self.script.live:
            import bisect

            start = bisect.bisect_left(self.times, cursor)
        sent = 0
        t0 = time.perf_counter()
        try:
            n_frames = len(self.frames)
            stop = 10 ** 12 if self.script.live else n_frames
            for j in range(start, stop):
                i = j % n_frames
                if limit is not None and sent >= limit:
                    await ws.close()
                    return
                if i in self.script.malformed_at:
                    await ws.send(b"\x28\xb5\x2f\xfd" + b"corrupt" if zc
                                  else '{"did": "did:plc:broken", "time_us": 17322064')
                if wanted and self.collections[i] and self.collections[i] not in wanted:
                    continue
                frame = self.frames[i]
                if self.script.live:  # a new event now: fresh time, rkey and createdAt
                    frame = self._now(frame)
                await ws.send(zc.compress(frame) if zc else frame.decode())
                sent += 1
                self.sent += 1
                self.connections[-1]["sent"] = sent
                if self.script.rate:
                    delay = t0 + sent / self.script.rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif sent % 256 == 0:
                    await asyncio.sleep(0)
            await ws.wait_closed()
        except Exception:  # the client went away: nothing to replay to
            return


# --- HTTP servers (stdlib, one thread per request) -------------------------------------------

class _HTTPServer(_Threaded):
    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                outer.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        self.closing = threading.Event()
        self.server = ThreadingHTTPServer((self.host, 0), self._make_handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def send_json(req: BaseHTTPRequestHandler, obj: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(body)


class MastodonServer(_HTTPServer):
    """``segments[k] = (published while nobody listened, streamed on connection k)``: at
    connection k the first list is added to the timeline silently (the REST backfill must find
    it), then the second is streamed. Connections before the last close after their segment;
    the last stays open. ``deletes[k]``: local ids deleted (streamed) after segment k."""

    def __init__(self, statuses: list[dict[str, Any]],
                 segments: list[tuple[list[int], list[int]]],
                 deletes: dict[int, list[str]] | None = None,
                 malformed_at: set[int] | None = None) -> None:
        self.statuses = statuses
        self.segments = segments
        self.deletes = deletes or {}
        self.malformed_at = malformed_at or set()
        self.timeline: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stream_connections = 0
        self.rest_requests: list[str] = []

    def _publish(self, idx: list[int]) -> None:
        with self.lock:
            self.timeline.extend(self.statuses[i] for i in idx)

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlsplit(req.path)
        if url.path.startswith("/api/v1/streaming"):
            self._stream(req)
        elif url.path.startswith("/api/v1/timelines/"):
            self.rest_requests.append(req.path)
            q = parse_qs(url.query)
            min_id = int(q.get("min_id", ["0"])[0])
            limit = int(q.get("limit", ["20"])[0])
            with self.lock:
                newer = sorted((s for s in self.timeline if int(s["id"]) > min_id),
                               key=lambda s: int(s["id"]))[:limit]
            self.send_json(req, list(reversed(newer)))  # Mastodon answers newest first
        else:
            self.send_json(req, {"error": "not found"}, 404)

    def _stream(self, req: BaseHTTPRequestHandler) -> None:
        k = self.stream_connections
        self.stream_connections += 1
        if k >= len(self.segments):
            silent, streamed = [], []
        else:
            silent, streamed = self.segments[k]
        self._publish(silent)
        req.send_response(200)
        req.send_header("Content-Type", "text/event-stream")
        req.end_headers()
        try:
            req.wfile.write(b":)\n\n")
            for n, i in enumerate(streamed):
                if n in self.malformed_at and k == 0:
                    req.wfile.write(b'event: update\ndata: {"id": "1", "uri": \n\n')
                self._publish([i])
                payload = json.dumps(self.statuses[i])
                req.wfile.write(f"event: update\ndata: {payload}\n\n".encode())
                req.wfile.flush()
            for sid in self.deletes.get(k, []):
                req.wfile.write(f"event: delete\ndata: {sid}\n\n".encode())
            req.wfile.flush()
            if k < len(self.segments) - 1:
                return  # a disconnect
            while not self.closing.wait(0.2):
                req.wfile.write(b":thump\n\n")
                req.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class MastodonWsStreaming(_Threaded):
    """The WebSocket side of a :class:`MastodonServer` (``/api/v1/streaming?stream=…``), on
    its own port like a real instance's streaming server; same segments, same timeline."""

    def __init__(self, rest: MastodonServer) -> None:
        self.rest = rest
        self._ready = threading.Event()
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, self.host, 0, compression=None,
                         process_request=self._accept) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            server.close(close_connections=True)

    def _accept(self, ws: Any, request: Any) -> None:
        # before the handshake answers, as on a real instance: what was published while
        # nobody listened is on the timeline by the time the client can ask for it
        rest = self.rest
        self.paths.append(request.path)
        ws.segment = k = rest.stream_connections
        rest.stream_connections += 1
        rest._publish(rest.segments[k][0] if k < len(rest.segments) else [])

    async def _handler(self, ws: Any) -> None:
        rest = self.rest
        k = ws.segment
        streamed = rest.segments[k][1] if k < len(rest.segments) else []
        try:
            for n, i in enumerate(streamed):
                if n in rest.malformed_at and k == 0:
                    await ws.send('{"event": "update", "payload": ')
                rest._publish([i])
                await ws.send(json.dumps({"stream": ["hashtag"], "event": "update",
                                          "payload": json.dumps(rest.statuses[i])}))
            for sid in rest.deletes.get(k, []):
                await ws.send(json.dumps({"stream": ["hashtag"], "event": "delete",
                                          "payload": sid}))
            if k < len(rest.segments) - 1:
                await ws.close()
                return
            await ws.wait_closed()
        except Exception:
            return


class FeedServer(_HTTPServer):
    """One feed at ``/feed.xml``; ``versions`` are served in turn each time the previous one
    has been fetched once with 200 (``advance()`` moves on by hand)."""

    def __init__(self, body: bytes, etag: str = '"v1"',
                 last_modified: str = "Mon, 23 Nov 2026 10:00:00 GMT") -> None:
        self.body, self.etag, self.last_modified = body, etag, last_modified
        self.requests: list[dict[str, str | None]] = []
        self.answers: list[int] = []

    def update(self, body: bytes, etag: str, last_modified: str) -> None:
        self.body, self.etag, self.last_modified = body, etag, last_modified

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        self.requests.append({"if_none_match": req.headers.get("If-None-Match"),
                              "if_modified_since": req.headers.get("If-Modified-Since")})
        if req.headers.get("If-None-Match") == self.etag:
            self.answers.append(304)
            req.send_response(304)
            req.send_header("ETag", self.etag)
            req.end_headers()
            return
        self.answers.append(200)
        req.send_response(200)
        req.send_header("Content-Type", "application/rss+xml")
        req.send_header("ETag", self.etag)
        req.send_header("Last-Modified", self.last_modified)
        req.send_header("Content-Length", str(len(self.body)))
        req.end_headers()
        req.wfile.write(self.body)


def reddit_things(n: int, subreddit: str = "quebec", fixtures: Path = FIXTURES
                  ) -> list[dict[str, Any]]:
    """``n`` submissions shaped like the recorded listing, oldest first."""
    listing = json.loads((fixtures / "reddit" / "new_quebec.json").read_text())
    templates = [c for c in listing["data"]["children"] if c["kind"] == "t3"]
    out = []
    for i in range(n):
        t = deepcopy(templates[i % len(templates)])
        native = _b36(1_000_000 + i)
        t["data"].update(id=native, name=f"t3_{native}", subreddit=subreddit,
                         title=f"Sujet {i}", created_utc=1_732_000_000 + i,
                         permalink=f"/r/{subreddit}/comments/{native}/sujet_{i}/")
        out.append(t)
    return out


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


class RedditServer(_HTTPServer):
    """``/r/<sub>/new.json`` over ``things`` (oldest first): each request first publishes
    ``per_request`` more things, then answers the newest ones newer than ``before``. At most
    ``allowed`` requests per ``window`` seconds (with X-Ratelimit-* headers); an extra request
    gets a 429 and counts as a violation."""

    def __init__(self, things: list[dict[str, Any]], per_request: int = 30, allowed: int = 3,
                 window: float = 1.0) -> None:
        self.things = things
        self.per_request = per_request
        self.allowed, self.window = allowed, window
        self.published = 0
        self.requests: list[tuple[float, str]] = []
        self.violations = 0
        self.user_agents: set[str] = set()
        self._window_start: float | None = None
        self._used = 0
        self.lock = threading.Lock()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        with self.lock:
            now = time.monotonic()
            self.user_agents.add(req.headers.get("User-Agent") or "")
            if self._window_start is None or now - self._window_start >= self.window:
                self._window_start, self._used = now, 0
            self._used += 1
            reset = max(0.0, self.window - (now - self._window_start))
            remaining = max(0, self.allowed - self._used)
            headers = {"X-Ratelimit-Used": str(self._used),
                       "X-Ratelimit-Remaining": f"{remaining:.1f}",
                       "X-Ratelimit-Reset": f"{reset:.3f}"}
            self.requests.append((now, req.path))
            if self._used > self.allowed:
                self.violations += 1
                self.send_json(req, {"message": "Too Many Requests", "error": 429}, 429,
                               {**headers, "Retry-After": f"{reset:.3f}"})
                return
            self.published = min(len(self.things), self.published + self.per_request)
            q = parse_qs(urlsplit(req.path).query)
            limit = int(q.get("limit", ["25"])[0])
            visible = self.things[:self.published]
            if "before" in q:  # the `limit` things just newer than `before`
                names = [t["data"]["name"] for t in visible]
                cut = names.index(q["before"][0]) + 1 if q["before"][0] in names else 0
                visible = visible[cut:cut + limit]
            page = list(reversed(visible))[:limit]  # newest first, like Reddit
        self.send_json(req, {"kind": "Listing", "data": {"children": page, "before": None,
                                                         "after": None}}, headers=headers)


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@contextlib.contextmanager
def running(server: _Threaded) -> Iterator[Any]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
