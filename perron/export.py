"""Exports of stored posts: CSV (twarc-csv compatible columns), JSONL and Parquet, streamed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from .errors import ConfigError
from .models import Post
from .store.base import Store

#: twarc-csv column names perron fills, then perron's own columns
CSV_COLUMNS = (
    "id", "conversation_id", "referenced_tweets.replied_to.id", "referenced_tweets.retweeted.id",
    "referenced_tweets.quoted.id", "author_id", "in_reply_to_user_id", "created_at", "text",
    "lang", "public_metrics.like_count", "public_metrics.quote_count",
    "public_metrics.reply_count", "public_metrics.retweet_count", "entities.hashtags",
    "entities.mentions", "entities.urls", "geo.coordinates.coordinates", "geo.place_id",
    "author.username", "author.name", "author.public_metrics.followers_count",
    "author.public_metrics.following_count", "author.public_metrics.tweet_count",
    "perron.id", "perron.source", "perron.url", "perron.kind", "perron.title",
)
FORMATS = ("csv", "jsonl", "parquet")


def _native(pid: str | None) -> str | None:
    return None if pid is None else pid.split(":", 1)[1]


def _iso(post: Post) -> str | None:
    return None if post.created_at is None else post.created_at.isoformat().replace("+00:00", "Z")


def _rows(store: Store, posts: Iterator[Post]) -> Iterator[dict[str, Any]]:
    buf: list[Post] = []

    def emit() -> Iterator[dict[str, Any]]:
        authors = store.authors_by_id(sorted({p.author_id for p in buf if p.author_id}))
        for p in buf:
            a = authors.get(p.author_id or "")
            m = p.metrics
            yield {
                "id": p.native_id, "conversation_id": _native(p.root_id),
                "referenced_tweets.replied_to.id": _native(p.parent_id),
                "referenced_tweets.retweeted.id": _native(p.reposted_id),
                "referenced_tweets.quoted.id": _native(p.quoted_id),
                "author_id": _native(p.author_id),
                "in_reply_to_user_id": _native(p.in_reply_to_author_id),
                "created_at": _iso(p), "text": p.text, "lang": p.lang,
                "public_metrics.like_count": m.likes if m else None,
                "public_metrics.quote_count": m.quotes if m else None,
                "public_metrics.reply_count": m.replies if m else None,
                "public_metrics.retweet_count": m.reposts if m else None,
                "entities.hashtags": json.dumps([{"tag": t} for t in p.hashtags],
                                                ensure_ascii=False) if p.hashtags else None,
                "entities.mentions": json.dumps([{"username": t} for t in p.mentions],
                                                ensure_ascii=False) if p.mentions else None,
                "entities.urls": json.dumps([{"expanded_url": u} for u in p.urls],
                                            ensure_ascii=False) if p.urls else None,
                "geo.coordinates.coordinates": (json.dumps([p.geo.lon, p.geo.lat])
                                                if p.geo and p.geo.lat is not None else None),
                "geo.place_id": p.geo.place_id if p.geo else None,
                "author.username": a.handle if a else p.author_handle,
                "author.name": a.name if a else None,
                "author.public_metrics.followers_count": a.followers if a else None,
                "author.public_metrics.following_count": a.following if a else None,
                "author.public_metrics.tweet_count": a.posts if a else None,
                "perron.id": p.id, "perron.source": p.source, "perron.url": p.url,
                "perron.kind": p.kind, "perron.title": p.title,
            }

    for p in posts:
        buf.append(p)
        if len(buf) >= 1000:
            yield from emit()
            buf = []
    if buf:
        yield from emit()


def export(store: Store, fmt: str, out: IO[bytes], posts: Iterator[Post] | None = None) -> int:
    """Write posts (default: all, oldest first) to ``out`` in ``fmt``; returns how many."""
    posts = posts if posts is not None else store.iter_posts()
    n = 0
    if fmt == "jsonl":
        enc = msgspec.json.Encoder()
        for p in posts:
            out.write(enc.encode(msgspec.structs.replace(p, raw=None)) + b"\n")
            n += 1
    elif fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in _rows(store, posts):
            writer.writerow(row)
            n += 1
        text.detach()
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.int64() if "count" in c else pa.string())
                            for c in CSV_COLUMNS])
        writer = pq.ParquetWriter(out, schema, compression="zstd")
        chunk: list[dict[str, Any]] = []
        for row in _rows(store, posts):
            chunk.append(row)
            n += 1
            if len(chunk) >= 10000:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
        writer.close()
    else:
        raise ConfigError(f"unknown export format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))
    return n
