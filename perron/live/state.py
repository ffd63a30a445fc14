"""Configured live sources and their checkpoints, in the ``source_state`` table.

``config`` holds ``{"endpoint": …, "options": {…}}`` (never a token: tokens come from flags, the
environment or the config file). ``cursor`` is the source's resume point, written in the same
transaction as the posts it covers. ``status`` is a small JSON object written at every flush:
``{"state": "connected", "per_minute": 120.0, "lag_s": 0.4, "pid": 1234}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, NotFound
from ..store.base import Store
from .base import KINDS, SourceSpec

#: options each kind understands (anything else is a typo worth reporting)
COMMON = {"backoff_base", "backoff_cap"}
OPTIONS = {
    "jetstream": COMMON | {"collections", "dids", "compress", "zstd_dictionary",
                              "cursor_margin_s"},
    "mastodon": COMMON | {"stream", "tag", "list", "transport", "backfill_pages",
                              "streaming"},
    "rss": COMMON | {"interval"},
    "reddit": COMMON | {"subreddit", "listing", "q", "interval", "limit"},
}
#: after this many seconds without a heartbeat a "connected" source is shown as stale
STALE_AFTER = 120.0


def add_source(store: Store, name: str, kind: str, endpoint: str | None = None,
               options: dict[str, str] | None = None, *, replace: bool = False) -> SourceSpec:
    if kind not in KINDS:
        raise ConfigError(f"unknown source kind {kind!r}", hint="use one of: " + ", ".join(KINDS))
    options = dict(options or {})
    unknown = sorted(set(options) - OPTIONS[kind])
    if unknown:
        raise ConfigError(f"unknown option(s) for a {kind} source: {', '.join(unknown)}",
                          hint="known options: " + ", ".join(sorted(OPTIONS[kind])))
    spec = SourceSpec(name, kind, endpoint, options)
    from .connectors import make_connector

    make_connector(spec, token=None, check_only=True)  # validates endpoint and options
    cfg = json.dumps({"endpoint": endpoint, "options": options}, sort_keys=True)
    with store.transaction():
        exists = store.scalar("SELECT 1 FROM source_state WHERE name = ?", [name])
        if exists and not replace:
            raise ConfigError(f"a source named {name!r} already exists",
                              hint=f"pick another name, or `perron sources remove {name}` first")
        if exists:
            store.execute("UPDATE source_state SET kind = ?, config = ?, cursor = NULL "
                          "WHERE name = ?", [kind, cfg, name])
        else:
            store.execute("INSERT INTO source_state (name, kind, config, events, errors) "
                          "VALUES (?, ?, ?, 0, 0)", [name, kind, cfg])
    return spec


def remove_source(store: Store, name: str) -> None:
    with store.transaction():
        if not store.scalar("SELECT 1 FROM source_state WHERE name = ?", [name]):
            raise NotFound(f"no source named {name!r}", hint="list them with `perron sources list`")
        store.execute("DELETE FROM source_state WHERE name = ?", [name])


def _spec(name: str, kind: str, cfg: str) -> SourceSpec:
    data = json.loads(cfg or "{}")
    return SourceSpec(name, kind, data.get("endpoint"), dict(data.get("options") or {}))


def list_sources(store: Store, names: Sequence[str] | None = None) -> list[SourceSpec]:
    rows = store.query("SELECT name, kind, config FROM source_state ORDER BY name")
    specs = [_spec(*r) for r in rows]
    if names:
        known = {s.name for s in specs}
        missing = [n for n in names if n not in known]
        if missing:
            raise NotFound(f"no source named {missing[0]!r}",
                           hint="add it with `perron sources add NAME --kind …`, "
                                "list them with `perron sources list`")
        specs = [s for s in specs if s.name in names]
    return specs


def cursors(store: Store) -> dict[str, str | None]:
    return dict(store.query("SELECT name, cursor FROM source_state"))


def checkpoint(store: Store, name: str, *, cursor: str | None, events: int, errors: int,
               last_error: str | None, last_event_at: datetime | None, state: str,
               per_minute: float, lag_s: float | None, now: datetime) -> None:
    """Save one source's cursor and health (call inside the write's transaction)."""
    status = json.dumps({"state": state, "per_minute": round(per_minute, 1),
                         "lag_s": None if lag_s is None else round(lag_s, 3),
                         "pid": os.getpid()})
    store.execute("UPDATE source_state SET cursor = COALESCE(?, cursor), status = ?, "
                  "last_event_at = COALESCE(?, last_event_at), events = events + ?, "
                  "errors = ?, last_error = ?, updated_at = ? WHERE name = ?",
                  [cursor, status, store.ts(last_event_at), events, errors, last_error,
                   store.ts(now), name])


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = str(value).replace("Z", "+00:00").replace(" ", "T", 1)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def source_status(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per source: state (connected, reconnecting, rate-limited, stopped, stale, never run),
    last event time, lag, events per minute, totals and the last error."""
    now = now or datetime.now(UTC)
    out = []
    for name, kind, cfg, cursor, status, last_at, last_error, errors, events, updated in (
            store.query("SELECT name, kind, config, cursor, status, last_event_at, last_error, "
                        "errors, events, updated_at FROM source_state ORDER BY name")):
        spec = _spec(name, kind, cfg)
        try:
            st = json.loads(status) if status else {}
        except ValueError:
            st = {"state": status}
        state = st.get("state") or "never run"
        updated_at = _dt(updated)
        idle = (now - updated_at).total_seconds() if updated_at else None
        if state not in ("stopped", "never run") and idle is not None and idle > STALE_AFTER:
            state = "stale"  # the listener died without saying so (kill -9, crash, power cut)
        out.append({
            "name": name, "kind": kind, "endpoint": spec.endpoint, "options": spec.options,
            "state": state, "connected": state == "connected",
            "last_event_at": _iso(_dt(last_at)), "lag_s": st.get("lag_s"),
            "events_per_minute": st.get("per_minute", 0.0) if state == "connected" else 0.0,
            "events": int(events or 0), "errors": int(errors or 0), "last_error": last_error,
            "updated_at": _iso(updated_at), "cursor": cursor,
        })
    return out
