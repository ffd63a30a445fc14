"""Server-rendered pages (French by default, English on request). Forms POST with a CSRF token
and redirect back (post/redirect/get). Every page checks its permission through ``guard``."""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import PerronError, QueryError
from . import charts, data, inbox
from .api import alert_posts, cached_overview, site_pulses
from .auth import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Ctx,
    WebError,
    client_ip,
    guard,
    needs,
    public,
    web_state,
)
from .control import ROLES, SESSION_DAYS
from .i18n import translate
from .modules import audience as audience_data
from .modules import influencers as influencers_data
from .render import duration, render

router = APIRouter(include_in_schema=False)
Guard = Annotated[Ctx, Depends(guard)]
LOGIN_CSRF = "perron_login_csrf"


def _next(value: Any) -> str:
    value = value if isinstance(value, str) else ""
    return value if value.startswith("/") and not value.startswith(("//", "/\\")) else "/"


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _field(form: Any, name: str, limit: int = 5000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


# ---- login --------------------------------------------------------------------------------
@router.get("/login")
@public
def login_page(request: Request, next: Annotated[str, Query(max_length=500)] = "/",
               failed: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, None, "login.html", next=_next(next), login_csrf=token,
                  failed=failed)
    resp.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict",
                    secure=_secure(request), max_age=3600)
    return resp


def _secure(request: Request) -> bool:
    return web_state(request).secure_cookies or request.url.scheme == "https"


@router.post("/login")
@public
async def login(request: Request) -> Response:
    form = await request.form()
    email = _field(form, "email", 254).strip().lower()
    password = _field(form, "password", 1000)
    nxt = _next(form.get("next"))
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(_field(form, "csrf", 100), expected):
        raise WebError(403, "csrf", "missing or wrong CSRF token",
                       hint="reload the login page and try again")
    state = web_state(request)
    wait = state.login_limiter.hit(f"{client_ip(request)}|{email}")
    if wait:
        retry = str(math.ceil(wait))
        resp = render(request, None, "login.html", http_status=429, next=nxt,
                      login_csrf=expected, failed="limited", http_headers={"Retry-After": retry})
        return resp
    user = state.control().authenticate(email, password)
    if user is None:
        return _back(f"/login?failed=1&next={quote(nxt)}")
    state.login_limiter.reset(f"{client_ip(request)}|{email}")
    sid, _csrf = state.control().session_create(user.email)
    state.control().audit(user.email, None, "login")
    resp = _back(nxt)
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=_secure(request),
                    max_age=SESSION_DAYS * 86400)
    resp.set_cookie(LANG_COOKIE, user.lang, samesite="lax", secure=_secure(request))
    resp.delete_cookie(LOGIN_CSRF)
    return resp


@router.post("/logout")
@needs("self")
def logout(request: Request, ctx: Guard) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        ctx.control.session_end(sid)
    resp = _back("/login")
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.post("/lang")
@needs("self")
async def switch_lang(request: Request, ctx: Guard) -> Response:
    form = await request.form()
    lang = _field(form, "lang", 5)
    ctx.control.set_lang(ctx.user.email, lang)
    resp = _back(_next(form.get("next")))
    resp.set_cookie(LANG_COOKIE, lang if lang in ("fr", "en") else "fr", samesite="lax",
                    secure=_secure(request))
    return resp


@router.get("/")
@needs("self")
def home(request: Request, ctx: Guard) -> Response:
    return render(request, ctx, "home.html", memberships=ctx.control.memberships(ctx.user.email),
                  new_token=None)


@router.post("/tokens")
@needs("self")
def token_new(request: Request, ctx: Guard) -> Response:
    token = ctx.control.token_create(ctx.user.email)
    ctx.control.audit(ctx.user.email, None, "token_create")
    return render(request, ctx, "home.html", memberships=ctx.control.memberships(ctx.user.email),
                  new_token=token)


