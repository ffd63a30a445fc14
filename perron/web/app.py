"""The ASGI app: routes from ``api.py`` and ``pages.py``, one error envelope, security headers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ConfigError, NotFound, PerronError, QueryError, StoreError
from .auth import WebError
from .render import render_error
from .state import RateLimiter, WebState

log = logging.getLogger("perron.web")
STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
           (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"strict-origin-when-cross-origin"),
           (b"cross-origin-opener-policy", b"same-origin"),
           (b"permissions-policy", b"geolocation=(), camera=(), microphone=()")]


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: no per-request overhead)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.extra = HEADERS + ([(b"strict-transport-security", b"max-age=31536000")]
                                if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.extra
                if not scope["path"].startswith("/static/"):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def envelope(status: int, code: str, message: str, hint: str | None = None,
             headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """THE error shape of the API: ``{"error": {"code", "message", "hint"}}``."""
    body: dict[str, Any] = {"code": code, "message": message, "hint": hint}
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", "") and "text/html" not in request.headers.get("accept", "")


def create_app(control_url: str, *, secure_cookies: bool = False,
               api_rate: tuple[int, float] = (600, 60),
               login_rate: tuple[int, float] = (10, 300), cache_ttl: float = 30,
               threads: int = 2) -> FastAPI:
    """The dashboard + API over the control store at ``control_url``."""
    from . import api, pages

    state = WebState(control_url, secure_cookies=secure_cookies,
                     login_limiter=RateLimiter(*login_rate), api_limiter=RateLimiter(*api_rate))
    state.cache.ttl = cache_ttl
    state.control()  # migrate the control tables now: errors show at start, not on first hit

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # few threads: queries are short and the GIL serialises Python anyway; a big pool
        # only adds contention (inbox page, 1M posts, 50 users: 8 threads 269 req/s, p99
        # 235 ms; 2 threads 369 req/s, p99 191 ms). Two, so one slow request blocks nothing.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(title="perron", version="1", openapi_url="/api/openapi.json", docs_url=None,
                  lifespan=lifespan,
                  redoc_url=None, summary="Social listening and community management API. "
                  "Authenticate with `Authorization: Bearer <token>`.")
    app.state.web = state
    app.state.routers = [api.router, pages.router]
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> Response:
        if _is_api(request):
            return envelope(exc.status, exc.code, exc.message, exc.hint, exc.headers)
        if exc.status == 401 and request.method == "GET":
            return RedirectResponse("/login?next=" + _quote(request.url.path), status_code=303)
        return render_error(request, exc.status, exc.code, exc.message, exc.hint, exc.headers)

    @app.exception_handler(PerronError)
    async def perron_error(request: Request, exc: PerronError) -> Response:
        status, code, extra = 400, "invalid", {}
        if isinstance(exc, QueryError):
            code, extra = "query_error", {"column": exc.column}
        elif isinstance(exc, NotFound):
            status, code = 404, "not_found"
        elif isinstance(exc, ConfigError):
            status, code = 422, "invalid"
        elif isinstance(exc, StoreError):
            status, code = 500, "store_error"
            log.exception("store error", exc_info=exc)
        if _is_api(request):
            return envelope(status, code, exc.message, exc.hint, **extra)
        return render_error(request, status, code, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return envelope(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}",
                        "check the request against /api/openapi.json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if _is_api(request) or request.url.path.startswith("/api"):
            return envelope(exc.status_code, code, str(exc.detail),
                            "see /api/openapi.json for the routes", dict(exc.headers or {}))
        return render_error(request, exc.status_code, code, str(exc.detail), None)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return envelope(500, "internal", "internal error",
                        "this is a bug in perron: please report it with the server log")

    app.add_middleware(SecurityHeaders, hsts=secure_cookies)
    return app


def from_environment() -> FastAPI:
    """App factory for `perron serve --workers N` (each worker process builds its own app from
    what the parent command put in the environment). A worker leaves when its parent does."""
    import os

    from ..parent import exit_with_parent

    # the server's pid, from its environment: a worker that starts after its death leaves too
    exit_with_parent(int(os.environ.get("PERRON_WEB_PARENT") or os.getppid()))
    return create_app(os.environ["PERRON_WEB_CONTROL"],
                      secure_cookies=os.environ.get("PERRON_WEB_SECURE") == "1",
                      api_rate=(int(os.environ.get("PERRON_WEB_API_RATE", "600")), 60))


def all_routes(app: FastAPI) -> list[Any]:
    """Every route the app serves (its own and those of the included routers)."""
    own = [r for r in app.routes if hasattr(r, "path")]
    return own + [r for router in app.state.routers for r in router.routes]


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
