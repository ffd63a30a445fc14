"""Reddit polling: new posts (``/r/<sub>/new.json``), new comments (``/r/<sub>/comments.json``)
or a search (``/search.json?q=…&sort=new``, or within a subreddit), every ``interval`` seconds
(default 60).

Options: ``subreddit`` (``quebec`` or ``quebec+montreal``), ``listing`` (``new`` or
``comments``), ``q`` (a search; with ``subreddit`` it stays inside it), ``interval``,
``limit`` (≤ 100). Without a token perron reads ``https://www.reddit.com`` (public JSON, a low
rate); with one (``PERRON_REDDIT_TOKEN``…) ``https://oauth.reddit.com``. Set a descriptive
``reddit.user_agent``: Reddit blocks generic ones.

Rate limits: every answer's ``X-Ratelimit-Remaining`` / ``X-Ratelimit-Reset`` headers are
obeyed: the requests left are spread over the seconds left, and at zero perron waits for the
reset. A 429 waits ``Retry-After``. Items are fetched with ``before=<newest fullname seen>``
(the cursor, saved with the item it names), deduplicated by fullname in a bounded memory, and
emitted oldest first.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..errors import ConfigError
from ..sources.base import dumps
from .base import LRU, Emit, SourceSpec, Transient, resolve_token, setting
from .http import PollingConnector, check, check_url, client

PUBLIC = "https://www.reddit.com"
OAUTH = "https://oauth.reddit.com"


class RedditConnector(PollingConnector):
    kind = "reddit"
    fmt = "reddit"
    default_interval = 60.0

    def __init__(self, spec: SourceSpec, token: str | None = None, **kw: Any) -> None:
        super().__init__(spec, token, **kw)
        self.subreddit = (spec.opt("subreddit") or "").removeprefix("r/").strip("/")
        self.listing = spec.opt("listing", "new") or "new"
        self.q = spec.opt("q")
        if self.listing not in ("new", "comments"):
            raise ConfigError(f"unknown Reddit listing {self.listing!r}",
                              hint="use listing=new (posts) or listing=comments")
        if not self.subreddit and not self.q:
            raise ConfigError("a Reddit source needs a subreddit or a search",
                              hint="--option subreddit=quebec, or --option q=\"perron\"")
        self.limit = min(100, int(spec.opt_float("limit", 100)))
        self.explicit_endpoint = spec.endpoint
        if spec.endpoint:
            check_url(spec.endpoint, "a Reddit source")
        self.before: str | None = None
        self.seen: LRU[str, bool] = LRU(50_000)
        self.empty_polls = 0
        self.not_before_until = 0.0  # monotonic time before which no request may leave
        self.user_agent = str(setting("reddit.user_agent"))

    @property
    def endpoint(self) -> str:
        return (self.explicit_endpoint or (OAUTH if self.token else PUBLIC)).rstrip("/")

    def path(self) -> tuple[str, dict[str, str]]:
        if self.q:
            params = {"q": self.q, "sort": "new"}
            if self.subreddit:
                return f"/r/{self.subreddit}/search.json", {**params, "restrict_sr": "1"}
            return "/search.json", params
        return f"/r/{self.subreddit}/{self.listing}.json", {}

    def load(self, cursor: str | None) -> None:
        self.before = cursor or None

    def make_client(self) -> httpx.AsyncClient:
        return client(self.token, user_agent=self.user_agent, transport=self.transport)

    def _obey(self, headers: httpx.Headers) -> None:
        """Spread what is left of the window over the time left (X-Ratelimit-*)."""
        try:
            remaining = float(headers["X-Ratelimit-Remaining"])
            reset = float(headers["X-Ratelimit-Reset"])
        except (KeyError, ValueError):
            return
        if remaining < 1:
            gap = reset + 0.05
        else:
            gap = reset / remaining
        self.not_before_until = max(self.not_before_until, time.monotonic() + gap)

    async def poll(self, http: httpx.AsyncClient, emit: Emit) -> None:
        path, params = self.path()
        params = {**params, "limit": str(self.limit), "raw_json": "1"}
        use_before = self.before is not None and self.empty_polls < 3
        if use_before:
            params["before"] = self.before or ""
        wait = self.not_before_until - time.monotonic()
        if wait > 0:
            await self.backoff.sleep(wait)
        self.requests += 1
        resp = await http.get(self.endpoint + path, params=params)
        self._obey(resp.headers)
        check(resp, "reddit")
        try:
            listing = resp.json()
            children = listing["data"]["children"]
        except (ValueError, KeyError, TypeError) as exc:
            raise Transient(f"{path} did not answer a Reddit listing: {exc}") from None
        if not use_before:
            self.empty_polls = 0  # the saved `before` may name a removed item: start afresh
        elif not children:
            self.empty_polls += 1
            return
        for child in reversed(children):  # oldest first, so each cursor covers what precedes
            data = child.get("data") if isinstance(child, dict) else None
            name = data.get("name") if isinstance(data, dict) else None
            if not isinstance(name, str):
                await emit(self.item(f"{path} item", raw=dumps(child),
                                     reason="listing item without a fullname"))
                continue
            if not self.seen.add(name):
                continue
            self.empty_polls = 0
            if self.before is None or _newer(name, self.before):
                self.before = name
            await emit(self.item(f"{path} {name}", raw=dumps(child), cursor=self.before))


def _newer(a: str, b: str) -> bool:
    """Fullnames of one kind grow with time (base-36 ids)."""
    if a[:3] != b[:3]:
        return True
    try:
        return int(a[3:], 36) > int(b[3:], 36)
    except ValueError:
        return True


def connector(spec: SourceSpec, token: str | None = None, *, check_only: bool = False,
              **kw: Any) -> RedditConnector:
    conn = RedditConnector(spec, token, **kw)
    if not check_only:
        conn.token = resolve_token("reddit", token, required=False)
    return conn