# ---- dashboards -------------------------------------------------------------------------------
@router.get("/w/{slug}/")
@needs("dashboard.read")
def overview(request: Request, slug: str, ctx: Guard) -> Response:
    ov = cached_overview(ctx)
    return render(request, ctx, "overview.html", ov=ov,
                  volume_svg=charts.bars(ov["volume"], title="volume"),
                  sentiment_svg=charts.hbars(ov["sentiment"], colors=charts.SENTIMENT,
                                             names={k: translate(f"label.{k}", ctx.lang)
                                                    for k in charts.SENTIMENT}),
                  sov_svg=charts.hbars(ov["share_of_voice"]))


@router.get("/w/{slug}/search")
@needs("posts.read")
def search(request: Request, slug: str, ctx: Guard,
           q: Annotated[str, Query(max_length=2000)] = "",
           monitor: Annotated[str, Query(max_length=80)] = "",
           cursor: Annotated[str, Query(max_length=400)] = "") -> Response:
    error, items, nxt = None, [], None
    try:
        items, nxt = data.search(ctx.store, q or None, monitor=monitor or None,
                                 cursor=cursor or None, limit=50, hide_geo=not ctx.sees_geo)
        ctx.audit("search", q or monitor)
    except QueryError as exc:
        error = exc
    return render(request, ctx, "search.html", q=q, monitor=monitor, items=items, next_cursor=nxt,
                  error=error)


@router.get("/w/{slug}/post")
@needs("posts.read")
def post(request: Request, slug: str, ctx: Guard,
         id: Annotated[str, Query(min_length=1, max_length=500)]) -> Response:
    item = inbox.item(ctx.store, id)
    if item["post"]["has_geo"] and not ctx.sees_geo:
        raise WebError(404, "not_found", "no such post here",
                       hint="geotagged posts are shown to viewers as aggregates only")
    ctx.audit("view_post", id)
    return render(request, ctx, "post.html", item=item)


@router.get("/w/{slug}/monitors")
@needs("monitors.read")
def monitors(request: Request, slug: str, ctx: Guard,
             q: Annotated[str, Query(max_length=2000)] = "",
             name: Annotated[str, Query(max_length=80)] = "",
             error: Annotated[str, Query(max_length=500)] = "") -> Response:
    preview, query_error = [], None
    if q:
        try:
            preview, _ = data.search(ctx.store, q, limit=10, hide_geo=not ctx.sees_geo)
        except QueryError as exc:
            query_error = exc
    counts = dict(ctx.store.query("SELECT monitor, count(*) FROM post_monitors GROUP BY monitor"))
    return render(request, ctx, "monitors.html", monitors=data.monitors(ctx.store), q=q,
                  name=name, preview=preview, query_error=query_error, counts=counts,
                  form_error=error)


@router.post("/w/{slug}/monitors")
@needs("monitors.write")
async def monitor_save(request: Request, slug: str, ctx: Guard) -> Response:
    form = await request.form()
    name, query = _field(form, "name", 80).strip(), _field(form, "query", 2000).strip()
    base = f"/w/{quote(slug)}/monitors"
    if not name or not query or any(ord(c) < 32 for c in name):
        return _back(f"{base}?error=name&q={quote(query)}&name={quote(name)}")
    try:
        ctx.store.monitor_add(name, query, replace=bool(form.get("replace")))
        ctx.store.backfill(name)
    except PerronError as exc:
        return _back(f"{base}?error={quote(exc.message[:200])}&q={quote(query)}"
                     f"&name={quote(name)}")
    ctx.state.cache.clear()
    ctx.audit("monitor_add", name)
    return _back(f"{base}?q={quote(query)}&name={quote(name)}")


@router.post("/w/{slug}/monitors/delete")
@needs("monitors.write")
async def monitor_delete(request: Request, slug: str, ctx: Guard) -> Response:
    form = await request.form()
    name = _field(form, "name", 80)
    ctx.store.monitor_remove(name)
    ctx.state.cache.clear()
    ctx.audit("monitor_remove", name)
    return _back(f"/w/{quote(slug)}/monitors")


