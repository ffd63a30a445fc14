"""Who is calling and may they: session cookies (pages), Bearer tokens (API), CSRF, rate limits.

``guard`` is the one dependency every protected route takes. It reads the action the route
declared with ``@needs(action)`` and refuses when the route declared none (fail closed).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request

from ..store import Store
from .control import Control, User, Workspace
from .permissions import allowed, can_see_geotagged
from .state import WebState

SESSION_COOKIE = "perron_session"
LANG_COOKIE = "perron_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
F = TypeVar("F", bound=Callable[..., Any])
_token_touch: dict[str, float] = {}


class WebError(Exception):
    """An HTTP error shown as the JSON envelope (API) or an error page (HTML)."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint
        self.headers = headers or {}


def needs(action: str) -> Callable[[F], F]:
    """Declare the permission a route needs (see permissions.MATRIX)."""

    def mark(fn: F) -> F:
        fn.__perron_action__ = action  # type: ignore[attr-defined]
        return fn

    return mark


def public(fn: F) -> F:
    fn.__perron_action__ = None  # type: ignore[attr-defined]
    return fn


@dataclass
class Ctx:
    state: WebState
    user: User
    via_token: bool
    csrf: str
    workspace: Workspace | None = None
    role: str | None = None

    @property
    def control(self) -> Control:
        return self.state.control()

    @property
    def store(self) -> Store:
        assert self.workspace is not None
        return self.state.store(self.workspace.store_url)

    @property
    def lang(self) -> str:
        return self.user.lang

    @property
    def slug(self) -> str:
        assert self.workspace is not None
        return self.workspace.slug

    def can(self, action: str) -> bool:
        return allowed(self.role, action)

    @property
    def sees_geo(self) -> bool:
        return can_see_geotagged(self.role)

    def audit(self, action: str, target: str | None = None) -> None:
        self.control.audit(self.user.email, self.workspace.slug if self.workspace else None,
                           action, target)


def web_state(request: Request) -> WebState:
    return request.app.state.web


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None


async def guard(request: Request) -> Ctx:
    state = web_state(request)
    route = request.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    if not hasattr(endpoint, "__perron_action__"):
        raise WebError(403, "forbidden", "this route declares no permission",
                       hint="a developer must add @needs(action) to it")
    action: str | None = endpoint.__perron_action__  # type: ignore[union-attr]
    control = state.control()
    token = _bearer(request)
    user: User | None = None
    csrf = ""
    if token:
        wait = state.api_limiter.hit("t:" + token[-16:])
        if wait:
            raise WebError(429, "rate_limited", "too many API requests",
                           hint=f"retry after {math.ceil(wait)} s",
                           headers={"Retry-After": str(math.ceil(wait))})
        user = control.token_user(token, _token_touch)
    else:
        sid = request.cookies.get(SESSION_COOKIE)
        found = control.session(sid) if sid else None
        if found:
            user, csrf = found
            if request.url.path.startswith("/api/"):
                wait = state.api_limiter.hit("s:" + sid[-16:])  # type: ignore[index]
                if wait:
                    raise WebError(429, "rate_limited", "too many API requests",
                                   hint=f"retry after {math.ceil(wait)} s",
                                   headers={"Retry-After": str(math.ceil(wait))})
    if user is None:
        raise WebError(401, "unauthenticated", "log in or send an API token",
                       hint="send `Authorization: Bearer <token>` (create one with "
                            "`perron tokens create --user EMAIL`) or log in at /login")
    if not token and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not sent or not hmac.compare_digest(sent, csrf):
            raise WebError(403, "csrf", "missing or wrong CSRF token",
                           hint="reload the page and submit the form again")
    ctx = Ctx(state, user, bool(token), csrf)
    slug = request.path_params.get("slug")
    if slug is not None:
        role = control.role(user.email, slug)
        ws = control.workspace(slug, missing_ok=True) if role else None
        if ws is None or role is None:
            raise WebError(404, "not_found", f"no workspace {slug!r} for you",
                           hint="list yours at /api/workspaces")
        ctx.workspace, ctx.role = ws, role
    if action == "self" and slug is None:
        return ctx  # any logged-in user, about themselves (their workspaces, their language)
    if slug is None or action is None or not allowed(ctx.role, action):
        raise WebError(403, "forbidden", f"your role ({ctx.role}) may not do this ({action})",
                       hint="ask a workspace admin for another role")
    return ctx
