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
(only these accounts), ``cursor_margin_s``, ``zstd_dictionary``.

Compression: Jetstream compresses each event with zstd and its own dictionary
(``pkg/models/zstd_dictionary`` in the Jetstream repository). perron never downloads anything at
run time, so compression is on when ``zstd_dictionary`` points at that file on disk (download it
once); perron then asks for ``compress=true`` and decompresses binary frames (text frames, from a
server that does not compress, are read as they are). ``compress=true`` without the dictionary
is refused with that hint. Compressed Jetstream carries the same events for about half the
bandwidth.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec
import websockets
import zstandard
from websockets.exceptions import InvalidStatus, WebSocketException

from ..errors import ConfigError
from .base import Connector, Emit, SourceSpec, retry_after, setting
from .http import NETWORK_ERRORS

DEFAULT_COLLECTIONS = ("app.bsky.feed.post",)
MAX_FRAME = 4 * 1024 * 1024
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


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
        self.decompressor, self.dict_id = _decompressor(spec)
        self.dictionary_works = False  # one frame decompressed: later failures are bad frames
        self.failed_frames = 0
        self.endpoint = endpoint.rstrip("/").removesuffix("/subscribe")
        self.collections = spec.opt_list("collections") or list(DEFAULT_COLLECTIONS)
        self.dids = spec.opt_list("dids")
        self.margin_us = int(spec.opt_float("cursor_margin_s", 2.0) * 1_000_000)
        self.frames = 0

    def url(self, cursor: int | None) -> str:
        params = [("wantedCollections", c) for c in self.collections]
        params += [("wantedDids", d) for d in self.dids]
        if self.decompressor is not None:
            params.append(("compress", "true"))
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
        if isinstance(frame, bytes) and raw[:4] == ZSTD_MAGIC:
            try:
                raw = self._decompress(raw)
                self.dictionary_works = True
            except zstandard.ZstdError as exc:
                await emit(self.item(where, raw=raw,
                                     reason=f"cannot decompress the zstd frame: {exc}"))
                self.failed_frames += 1
                # a bad frame is quarantined; a dictionary that never worked is the setup's fault
                if not self.dictionary_works and self.failed_frames >= 3:
                    raise self._wrong_dictionary(raw) from None
                return last
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

    def _decompress(self, frame: bytes) -> bytes:
        if self.decompressor is None:
            raise ConfigError("the Jetstream server sent zstd-compressed frames, which perron "
                              "did not ask for", hint="set --option zstd_dictionary=PATH "
                              "(Jetstream's dictionary) or use a server that honours the request")
        return self.decompressor.decompress(frame, max_output_size=MAX_FRAME)

    def _wrong_dictionary(self, frame: bytes) -> ConfigError:
        """Every frame fails, none ever worked: the dictionary is not the server's."""
        try:
            theirs = zstandard.get_frame_parameters(frame).dict_id
        except zstandard.ZstdError:
            theirs = 0
        said = f"the server compresses with zstd dictionary {theirs}, " if theirs else ""
        return ConfigError(f"cannot decompress Jetstream's frames: {said}zstd_dictionary is "
                           f"dictionary {self.dict_id}",
                           hint="download the dictionary that this Jetstream server uses, or "
                                "remove zstd_dictionary to listen uncompressed")


def _decompressor(spec: SourceSpec) -> tuple[zstandard.ZstdDecompressor | None, int]:
    """A decompressor with Jetstream's zstd dictionary read once from ``zstd_dictionary``, and
    the dictionary's id; (None, 0) when compression is off."""
    wanted = spec.opt_bool("compress")  # None: on exactly when a dictionary is given
    path = spec.opt("zstd_dictionary")
    hint = ("download zstd_dictionary from the Jetstream repository "
            "(github.com/bluesky-social/jetstream, pkg/models/zstd_dictionary) once, then "
            "--option zstd_dictionary=PATH; perron never downloads at run time. Or leave "
            "compression off: the same events, about twice the bandwidth")
    if wanted is False:
        return None, 0
    if not path:
        if wanted:
            raise ConfigError("compress=true needs Jetstream's zstd dictionary", hint=hint)
        return None, 0
    try:
        data = Path(path).expanduser().read_bytes()
        dictionary = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_AUTO)
        return zstandard.ZstdDecompressor(dict_data=dictionary), dictionary.dict_id()
    except OSError as exc:
        raise ConfigError(f"cannot read zstd_dictionary {path}: {exc.strerror or exc}",
                          hint=hint) from None


def connector(spec: SourceSpec, token: str | None = None, *, check_only: bool = False,
              **kw: Any) -> JetstreamConnector:
    return JetstreamConnector(spec, token, **kw)
