"""What every live connector is made of: its configuration, the items it emits, its health,
backoff with jitter, rate-limit arithmetic and credential resolution (flag → env → file).

A connector never touches the store: it emits :class:`Item` objects (a raw record for an
import format, or a ready batch, plus the cursor that is safe to save once the item is
committed) into a bounded queue; the runner normalizes, writes and checkpoints them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Generic, TypeVar

from .. import config
from ..config import Setting
from ..errors import ConfigError, SourceError
from ..models import Batch

KINDS = ("jetstream", "mastodon", "rss", "reddit")

LIVE_SETTINGS: list[Setting] = [s for s in config.SETTINGS
                                 if s.name.split(".")[0] in ("mastodon", "reddit", "jetstream",
                                                             "listen")]
_SETTINGS = {s.name: s for s in LIVE_SETTINGS}

#: where to get a token, by source kind, for the "missing credential" error
TOKEN_HELP = {
    "mastodon": "on your instance: Preferences → Development → New application (scope `read`), "
                "then copy 'Your access token'",
    "reddit": "https://www.reddit.com/prefs/apps → create a 'script' app, then request a token "
              "(https://github.com/reddit-archive/reddit/wiki/OAuth2)",
}


def setting(name: str, flag: Any = None) -> Any:
    """Value of a live setting: flag → ``PERRON_*`` env → config file → default."""
    return config.get(name, flag)


def resolve_token(kind: str, flag: str | None, *, required: bool, why: str = "") -> str | None:
    """The token for ``kind`` from the flag, then ``PERRON_<KIND>_TOKEN``, then the config file."""
    token = setting(f"{kind}.token", flag)
    if token or not required:
        return token or None
    env = _SETTINGS[f"{kind}.token"].env
    raise ConfigError(
        f"no {kind} token{(' (' + why + ')') if why else ''}",
        hint=f"give it with `perron listen --token {kind}=TOKEN`, or set {env}, or write "
             f"`[{kind}]\\ntoken = \"…\"` in perron.toml (or the file named by PERRON_CONFIG); "
             f"get one {TOKEN_HELP.get(kind, 'from the service')}")


@dataclass(frozen=True)
class SourceSpec:
    """One configured live source (a row of ``source_state``)."""

    name: str
    kind: str
    endpoint: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def opt(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def opt_float(self, key: str, default: float) -> float:
        value = self.options.get(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"source {self.name!r}: option {key}={value!r} is not a number",
                              hint=f"perron sources add {self.name} … --option {key}=NUMBER"
                              ) from None

    def opt_bool(self, key: str) -> bool | None:
        """``true``/``false`` (also ``1``/``0``, ``yes``/``no``); None when the option is not set."""
        value = self.options.get(key)
        if value is None:
            return None
        word = value.strip().lower()
        if word in ("true", "1", "yes", "false", "0", "no"):
            return word in ("true", "1", "yes")
        raise ConfigError(f"source {self.name!r}: option {key}={value!r} is not true or false",
                          hint=f"perron sources add {self.name} … --option {key}=true (or false)")

    def opt_list(self, key: str) -> list[str]:
        value = self.options.get(key) or ""
        return [v.strip() for v in value.split(",") if v.strip()]


@dataclass(slots=True)
class Item:
    """What a connector emits. Exactly one of ``raw`` (to normalize with ``fmt``), ``batch``
    (already normalized, e.g. a deletion), ``reason`` (malformed: quarantine ``raw``) or
    ``delete_local`` is the payload; an item with none of them only moves the cursor (e.g. an
    RSS 304)."""

    source: str
    fmt: str
    location: str
    raw: bytes | None = None
    batch: Batch | None = None
    reason: str | None = None
    cursor: str | None = None  # safe to save once this item (and all before it) is committed
    event_time: datetime | None = None
    #: (namespace, the source's own id, post id), stored with the post: a later delete that
    #: names only the source's id is honoured, also after a restart (Mastodon)
    local_id: tuple[str, str, str] | None = None
    #: (namespace, the source's own id) of a deleted post, resolved by the writer through those
    delete_local: tuple[str, str] | None = None


Emit = Callable[[Item], Awaitable[None]]


class Health:
    """In-memory state of one source, persisted by the runner at each flush."""

    def __init__(self) -> None:
        self.state = "starting"
        self.errors = 0
        self.last_error: str | None = None
        self.connected_at: float | None = None
        self._window: deque[tuple[float, int]] = deque(maxlen=4096)

    def connected(self) -> None:
        self.state = "connected"
        self.connected_at = time.time()

    def failed(self, message: str, state: str = "reconnecting") -> None:
        self.state = state
        self.errors += 1
        self.last_error = message[:500]

    def count(self, n: int, now: float | None = None) -> None:
        if n:
            self._window.append((now if now is not None else time.time(), n))

    def per_minute(self, now: float | None = None) -> float:
        now = now if now is not None else time.time()
        while self._window and self._window[0][0] < now - 60:
            self._window.popleft()
        return float(sum(n for _, n in self._window))


class Backoff:
    """Exponential backoff with full jitter: attempt *n* waits ``uniform(0, min(cap, base·2ⁿ))``.

    ``rng`` and ``sleep`` are injectable so that tests are deterministic and fast."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.attempt = 0

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return delay

    def reset(self) -> None:
        self.attempt = 0

    async def wait(self, at_least: float = 0.0) -> float:
        delay = max(at_least, self.next_delay())
        await self.sleep(delay)
        return delay


class RateLimited(SourceError):
    """The server said "too many requests" (HTTP 429); ``retry_after`` seconds, when given."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, hint="perron waits and retries by itself")
        self.retry_after = retry_after


class Transient(SourceError):
    """A failure worth retrying (network error, 5xx, dropped connection)."""


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A bounded mapping that forgets the least recently used keys (dedupe sets, id maps)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def get(self, key: K) -> V | None:
        value = self._d.get(key)
        if value is not None:
            self._d.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)

    def add(self, key: K) -> bool:
        """Remember ``key``; False when it was already there (a duplicate)."""
        if key in self._d:
            self._d.move_to_end(key)
            return False
        self.put(key, True)  # type: ignore[arg-type]
        return True


class Connector:
    """Base class of a live connector. ``run()`` loops until cancelled, reconnecting with
    backoff; it reports its state in ``health`` and emits items with ``emit``."""

    kind: ClassVar[str]
    fmt: ClassVar[str]

    def __init__(self, spec: SourceSpec, token: str | None = None, *,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.time) -> None:
        self.spec = spec
        self.token = token
        self.health = Health()
        self.clock = clock
        self.backoff = backoff or Backoff(base=spec.opt_float("backoff_base", 1.0),
                                          cap=spec.opt_float("backoff_cap", 60.0))

    async def run(self, cursor: str | None, emit: Emit) -> None:
        raise NotImplementedError

    def item(self, location: str, **kw: Any) -> Item:
        return Item(self.spec.name, self.fmt, location, **kw)
