"""What the three Twitter/X formats share: ids, dates, text, languages, media and input splitting.

Twitter writes the same things three ways (API v2, API v1.1, the account archive); this module
holds the conventions so the three importers mean the same thing by every field.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, BinaryIO

import ijson

from ..errors import NormalizeError
from ..models import Media, Metrics, post_id
from .base import Malformed, PrefixedReader, Record, dumps, jsonl_records

SOURCE = "twitter"

#: Twitter's pseudo-language codes: undetermined, no linguistic content, media / hashtags /
#: mentions / cashtags only, text too short. They say nothing about the language.
_NOT_LANGUAGES = frozenset({"und", "zxx", "qme", "qht", "qam", "qct", "qst"})
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_MEDIA_KEY_KINDS = {"3": "photo", "7": "video", "13": "video", "16": "animated_gif"}

JSONObject = dict[str, Any]


def tid(native: object) -> str:
    """``twitter:<id>`` for a tweet or account id given as a string or an integer."""
    return post_id(SOURCE, str(native))


def opt_id(native: object) -> str | None:
    """A native id given as a string or an integer, or None."""
    if isinstance(native, bool) or not isinstance(native, str | int) or native == "":
        return None
    return str(native)


def opt_tid(native: object) -> str | None:
    native = opt_id(native)
    return tid(native) if native else None


def tweet_url(native_id: str, handle: str | None) -> str:
    if handle:
        return f"https://twitter.com/{handle}/status/{native_id}"
    return f"https://twitter.com/i/web/status/{native_id}"


@lru_cache(maxsize=4096)  # account creation dates repeat on every status of an account
def parse_v1_date(value: str) -> datetime:
    """``Wed Oct 10 20:19:24 +0000 2018`` → aware UTC datetime (locale-independent)."""
    try:
        _, mon, day, clock, offset, year = value.split()
        hh, mm, ss = (int(x) for x in clock.split(":"))
        sign = -1 if offset[0] == "-" else 1
        off_min = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
        naive = datetime(int(year), _MONTHS[mon], int(day), hh, mm, ss)
    except (ValueError, KeyError, IndexError):
        raise NormalizeError(f"unreadable date {value!r} (expected 'Wed Oct 10 20:19:24 +0000 "
                             "2018')") from None
    return (naive - timedelta(minutes=off_min)).replace(tzinfo=UTC)


def parse_iso(value: str) -> datetime:
    """``2021-05-18T19:24:56.000Z`` → aware UTC datetime."""
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise NormalizeError(f"unreadable date {value!r} (expected ISO 8601)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_any_date(value: object) -> datetime | None:
    """A v1.1 or ISO date, or None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise NormalizeError(f"unreadable date {value!r}")
    return parse_v1_date(value) if value[:1].isalpha() else parse_iso(value)


def unescape(text: str) -> str:
    """Twitter escapes ``& < >`` in tweet text (only those three); undo it once."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clean_lang(lang: object) -> str | None:
    if not isinstance(lang, str) or not lang or lang.lower() in _NOT_LANGUAGES:
        return None
    return lang.lower()


def opt_int(value: object) -> int | None:
    """Counts are ints in the APIs and strings in archives; absent stays None (unknown, not 0)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def lon_lat(values: object) -> tuple[float, float] | None:
    """The first two numbers of a coordinate pair (numbers in the APIs, strings in archives)."""
    pair = as_list(values)[:2]
    try:
        first, second = (float(v) for v in pair if not isinstance(v, bool))
    except (TypeError, ValueError):
        return None
    return first, second


def opt_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return None


def opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def metrics(reposts: object, replies: object, likes: object, quotes: object,
            views: object = None) -> Metrics | None:
    m = Metrics(reposts=opt_int(reposts), replies=opt_int(replies), likes=opt_int(likes),
                quotes=opt_int(quotes), views=opt_int(views))
    return None if m == Metrics() else m


def default_avatar(url: str | None) -> bool | None:
    return None if not url else "default_profile_images" in url


def best_variant(variants: object) -> str | None:
    """The highest-bitrate MP4 of a video, else the first variant with a URL."""
    if not isinstance(variants, list):
        return None
    mp4 = [v for v in variants if isinstance(v, dict) and v.get("content_type") == "video/mp4"
           and v.get("url")]
    if mp4:
        return str(max(mp4, key=lambda v: opt_int(v.get("bit_rate", v.get("bitrate"))) or 0)["url"])
    return next((str(v["url"]) for v in variants if isinstance(v, dict) and v.get("url")), None)


def media_kind(kind: object) -> str:
    return kind if isinstance(kind, str) and kind in ("photo", "video", "animated_gif") else "other"


def media_from_key(media_key: str, link: str | None) -> Media:
    """A media whose object is missing from the page: its key still tells its kind."""
    return Media(kind=_MEDIA_KEY_KINDS.get(media_key.split("_", 1)[0], "other"), url=link)


def as_dict(value: object) -> JSONObject:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


# --- splitting inputs ---------------------------------------------------------------------


_WS = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


def json_values(fp: BinaryIO, prefix: str, label: str) -> Iterator[Record | Malformed]:
    """Like :func:`~perron.sources.base.json_items`, over one or several concatenated JSON
    documents (``jq .`` writes pretty-printed objects one after the other)."""
    n = 0
    try:
        values = ijson.items(fp, prefix, use_float=True, multiple_values=True)
        for n, obj in enumerate(values, 1):
            yield Record(f"{label} {n}", dumps(obj))
    except ijson.JSONError as exc:
        yield Malformed(f"after {label} {n}",
                        f"invalid JSON, the rest of the input cannot be read: {exc}", b"")


def json_input_records(fp: BinaryIO, nested: str | None = None,
                       nested_marker: re.Pattern[bytes] | None = None,
                       ) -> Iterator[Record | Malformed]:
    """Split a JSON input the way people write tweets, in constant memory: JSON Lines (one
    object a line), a JSON array (streamed item by item), or pretty-printed objects (one record
    each, or the items of their ``nested`` array when ``nested_marker`` matches the start)."""
    head = fp.read(64 * 1024)
    if head.startswith(_BOM):
        head = head[len(_BOM):]
    body = head.lstrip(_WS)
    if not body:
        return
    stream = io.BufferedReader(PrefixedReader(head, fp), buffer_size=64 * 1024)
    if body.startswith(b"["):
        yield from json_values(stream, "item", "item")
    elif body.split(b"\n", 1)[0].strip() == b"{":  # pretty-printed objects
        if nested and nested_marker and nested_marker.search(head):
            yield from json_values(stream, nested, "item")
        else:
            yield from json_values(stream, "", "object")
    else:
        yield from jsonl_records(stream)
