"""Reddit JSON: listings (``/r/<sub>/new.json``, ``/search.json``), the ``[post, comments]``
pair of ``/comments/<id>.json`` with nested ``replies`` (flattened), and JSON Lines of bare
submission/comment objects (Pushshift-style dumps, no ``kind`` wrapper).

- post ids are fullnames: ``reddit:t3_<id>`` (submission), ``reddit:t1_<id>`` (comment);
- a comment is a reply: ``parent_id`` is its parent (comment or submission), ``root_id`` the
  submission (``link_id``);
- an author is ``reddit:<username>``: usernames never change on Reddit and every payload
  (API and dumps) carries them, whereas ``author_fullname`` is missing from older dumps;
  ``[deleted]`` authors stay unknown;
- ``score`` → ``Metrics.score`` (unknown while Reddit hides it), ``num_comments`` →
  ``Metrics.replies``; ``over_18`` → ``sensitive``; ``"more"`` stubs are skipped;
- a reply nested in its parent's ``replies`` gets ``in_reply_to_author_id``;
- ``raw`` is the thing's ``data`` without its nested ``replies`` (each reply keeps its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import ijson

from ..errors import NormalizeError
from ..models import Author, Batch, Media, Metrics, Post
from .base import (
    Format,
    Malformed,
    Options,
    Record,
    dumps,
    first_line_is_json,
    head_text,
    json_items,
    jsonl_records,
    loads,
    peek,
)

SOURCE = "reddit"
BASE = "https://www.reddit.com"
_URL = re.compile(r"https?://[^\s<>\[\]()\"']+")
_USER = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})\b")
_LISTING_ARRAY = re.compile(r'^\[\s*\{\s*"kind"\s*:\s*"Listing"')
_LISTING = re.compile(r'^\{\s*"kind"\s*:\s*"Listing"')
_GONE = ("[deleted]", "[removed]")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise NormalizeError(f"bad created_utc {value!r}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def _fullname(data: dict[str, Any], prefix: str) -> str:
    name = _str(data.get("name"))
    if name and name.startswith(prefix):
        return name
    native = _str(data.get("id"))
    if native is None:
        raise NormalizeError(f"{prefix[:2]} thing without name or id")
    return native if native.startswith(prefix) else prefix + native


def _is_comment(data: dict[str, Any]) -> bool:
    return "body" in data and "link_id" in data


def _author(data: dict[str, Any]) -> Author | None:
    name = _str(data.get("author"))
    if name is None or name in _GONE:
        return None
    return Author(id=f"{SOURCE}:{name}", source=SOURCE, native_id=name, handle=name,
                  url=f"{BASE}/user/{name}")


def _text_links(text: str) -> list[str]:
    return [u.rstrip(".,;:!?*") for u in _URL.findall(text)]


def _post(data: dict[str, Any], comment: bool, parent_author: str | None
          ) -> tuple[Post, Author | None]:
    fullname = _fullname(data, "t1_" if comment else "t3_")
    author = _author(data)
    permalink = _str(data.get("permalink"))
    text = data.get("body" if comment else "selftext") or ""
    if not isinstance(text, str):
        raise NormalizeError("body is not a string")
    score = None if data.get("score_hidden") or data.get("hide_score") else _int(data.get("score"))
    replies = None if comment else _int(data.get("num_comments"))
    post = Post(
        id=f"{SOURCE}:{fullname}", source=SOURCE, native_id=fullname, text=text,
        created_at=_time(data.get("created_utc")),
        url=(BASE + permalink) if permalink and permalink.startswith("/") else permalink,
        title=None if comment else _str(data.get("title")),
        author_id=author.id if author else None, author_handle=author.handle if author else None,
        mentions=list(dict.fromkeys(_USER.findall(text))),
        metrics=None if score is None and replies is None else Metrics(score=score,
                                                                        replies=replies),
        sensitive=data.get("over_18") if isinstance(data.get("over_18"), bool) else None,
        raw=dumps({k: v for k, v in data.items() if k != "replies"}),
    )
    urls = _text_links(text)
    if comment:
        post.kind = "reply"
        link = _str(data.get("link_id"))
        parent = _str(data.get("parent_id")) or link
        post.parent_id = f"{SOURCE}:{parent}" if parent else None
        post.root_id = f"{SOURCE}:{link}" if link else None
        post.in_reply_to_author_id = parent_author
        if post.url is None and link and _str(data.get("subreddit")):
            post.url = f"{BASE}/r/{data['subreddit']}/comments/{link[3:]}/_/{fullname[3:]}/"
    else:
        post.root_id = None
        target = _str(data.get("url_overridden_by_dest")) or _str(data.get("url"))
        if target and not data.get("is_self") and not target.startswith(BASE + "/r/"):
            urls.insert(0, target)
        if data.get("post_hint") == "image" and target:
            post.media.append(Media(kind="photo", url=target))
        if data.get("is_video"):
            video = (data.get("media") or {}).get("reddit_video") or {}
            post.media.append(Media(kind="video", url=_str(video.get("fallback_url"))))
    post.urls = list(dict.fromkeys(urls))
    return post, author


Thing = tuple[str, dict[str, Any], str | None]  # kind, data, id of the parent's author


def _things(obj: object, out: list[Thing], parent_author: str | None = None) -> None:
    """Flatten listings, things and bare objects, depth first. A reply nested in a comment's
    ``replies`` learns its parent's author on the way."""
    if isinstance(obj, list):
        for item in obj:
            _things(item, out, parent_author)
        return
    if not isinstance(obj, dict):
        raise NormalizeError("expected a JSON object or array")
    kind, data = obj.get("kind"), obj.get("data")
    if kind == "Listing" and isinstance(data, dict):
        _things(data.get("children") or [], out, parent_author)
    elif kind in ("t1", "t3") and isinstance(data, dict):
        out.append((kind, data, parent_author))
        replies = data.get("replies")
        if isinstance(replies, dict):
            author = _author(data)
            _things(replies, out, author.id if author else None)
    elif isinstance(kind, str) and isinstance(data, dict):
        return  # "more" stubs, accounts (t2), subreddits (t5)…
    elif _is_comment(obj) or "selftext" in obj or "title" in obj:
        out.append(("t1" if _is_comment(obj) else "t3", obj, None))
    else:
        raise NormalizeError("neither a Reddit listing, a submission nor a comment")


