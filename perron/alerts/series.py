"""Counting posts per time bucket in SQL, the same way on SQLite and PostgreSQL.

Buckets are ``floor(epoch seconds / interval)``: aligned on UTC (an hourly bucket starts on the
hour, a daily one at 00:00 UTC). Only complete buckets (ending at or before ``now``) are judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..store import Store


def bucket_sql(store: Store, column: str, step: int) -> str:
    """SQL for the bucket number of ``column`` (``step`` seconds, an int we computed)."""
    step = int(step)
    if store.dialect == "sqlite":  # created_at is '%Y-%m-%dT%H:%M:%S.%fZ' text
        return f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) / {step})"
    return f"CAST(floor(extract(epoch FROM {column}) / {step}) AS BIGINT)"


def bucket_of(dt: datetime, step: int) -> int:
    return int(dt.timestamp() // step)


def bucket_start(index: int, step: int) -> datetime:
    return datetime.fromtimestamp(index * step, UTC)


def monitor_join(monitor: str | None) -> tuple[str, list[Any]]:
    """``JOIN`` restricting ``posts p`` to a monitor's posts (nothing when ``monitor`` is None)."""
    if monitor is None:
        return "", []
    return "JOIN post_monitors pm ON pm.post_rowid = p.rowid AND pm.monitor = ? ", [monitor]


def label_sql(task: str) -> tuple[str, str]:
    """LEFT JOINs for a post's label of ``task`` (a person's correction wins), and its column."""
    if not task.isidentifier():
        raise ValueError(f"bad task name {task!r}")
    joins = (f"LEFT JOIN labels l_{task} ON l_{task}.post_rowid = p.rowid AND l_{task}.task = "
             f"'{task}' LEFT JOIN corrections c_{task} ON c_{task}.post_id = p.id AND "
             f"c_{task}.task = '{task}' ")
    return joins, f"COALESCE(c_{task}.label, l_{task}.label)"


def sentiment_counts(store: Store, monitor: str | None, step: int, start: datetime,
                     end: datetime) -> dict[int, tuple[int, int, int]]:
    """``{bucket: (posts, posts with a sentiment label, negative posts)}`` for ``[start, end)``."""
    b = bucket_sql(store, "p.created_at", step)
    mjoin, mparams = monitor_join(monitor)
    ljoin, label = label_sql("sentiment")
    rows = store.query(
        f"SELECT {b}, count(*), count({label}), "
        f"sum(CASE WHEN {label} = 'negative' THEN 1 ELSE 0 END) FROM posts p {mjoin}{ljoin}"
        "WHERE p.created_at >= ? AND p.created_at < ? GROUP BY 1 ORDER BY 1",
        [*mparams, store.ts(start), store.ts(end)])
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows}


def label_counts(store: Store, monitor: str | None, task: str, labels: Sequence[str], step: int,
                 start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """``{bucket: {label: posts}}`` for posts labelled one of ``labels`` for ``task``."""
    b = bucket_sql(store, "p.created_at", step)
    mjoin, mparams = monitor_join(monitor)
    ljoin, label = label_sql(task)
    marks = ",".join("?" * len(labels))
    rows = store.query(
        f"SELECT {b}, {label}, count(*) FROM posts p {mjoin}{ljoin}"
        f"WHERE {label} IN ({marks}) AND p.created_at >= ? AND p.created_at < ? "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        [*mparams, *labels, store.ts(start), store.ts(end)])
    out: dict[int, dict[str, int]] = {}
    for bucket, lab, n in rows:
        out.setdefault(int(bucket), {})[str(lab)] = int(n)
    return out