# ---- inbox ----------------------------------------------------------------------------------
@router.get("/w/{slug}/inbox")
@needs("inbox.read")
def inbox_page(request: Request, slug: str, ctx: Guard,
               status: Annotated[str, Query(pattern="^(open|responded|resolved|all)$")] = "open"
               ) -> Response:
    lang = ctx.lang
    rows = []
    for it in inbox.queue(ctx.store, status, 50):  # words and links made once, here
        p = it["post"]
        text = p["text"] or ""
        rows.append({
            "outcome": it["outcome"], "label": translate(f"outcome.{it['outcome']}", lang),
            "edited": it["overridden"], "assignee": it["assignee"] or "",
            "priority": f"{it['priority']:.1f}" if isinstance(it["priority"], int | float) else "",
            "href": f"/w/{quote(slug)}/inbox/item?id={quote(p['id'], safe='')}",
            "who": "@" + (p["author_handle"] or "?"),
            "snippet": text if len(text) <= 160 else text[:157] + "…",
            "status": translate(f"status.{it['status']}", lang)
            + (f" · {duration(it['ttfr_seconds'])}" if it["ttfr_seconds"] is not None else "")})
    return render(request, ctx, "inbox.html", rows=rows, tab=status,
                  median=inbox.median_ttfr(ctx.store))


@router.get("/w/{slug}/inbox/item")
@needs("inbox.read")
def inbox_item(request: Request, slug: str, ctx: Guard,
               id: Annotated[str, Query(min_length=1, max_length=500)]) -> Response:
    item = inbox.item(ctx.store, id)
    ctx.audit("view_inbox_item", id)
    vocabulary = [("triage", inbox.OUTCOMES)] + [
        (task, labels) for task, labels in inbox.VOCABULARY.items() if task != "triage"]
    return render(request, ctx, "inbox_item.html", item=item, vocabulary=vocabulary,
                  members=ctx.control.members(ctx.slug),
                  saved=inbox.saved_replies(ctx.store))


@router.post("/w/{slug}/inbox/item")
@needs("inbox.write")
async def inbox_act(request: Request, slug: str, ctx: Guard) -> Response:
    form = await request.form()
    post_id, action = _field(form, "id", 500), _field(form, "action", 20)
    store, who = ctx.store, ctx.user.email
    if action == "assign":
        assignee = _field(form, "assignee", 254).strip().lower() or None
        if assignee and ctx.control.role(assignee, ctx.slug) is None:
            raise WebError(422, "not_a_member", "not a member of this workspace",
                           hint="assign to a member")
        inbox.assign(store, post_id, assignee)
    elif action in ("open", "responded", "resolved"):
        inbox.set_status(store, post_id, action)
    elif action == "draft":
        inbox.save_draft(store, post_id, _field(form, "text"), who)
    elif action == "note":
        inbox.add_note(store, post_id, _field(form, "text"), who)
    elif action == "override":
        task, _, label = _field(form, "override", 100).partition(":")
        inbox.override(store, post_id, task, label, _field(form, "note", 2000) or None, who)
    else:
        raise WebError(422, "bad_action", f"unknown action {action!r}",
                       hint="assign, responded, resolved, draft, note or override")
    ctx.audit(f"inbox_{action}", post_id)
    return _back(f"/w/{quote(slug)}/inbox/item?id={quote(post_id, safe='')}")


@router.post("/w/{slug}/saved-replies")
@needs("inbox.write")
async def saved_reply_add(request: Request, slug: str, ctx: Guard) -> Response:
    form = await request.form()
    inbox.add_saved_reply(ctx.store, _field(form, "name", 100), _field(form, "text"))
    return _back(_next(form.get("next")))


# ---- alerts, influence, audience, places ------------------------------------------------------
@router.get("/w/{slug}/alerts")
@needs("dashboard.read")
def alerts(request: Request, slug: str, ctx: Guard) -> Response:
    return render(request, ctx, "alerts.html", alerts=data.alerts(ctx.store, None, 200))