class Reddit(Format):
    name = "reddit"
    title = "Reddit JSON listings, comment trees and Pushshift-style JSONL"
    examples = "new.json, comments.json, RC_2024-01.jsonl"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if re.search(r'"kind"\s*:\s*"(Listing|t1|t3)"', text) and '"subreddit' in text:
            return 90
        if '"subreddit"' in text and '"created_utc"' in text and (
                '"link_id"' in text or '"selftext"' in text or '"num_comments"' in text):
            return 80
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options
                ) -> Iterator[Record | Malformed]:
        head, stream = peek(fp)
        text = head_text(head)
        if _LISTING_ARRAY.match(text):  # /comments/<id>.json: one record per top-level thing
            yield from json_items(stream, "item.data.children.item")
        elif text.startswith("["):
            yield from json_items(stream)
        elif first_line_is_json(head):
            yield from jsonl_records(stream)
        elif _LISTING.match(text):
            yield from json_items(stream, "data.children.item")
        else:
            try:
                for obj in ijson.items(stream, "", use_float=True):
                    yield Record("document", dumps(obj))
            except ijson.JSONError as exc:
                yield Malformed("document", f"invalid JSON: {exc}", b"")

    def normalize(self, raw: bytes, options: Options) -> Batch:
        things: list[Thing] = []
        _things(loads(raw), things)
        batch = Batch(posts=[], authors=[])
        seen: set[str] = set()
        for kind, data, parent_author in things:
            post, author = _post(data, kind == "t1", parent_author)
            batch.posts.append(post)
            if author and author.id not in seen:
                seen.add(author.id)
                batch.authors.append(author)
        return batch


FORMATS: list[Format] = [Reddit()]
