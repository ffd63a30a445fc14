"""Twitter/X API v2: pages as written by twarc2 (JSONL), twarc "flattened" tweets, single pages.

A v2 page keeps tweets in ``data`` and what they point to (authors, referenced tweets, places,
media) in ``includes``; a flattened line is one tweet with all of that inlined. Both are resolved
the same way: the page's lookups are filled from ``includes`` and from inlined objects, then every
tweet of ``data`` and every referenced tweet of ``includes.tweets`` becomes a post (referenced
tweets are real posts too), and every user object an author.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import NormalizeError
from ..models import Author, Batch, Geo, Media, Post, PostKind
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
    media_from_key,
    media_kind,
    metrics,
    opt_bool,
    opt_id,
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


class _Page:
    """Lookups of one page: users, tweets, places and media by id."""

    def __init__(self, includes: JSONObject) -> None:
        self.users: dict[str, JSONObject] = {}
        self.tweets: dict[str, JSONObject] = {}
        self.places: dict[str, JSONObject] = {}
        self.media: dict[str, JSONObject] = {}
        for user in as_list(includes.get("users")):
            self.add_user(user)
        for tweet in as_list(includes.get("tweets")):
            self.add_tweet(tweet)
        for place in as_list(includes.get("places")):
            if isinstance(place, dict) and place.get("id"):
                self.places.setdefault(str(place["id"]), place)
        for item in as_list(includes.get("media")):
            if isinstance(item, dict) and item.get("media_key"):
                self.media.setdefault(str(item["media_key"]), item)

    def add_user(self, user: object) -> None:
        if isinstance(user, dict) and user.get("id") and user.get("username"):
            self.users.setdefault(str(user["id"]), user)

    def add_tweet(self, tweet: object) -> None:
        if isinstance(tweet, dict) and tweet.get("id") and "text" in tweet:
            self.tweets.setdefault(str(tweet["id"]), tweet)

    def absorb_flattened(self, tweet: JSONObject, depth: int = 0) -> None:
        """Register what twarc's ``flatten`` inlined into a tweet (author, replied-to user,
        mentioned users, media, place, referenced tweets with their own authors)."""
        self.add_user(tweet.get("author"))
        self.add_user(tweet.get("in_reply_to_user"))
        for mention in as_list(as_dict(tweet.get("entities")).get("mentions")):
            if isinstance(mention, dict) and "public_metrics" in mention:
                self.add_user({k: v for k, v in mention.items() if k not in ("start", "end")})
        for item in as_list(as_dict(tweet.get("attachments")).get("media")):
            if isinstance(item, dict) and item.get("media_key"):
                self.media.setdefault(str(item["media_key"]), item)
        geo = as_dict(tweet.get("geo"))
        if geo.get("place_id") and ("full_name" in geo or "name" in geo):
            self.places.setdefault(str(geo["place_id"]), geo)
        if depth < 3:
            for ref in as_list(tweet.get("referenced_tweets")):
                if isinstance(ref, dict) and "text" in ref:
                    inner = {k: v for k, v in ref.items() if k != "type"}
                    self.add_tweet(inner)
                    self.absorb_flattened(inner, depth + 1)


def _author(user: JSONObject) -> Author:
    native = str(user["id"])
    counts = as_dict(user.get("public_metrics"))
    site = next((u.get("expanded_url") for u in as_list(
        as_dict(as_dict(user.get("entities")).get("url")).get("urls"))
        if isinstance(u, dict) and u.get("expanded_url")), None)
    verified = opt_bool(user.get("verified"))
    if verified is None and isinstance(user.get("verified_type"), str):
        verified = user["verified_type"] != "none"
    avatar = opt_str(user.get("profile_image_url"))
    return Author(
        id=tid(native), source=SOURCE, native_id=native, handle=opt_str(user.get("username")),
        name=opt_str(user.get("name")), bio=opt_str(user.get("description")),
        url=opt_str(site) or opt_str(user.get("url")), location=opt_str(user.get("location")),
        created_at=parse_any_date(user.get("created_at")),
        followers=opt_int(counts.get("followers_count")),
        following=opt_int(counts.get("following_count")),
        posts=opt_int(counts.get("tweet_count")), listed=opt_int(counts.get("listed_count")),
        verified=verified, protected=opt_bool(user.get("protected")),
        default_avatar=default_avatar(avatar), avatar_url=avatar,
    )


def _geo(tweet: JSONObject, page: _Page) -> Geo | None:
    geo = as_dict(tweet.get("geo"))
    if not geo:
        return None
    lat = lon = None
    point = lon_lat(as_dict(geo.get("coordinates")).get("coordinates"))
    if point:
        lon, lat = point  # GeoJSON order: longitude first
    place_id = opt_str(geo.get("place_id"))
    place = page.places.get(place_id or "", {})
    bbox = as_list(as_dict(place.get("geo")).get("bbox"))
    out = Geo(lat=lat, lon=lon, place_id=place_id,
              place_name=opt_str(place.get("full_name")) or opt_str(place.get("name")),
              country_code=opt_str(place.get("country_code")),
              bbox=tuple(float(c) for c in bbox) if len(bbox) == 4 else None)  # type: ignore[arg-type]
    return None if out == Geo() else out


def _media(tweet: JSONObject, page: _Page, links: dict[str, str]) -> list[Media]:
    out = []
    for key in as_list(as_dict(tweet.get("attachments")).get("media_keys")):
        item = page.media.get(str(key))
        if item is None:
            out.append(media_from_key(str(key), links.get(str(key))))
            continue
        url = (opt_str(item.get("url")) or best_variant(item.get("variants"))
               or opt_str(item.get("preview_image_url")))
        out.append(Media(kind=media_kind(item.get("type")), url=url,
                         alt=opt_str(item.get("alt_text"))))
    return out


def _post(tweet: JSONObject, page: _Page, raw: bytes | None = None) -> Post:
    native, text = tweet.get("id"), tweet.get("text")
    if not isinstance(native, str | int) or not str(native) or not isinstance(text, str):
        raise NormalizeError("a tweet has no id or no text",
                             hint="a v2 tweet needs at least the fields id and text")
    native = str(native)
    note = as_dict(tweet.get("note_tweet"))  # a long post: ``text`` is cut, the note is whole
    if isinstance(note.get("text"), str):
        text = note["text"]
    author_id = opt_id(tweet.get("author_id"))
    user = page.users.get(author_id or "") or as_dict(tweet.get("author"))
    handle = opt_str(user.get("username"))

    refs: dict[str, str] = {}
    for ref in as_list(tweet.get("referenced_tweets")):
        if isinstance(ref, dict) and ref.get("id") and ref.get("type"):
            refs.setdefault(str(ref["type"]), str(ref["id"]))
    reply_to = opt_tid(tweet.get("in_reply_to_user_id"))
    kind: PostKind = "post"
    if "retweeted" in refs:
        kind = "repost"
    elif "replied_to" in refs or reply_to:
        kind = "reply"
    elif "quoted" in refs:
        kind = "quote"

    entities = as_dict(note.get("entities") or tweet.get("entities"))
    links: dict[str, str] = {}
    urls = []
    for u in as_list(entities.get("urls")):
        if not isinstance(u, dict):
            continue
        link = opt_str(u.get("expanded_url")) or opt_str(u.get("url"))
        if u.get("media_key"):
            links.setdefault(str(u["media_key"]), link or "")
        elif link:
            urls.append(link)
    history = [str(i) for i in as_list(tweet.get("edit_history_tweet_ids"))]
    pm = tweet.get("public_metrics")
    counts = as_dict(pm)
    withheld = as_dict(tweet.get("withheld"))
    return Post(
        id=tid(native), source=SOURCE, native_id=native, text=unescape(text),
        created_at=parse_any_date(tweet.get("created_at")), url=tweet_url(native, handle),
        author_id=opt_tid(author_id), author_handle=handle, lang=clean_lang(tweet.get("lang")),
        kind=kind,
        parent_id=opt_tid(refs.get("replied_to")),
        root_id=opt_tid(tweet.get("conversation_id")),
        in_reply_to_author_id=reply_to if kind != "repost" else None,
        quoted_id=opt_tid(refs.get("quoted")) if kind != "repost" else None,
        reposted_id=opt_tid(refs.get("retweeted")),
        mentions=unique([str(m.get("username") or "") for m in as_list(entities.get("mentions"))
                         if isinstance(m, dict)]),
        hashtags=unique([str(h.get("tag") or "") for h in as_list(entities.get("hashtags"))
                         if isinstance(h, dict)]),
        urls=unique(urls),
        media=_media(tweet, page, links),
        geo=_geo(tweet, page),
        metrics=metrics(counts.get("retweet_count"), counts.get("reply_count"),
                        counts.get("like_count"), counts.get("quote_count"),
                        counts.get("impression_count"))
        if pm is not None and kind != "repost" else None,  # a repost shows its original's counts
        edit_of=tid(history[0]) if history and history[0] != native else None,
        withheld_in=[str(c) for c in as_list(withheld.get("country_codes"))],
        sensitive=opt_bool(tweet.get("possibly_sensitive")),
        raw=raw if raw is not None else dumps(tweet),
    )


def _problem(obj: JSONObject) -> str:
    errors = [e for e in as_list(obj.get("errors")) if isinstance(e, dict)] or [obj]
    first = errors[0]
    what = ": ".join(str(first[k]) for k in ("title", "detail") if first.get(k))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"the Twitter API answered an error instead of tweets: {what or 'no detail'}{more}"


def _item_kind(item: JSONObject) -> str:
    if "tweet_count" in item and "start" in item:
        return "a tweet-counts response"
    if "member_count" in item or "owner_id" in item:
        return "a Lists response"
    if "action" in item:
        return "a compliance event"
    return f"an object with keys {', '.join(sorted(item)[:6])}"


def _page_batch(tweets: list[Any], page: _Page, flat_raw: bytes | None) -> Batch:
    posts: dict[str, Post] = {}
    authors: dict[str, Author] = {}
    for n, item in enumerate(tweets, 1):
        if not isinstance(item, dict):
            raise NormalizeError(f"item {n} of data is not an object")
        if "text" in item:
            post = _post(item, page, flat_raw)
            posts.setdefault(post.id, post)
        elif item.get("username") and item.get("id"):
            author = _author(item)
            authors.setdefault(author.id, author)
        else:
            raise NormalizeError(f"not tweets: item {n} of data is {_item_kind(item)}",
                                 hint="only tweets and users are imported from API v2 output")
    for included in page.tweets.values():
        if tid(included["id"]) not in posts:
            post = _post(included, page)
            posts[post.id] = post
    for user in page.users.values():
        author = _author(user)
        authors.setdefault(author.id, author)
    return Batch(posts=list(posts.values()), authors=list(authors.values()))


def normalize_v2(raw: bytes) -> Batch:
    obj = loads(raw)
    if not isinstance(obj, dict):
        raise NormalizeError("expected a JSON object (an API v2 page or one tweet)")
    if "data" in obj:
        data = obj["data"]
        items = data if isinstance(data, list) else [data]
        return _page_batch(items, _Page(as_dict(obj.get("includes"))), None)
    if "id" in obj and "text" in obj:  # twarc flattened tweet (or a bare v2 tweet)
        page = _Page({})
        page.absorb_flattened(obj)
        page.tweets.pop(str(obj["id"]), None)
        return _page_batch([obj], page, raw)
    if "errors" in obj or ("title" in obj and "detail" in obj):
        raise NormalizeError(_problem(obj), hint="the line records a failed request; rerun the "
                                                 "collection for that period if tweets are missing")
    if "action" in obj and "id" in obj:
        raise NormalizeError("a compliance event, not a tweet (it does not say whether the id is "
                             "a tweet or an account)",
                             hint="apply compliance files with the erasure commands instead")
    raise NormalizeError("not a Twitter API v2 page nor a tweet "
                         f"(keys: {', '.join(sorted(obj)[:6]) or 'none'})")


class TwitterV2(Format):
    name = "twitter-v2"
    title = "Twitter/X API v2 (twarc2 JSONL pages, flattened tweets, single pages)"
    examples = "tweets.jsonl from `twarc2 search`, `twarc2 flatten` output, one API v2 page .json"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if not text.startswith(("{", "[")):
            return 0
        if '"__twarc"' in text:
            return 95
        v2_tweet = ('"edit_history_tweet_ids"' in text
                    or ('"author_id"' in text and '"conversation_id"' in text))
        if '"id_str"' in text and not v2_tweet:
            return 0  # API v1.1
        if '"data"' in text and '"includes"' in text:
            return 90
        if v2_tweet:
            return 85 if '"data"' in text else 75
        users_page = '"public_metrics"' in text and '"username"' in text
        if users_page and re.match(r'\{\s*"data"\s*:', text):
            return 70  # a users lookup page (followers, following, list members)
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options,
                ) -> Iterator[Record | Malformed]:
        return json_input_records(fp)

    def normalize(self, raw: bytes, options: Options) -> Batch:
        return normalize_v2(raw)


FORMATS = [TwitterV2()]
