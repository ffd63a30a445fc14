"""The responder inbox: triage-labelled posts by priority, their context, and what people do
with them (assign, drafts, responded / resolved with time to first response, overrides, notes).

Triage labels come from ``perron.enrich.triage`` through the ``labels`` table (task ``triage``:
``label`` = outcome, ``score`` = priority, ``scores`` / ``reasons`` = JSON with the decision path).
A person's override goes to ``corrections`` and wins over the model's label.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from typing import Any

from ..enrich.types import LABELS
from ..store import Store
from .auth import WebError
from .control import now_iso
from .data import _SELECT, LABEL_TASKS, STATUSES, TRIAGE_QUIET, iso, loads, parse_time, post_dict

OUTCOMES = LABELS["triage"]
VOCABULARY: dict[str, tuple[str, ...]] = dict(LABELS)  # every task but language
_N = len(_SELECT.split(","))

# Wired by the lead to perron.enrich.triage: re-run triage for one post after an override.
# Takes (store, post_id); the default does nothing (the override itself is already stored).
RETRIAGE: list[Callable[[Store, str], None]] = []


def queue(store: Store, status: str = "open", limit: int = 50,
          assignee: str | None = None) -> list[dict[str, Any]]:
    quiet = ",".join("?" * len(TRIAGE_QUIET))
    where = [f"COALESCE(c.label, l.label) NOT IN ({quiet})"]
    params: list[Any] = list(TRIAGE_QUIET)
    if status != "all":
        where.append("COALESCE(i.status, 'open') = ?")
        params.append(status)
    if assignee:
        where.append("i.assignee = ?")
        params.append(assignee)
    nulls = " NULLS LAST" if store.dialect == "postgresql" else ""
    rows = store.query(
        f"SELECT {_SELECT}, l.label, l.score, l.scores, l.reasons, l.created_at, i.status, "
        "i.assignee, i.arrived_at, i.responded_at, c.label FROM labels l "
        "JOIN posts p ON p.rowid = l.post_rowid "
        "LEFT JOIN inbox_items i ON i.post_id = p.id "
        "LEFT JOIN corrections c ON c.post_id = p.id AND c.task = 'triage' "
        f"WHERE l.task = 'triage' AND {' AND '.join(where)} "
        f"ORDER BY l.score DESC{nulls}, l.post_rowid DESC LIMIT ?", [*params, limit])
    return [_item(r) for r in rows]


def _item(r: tuple, detail: bool = False) -> dict[str, Any]:
    """One inbox entry; the decision path and reasons (JSON) are decoded for ``detail`` only,
    which keeps the queue cheap."""
    post = post_dict(r[:_N])
    label, score, scores, reasons, labelled_at, status, assignee, arrived, responded, corr = r[_N:]
    arrived_at = iso(arrived) or iso(labelled_at) or post["created_at"]
    return {"post": post, "outcome": corr or label, "model_outcome": label,
            "overridden": corr is not None, "priority": score,
            "path": decision_path(loads(scores)) if detail else None,
            "reasons": _strings(loads(reasons)) if detail else None,
            "status": status or "open", "assignee": assignee, "arrived_at": arrived_at,
            "responded_at": iso(responded),
            "ttfr_seconds": _seconds(arrived_at, iso(responded))}


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v) for v in value][:20]
    if isinstance(value, str):
        return [value]
    return []


def decision_path(extra: Any) -> list[dict[str, Any]]:
    """The decision tree's steps, whatever shape the enricher stored: a list of steps, or a
    dict with ``path``; each step a dict (question / answer / evidence) or a list."""
    steps = extra.get("path") if isinstance(extra, dict) else extra
    out: list[dict[str, Any]] = []
    for s in steps if isinstance(steps, list) else []:
        if isinstance(s, dict):
            ans = s.get("answer")
            out.append({"question": str(s.get("question", "")),
                        "answer": ans if isinstance(ans, bool) else None,
                        "evidence": str(s.get("evidence") or "")})
        elif isinstance(s, list | tuple) and s:
            out.append({"question": str(s[0]),
                        "answer": s[1] if len(s) > 1 and isinstance(s[1], bool) else None,
                        "evidence": str(s[2]) if len(s) > 2 and s[2] else ""})
    return out[:12]


def _seconds(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    return None if a is None or b is None else max(0.0, (b - a).total_seconds())


def median_ttfr(store: Store) -> float | None:
    rows = store.query("SELECT arrived_at, responded_at FROM inbox_items WHERE responded_at IS "
                       "NOT NULL ORDER BY responded_at DESC LIMIT 500")
    values = [s for s in (_seconds(a, b) for a, b in rows) if s is not None]
    return statistics.median(values) if values else None


def item(store: Store, post_id: str) -> dict[str, Any]:
    rows = store.query(
        f"SELECT {_SELECT}, l.label, l.score, l.scores, l.reasons, l.created_at, i.status, "
        "i.assignee, i.arrived_at, i.responded_at, c.label FROM posts p "
        "LEFT JOIN labels l ON l.post_rowid = p.rowid AND l.task = 'triage' "
        "LEFT JOIN inbox_items i ON i.post_id = p.id "
        "LEFT JOIN corrections c ON c.post_id = p.id AND c.task = 'triage' "
        "WHERE p.id = ?", [post_id])
    if not rows:
        raise WebError(404, "not_found", f"no post {post_id!r} in this workspace",
                       hint="take ids from the inbox or the search results")
    out = _item(rows[0], detail=True)
    post = out["post"]
    out["labels"] = labels(store, post["rowid"], post["id"])
    out["thread"] = thread(store, post)
    out["author"] = author(store, post["author_id"])
    out["notes"] = [{"author": a, "text": t, "created_at": iso(c)} for a, t, c in store.query(
        "SELECT author, text, created_at FROM inbox_notes WHERE post_id = ? ORDER BY id "
        "LIMIT 200", [post_id])]
    out["draft"] = store.scalar("SELECT text FROM inbox_drafts WHERE post_id = ?", [post_id])
    return out


def labels(store: Store, rowid: int, post_id: str) -> list[dict[str, Any]]:
    corrections = {t: (lab, note, who) for t, lab, note, who in store.query(
        "SELECT task, label, note, author FROM corrections WHERE post_id = ?", [post_id])}
    out = []
    for task, label, score, reasons in store.query(
            "SELECT task, label, score, reasons FROM labels WHERE post_rowid = ? ORDER BY task",
            [rowid]):
        corr = corrections.pop(task, None)
        out.append({"task": task, "label": corr[0] if corr else label, "model_label": label,
                    "score": score, "reasons": _strings(loads(reasons)),
                    "overridden_by": corr[2] if corr else None,
                    "note": corr[1] if corr else None})
    for task, (lab, note, who) in corrections.items():
        out.append({"task": task, "label": lab, "model_label": None, "score": None,
                    "reasons": [], "overridden_by": who, "note": note})
    return out


def thread(store: Store, post: dict[str, Any]) -> dict[str, Any]:
    parent = None
    if post.get("parent_id"):
        rows = store.query(f"SELECT {_SELECT} FROM posts p WHERE p.id = ?", [post["parent_id"]])
        parent = post_dict(rows[0]) if rows else None
    replies = [post_dict(r) for r in store.query(
        f"SELECT {_SELECT} FROM posts p WHERE p.parent_id = ? ORDER BY p.created_at LIMIT 20",
        [post["id"]])]
    root = None
    if post.get("root_id") and post["root_id"] not in (post["id"], post.get("parent_id")):
        rows = store.query(f"SELECT {_SELECT} FROM posts p WHERE p.id = ?", [post["root_id"]])
        root = post_dict(rows[0]) if rows else None
    return {"root": root, "parent": parent, "replies": replies}


def author(store: Store, author_id: str | None) -> dict[str, Any] | None:
    if not author_id:
        return None
    rows = store.query("SELECT handle, name, followers, following, posts, data FROM authors "
                       "WHERE id = ?", [author_id])
    if not rows:
        return None
    handle, name, followers, following, posts, data = rows[0]
    extra = loads(data) or {}
    return {"id": author_id, "handle": handle, "name": name, "followers": followers,
            "following": following, "posts": posts,
            "bot": extra.get("bot") if isinstance(extra, dict) else None,
            "verified": extra.get("verified") if isinstance(extra, dict) else None}


# ---- actions ------------------------------------------------------------------------------
def _ensure(store: Store, post_id: str) -> None:
    row = store.query("SELECT p.created_at, l.created_at FROM posts p LEFT JOIN labels l ON "
                      "l.post_rowid = p.rowid AND l.task = 'triage' WHERE p.id = ?", [post_id])
    if not row:
        raise WebError(404, "not_found", f"no post {post_id!r} in this workspace",
                       hint="take ids from the inbox or the search results")
    arrived = iso(row[0][1]) or iso(row[0][0]) or now_iso()
    store.execute("INSERT INTO inbox_items (post_id, status, arrived_at, updated_at) VALUES "
                  "(?, 'open', ?, ?) ON CONFLICT (post_id) DO NOTHING", [post_id, arrived,
                                                                          now_iso()])


def assign(store: Store, post_id: str, assignee: str | None) -> None:
    with store.transaction():
        _ensure(store, post_id)
        store.execute("UPDATE inbox_items SET assignee = ?, updated_at = ? WHERE post_id = ?",
                      [assignee or None, now_iso(), post_id])


def set_status(store: Store, post_id: str, status: str) -> None:
    if status not in STATUSES:
        raise WebError(422, "bad_status", f"unknown status {status!r}",
                       hint="one of: " + ", ".join(STATUSES))
    now = now_iso()
    with store.transaction():
        _ensure(store, post_id)
        store.execute(
            "UPDATE inbox_items SET status = ?, updated_at = ?, "
            "responded_at = CASE WHEN ? IN ('responded', 'resolved') AND responded_at IS NULL "
            "AND ? = 'responded' THEN ? ELSE responded_at END, "
            "resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE resolved_at END "
            "WHERE post_id = ?", [status, now, status, status, now, status, now, post_id])


def save_draft(store: Store, post_id: str, text: str, who: str) -> None:
    with store.transaction():
        _ensure(store, post_id)
        store.execute("INSERT INTO inbox_drafts (post_id, text, author, updated_at) VALUES "
                      "(?,?,?,?) ON CONFLICT (post_id) DO UPDATE SET text = excluded.text, "
                      "author = excluded.author, updated_at = excluded.updated_at",
                      [post_id, text[:5000], who, now_iso()])


def add_note(store: Store, post_id: str, text: str, who: str) -> None:
    if not text.strip():
        raise WebError(422, "empty_note", "the note is empty", hint="write something")
    with store.transaction():
        _ensure(store, post_id)
        store.execute("INSERT INTO inbox_notes (post_id, author, text, created_at) VALUES "
                      "(?,?,?,?)", [post_id, who, text[:5000], now_iso()])


def override(store: Store, post_id: str, task: str, label: str, note: str | None,
             who: str) -> None:
    if task not in LABEL_TASKS:
        raise WebError(422, "bad_task", f"unknown label task {task!r}",
                       hint="one of: " + ", ".join(LABEL_TASKS))
    known = VOCABULARY.get(task)
    if known is not None and label not in known:
        raise WebError(422, "bad_label", f"{label!r} is not a {task} label",
                       hint="one of: " + ", ".join(known))
    if known is None and not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", label):
        raise WebError(422, "bad_label", f"{label!r} is not a language code", hint="e.g. fr")
    with store.transaction():
        _ensure(store, post_id)
        store.execute("INSERT INTO corrections (post_id, task, label, note, author, created_at) "
                      "VALUES (?,?,?,?,?,?) ON CONFLICT (post_id, task) DO UPDATE SET "
                      "label = excluded.label, note = excluded.note, author = excluded.author, "
                      "created_at = excluded.created_at",
                      [post_id, task, label.strip(), note, who, store.ts(parse_time(now_iso()))])
    for hook in RETRIAGE:
        hook(store, post_id)


def saved_replies(store: Store) -> list[dict[str, Any]]:
    return [{"id": int(i), "name": n, "text": t} for i, n, t in store.query(
        "SELECT id, name, text FROM saved_replies ORDER BY name LIMIT 200")]


def add_saved_reply(store: Store, name: str, text: str) -> None:
    if not name.strip() or not text.strip():
        raise WebError(422, "empty", "a saved reply needs a name and a text", hint="fill both")
    store.execute("INSERT INTO saved_replies (name, text, created_at) VALUES (?,?,?)",
                  [name.strip()[:100], text[:5000], now_iso()])
