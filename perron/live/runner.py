"""``perron listen``: run the configured sources concurrently and feed the store.

Connectors (one asyncio task each) push :class:`~perron.live.base.Item` objects into one bounded
queue; a single writer takes them in batches (``batch_size`` items or ``flush_interval``
seconds, whichever comes first), normalizes them with the import formats' ``normalize()``, and
writes posts, quarantined frames and every source's checkpoint **in one transaction**.

Exactly-once: a cursor is only saved together with the posts it covers, so after a crash,
``kill -9`` or power cut the store and the cursors agree. On restart each source resumes from
its cursor (Jetstream: minus a small safety margin); the few events seen twice are harmless
because store writes are idempotent (a post id is written once, a deleted post never comes back).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, NormalizeError, PerronError
from ..models import Batch, Deletion
from ..pipeline import normalize_record
from ..plugins import formats
from ..sources.base import Options
from ..store.base import Store
from . import state
from .base import Connector, Item, SourceSpec, setting
from .connectors import make_connector

EnrichHook = Callable[[Store, list[str]], Any]
HEARTBEAT_S = 5.0
MATCHER_REFRESH_S = 30.0


@dataclass
class ListenSummary:
    events: int = 0
    imported: int = 0
    present: int = 0
    deleted: int = 0
    quarantined: int = 0
    flushes: int = 0
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class _Src:
    spec: SourceSpec
    connector: Connector
    base_errors: int = 0
    cursor: str | None = None
    last_event_at: datetime | None = None
    events: int = 0  # since the last checkpoint


class Listener:
    """The writer side: batches items, writes them and checkpoints, single-threaded."""

    def __init__(self, store: Store, srcs: dict[str, _Src], enrich_batch: EnrichHook | None,
                 summary: ListenSummary) -> None:
        self.store = store
        self.srcs = srcs
        self.enrich_batch = enrich_batch
        self.summary = summary
        self.formats = formats()
        self.options = Options()
        self.matcher = store.matcher()
        self._monitors = store.monitors()
        self._matcher_at = time.monotonic()

    def _refresh_matcher(self) -> None:
        if time.monotonic() - self._matcher_at < MATCHER_REFRESH_S:
            return
        self._matcher_at = time.monotonic()
        monitors = self.store.monitors()
        if monitors != self._monitors:  # a monitor was added while listening
            self._monitors = monitors
            self.matcher = self.store.matcher()

    def flush(self, items: Sequence[Item], final: bool = False) -> None:
        self._refresh_matcher()
        batches: list[Batch] = []
        bad: list[tuple[str, str, str, str, bytes]] = []
        local_ids: list[tuple[str, str, str]] = []
        deleted_local: list[tuple[str, str]] = []
        for it in items:
            src = self.srcs[it.source]
            if it.cursor is not None:
                src.cursor = it.cursor
            if it.event_time is not None:
                src.last_event_at = it.event_time
            if it.local_id is not None:
                local_ids.append(it.local_id)
            if it.delete_local is not None:
                deleted_local.append(it.delete_local)
            elif it.reason is not None:
                bad.append((f"live:{it.source}", it.location, it.fmt, it.reason, it.raw or b""))
            elif it.batch is not None:
                batches.append(it.batch)
            elif it.raw is not None:
                try:
                    batches.append(normalize_record(self.formats[it.fmt], it.raw, self.options))
                except NormalizeError as exc:
                    bad.append((f"live:{it.source}", it.location, it.fmt, exc.message, it.raw))
            else:
                continue  # a cursor-only item
            src.events += 1
        ids = [p.id for b in batches for p in b.posts]
        now = datetime.now(UTC)
        new_ids: list[str] = []
        with self.store.transaction():
            # local ids first: a status and its delete can arrive in the same batch
            self.store.remember_local_ids(local_ids)
            if deleted_local:
                gone = self.store.local_post_ids(deleted_local)
                if gone:
                    batches.append(Batch(deletions=[Deletion(post_id=p, deleted_at=now)
                                                    for p in gone]))
            before = self._present(ids) if self.enrich_batch else set()
            counts = self.store.write(batches, self.matcher) if batches else None
            if self.enrich_batch and ids:
                new_ids = sorted(self._present(ids) - before)
            self.store.quarantine(bad)
            for src in self.srcs.values():
                h = src.connector.health
                lag = ((now - src.last_event_at).total_seconds()
                       if src.last_event_at and src.events else None)
                state.checkpoint(self.store, src.spec.name, cursor=src.cursor, events=src.events,
                                 errors=src.base_errors + h.errors, last_error=h.last_error,
                                 last_event_at=src.last_event_at,
                                 state="stopped" if final and h.state != "failed"
                                 else h.state,
                                 per_minute=h.per_minute(), lag_s=lag, now=now)
                self.summary.events += src.events
                h.count(src.events)
                src.events = 0
        self.summary.flushes += 1
        self.summary.quarantined += len(bad)
        if counts is not None:
            self.summary.imported += counts.imported
            self.summary.present += counts.present
            self.summary.deleted += counts.deleted
        if self.enrich_batch and new_ids:
            self.enrich_batch(self.store, new_ids)

    def _present(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            found.update(r[0] for r in self.store.query(
                f"SELECT id FROM posts WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return found


def _resolve_specs(store: Store, sources: Sequence[SourceSpec | str] | None) -> list[SourceSpec]:
    if sources is None:
        specs = state.list_sources(store)
    else:
        names = [s for s in sources if isinstance(s, str)]
        specs = state.list_sources(store, names) if names else []
        specs += [s for s in sources if isinstance(s, SourceSpec)]
    if not specs:
        raise ConfigError("no live source to listen to",
                          hint="add one: `perron sources add bsky --kind jetstream` "
                               "(see docs/listening.md)")
    return specs


async def listen_async(store: Store, sources: Sequence[SourceSpec | str] | None = None,
                       stop: asyncio.Event | None = None, enrich_batch: EnrichHook | None = None,
                       batch_size: int | None = None, flush_interval: float | None = None,
                       tokens: dict[str, str] | None = None, queue_size: int | None = None,
                       connectors: dict[str, Connector] | None = None) -> ListenSummary:
    """Listen until ``stop`` is set; returns what was done. See :func:`run_listen`."""
    batch_size = int(setting("listen.batch_size", batch_size))
    flush_interval = float(setting("listen.flush_interval", flush_interval))
    queue: asyncio.Queue[Item] = asyncio.Queue(int(setting("listen.queue_size", queue_size)))
    stop = stop or asyncio.Event()
    tokens = tokens or {}
    specs = _resolve_specs(store, sources)
    saved = state.cursors(store)
    errors0 = dict(store.query("SELECT name, errors FROM source_state"))
    srcs: dict[str, _Src] = {}
    for spec in specs:
        if spec.name not in saved:
            state.add_source(store, spec.name, spec.kind, spec.endpoint, spec.options)
        conn = (connectors or {}).get(spec.name) or make_connector(spec, tokens.get(spec.kind))
        srcs[spec.name] = _Src(spec, conn, base_errors=int(errors0.get(spec.name) or 0),
                               cursor=saved.get(spec.name))
    summary = ListenSummary()
    listener = Listener(store, srcs, enrich_batch, summary)

    async def run_one(src: _Src) -> None:
        try:
            await src.connector.run(src.cursor, queue.put)
        except asyncio.CancelledError:
            raise
        except PerronError as exc:  # configuration problems: this source stops, others go on
            src.connector.health.failed(str(exc), state="failed")
            summary.errors[src.spec.name] = str(exc)

    tasks = [asyncio.create_task(run_one(s), name=f"source:{s.spec.name}") for s in srcs.values()]
    pending: list[Item] = []
    deadline = time.monotonic() + flush_interval
    last_flush = time.monotonic()
    stopper = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            if all(t.done() for t in tasks) and queue.empty():
                break
            starting = not pending
            if queue.empty():
                getter = asyncio.create_task(queue.get())
                timeout = max(0.0, deadline - time.monotonic()) if pending else HEARTBEAT_S
                done, _ = await asyncio.wait({getter, stopper}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    pending.append(await getter)  # an item got at the last moment is kept
            while not queue.empty() and len(pending) < batch_size:
                pending.append(queue.get_nowait())
            now = time.monotonic()
            if starting and pending and now >= deadline:
                deadline = now + flush_interval  # first items of a new batch: start the clock
            if len(pending) >= batch_size or (pending and now >= deadline) or (
                    not pending and now - last_flush >= HEARTBEAT_S):
                items, pending = pending, []
                await asyncio.to_thread(listener.flush, items)
                last_flush = time.monotonic()
                deadline = last_flush + flush_interval
    finally:
        stopper.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not queue.empty():
            pending.append(queue.get_nowait())
        listener.flush(pending, final=True)  # what was received is kept, cursors saved
    if summary.errors and len(summary.errors) == len(srcs):
        name, message = next(iter(summary.errors.items()))
        raise ConfigError(f"every source failed; {name}: {message.splitlines()[0]}",
                          hint=message.split("hint: ", 1)[-1] if "hint: " in message else None)
    return summary


def run_listen(store: Store, sources: Sequence[SourceSpec | str] | None = None,
               stop_event: threading.Event | None = None, enrich_batch: EnrichHook | None = None,
               batch_size: int | None = None, flush_interval: float | None = None,
               tokens: dict[str, str] | None = None, queue_size: int | None = None,
               connectors: dict[str, Connector] | None = None) -> ListenSummary:
    """Listen to ``sources`` (names or specs; None: every configured source) until
    ``stop_event`` is set (from a signal handler or another thread), then flush, save the
    cursors and return. ``enrich_batch(store, new_post_ids)`` runs after each committed batch.
    ``tokens`` maps a source kind to its token flag (``{"mastodon": "…"}``)."""

    async def main() -> ListenSummary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        finished = threading.Event()
        if stop_event is not None:
            def watch() -> None:
                while not finished.is_set():
                    if stop_event.wait(0.1):
                        with contextlib.suppress(RuntimeError):  # the loop may be gone
                            loop.call_soon_threadsafe(stop.set)
                        return

            threading.Thread(target=watch, daemon=True, name="perron-listen-stop").start()
        try:
            return await listen_async(store, sources, stop, enrich_batch, batch_size,
                                      flush_interval, tokens, queue_size, connectors)
        finally:
            finished.set()

    return asyncio.run(main())
