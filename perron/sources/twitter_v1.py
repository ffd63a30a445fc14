"""Twitter/X API v1.1 statuses: JSON arrays, search responses, single statuses, JSON Lines.

Also reads the streaming API's delete notices (→ :class:`~perron.models.Deletion`) and skips its
control messages (``limit``, ``warning``…). The status → post mapping here is shared with the
account archive (:mod:`perron.sources.twitter_archive`), whose tweets are v1.1 statuses without
their ``user``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from ..errors import NormalizeError
from ..models import Author, Batch, Deletion, Geo, Media, Post, PostKind
from ._twitter_common import (
    SOURCE,
    JSONObject,
    as_dict,
    as_list,
    best_variant,
    clean_lang,
    default_avatar,
    json_input_records,
    lon_lat,
    media_kind,
    metrics,
    opt_bool,
    opt_int,
    opt_str,
    opt_tid,
    parse_any_date,
    tid,
    tweet_url,
    unescape,
    unique,
)
from .base import Format, Malformed, Options, Record, dumps, head_text, loads

#: stream control messages that carry no post (https://developer.twitter.com, "Streaming message
#: types"); they are skipped, not quarantined
_CONTROL = ("limit", "warning", "disconnect", "scrub_geo", "status_withheld", "user_withheld",
            "friends", "friends_str", "event")
_SEARCH_RESPONSE = re.compile(rb'"statuses"\s*:\s*\[')


def native_id(status: JSONObject) -> str | None:
    value = status.get("id_str")
    if isinstance(value, str) and value:
        return value
    value = status.get("id")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def v1_author(user: JSONObject) -> Author | None:
    native = native_id(user)
    if native is None:
        return None
    site = next((u.get("expanded_url") for u in as_list(
        as_dict(as_dict(user.get("entities")).get("url")).get("urls"))
        if isinstance(u, dict) and u.get("expanded_url")), None)
    avatar = opt_str(user.get("profile_image_url_https")) or opt_str(user.get("profile_image_url"))
    default_image = opt_bool(user.get("default_profile_image"))
    return Author(
        id=tid(native), source=SOURCE, native_id=native, handle=opt_str(user.get("screen_name")),
        name=opt_str(user.get("name")), bio=opt_str(user.get("description")),
        url=opt_str(site) or opt_str(user.get("url")), location=opt_str(user.get("location")),
        created_at=parse_any_date(user.get("created_at")),
        followers=opt_int(user.get("followers_count")),
        following=opt_int(user.get("friends_count")),
        posts=opt_int(user.get("statuses_count")), listed=opt_int(user.get("listed_count")),
        verified=opt_bool(user.get("verified")), protected=opt_bool(user.get("protected")),
        default_profile=opt_bool(user.get("default_profile")),
        default_avatar=default_image if default_image is not None else default_avatar(avatar),
        avatar_url=avatar,
    )


def _geo(status: JSONObject) -> Geo | None:
    lat = lon = None
    point = lon_lat(as_dict(status.get("coordinates")).get("coordinates"))  # GeoJSON: lon, lat
    legacy = lon_lat(as_dict(status.get("geo")).get("coordinates"))  # deprecated: lat, lon
    if point:
        lon, lat = point
    elif legacy:
        lat, lon = legacy
    place = as_dict(status.get("place"))
    bbox = None
    ring = as_list(as_dict(place.get("bounding_box")).get("coordinates"))
    corners = [c for c in as_list(ring[0]) if isinstance(c, list) and len(c) >= 2] if ring else []
    if corners:
        lons, lats = [float(c[0]) for c in corners], [float(c[1]) for c in corners]
        bbox = (min(lons), min(lats), max(lons), max(lats))
    out = Geo(lat=lat, lon=lon, place_id=opt_str(place.get("id")),
              place_name=opt_str(place.get("full_name")) or opt_str(place.get("name")),
              country_code=opt_str(place.get("country_code")), bbox=bbox)
    return None if out == Geo() else out


def _media(entities: JSONObject, extended: JSONObject) -> list[Media]:
    items = as_list(extended.get("media")) or as_list(entities.get("media"))
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = media_kind(item.get("type"))
        url = None
        if kind in ("video", "animated_gif"):
            url = best_variant(as_dict(item.get("video_info")).get("variants"))
        url = url or opt_str(item.get("media_url_https")) or opt_str(item.get("media_url"))
        out.append(Media(kind=kind, url=url, alt=opt_str(item.get("ext_alt_text"))))
    return out


def _edit_of(status: JSONObject, native: str) -> str | None:
    """The first version's id: ``edit_history`` (API v1.1) or ``edit_info`` (archives)."""
    first = (as_dict(status.get("edit_history")).get("initial_tweet_id")
             or as_dict(as_dict(status.get("edit_info")).get("edit")).get("initialTweetId"))
    return tid(first) if first and str(first) != native else None


