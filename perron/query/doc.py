"""What a query looks at in a post, and how the store indexes the same tokens.

``Doc`` is computed once per post (by the pipeline for the stream matcher, by the store when it
writes a row), so the stream and history see the exact same tokens and field values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec

from ..models import Post
from ..text import handle_token, tokens

MAX_PG_POSITION = 16383  # PostgreSQL clamps tsvector positions to this value
MAX_PG_POSITIONS_PER_LEXEME = 256  # and keeps at most this many positions per lexeme
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)\S")


class Doc(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A Struct, not a dataclass: import workers send thousands of them back per second
    (msgpack, a list per doc)."""

    tokens: tuple[str, ...]
    source: str
    handle: str | None
    lang: str | None
    kind: str
    has_link: bool
    has_media: bool
    has_geo: bool
    created_at: datetime | None
    # where the post is, for near:SITE (the store keeps the same values: lat/lon columns and
    # data.geo.bbox); read by perron.places.site_contains
    lat: float | None = None
    lon: float | None = None
    bbox: tuple[float, float, float, float] | None = None


def primary_lang(lang: str | None) -> str | None:
    """``"fr-CA"`` → ``"fr"``; empty or missing → None."""
    if not lang:
        return None
    out = lang.strip().lower().replace("_", "-").split("-")[0]
    return out or None


def utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def doc_of(post: Post, lang: str | None = None) -> Doc:
    """The fields of ``post`` a query can test. ``lang`` (a detected language) overrides
    ``post.lang`` when given."""
    text = post.text if post.title is None else post.title + "\n" + post.text
    handle = handle_token(post.author_handle)[1:] if post.author_handle else ""
    geo = post.geo
    return Doc(
        tokens=tuple(tokens(text)),
        source=post.source,
        handle=handle or None,
        lang=primary_lang(lang or post.lang),
        kind=post.kind,
        has_link=bool(post.urls) or _URL_IN_TEXT.search(text) is not None,
        has_media=bool(post.media),
        has_geo=geo is not None and ((geo.lat is not None and geo.lon is not None)
                                     or geo.bbox is not None),
        created_at=utc(post.created_at),
        lat=geo.lat if geo is not None else None,
        lon=geo.lon if geo is not None else None,
        bbox=geo.bbox if geo is not None else None,
    )


def fts_document(toks: Iterable[str]) -> str:
    """The document the store inserts into SQLite FTS5 (one FTS token per perron token)."""
    return " ".join(toks)


def _pg_quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(toks: Iterable[str]) -> str:
    """The text the store casts ``::tsvector`` in PostgreSQL: ``'tok':1 '#x':2,5``.

    Positions are 1-based token indexes, clamped to 16383 like PostgreSQL does, at most 256 per
    token (PostgreSQL's limit): phrase and NEAR matches beyond those limits can differ from the
    stream matcher on very long documents.
    """
    positions: dict[str, list[int]] = {}
    for i, tok in enumerate(toks, 1):
        pos = positions.setdefault(tok, [])
        p = min(i, MAX_PG_POSITION)
        if len(pos) < MAX_PG_POSITIONS_PER_LEXEME and (not pos or pos[-1] != p):
            pos.append(p)
    return " ".join(f"{_pg_quote(t)}:{','.join(map(str, ps))}" for t, ps in positions.items())


def sqlite_created(dt: datetime | None) -> str | None:
    """``created_at`` as stored in SQLite: fixed-width UTC text that sorts like time."""
    if dt is None:
        return None
    d = utc(dt)
    assert d is not None
    if d.year < 1000:  # isoformat would not zero-pad to a fixed width
        return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
