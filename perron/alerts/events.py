"""Rules about events rather than volumes: a first term, an influential author, a burst of
triage outcomes, a collector that went quiet."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ..store import Store
from ..text import fold, tokens
from .posts import posts_between
from .records import Alert, iso, parse_time
from .rules import (
    CollectorDownRule,
    FirstTermRule,
    InfluentialAuthorRule,
    TriageBurstRule,
    format_duration,
    parse_duration,
    term_query,
)
from .series import bucket_of, bucket_start, label_counts, monitor_join

# ---- first_term ---------------------------------------------------------------------------

def evaluate_first_term(store: Store, rule: FirstTermRule, now: datetime) -> list[Alert]:
    since = now - parse_duration(rule.window)
    if rule.terms:
        candidates = [(t, term_query(t)) for t in rule.terms]
    else:
        counts: Counter[str] = Counter()
        for p in posts_between(store, rule.monitor, since, now, limit=20000):
            text = p.text if p.title is None else p.title + "\n" + p.text
            counts.update({t for t in tokens(text) if t.startswith("#") and len(t) > 1})
        candidates = [(t, t) for t, n in counts.most_common(50) if n >= rule.min_posts]
    out = []
    for term, query in candidates:
        first = next(iter(store.search(query, monitor=rule.monitor, oldest_first=True,
                                       limit=1)), None)
        at = parse_time(first["created_at"]) if first else None
        if first is None or at is None or not since <= at < now:
            continue
        posts = [r for r in store.search(query, monitor=rule.monitor, oldest_first=True,
                                         limit=200) if (parse_time(r["created_at"]) or at) < now]
        authors = Counter(r["author_handle"] or r["author_id"] for r in posts)
        expl: dict[str, Any] = {
            "monitor": rule.monitor, "term": term, "query": query,
            "mode": "listed terms" if rule.terms else "new hashtags",
            "first_post": _brief(first), "posts_so_far": len(posts),
            "posts": [r["id"] for r in posts[:20]],
            "authors": [{"author": a, "posts": n} for a, n in authors.most_common(10)],
            "window": {"start": iso(since), "end": iso(now)},
        }
        title = (f"Première apparition de « {term} » dans « {rule.monitor} » ({len(posts)} posts)"
                 if rule.lang == "fr" else
                 f"First appearance of “{term}” in “{rule.monitor}” ({len(posts)} posts)")
        out.append(Alert(rule=rule.name, kind=rule.kind, at=at, scope=rule.monitor,
                         monitor=rule.monitor, dedupe_key=f"{rule.monitor}|{fold(term)}",
                         title=title, explanation=expl))
    return out


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    text = " ".join((r.get("text") or "").split())
    return {"id": r["id"], "url": r.get("url"), "author": r.get("author_handle") or
            r.get("author_id"), "created_at": r.get("created_at"), "source": r.get("source"),
            "text": text if len(text) <= 280 else text[:279] + "…"}


# ---- influential_author ---------------------------------------------------------------------

def evaluate_influential_author(store: Store, rule: InfluentialAuthorRule,
                                now: datetime) -> list[Alert]:
    since = now - parse_duration(rule.window)
    if rule.monitor:
        store.monitor_query(rule.monitor)
    mjoin, params = monitor_join(rule.monitor)
    rows = store.query(
        "SELECT p.id, p.url, p.created_at, p.text, p.source, p.kind, a.id, a.handle, a.name, "
        f"a.followers FROM posts p {mjoin}JOIN authors a ON a.id = p.author_id "
        "WHERE a.followers >= ? AND p.created_at >= ? AND p.created_at < ? "
        "ORDER BY p.created_at, p.rowid LIMIT 1000",
        [*params, rule.min_followers, store.ts(since), store.ts(now)])
    out = []
    where_fr = f" dans « {rule.monitor} »" if rule.monitor else ""
    where_en = f" in “{rule.monitor}”" if rule.monitor else ""
    for pid, url, created, text, source, kind, aid, handle, name, followers in rows:
        at = parse_time(created)
        who = f"@{handle}" if handle else aid
        text = " ".join(text.split())
        expl = {
            "monitor": rule.monitor, "metric": "followers", "threshold": rule.min_followers,
            "author": {"id": aid, "handle": handle, "name": name, "followers": followers},
            "post": {"id": pid, "url": url, "created_at": iso(at), "source": source, "kind": kind,
                     "text": text if len(text) <= 280 else text[:279] + "…"},
            "note": "followers only for now; the influence score (what people do) will follow",
        }
        n = f"{followers:,}"
        title = (f"Post de {who} ({n.replace(',', ' ')} abonnés){where_fr}" if rule.lang == "fr"
                 else f"Post by {who} ({n} followers){where_en}")
        out.append(Alert(rule=rule.name, kind=rule.kind, at=at, scope=aid,  # type: ignore[arg-type]
                         monitor=rule.monitor, dedupe_key=pid, title=title, explanation=expl))
    return out


# ---- triage_burst ---------------------------------------------------------------------------

def evaluate_triage_burst(store: Store, rule: TriageBurstRule, now: datetime) -> list[Alert]:
    if rule.monitor:
        store.monitor_query(rule.monitor)
    step = int(parse_duration(rule.interval).total_seconds())
    end_b = bucket_of(now, step)
    first_recent = bucket_of(now - parse_duration(rule.recent), step)
    n_base = max(1, int(parse_duration(rule.baseline).total_seconds() // step))
    counts = label_counts(store, rule.monitor, "triage", rule.outcomes, step,
                          bucket_start(first_recent - n_base, step), bucket_start(end_b, step))
    out = []
    for b in range(first_recent, end_b):
        here = counts.get(b, {})
        n = sum(here.values())
        if n < rule.min_count:
            continue
        base_total = sum(sum(counts.get(i, {}).values()) for i in range(b - n_base, b))
        expected = base_total / n_base
        if n < rule.ratio * expected:
            continue
        start, end = bucket_start(b, step), bucket_start(b + 1, step)
        posts = posts_between(store, rule.monitor, start, end, label_task="triage",
                              labels=list(rule.outcomes), limit=500)
        reasons = _reasons(store, [p.id for p in posts[:50]])
        authors = Counter(p.author for p in posts)
        scope = rule.monitor or "*"
        expl: dict[str, Any] = {
            "monitor": rule.monitor, "outcomes": dict(sorted(here.items())), "count": n,
            "expected": round(expected, 4), "ratio": rule.ratio, "min_count": rule.min_count,
            "interval": format_duration(timedelta(seconds=step)),
            "window": {"start": iso(start), "end": iso(end)},
            "baseline": {"start": iso(bucket_start(b - n_base, step)), "end": iso(start),
                         "posts": base_total},
            "authors": [{"author": a, "posts": k} for a, k in authors.most_common(10)],
            "posts": [{**p.brief(), "reasons": reasons.get(p.id, [])} for p in posts[:50]],
        }
        what = " / ".join(f"{k}: {v}" for k, v in sorted(here.items()))
        where = f" « {rule.monitor} »" if rule.monitor and rule.lang == "fr" else (
            f" “{rule.monitor}”" if rule.monitor else "")
        title = (f"Rafale de triage{where} : {n} posts ({what}), {start:%Y-%m-%d %H:%M} UTC "
                 f"(d'habitude ≈ {expected:.1f})" if rule.lang == "fr" else
                 f"Triage burst{where}: {n} posts ({what}), {start:%Y-%m-%d %H:%M} UTC "
                 f"(usually ≈ {expected:.1f})")
        out.append(Alert(rule=rule.name, kind=rule.kind, at=start, scope=scope,
                         monitor=rule.monitor, dedupe_key=f"{scope}|{iso(start)}", title=title,
                         explanation=expl))
    return out


def _reasons(store: Store, post_ids: list[str]) -> dict[str, list[str]]:
    if not post_ids:
        return {}
    marks = ",".join("?" * len(post_ids))
    out: dict[str, list[str]] = {}
    for pid, reasons in store.query(
            f"SELECT p.id, l.reasons FROM posts p JOIN labels l ON l.post_rowid = p.rowid AND "
            f"l.task = 'triage' WHERE p.id IN ({marks})", post_ids):
        try:
            value = json.loads(reasons) if reasons else []
        except ValueError:
            value = [str(reasons)]
        out[pid] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out


# ---- collector_down -------------------------------------------------------------------------

def evaluate_collector_down(store: Store, rule: CollectorDownRule, now: datetime) -> list[Alert]:
    """Uses :func:`perron.live.state.source_status`, whose ``state`` already says ``stale`` when a
    listener stopped writing its heartbeat without saying so (crash, kill -9)."""
    from ..live.state import source_status

    silent = parse_duration(rule.silent)
    out = []
    for src in source_status(store, now):
        name = src["name"]
        if rule.sources and name not in rule.sources:
            continue
        state = src["state"]
        last_at, updated_at = parse_time(src["last_event_at"]), parse_time(src["updated_at"])
        reasons = []
        if state not in rule.ok_statuses:
            reasons.append("status")
        quiet_since = last_at or updated_at
        if quiet_since is not None and now - quiet_since >= silent:
            reasons.append("silent")
        if not reasons:
            continue
        minutes = int((now - quiet_since).total_seconds() // 60) if quiet_since else None
        expl = {
            "source": name, "source_kind": src["kind"], "status": state,
            "ok_statuses": list(rule.ok_statuses), "reasons": reasons,
            "last_event_at": iso(last_at), "updated_at": iso(updated_at),
            "silent_minutes": minutes, "silent_threshold": rule.silent,
            "last_error": src["last_error"], "errors": src["errors"], "events": src["events"],
        }
        sep = (" ; " if rule.lang == "fr" else "; ") if len(reasons) == 2 else ""
        if rule.lang == "fr":
            why = (f"état « {state} »" if "status" in reasons else "") + sep + (
                f"rien reçu depuis {minutes} min" if "silent" in reasons else "")
            title = f"Collecteur « {name} » en panne : {why}"
        else:
            why = (f"state “{state}”" if "status" in reasons else "") + sep + (
                f"nothing received for {minutes} min" if "silent" in reasons else "")
            title = f"Collector “{name}” down: {why}"
        key = f"{name}|{'+'.join(reasons)}|{state}|{iso(last_at)}"
        out.append(Alert(rule=rule.name, kind=rule.kind, at=now, scope=name, monitor=None,
                         dedupe_key=key, title=title, explanation=expl))
    return out
