"""Server-rendered pages: Jinja2 with autoescaping on for every template, no ``|safe`` on
anything a user or a platform wrote. Post URLs become links only when they are http(s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .auth import LANG_COOKIE, Ctx
from .i18n import translate

OUTCOME_KEYS = ("concurrence", "monitor_only", "fix_the_facts", "restoration", "let_stand")
TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=False,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def link_url(url: Any) -> str | None:
    """The URL if it is safe to put in ``href`` (http or https with a host), else None."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ord(c) < 33 or c in "\"'<>`" for c in url.strip()):
        return None
    return url.strip()


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d}"
    return f"{s // 86400} j {s % 86400 // 3600} h"


def short_time(value: Any) -> str:
    return str(value or "")[:16].replace("T", " ")


_env.filters["link_url"] = link_url
_env.filters["duration"] = duration
_env.filters["short_time"] = short_time


def _lang(request: Request, ctx: Ctx | None) -> str:
    if ctx is not None:
        return ctx.lang
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in ("fr", "en") else "fr"


def render(request: Request, ctx: Ctx | None, template_name: str, http_status: int = 200,
           http_headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    lang = _lang(request, ctx)
    html = _env.get_template(template_name).render(
        t=lambda key: translate(key, lang), lang=lang, ctx=ctx, request_path=request.url.path,
        csrf=ctx.csrf if ctx else "", outcome_keys=OUTCOME_KEYS, **values)
    return HTMLResponse(html, status_code=http_status, headers=http_headers)


def render_error(request: Request, status: int, code: str, message: str, hint: str | None,
                 headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, None, "error.html", http_status=status, http_headers=headers, code=code,
                  message=message, hint=hint, status_code=status)
