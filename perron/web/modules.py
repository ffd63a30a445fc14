"""Bridges to analyses other parts of perron provide. Each is optional: when the module or the
function is missing (or fails on odd data) the page shows a placeholder, never a crash."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from .auth import Ctx

log = logging.getLogger("perron.web")


def _call(module: str, names: tuple[str, ...], *args: Any, **kwargs: Any) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    for name in names:
        fn = getattr(mod, name, None)
        if callable(fn):
            try:
                return fn(*args, **kwargs)
            except Exception:  # a broken analysis must not take the dashboard down
                log.exception("%s.%s failed", module, name)
                return None
    return None


def _rows(value: Any) -> list[dict[str, Any]]:
    """Whatever the analysis returned, as a list of plain dicts (first 50)."""
    out: list[dict[str, Any]] = []
    items = value.get("items", value.get("influencers", [])) if isinstance(value, dict) else value
    for item in list(items or [])[:50]:
        if isinstance(item, dict):
            out.append({str(k): v for k, v in item.items() if _plain(v)})
        elif hasattr(item, "__dict__") or hasattr(item, "__struct_fields__"):
            fields = getattr(item, "__struct_fields__", None) or vars(item)
            out.append({f: getattr(item, f) for f in fields if _plain(getattr(item, f))})
    return out


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _score_row(score: Any) -> dict[str, Any]:
    d = score.to_dict() if hasattr(score, "to_dict") else {}
    cost = d.get("cost")
    keep = ("handle", "name", "tier", "followers", "score", "posts", "reposts", "quotes",
            "replies", "mentions", "recommendations", "engagement_rate_followers", "advocacy")
    row = {k: (round(d[k], 4) if isinstance(d.get(k), float) else d.get(k)) for k in keep}
    if isinstance(cost, dict):
        row["cost"] = " ".join(str(v) for v in cost.values() if _plain(v) and v is not None)[:60]
    return row


def influencers(ctx: Ctx) -> dict[str, Any]:
    """From ``perron.analyze.influence.influencers`` over the last 30 days, cached."""
    store = ctx.store
    key = (ctx.slug, "influencers")

    def compute() -> dict[str, Any]:
        from .data import parse_time, window_start

        since = parse_time(window_start(store))
        report = _call("perron.analyze.influence", ("influencers",), store, since=since)
        if report is None or not hasattr(report, "top"):
            return {"available": False, "influencers": [], "advocates": []}
        return {"available": True, "influencers": [_score_row(s) for s in report.top(50)],
                "advocates": [_score_row(s) for s in report.advocates()[:50]]}

    return ctx.state.cache.get(key, compute, store.scalar("SELECT max(rowid) FROM posts"))


def audience(ctx: Ctx) -> dict[str, Any]:
    result = _call("perron.analyze.audit", ("audit_results", "results"), ctx.store)
    return {"available": result is not None, "items": _rows(result)}
