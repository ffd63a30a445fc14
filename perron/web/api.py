"""The HTTP API: JSON for everything the pages do, under ``/api``; described at
``/api/openapi.json``; errors always in the one envelope (see ``app.envelope``)."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..errors import QueryError
from ..query import parse
from . import data, inbox
from .auth import Ctx, WebError, guard, needs, public
from .control import ROLES
from .permissions import MATRIX

router = APIRouter()
Guard = Annotated[Ctx, Depends(guard)]
Limit = Annotated[int, Query(ge=1, le=200)]
Q = Annotated[str | None, Query(max_length=2000, description="monitor query language")]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")]
Text = Annotated[str, Field(max_length=5000)]


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


class MonitorIn(BaseModel):
    name: Name
    query: Annotated[str, Field(min_length=1, max_length=2000)]
    replace: bool = False


class LangIn(BaseModel):
    lang: Literal["fr", "en"]


class AssignIn(BaseModel):
    post_id: Annotated[str, Field(min_length=1, max_length=500)]
    assignee: Annotated[str | None, Field(max_length=254)] = None


class StatusIn(BaseModel):
    post_id: Annotated[str, Field(min_length=1, max_length=500)]
    status: Literal["open", "responded", "resolved"]


class TextIn(BaseModel):
    post_id: Annotated[str, Field(min_length=1, max_length=500)]
    text: Text


class OverrideIn(BaseModel):
    post_id: Annotated[str, Field(min_length=1, max_length=500)]
    task: Literal["language", "sentiment", "offensive", "hate", "irony", "complaint", "claim",
                  "triage"]
    label: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str | None, Field(max_length=2000)] = None


class SavedReplyIn(BaseModel):
    name: Name
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class AlertStatusIn(BaseModel):
    status: Literal["open", "acknowledged", "closed"]


class FactIn(BaseModel):
    kind: Literal["false_claim", "fact"] = "fact"
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    correction: Annotated[str | None, Field(max_length=2000)] = None
    sources: list[Annotated[str, Field(max_length=500)]] = Field(default=[], max_length=20)


class MemberIn(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    role: Literal["admin", "analyst", "responder", "viewer"]


# ---- about me ------------------------------------------------------------------------------
@router.get("/healthz", tags=["meta"])
@public
def healthz() -> dict[str, str]:
    """Liveness, without authentication."""
    return {"status": "ok"}


@router.get("/api/me", tags=["me"])
@needs("self")
def me(ctx: Guard) -> dict[str, Any]:
    return {"email": ctx.user.email, "lang": ctx.lang, "workspaces": [
        {"slug": w.slug, "name": w.name, "role": r} for w, r in ctx.control.memberships(
            ctx.user.email)]}


@router.get("/api/workspaces", tags=["me"])
@needs("self")
def workspaces(ctx: Guard) -> list[dict[str, Any]]:
    return [{"slug": w.slug, "name": w.name, "role": r}
            for w, r in ctx.control.memberships(ctx.user.email)]


@router.put("/api/me/lang", tags=["me"])
@needs("self")
def set_lang(body: LangIn, ctx: Guard) -> dict[str, str]:
    ctx.control.set_lang(ctx.user.email, body.lang)
    return {"lang": body.lang}


@router.get("/api/roles", tags=["me"])
@needs("self")
def roles(ctx: Guard) -> dict[str, list[str]]:
    """The permission matrix: which roles may do each action."""
    return {action: sorted(r) for action, r in MATRIX.items()}


# ---- dashboards ------------------------------------------------------------------------------
@router.get("/api/w/{slug}/overview", tags=["dashboard"])
@needs("dashboard.read")
def overview(slug: str, ctx: Guard) -> dict[str, Any]:
    return cached_overview(ctx)


def cached_overview(ctx: Ctx) -> dict[str, Any]:
    store = ctx.store
    out = dict(ctx.state.cache.get((ctx.slug, "overview"), lambda: data.overview(store),
                                   data.version(store)))
    out["open_alerts"] = data.alerts(store, "open", 10)
    if not ctx.sees_geo:
        out["top_posts"] = [p for p in out["top_posts"] if not p["has_geo"]]
    return out


@router.get("/api/w/{slug}/posts", tags=["posts"], response_model=Page)
@needs("posts.read")
def posts(slug: str, ctx: Guard, q: Q = None, monitor: Annotated[str | None, Query(
        max_length=80)] = None, cursor: Annotated[str | None, Query(max_length=400)] = None,
        limit: Limit = 50) -> dict[str, Any]:
    """Search the archive with the query language; newest first; follow ``next_cursor``."""
    items, nxt = data.search(ctx.store, q, monitor=monitor, cursor=cursor, limit=limit,
                             hide_geo=not ctx.sees_geo)
    ctx.audit("search", q or monitor)
    return {"items": items, "next_cursor": nxt}


EXPORT_COLS = ("id", "source", "created_at", "author_handle", "author_id", "text", "url", "lang",
               "kind", "likes", "reposts", "replies", "quotes", "parent_id", "root_id")


@router.get("/api/w/{slug}/posts/export", tags=["posts"],
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
@needs("posts.read")
def export(slug: str, ctx: Guard, q: Q = None, monitor: Annotated[str | None, Query(
        max_length=80)] = None, format: Literal["csv", "json"] = "csv",
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> Response:
    """Search results as CSV or JSON lines' array, at most ``limit`` posts."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while len(rows) < limit:
        items, cursor = data.search(ctx.store, q, monitor=monitor, cursor=cursor,
                                    limit=min(1000, limit - len(rows)),
                                    hide_geo=not ctx.sees_geo)
        rows.extend(items)
        if cursor is None:
            break
    ctx.audit("export", q or monitor)
    name = f"perron-{ctx.slug}"
    if format == "json":
        body = json.dumps([{c: r[c] for c in EXPORT_COLS} for r in rows], ensure_ascii=False)
        return Response(body, media_type="application/json", headers={
            "content-disposition": f'attachment; filename="{name}.json"'})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLS)
    for r in rows:
        w.writerow([_cell(r[c]) for c in EXPORT_COLS])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{name}.csv"'})


