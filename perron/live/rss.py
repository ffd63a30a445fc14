"""RSS / Atom polling (blog posts and comment feeds) with conditional requests.

One source is one feed (``--endpoint`` is the feed URL), polled every ``interval`` seconds
(default 300). perron sends ``If-None-Match`` (the last ``ETag``) and ``If-Modified-Since``
(the last ``Last-Modified``); a ``304 Not Modified`` costs nothing. Items are split and
normalized exactly as ``perron import --format rss`` does, so a comment feed
(``/comments/feed/``) threads comments under their post. The cursor holds the validators
(``{"etag": …, "last_modified": …}``), saved with the items of the answer that carried them.
Items already written in this run are skipped (a bounded memory of 50,000 items); after a
restart they are written again once, which changes nothing (idempotent store).
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import httpx

from ..sources.base import Malformed, Options
from ..sources.feeds import RssFormat
from .base import LRU, Emit, SourceSpec
from .http import PollingConnector, check, check_url


class RssConnector(PollingConnector):
    kind = "rss"
    fmt = "rss"
    default_interval = 300.0

    def __init__(self, spec: SourceSpec, token: str | None = None, **kw: Any) -> None:
        super().__init__(spec, token, **kw)
        self.url = check_url(spec.endpoint, "an RSS source (the feed URL)")
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.seen: LRU[bytes, bool] = LRU(50_000)
        self.polls = 0
        self.not_modified = 0

    def load(self, cursor: str | None) -> None:
        if cursor:
            try:
                data = json.loads(cursor)
            except ValueError:
                data = {}
            self.etag = data.get("etag")
            self.last_modified = data.get("last_modified")

    def cursor(self) -> str:
        return json.dumps({"etag": self.etag, "last_modified": self.last_modified})

    async def poll(self, http: httpx.AsyncClient, emit: Emit) -> None:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                             "*/*;q=0.5"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        self.requests += 1
        resp = await http.get(self.url, headers=headers)
        check(resp, "rss")
        self.polls += 1
        if resp.status_code == 304:
            self.not_modified += 1
            return
        body = resp.content
        stamp = resp.headers.get("Date") or f"poll {self.polls}"
        for rec in RssFormat().records(io.BytesIO(body), self.url, Options()):
            if isinstance(rec, Malformed):
                await emit(self.item(f"{stamp}, {rec.location}", raw=body[:1_000_000],
                                     reason=rec.reason))
                continue
            digest = hashlib.blake2b(rec.raw, digest_size=16).digest()
            if not self.seen.add(digest):
                continue
            await emit(self.item(f"{stamp}, {rec.location}", raw=rec.raw))
        self.etag = resp.headers.get("ETag") or None
        self.last_modified = resp.headers.get("Last-Modified") or None
        await emit(self.item(f"{stamp}, validators", cursor=self.cursor()))


def connector(spec: SourceSpec, token: str | None = None, *, check_only: bool = False,
              **kw: Any) -> RssConnector:
    return RssConnector(spec, token, **kw)