@router.get("/w/{slug}/alerts/{alert_id}")
@needs("dashboard.read")
def alert(request: Request, slug: str, alert_id: int, ctx: Guard) -> Response:
    a = data.alert(ctx.store, alert_id)
    return render(request, ctx, "alert.html", alert=a, posts=alert_posts(ctx, a),
                  lines=data.explanation_lines(a["explanation"]))


@router.get("/w/{slug}/influencers")
@needs("dashboard.read")
def influencers(request: Request, slug: str, ctx: Guard) -> Response:
    return render(request, ctx, "table_page.html", title_key="nav.influencers",
                  result=influencers_data(ctx))


@router.get("/w/{slug}/audience")
@needs("dashboard.read")
def audience(request: Request, slug: str, ctx: Guard) -> Response:
    return render(request, ctx, "table_page.html", title_key="nav.audience",
                  result=audience_data(ctx))


@router.get("/w/{slug}/sites")
@needs("dashboard.read")
def sites(request: Request, slug: str, ctx: Guard) -> Response:
    pulses = site_pulses(ctx)
    svg = charts.points_map([(s["name"], s["lat"], s["lon"], s["pulse"]) for s in pulses])
    return render(request, ctx, "sites.html", sites=pulses, map_svg=svg)


# ---- settings and users -----------------------------------------------------------------------
@router.get("/w/{slug}/settings")
@needs("settings.read")
def settings(request: Request, slug: str, ctx: Guard) -> Response:
    s = ctx.store
    return render(request, ctx, "settings.html", sources=data.sources(s),
                  monitors=data.monitors(s), rules=data.alert_rules(s), facts=data.facts(s),
                  rate_card=data.setting(s, "rate_card"))


@router.post("/w/{slug}/settings/facts")
@needs("settings.write")
async def fact_add(request: Request, slug: str, ctx: Guard) -> Response:
    from ..understand import add_fact

    form = await request.form()
    text = _field(form, "text", 2000).strip()
    if text:
        sources = [s.strip() for s in _field(form, "sources", 2000).split() if s.strip()][:20]
        add_fact(ctx.store, text, false_claim=_field(form, "kind", 20) == "false_claim",
                 correction=_field(form, "correction", 2000).strip() or None, sources=sources)
        ctx.audit("fact_add", text[:80])
    return _back(f"/w/{quote(slug)}/settings")


@router.post("/w/{slug}/settings/rate-card")
@needs("settings.write")
async def rate_card(request: Request, slug: str, ctx: Guard) -> Response:
    import json

    form = await request.form()
    card: dict[str, float] = {}
    for tier in ("nano", "micro", "mid", "macro", "mega"):
        try:
            value = float(_field(form, tier, 20))
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            card[tier] = value
    ctx.store.execute("INSERT INTO settings (key, value) VALUES ('rate_card', ?) ON CONFLICT "
                      "(key) DO UPDATE SET value = excluded.value", [json.dumps(card)])
    ctx.audit("rate_card")
    return _back(f"/w/{quote(slug)}/settings")


@router.get("/w/{slug}/users")
@needs("users.read")
def users(request: Request, slug: str, ctx: Guard) -> Response:
    return render(request, ctx, "users.html", members=ctx.control.members(ctx.slug),
                  roles=ROLES, audit=ctx.control.audit_entries(ctx.slug, 100))


@router.post("/w/{slug}/users")
@needs("users.write")
async def users_set(request: Request, slug: str, ctx: Guard) -> Response:
    form = await request.form()
    email, role = _field(form, "email", 254).strip().lower(), _field(form, "role", 20)
    if form.get("remove"):
        if email != ctx.user.email:
            ctx.control.revoke(email, ctx.slug)
            ctx.audit("revoke", email)
    else:
        ctx.control.grant(email, ctx.slug, role)
        ctx.audit("grant_" + role, email)
    return _back(f"/w/{quote(slug)}/users")