def _cell(value: Any) -> Any:
    """Defuse spreadsheet formulas (CSV injection) in exported text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


@router.get("/api/w/{slug}/post", tags=["posts"])
@needs("posts.read")
def post(slug: str, ctx: Guard, id: Annotated[str, Query(min_length=1, max_length=500)]
         ) -> dict[str, Any]:
    """One post with its labels, thread and author."""
    item = inbox.item(ctx.store, id)
    if item["post"]["has_geo"] and not ctx.sees_geo:
        raise WebError(404, "not_found", f"no post {id!r} in this workspace",
                       hint="geotagged posts are shown to viewers as aggregates only")
    ctx.audit("view_post", id)
    return item


# ---- monitors -------------------------------------------------------------------------------
@router.get("/api/w/{slug}/monitors", tags=["monitors"])
@needs("monitors.read")
def monitors(slug: str, ctx: Guard) -> list[dict[str, Any]]:
    return data.monitors(ctx.store)


@router.post("/api/w/{slug}/monitors", tags=["monitors"], status_code=201)
@needs("monitors.write")
def monitor_add(slug: str, body: MonitorIn, ctx: Guard) -> dict[str, Any]:
    """Save a monitor and tag the stored posts it matches (backfill)."""
    store = ctx.store
    if not body.replace and body.name in store.monitors():
        raise WebError(409, "conflict", f"a monitor named {body.name!r} already exists",
                       hint="pick another name, or send \"replace\": true")
    store.monitor_add(body.name, body.query, replace=body.replace)
    matched = store.backfill(body.name)
    ctx.state.cache.clear()
    ctx.audit("monitor_add", body.name)
    return {"name": body.name, "query": body.query, "matched": matched}


@router.delete("/api/w/{slug}/monitors/{name}", tags=["monitors"])
@needs("monitors.write")
def monitor_remove(slug: str, name: str, ctx: Guard) -> dict[str, Any]:
    ctx.store.monitor_remove(name)
    ctx.state.cache.clear()
    ctx.audit("monitor_remove", name)
    return {"removed": name}


@router.get("/api/w/{slug}/query/check", tags=["monitors"])
@needs("monitors.read")
def query_check(slug: str, ctx: Guard, q: Annotated[str, Query(max_length=2000)]
                ) -> dict[str, Any]:
    """Live syntax check: ``valid``, else the error with its 1-based ``column`` and ``hint``."""
    try:
        parse(q)
    except QueryError as exc:
        return {"valid": False, "error": {"message": exc.message, "hint": exc.hint,
                                          "column": exc.column}}
    return {"valid": True, "error": None}


# ---- inbox ----------------------------------------------------------------------------------
@router.get("/api/w/{slug}/inbox", tags=["inbox"])
@needs("inbox.read")
def inbox_list(slug: str, ctx: Guard, status: Literal["open", "responded", "resolved", "all"]
               = "open", limit: Limit = 50,
               assignee: Annotated[str | None, Query(max_length=254)] = None) -> dict[str, Any]:
    """The triage queue, highest priority first (``assignee=me`` for your own)."""
    who = ctx.user.email if assignee == "me" else assignee
    return {"items": inbox.queue(ctx.store, status, limit, who),
            "median_ttfr_seconds": inbox.median_ttfr(ctx.store)}


@router.get("/api/w/{slug}/inbox/item", tags=["inbox"])
@needs("inbox.read")
def inbox_item(slug: str, ctx: Guard, id: Annotated[str, Query(min_length=1, max_length=500)]
               ) -> dict[str, Any]:
    ctx.audit("view_inbox_item", id)
    return inbox.item(ctx.store, id)


@router.post("/api/w/{slug}/inbox/assign", tags=["inbox"])
@needs("inbox.write")
def inbox_assign(slug: str, body: AssignIn, ctx: Guard) -> dict[str, Any]:
    if body.assignee and ctx.control.role(body.assignee.strip().lower(), ctx.slug) is None:
        raise WebError(422, "not_a_member", f"{body.assignee} is not in this workspace",
                       hint="assign to a member (see settings → users)")
    inbox.assign(ctx.store, body.post_id, (body.assignee or "").strip().lower() or None)
    ctx.audit("assign", body.post_id)
    return inbox.item(ctx.store, body.post_id)


@router.post("/api/w/{slug}/inbox/status", tags=["inbox"])
@needs("inbox.write")
def inbox_status(slug: str, body: StatusIn, ctx: Guard) -> dict[str, Any]:
    inbox.set_status(ctx.store, body.post_id, body.status)
    ctx.audit("status_" + body.status, body.post_id)
    return inbox.item(ctx.store, body.post_id)


@router.post("/api/w/{slug}/inbox/draft", tags=["inbox"])
@needs("inbox.write")
def inbox_draft(slug: str, body: TextIn, ctx: Guard) -> dict[str, Any]:
    inbox.save_draft(ctx.store, body.post_id, body.text, ctx.user.email)
    return inbox.item(ctx.store, body.post_id)


@router.post("/api/w/{slug}/inbox/note", tags=["inbox"])
@needs("inbox.write")
def inbox_note(slug: str, body: TextIn, ctx: Guard) -> dict[str, Any]:
    inbox.add_note(ctx.store, body.post_id, body.text, ctx.user.email)
    return inbox.item(ctx.store, body.post_id)


@router.post("/api/w/{slug}/inbox/override", tags=["inbox"])
@needs("inbox.write")
def inbox_override(slug: str, body: OverrideIn, ctx: Guard) -> dict[str, Any]:
    """A person overrules a label: written to ``corrections``, it wins over the model."""
    inbox.override(ctx.store, body.post_id, body.task, body.label, body.note, ctx.user.email)
    ctx.audit("override_" + body.task, body.post_id)
    return inbox.item(ctx.store, body.post_id)


@router.get("/api/w/{slug}/saved-replies", tags=["inbox"])
@needs("inbox.read")
def saved_replies(slug: str, ctx: Guard) -> list[dict[str, Any]]:
    return inbox.saved_replies(ctx.store)


@router.post("/api/w/{slug}/saved-replies", tags=["inbox"], status_code=201)
@needs("inbox.write")
def saved_reply_add(slug: str, body: SavedReplyIn, ctx: Guard) -> list[dict[str, Any]]:
    inbox.add_saved_reply(ctx.store, body.name, body.text)
    return inbox.saved_replies(ctx.store)


# ---- alerts, places, influence ----------------------------------------------------------------
@router.get("/api/w/{slug}/alerts", tags=["alerts"])
@needs("dashboard.read")
def alerts(slug: str, ctx: Guard, status: Literal["open", "acknowledged", "closed"] | None = None,
           limit: Limit = 100) -> list[dict[str, Any]]:
    return data.alerts(ctx.store, status, limit)


@router.get("/api/w/{slug}/alerts/{alert_id}", tags=["alerts"])
@needs("dashboard.read")
def alert(slug: str, alert_id: Annotated[int, Path(ge=1, le=2**62)], ctx: Guard,
          ) -> dict[str, Any]:
    """An alert, its explanation and the posts it names (or the monitor's posts then)."""
    out = data.alert(ctx.store, alert_id)
    out["posts"] = alert_posts(ctx, out)
    return out


def alert_posts(ctx: Ctx, a: dict[str, Any]) -> list[dict[str, Any]]:
    ids = data.alert_post_ids(a["explanation"])
    if ids:
        items, _ = data.search(ctx.store, ids=ids, limit=100, hide_geo=not ctx.sees_geo)
    elif a.get("monitor") and a["monitor"] in {m["name"] for m in data.monitors(ctx.store)}:
        items, _ = data.search(ctx.store, monitor=a["monitor"], limit=50,
                               hide_geo=not ctx.sees_geo)
    else:
        items = []
    return items


@router.post("/api/w/{slug}/alerts/{alert_id}/status", tags=["alerts"])
@needs("alerts.write")
def alert_status(slug: str, alert_id: Annotated[int, Path(ge=1, le=2**62)], body: AlertStatusIn,
                 ctx: Guard) -> dict[str, Any]:
    data.alert(ctx.store, alert_id)
    ctx.store.execute("UPDATE alerts SET status = ? WHERE id = ?", [body.status, alert_id])
    ctx.audit("alert_" + body.status, str(alert_id))
    return data.alert(ctx.store, alert_id)


@router.get("/api/w/{slug}/sites", tags=["places"])
@needs("dashboard.read")
def sites(slug: str, ctx: Guard) -> list[dict[str, Any]]:
    """Named sites with their 30-day pulse: counts only (aggregates, for every role)."""
    return site_pulses(ctx)


def site_pulses(ctx: Ctx) -> list[dict[str, Any]]:
    store = ctx.store

    def compute() -> list[dict[str, Any]]:
        since = data.window_start(store)
        return [{**s, "pulse": data.site_pulse(store, s, since)} for s in data.sites(store)]

    return ctx.state.cache.get((ctx.slug, "sites"), compute, data.version(store))


@router.get("/api/w/{slug}/influencers", tags=["influence"])
@needs("dashboard.read")
def influencers(slug: str, ctx: Guard) -> dict[str, Any]:
    """Influencers and advocates when the influence analysis is installed, else empty."""
    from .modules import influencers as compute

    return compute(ctx)


# ---- settings ---------------------------------------------------------------------------------
@router.get("/api/w/{slug}/settings", tags=["settings"])
@needs("settings.read")
def settings(slug: str, ctx: Guard) -> dict[str, Any]:
    """Sources and their health, monitors, alert rules, fact sheet, rate card."""
    s = ctx.store
    return {"sources": data.sources(s), "monitors": data.monitors(s),
            "alert_rules": data.alert_rules(s), "facts": data.facts(s),
            "rate_card": data.setting(s, "rate_card")}


@router.post("/api/w/{slug}/facts", tags=["settings"], status_code=201)
@needs("settings.write")
def fact_add(slug: str, body: FactIn, ctx: Guard) -> list[dict[str, Any]]:
    """Add to the fact sheet: a fact (a post contradicting it is "fix the facts") or a known
    false claim with its correction (required) and sources."""
    from ..understand import add_fact

    add_fact(ctx.store, body.text, false_claim=body.kind == "false_claim",
             correction=body.correction, sources=body.sources)
    ctx.audit("fact_add", body.text[:80])
    return data.facts(ctx.store)


@router.put("/api/w/{slug}/rate-card", tags=["settings"])
@needs("settings.write")
def rate_card(slug: str, body: dict[str, Annotated[float, Field(ge=0, le=1e9)]],
              ctx: Guard) -> dict[str, Any]:
    """The rate card: estimated cost per post by tier (nano, micro, mid, macro, mega)."""
    tiers = ("nano", "micro", "mid", "macro", "mega", "currency_eur")
    card = {k: v for k, v in body.items() if k in tiers}
    ctx.store.execute("INSERT INTO settings (key, value) VALUES ('rate_card', ?) ON CONFLICT "
                      "(key) DO UPDATE SET value = excluded.value", [json.dumps(card)])
    ctx.audit("rate_card")
    return card


@router.get("/api/w/{slug}/members", tags=["users"])
@needs("users.read")
def members(slug: str, ctx: Guard) -> list[dict[str, str]]:
    return [{"email": e, "role": r} for e, r in ctx.control.members(ctx.slug)]


@router.post("/api/w/{slug}/members", tags=["users"])
@needs("users.write")
def member_set(slug: str, body: MemberIn, ctx: Guard) -> list[dict[str, str]]:
    """Give an existing user a role in this workspace (create users with `perron users add`)."""
    if body.role not in ROLES:
        raise WebError(422, "bad_role", "unknown role", hint=", ".join(ROLES))
    ctx.control.grant(body.email, ctx.slug, body.role)
    ctx.audit("grant_" + body.role, body.email.lower())
    return members(slug, ctx)


@router.delete("/api/w/{slug}/members/{email}", tags=["users"])
@needs("users.write")
def member_remove(slug: str, email: str, ctx: Guard) -> list[dict[str, str]]:
    if email.lower() == ctx.user.email:
        raise WebError(422, "self", "you cannot remove yourself", hint="ask another admin")
    ctx.control.revoke(email.lower(), ctx.slug)
    ctx.audit("revoke", email.lower())
    return members(slug, ctx)


@router.get("/api/w/{slug}/audit", tags=["users"])
@needs("audit.read")
def audit(slug: str, ctx: Guard, limit: Annotated[int, Query(ge=1, le=1000)] = 200
          ) -> list[dict[str, Any]]:
    """Who looked at what in this workspace (newest first)."""
    return [{"at": a, "user": u, "action": act, "target": t}
            for a, u, act, t in ctx.control.audit_entries(ctx.slug, limit)]

