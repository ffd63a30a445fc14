"""Read-only views of a workspace store for pages and API: parameterised SQL with LIMITs on
indexed columns, so a page stays fast on a million posts. Tables written by other stages
(labels, alerts, sites, source_state…) are read defensively: JSON may be missing or odd."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ..places import list_sites
from ..query import compile_sql, parse
from ..query.sites import validate_sites
from ..store import Store
from .auth import WebError

POST_COLS = ("rowid", "id", "source", "author_id", "author_handle", "created_at", "text", "url",
             "lang", "kind", "title", "likes", "reposts", "replies", "quotes", "parent_id",
             "root_id", "has_geo")
_SELECT = ", ".join(f"p.{c}" for c in POST_COLS)
TRIAGE_QUIET = ("concurrence", "let_stand")
STATUSES = ("open", "responded", "resolved")
LABEL_TASKS = ("language", "sentiment", "offensive", "hate", "irony", "complaint", "claim",
               "triage")


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def post_dict(row: tuple) -> dict[str, Any]:
    out = dict(zip(POST_COLS, row, strict=True))
    out["created_at"] = iso(out["created_at"])
    out["has_geo"] = bool(out["has_geo"])
    return out


def loads(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


# ---- cursor pagination --------------------------------------------------------------------
def encode_cursor(created_at: str | None, rowid: int) -> str:
    raw = json.dumps([created_at, rowid]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str | None, int]:
    try:
        pad = "=" * (-len(cursor) % 4)
        created, rowid = json.loads(base64.urlsafe_b64decode(cursor + pad))
        if (created is not None and not isinstance(created, str)) or not isinstance(rowid, int):
            raise ValueError
        if created is not None:
            datetime.fromisoformat(created.replace("Z", "+00:00"))
        return created, rowid
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise WebError(400, "bad_cursor", "this cursor is not one perron gave out",
                       hint="start again without `cursor`, then follow `next_cursor`") from None


def search(store: Store, query: str | None = None, *, monitor: str | None = None,
           cursor: str | None = None, limit: int = 50, hide_geo: bool = False,
           ids: list[str] | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """A page of posts, newest first, and the cursor of the next page (None at the end).
    ``QueryError`` from the parser goes up with its column and hint."""
    clauses: list[str] = []
    params: list[Any] = []
    if query and query.strip():
        node, known_sites = parse(query), list_sites(store)
        validate_sites(node, known_sites, query)  # near: naming no site is an error, not "nothing"
        sql, qparams = compile_sql(node, store.dialect, "p",  # type: ignore[arg-type]
                                   sites=known_sites)
        clauses.append(sql)
        params.extend(qparams)
    if monitor:
        clauses.append(_monitor_clause(store, monitor))
        params.append(monitor)
    if ids is not None:
        ids = ids[:500] or [""]
        clauses.append(f"p.id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    if hide_geo:
        clauses.append("p.has_geo = ?")
        params.append(False)
    if cursor:
        created, rowid = decode_cursor(cursor)
        if created is None:
            clauses.append("(p.created_at IS NULL AND p.rowid < ?)")
            params.append(rowid)
        else:
            ts = store.ts(parse_time(created))
            clauses.append("(p.created_at < ? OR (p.created_at = ? AND p.rowid < ?) "
                           "OR p.created_at IS NULL)")
            params.extend([ts, ts, rowid])
    where = " AND ".join(f"({c})" for c in clauses) or "1=1"
    rows = store.newest(_SELECT, where, params, limit + 1)
    items = [post_dict(r) for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        nxt = encode_cursor(last["created_at"], last["rowid"])
    return items, nxt


SMALL_MONITOR = 2000


def _monitor_clause(store: Store, monitor: str) -> str:
    """A small monitor: fetch its posts and sort them. A large one: walk the posts newest
    first and probe each (index on post_monitors(post_rowid, monitor)); both stay fast."""
    if store.dialect == "sqlite":
        n = store.scalar("SELECT count(*) FROM (SELECT 1 FROM post_monitors WHERE monitor = ? "
                         "LIMIT ?)", [monitor, SMALL_MONITOR])
        if n >= SMALL_MONITOR:
            return ("EXISTS (SELECT 1 FROM post_monitors pm WHERE pm.post_rowid = p.rowid "
                    "AND pm.monitor = ?)")
    return "p.rowid IN (SELECT post_rowid FROM post_monitors WHERE monitor = ?)"


# ---- overview -----------------------------------------------------------------------------
def window_start(store: Store, days: int = 30) -> Any:
    newest = parse_time(store.scalar("SELECT max(created_at) FROM posts"))
    return store.ts((newest or datetime.now(UTC)) - timedelta(days=days))


def version(store: Store) -> Any:
    """Changes whenever posts are written: part of every cache key."""
    return store.scalar("SELECT max(rowid) FROM posts")


def overview(store: Store) -> dict[str, Any]:
    since = window_start(store)
    day = ("substr(p.created_at, 1, 10)" if store.dialect == "sqlite"
           else "to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
    volume = [(str(d), int(n)) for d, n in store.query(
        f"SELECT {day}, count(*) FROM posts p WHERE p.created_at >= ? GROUP BY 1 ORDER BY 1",
        [since])]
    # SQLite: CROSS JOIN keeps the posts' date range as the outer loop (the window is small,
    # labels and monitors are looked up by post rowid); PostgreSQL plans it by itself.
    join = "CROSS JOIN" if store.dialect == "sqlite" else "JOIN"
    sentiment = [(str(label), int(n)) for label, n in store.query(
        f"SELECT l.label, count(*) FROM posts p {join} labels l ON l.post_rowid = p.rowid "
        "AND l.task = 'sentiment' WHERE p.created_at >= ? GROUP BY l.label ORDER BY 2 DESC",
        [since])]
    sov = [(str(m), int(n)) for m, n in store.query(
        f"SELECT pm.monitor, count(*) FROM posts p {join} post_monitors pm ON pm.post_rowid = "
        "p.rowid WHERE p.created_at >= ? GROUP BY pm.monitor ORDER BY 2 DESC LIMIT 12",
        [since])]
    top_posts = [post_dict(r) for r in store.query(
        f"SELECT {_SELECT} FROM posts p WHERE p.created_at >= ? AND p.kind != 'repost' "
        "ORDER BY COALESCE(p.reposts, 0) + COALESCE(p.quotes, 0) + COALESCE(p.replies, 0) + "
        "COALESCE(p.likes, 0) DESC, p.rowid DESC LIMIT 10", [since])]
    top_authors = [(str(h), int(n)) for h, n in store.query(
        "SELECT p.author_handle, count(*) FROM posts p WHERE p.created_at >= ? AND "
        "p.author_handle IS NOT NULL GROUP BY p.author_handle ORDER BY 2 DESC, 1 LIMIT 10",
        [since])]
    total = sum(n for _, n in volume)
    return {"since": iso(since), "total": total, "volume": volume, "sentiment": sentiment,
            "share_of_voice": sov, "top_posts": top_posts, "top_authors": top_authors}


# ---- alerts -------------------------------------------------------------------------------
def alerts(store: Store, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    rows = store.query(f"SELECT id, rule, monitor, fired_at, title, explanation, status FROM "
                       f"alerts {where} ORDER BY fired_at DESC, id DESC LIMIT ?",
                       [*params, limit])
    return [_alert(r) for r in rows]


def _alert(r: tuple) -> dict[str, Any]:
    return {"id": int(r[0]), "rule": r[1], "monitor": r[2], "fired_at": iso(r[3]),
            "title": r[4], "explanation": loads(r[5]), "status": r[6]}


def alert(store: Store, alert_id: int) -> dict[str, Any]:
    rows = store.query("SELECT id, rule, monitor, fired_at, title, explanation, status FROM "
                       "alerts WHERE id = ?", [alert_id])
    if not rows:
        raise WebError(404, "not_found", f"no alert {alert_id}", hint="list them at alerts/")
    return _alert(rows[0])


def alert_post_ids(explanation: Any) -> list[str]:
    """Post ids an explanation names (``posts``: ids or objects with ``id``), when it does."""
    found: list[str] = []
    if isinstance(explanation, dict):
        for key in ("posts", "post_ids", "top_posts", "examples"):
            for item in explanation.get(key) or []:
                if isinstance(item, str):
                    found.append(item)
                elif isinstance(item, dict) and isinstance(item.get("id"), str):
                    found.append(item["id"])
    return found[:200]


def explanation_lines(explanation: Any) -> list[tuple[str, str]]:
    """(key, text) pairs to show an explanation whatever its shape; never markup."""
    if isinstance(explanation, dict):
        out = []
        for k, v in explanation.items():
            text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)[:600]
            out.append((str(k), text))
        return out
    if explanation is None:
        return []
    return [("", explanation if isinstance(explanation, str) else json.dumps(explanation)[:600])]


# ---- small tables -------------------------------------------------------------------------
def monitors(store: Store) -> list[dict[str, Any]]:
    return [{"name": n, "query": q} for n, q in store.query(
        "SELECT name, query FROM monitors ORDER BY name")]


def sources(store: Store) -> list[dict[str, Any]]:
    cols = ("name", "kind", "status", "last_event_at", "last_error", "errors", "events",
            "updated_at")
    return [{c: iso(v) if c.endswith("_at") else v for c, v in zip(cols, r, strict=True)}
            for r in store.query(f"SELECT {', '.join(cols)} FROM source_state ORDER BY name")]


def alert_rules(store: Store) -> list[dict[str, Any]]:
    return [{"name": n, "kind": k, "config": loads(c)} for n, k, c in store.query(
        "SELECT name, kind, config FROM alert_rules ORDER BY name")]


def facts(store: Store) -> list[dict[str, Any]]:
    return [{"id": int(i), "kind": k, "text": t, "correction": c, "sources": loads(s)}
            for i, k, t, c, s in store.query(
                "SELECT id, kind, text, correction, sources FROM facts ORDER BY id")]


def setting(store: Store, key: str) -> Any:
    return loads(store.scalar("SELECT value FROM settings WHERE key = ?", [key]))


def sites(store: Store) -> list[dict[str, Any]]:
    out = []
    for name, lat, lon, radius in store.query(
            "SELECT name, lat, lon, radius_m FROM sites ORDER BY name"):
        out.append({"name": name, "lat": lat, "lon": lon, "radius_m": radius})
    return out


def site_pulse(store: Store, site: dict[str, Any], since: Any) -> int | None:
    """Geotagged posts within the site's radius since ``since`` (a bounding box, then the
    circle). Aggregate only: a count."""
    lat, lon, radius = site.get("lat"), site.get("lon"), site.get("radius_m") or 1000
    if lat is None or lon is None:
        return None
    import math

    dlat = radius / 111_320
    dlon = radius / (111_320 * max(0.01, math.cos(math.radians(lat))))
    rows = store.query("SELECT p.lat, p.lon FROM posts p WHERE p.has_geo = ? AND p.lat BETWEEN "
                       "? AND ? AND p.lon BETWEEN ? AND ? AND p.created_at >= ? LIMIT 100000",
                       [True, lat - dlat, lat + dlat, lon - dlon, lon + dlon, since])
    return sum(1 for a, b in rows if _meters(lat, lon, a, b) <= radius)


def _meters(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    import math

    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))
