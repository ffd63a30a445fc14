"""Reading the posts behind an alert: for explanations and for the lists a person checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..analyze.explain import ExplainPost
from ..store import Store
from ..text import tokens
from .records import iso, parse_time
from .series import label_sql, monitor_join

EXCERPT = 280


@dataclass
class PostRow:
    id: str
    url: str | None
    created_at: datetime | None
    text: str
    title: str | None
    author_id: str | None
    author: str | None  # the handle when known, else the author id
    source: str
    engagement: int
    label: str | None = None

    def explain_post(self) -> ExplainPost:
        text = self.text if self.title is None else self.title + "\n" + self.text
        return ExplainPost(id=self.id, tokens=tokens(text), author=self.author,
                           source=self.source, engagement=self.engagement)

    def brief(self) -> dict[str, Any]:
        text = " ".join(self.text.split())
        return {"id": self.id, "url": self.url, "author": self.author,
                "created_at": iso(self.created_at), "source": self.source,
                "engagement": self.engagement,
                "text": text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…",
                **({"label": self.label} if self.label else {})}


_SELECT = ("p.id, p.url, p.created_at, p.text, p.title, p.author_id, "
           "COALESCE(p.author_handle, p.author_id), p.source, "
           "COALESCE(p.likes, 0) + COALESCE(p.reposts, 0) + COALESCE(p.replies, 0) "
           "+ COALESCE(p.quotes, 0)")


def _row(r: tuple) -> PostRow:
    return PostRow(r[0], r[1], parse_time(r[2]), r[3], r[4], r[5], r[6], r[7], int(r[8] or 0),
                   r[9] if len(r) > 9 else None)


def posts_between(store: Store, monitor: str | None, start: datetime, end: datetime, *,
                  label_task: str | None = None, labels: list[str] | None = None,
                  limit: int = 5000, newest_first: bool = False) -> list[PostRow]:
    """Posts of ``monitor`` (or all) created in ``[start, end)``; with ``label_task``, each row
    carries that label, and ``labels`` keeps only posts with one of them."""
    mjoin, params = monitor_join(monitor)
    cols, joins, where = _SELECT, "", ""
    if label_task:
        joins, label = label_sql(label_task)
        cols += f", {label}"
        if labels:
            where = f" AND {label} IN ({','.join('?' * len(labels))})"
    order = "DESC" if newest_first else "ASC"
    rows = store.query(
        f"SELECT {cols} FROM posts p {mjoin}{joins}WHERE p.created_at >= ? AND p.created_at < ?"
        f"{where} ORDER BY p.created_at {order}, p.rowid {order} LIMIT ?",
        [*params, store.ts(start), store.ts(end), *(labels or [] if label_task else []), limit])
    return [_row(r) for r in rows]