def status_post(status: JSONObject, author: Author | None, *, archive: bool = False) -> Post:
    """One v1.1 status (or archive tweet) → a post. ``author`` is its user when known."""
    native = native_id(status)
    extended = as_dict(status.get("extended_tweet"))
    text = extended.get("full_text") or status.get("full_text") or status.get("text")
    if native is None or not isinstance(text, str):
        missing = "id_str" if native is None else "text"
        raise NormalizeError(f"a status has no {missing}",
                             hint="a v1.1 status needs id_str (or id) and text (or full_text)")
    entities = as_dict(extended.get("entities") or status.get("entities"))
    ext_entities = as_dict(extended.get("extended_entities") or status.get("extended_entities"))
    handle = author.handle if author else None

    reposted = as_dict(status.get("retweeted_status"))
    quoted = opt_str(status.get("quoted_status_id_str")) or native_id(
        as_dict(status.get("quoted_status")))
    parent = opt_str(status.get("in_reply_to_status_id_str")) or opt_str(
        str(status["in_reply_to_status_id"]) if status.get("in_reply_to_status_id") else None)
    reply_to = opt_str(status.get("in_reply_to_user_id_str")) or opt_str(
        str(status["in_reply_to_user_id"]) if status.get("in_reply_to_user_id") else None)
    kind: PostKind = "post"
    if reposted or (archive and text.startswith("RT @")):
        kind = "repost"
    elif parent or reply_to:
        kind = "reply"
    elif quoted:
        kind = "quote"

    like_count = status.get("favorite_count")
    if like_count is None:
        like_count = status.get("like_count")
    return Post(
        id=tid(native), source=SOURCE, native_id=native, text=unescape(text),
        created_at=parse_any_date(status.get("created_at")), url=tweet_url(native, handle),
        author_id=author.id if author else None, author_handle=handle,
        lang=clean_lang(status.get("lang")), kind=kind,
        parent_id=opt_tid(parent) if kind == "reply" else None,
        in_reply_to_author_id=opt_tid(reply_to) if kind == "reply" else None,
        quoted_id=opt_tid(quoted) if kind != "repost" else None,
        reposted_id=opt_tid(native_id(reposted)) if reposted else None,
        mentions=unique([str(m.get("screen_name") or "") for m in
                         as_list(entities.get("user_mentions")) if isinstance(m, dict)]),
        hashtags=unique([str(h.get("text") or "") for h in as_list(entities.get("hashtags"))
                         if isinstance(h, dict)]),
        urls=unique([str(u.get("expanded_url") or u.get("url") or "")
                     for u in as_list(entities.get("urls")) if isinstance(u, dict)]),
        media=_media(entities, ext_entities),
        geo=_geo(status),
        metrics=metrics(status.get("retweet_count"), status.get("reply_count"), like_count,
                        status.get("quote_count"))
        if kind != "repost" else None,  # a repost shows its original's counts, not its own
        edit_of=_edit_of(status, native),
        withheld_in=[str(c) for c in as_list(status.get("withheld_in_countries"))],
        sensitive=opt_bool(status.get("possibly_sensitive")),
        raw=dumps(status),
    )


def status_batch(statuses: list[JSONObject]) -> Batch:
    """Statuses, the statuses they embed (retweeted, quoted: real posts too) and their authors."""
    posts: dict[str, Post] = {}
    authors: dict[str, Author] = {}

    def visit(st: JSONObject, depth: int) -> None:
        author = v1_author(as_dict(st.get("user")))
        post = status_post(st, author)
        posts.setdefault(post.id, post)
        if author:
            authors.setdefault(author.id, author)
        if depth < 3:
            for key in ("retweeted_status", "quoted_status"):
                inner = st.get(key)
                if isinstance(inner, dict) and native_id(inner) not in (None, post.native_id):
                    visit(inner, depth + 1)

    for status in statuses:
        if not isinstance(status, dict):
            raise NormalizeError("a search response holds a status that is not an object")
        visit(status, 0)
    return Batch(posts=list(posts.values()), authors=list(authors.values()))


def _deletion(notice: JSONObject) -> Batch:
    status = as_dict(notice.get("status"))
    native = native_id(status)
    if native is None:
        raise NormalizeError("a delete notice without the deleted status id")
    stamp = opt_int(notice.get("timestamp_ms"))
    when = datetime.fromtimestamp(stamp / 1000, UTC) if stamp is not None else None
    return Batch(deletions=[Deletion(post_id=tid(native), deleted_at=when)])


def normalize_v1(raw: bytes) -> Batch:
    obj = loads(raw)
    if not isinstance(obj, dict):
        raise NormalizeError("expected a JSON object (a v1.1 status)")
    if isinstance(obj.get("delete"), dict):
        return _deletion(obj["delete"])
    if isinstance(obj.get("statuses"), list):  # a search response kept on one line
        return status_batch(obj["statuses"])
    if "errors" in obj and "id_str" not in obj:
        first = as_dict(as_list(obj["errors"])[0] if as_list(obj["errors"]) else {})
        raise NormalizeError("the Twitter API answered an error instead of statuses: "
                             f"{first.get('message') or first.get('code') or 'no detail'}")
    if "id_str" not in obj and any(key in obj for key in _CONTROL):
        return Batch()
    return status_batch([obj])


class TwitterV1(Format):
    name = "twitter-v1"
    title = "Twitter/X API v1.1 statuses (arrays, search responses, JSON Lines)"
    examples = "statuses.json, search.json, tweets.jsonl from twarc 1 or tweepy"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if not text.startswith(("{", "[")):
            return 0
        if re.match(r'\{\s*"delete"\s*:\s*\{\s*"status"', text):
            return 85
        if '"id_str"' not in text:
            return 0
        if '"search_metadata"' in text or '"screen_name"' in text or '"full_text"' in text:
            return 90
        if '"in_reply_to_status_id' in text or '"favorite_count"' in text:
            return 70
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options,
                ) -> Iterator[Record | Malformed]:
        return json_input_records(fp, "statuses.item", _SEARCH_RESPONSE)

    def normalize(self, raw: bytes, options: Options) -> Batch:
        return normalize_v1(raw)


FORMATS = [TwitterV1()]
