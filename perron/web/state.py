"""What the app holds between requests: per-thread store connections, rate limiters, caches."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..store import Store, open_store
from .control import Control
from .inbox_schema import migrate_workspace


class RateLimiter:
    """Sliding window, in memory: at most ``limit`` hits per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Record a hit; 0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(0.001, q[0] + self.window - now)
            q.append(now)
            if len(self._hits) > 100_000:  # bounded memory under a flood of keys
                self._hits = {k: v for k, v in self._hits.items()
                              if v and v[-1] > now - self.window}
            return 0.0

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class TTLCache:
    """Cache for dashboard aggregates. An entry is fresh for ``ttl`` seconds, or until the
    store's version (its newest post) changes, but never recomputed more than every
    ``min_age`` seconds under a continuous stream. One thread recomputes a key at a time; the
    others get the previous value meanwhile (or wait, the very first time)."""

    def __init__(self, ttl: float, min_age: float = 5.0) -> None:
        self.ttl, self.min_age = ttl, min_age
        self._data: dict[Any, tuple[float, Any, Any]] = {}  # key → (computed at, version, value)
        self._locks: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()

    def _fresh(self, entry: tuple[float, Any, Any] | None, version: Any, now: float) -> bool:
        if entry is None:
            return False
        age = now - entry[0]
        return age < self.ttl and (entry[1] == version or age < self.min_age)

    def get(self, key: Any, compute: Callable[[], Any], version: Any = None) -> Any:
        now = time.monotonic()
        with self._lock:
            entry = self._data.get(key)
            if self._fresh(entry, version, now):
                return entry[2]  # type: ignore[index]
            key_lock = self._locks.setdefault(key, threading.Lock())
        if entry is not None and not key_lock.acquire(blocking=False):
            return entry[2]  # someone is refreshing it: serve the previous value meanwhile
        if entry is None:
            key_lock.acquire()
        try:
            with self._lock:
                entry = self._data.get(key)
            if self._fresh(entry, version, time.monotonic()):
                return entry[2]  # type: ignore[index]
            started = time.monotonic()
            value = compute()
            with self._lock:
                if len(self._data) > 2000:
                    self._data.clear()
                self._data[key] = (started, version, value)
            return value
        finally:
            key_lock.release()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass
class WebState:
    control_url: str
    secure_cookies: bool = False
    login_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10, 300))
    api_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(600, 60))
    cache: TTLCache = field(default_factory=lambda: TTLCache(30))
    _local: threading.local = field(default_factory=threading.local)
    _migrated: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def control(self) -> Control:
        """This thread's connection to the control store."""
        ctl = getattr(self._local, "control", None)
        if ctl is None:
            ctl = self._local.control = Control.open(self.control_url)
        return ctl

    def store(self, url: str) -> Store:
        """This thread's connection to a workspace store (migrated once per process)."""
        stores = getattr(self._local, "stores", None)
        if stores is None:
            stores = self._local.stores = {}
        store = stores.get(url)
        if store is None:
            store = stores[url] = open_store(url)
            with self._lock:
                if url not in self._migrated:
                    migrate_workspace(store)
                    self._migrated.add(url)
        return store
