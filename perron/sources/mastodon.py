"""Mastodon: REST statuses (``mastodon``) and an account export's ``outbox.json``
(``activitypub-outbox``).

Identifiers, chosen to be the same whichever instance served the data:

- a post is ``mastodon:<uri>``: the status' ActivityPub ``uri`` is global, while its ``id`` is
  local to the instance that answered. A boost is ``mastodon:<uri of the boost>``
  (``…/statuses/<id>/activity``), which is also the ``Announce`` id in an outbox;
- an author is ``mastodon:<user>@<domain>`` (the full WebFinger address). REST gives ``acct``
  without a domain for accounts local to the instance; the domain then comes from the
  account's profile URL. Handles and mentions are written the same way, so a mention seen on one
  instance matches the author seen on another. (An instance whose web domain differs from its
  account domain gives the web domain here.)

A reply's ``in_reply_to_id`` is local to the instance that served it, so the parent's ``uri`` is
only known when the parent's author is local there and known (the author itself, or a mentioned
account); otherwise ``parent_id`` stays unknown, but the post is still a reply and the parent's
author is kept when it is among the mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import ijson
from ijson.common import ObjectBuilder

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
from .html_text import html_to_text, render_html

SOURCE = "mastodon"
_LOCAL_STATUS = re.compile(r"^https?://[^/]+/users/([^/]+)/statuses/[^/]+$")
_OPENING = ("start_map", "start_array", "map_key")  # events that do not end a value
_MEDIA_KIND = {"image": "photo", "video": "video", "gifv": "animated_gif", "audio": "audio"}


# -- reading ---------------------------------------------------------------------------------

def _statuses_or_object(fp: BinaryIO) -> Iterator[Record | Malformed]:
    """A pretty-printed object: a search response (one record per status, streamed) or one
    status (one record)."""
    top, item = ObjectBuilder(), None
    pending = in_statuses = found = False
    n = 0
    try:
        for prefix, event, value in ijson.parse(fp, use_float=True):
            if pending:
                pending = False
                if event == "start_array":
                    in_statuses = found = True
                    continue
                top.event("map_key", "statuses")
            if prefix == "" and event == "map_key" and value == "statuses":
                pending = True
            elif in_statuses:
                if prefix == "statuses" and event == "end_array":
                    in_statuses = False
                    continue
                item = item or ObjectBuilder()
                item.event(event, value)
                if prefix == "statuses.item" and event not in _OPENING:
                    n += 1
                    yield Record(f"status {n}", dumps(item.value))
                    item = None
            else:
                top.event(event, value)
    except ijson.JSONError as exc:
        yield Malformed(f"after status {n}", f"invalid JSON, the rest cannot be read: {exc}", b"")
        return
    if not found:
        yield Record("document", dumps(top.value))


def _sse_records(fp: BinaryIO) -> Iterator[Record]:
    """A capture of the streaming API (server-sent events): the ``data`` of ``update`` events."""
    event = b""
    for lineno, line in enumerate(fp, 1):
        line = line.strip()
        if line.startswith(b"event:"):
            event = line[6:].strip()
        elif line.startswith(b"data:") and event in (b"update", b"status.update"):
            yield Record(f"line {lineno}", line[5:].strip())


# -- shared helpers --------------------------------------------------------------------------

def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise NormalizeError(f"bad date {value!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _host(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    host = urlsplit(url).netloc.rpartition("@")[2]  # with its port: WebFinger domains keep it
    return host.lower() or None


def full_acct(acct: object, url: object) -> str | None:
    """``bob`` + ``https://mastodon.social/@bob`` → ``bob@mastodon.social``."""
    if not isinstance(acct, str) or not acct:
        return None
    acct = acct.lstrip("@")
    if "@" in acct:
        user, _, domain = acct.rpartition("@")
        return f"{user}@{domain.lower()}"
    host = _host(url)
    return f"{acct}@{host}" if host else acct


def actor_acct(actor: str) -> str:
    """``https://mastodon.social/users/Gargron`` → ``Gargron@mastodon.social``."""
    name = urlsplit(actor).path.rstrip("/").rsplit("/", 1)[-1].lstrip("@")
    host = _host(actor)
    return f"{name}@{host}" if host and name else actor


def author_id(acct: str) -> str:
    return f"{SOURCE}:{acct}"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NormalizeError(f"{what} is not a JSON object")
    return value


def _lang(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


# -- REST statuses ---------------------------------------------------------------------------

def account_author(account: dict[str, Any]) -> Author:
    acct = full_acct(account.get("acct") or account.get("username"), account.get("url"))
    if not acct:
        raise NormalizeError("account without acct")
    avatar = _str(account.get("avatar"))
    return Author(
        id=author_id(acct), source=SOURCE, native_id=acct, handle=acct,
        name=_str(account.get("display_name")),
        bio=html_to_text(account.get("note")) or None,
        url=_str(account.get("url")),
        created_at=parse_time(account.get("created_at")),
        followers=_int(account.get("followers_count")),
        following=_int(account.get("following_count")),
        posts=_int(account.get("statuses_count")),
        protected=account.get("locked") if isinstance(account.get("locked"), bool) else None,
        bot=account.get("bot") if isinstance(account.get("bot"), bool) else None,
        avatar_url=avatar,
        default_avatar=("missing.png" in avatar) if avatar else None,
    )


def _metrics(status: dict[str, Any]) -> Metrics | None:
    m = Metrics(replies=_int(status.get("replies_count")),
                reposts=_int(status.get("reblogs_count")),
                likes=_int(status.get("favourites_count")),
                quotes=_int(status.get("quotes_count")))
    return None if m == Metrics() else m


def _parent_uri(status: dict[str, Any], account: dict[str, Any],
                mentions: list[dict[str, Any]]) -> str | None:
    """The parent's uri when its author is local to the instance that served the status (the
    author itself or a mentioned account, ``acct`` without a domain): ``in_reply_to_id`` is
    then the id in the parent's uri (Mastodon's ``<origin>/users/<name>/statuses/<id>``)."""
    parent, parent_account = status.get("in_reply_to_id"), status.get("in_reply_to_account_id")
    if parent is None or parent_account is None:
        return None
    for acc in [account, *mentions]:
        if acc.get("id") == parent_account and "@" not in (acc.get("acct") or "@"):
            url = urlsplit(acc.get("url") or "")
            if url.scheme and url.netloc and _str(acc.get("username")):
                return f"{url.scheme}://{url.netloc}/users/{acc['username']}/statuses/{parent}"
    return None


def status_batch(status: dict[str, Any], batch: Batch | None = None) -> Batch:
    """Posts and authors of one status (and of the status it boosts or quotes)."""
    batch = batch if batch is not None else Batch(posts=[], authors=[])
    uri = _str(status.get("uri"))
    if uri is None:
        raise NormalizeError("status without uri", hint="is this a Mastodon status object?")
    account = _dict(status.get("account"), "status.account")
    author = account_author(account)
    mentions = [m for m in status.get("mentions") or [] if isinstance(m, dict)]
    post = Post(
        id=f"{SOURCE}:{uri}", source=SOURCE, native_id=uri,
        text="", created_at=parse_time(status.get("created_at")),
        url=_str(status.get("url")) or uri,
        title=_str(status.get("spoiler_text")),
        author_id=author.id, author_handle=author.handle,
        lang=_lang(status.get("language")),
        mentions=[a for a in (full_acct(m.get("acct"), m.get("url")) for m in mentions) if a],
        hashtags=[t["name"] for t in status.get("tags") or []
                  if isinstance(t, dict) and _str(t.get("name"))],
        metrics=_metrics(status),
        sensitive=status.get("sensitive") if isinstance(status.get("sensitive"), bool) else None,
        raw=dumps(status),
    )
    rendered = render_html(status.get("content") or "")
    post.text = rendered.text
    card = status.get("card")
    card_url = _str(card.get("url")) if isinstance(card, dict) else None
    post.urls = list(dict.fromkeys(rendered.links + ([card_url] if card_url else [])))
    for att in status.get("media_attachments") or []:
        if isinstance(att, dict):
            post.media.append(Media(kind=_MEDIA_KIND.get(att.get("type") or "", "other"),
                                    url=_str(att.get("url")) or _str(att.get("remote_url")),
                                    alt=_str(att.get("description"))))
    if status.get("in_reply_to_id") is not None or status.get("in_reply_to_account_id"):
        post.kind = "reply"
        parent = _parent_uri(status, account, mentions)
        post.parent_id = f"{SOURCE}:{parent}" if parent else None
        parent_account = status.get("in_reply_to_account_id")
        if parent_account == account.get("id"):
            post.in_reply_to_author_id = author.id
        else:
            for m in mentions:
                acct = full_acct(m.get("acct"), m.get("url"))
                if m.get("id") == parent_account and acct:
                    post.in_reply_to_author_id = author_id(acct)
    quoted = _quoted_status(status.get("quote"))
    if quoted is not None:
        status_batch(quoted, batch)
        post.quoted_id = f"{SOURCE}:{quoted['uri']}"
        if post.kind == "post":
            post.kind = "quote"
    reblog = status.get("reblog")
    if isinstance(reblog, dict):
        status_batch(reblog, batch)
        post.kind = "repost"
        post.reposted_id = f"{SOURCE}:{reblog['uri']}"
    batch.posts.insert(0, post)
    if all(a.id != author.id for a in batch.authors):
        batch.authors.insert(0, author)
    return batch


def _quoted_status(quote: object) -> dict[str, Any] | None:
    """Mastodon 4.4 ``quote: {state, quoted_status}``; some servers put the status itself."""
    if not isinstance(quote, dict):
        return None
    inner = quote.get("quoted_status", quote)
    return inner if isinstance(inner, dict) and _str(inner.get("uri")) else None


class MastodonStatuses(Format):
    name = "mastodon"
    title = "Mastodon API statuses (JSON, array, search result, JSONL, streaming capture)"
    examples = "statuses.json, home_timeline.jsonl"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if text.startswith(":)") or re.match(r"event:\s*(update|status\.update)\b", text):
            return 80
        if not all(f'"{k}"' in text for k in ("account", "content")):
            return 0
        if '"uri"' not in text and '"url"' not in text:
            return 0
        specific = sum(f'"{k}"' in text for k in ("favourites_count", "reblogs_count",
                                                  "spoiler_text", "visibility", "reblog",
                                                  "media_attachments", "acct"))
        return 40 + 10 * min(specific, 5)

    def records(self, fp: BinaryIO, filename: str, options: Options
                ) -> Iterator[Record | Malformed]:
        head, stream = peek(fp)
        text = head_text(head)
        if text.startswith("["):
            yield from json_items(stream)
        elif text.startswith(":)") or text.startswith("event:"):
            yield from _sse_records(stream)
        elif first_line_is_json(head):
            yield from jsonl_records(stream)
        else:
            yield from _statuses_or_object(stream)

    def normalize(self, raw: bytes, options: Options) -> Batch:
        obj = _dict(loads(raw), "record")
        if isinstance(obj.get("statuses"), list):  # /api/v2/search on one line
            batch = Batch(posts=[], authors=[])
            for status in obj["statuses"]:
                status_batch(_dict(status, "search status"), batch)
            return batch
        if "event" in obj and "payload" in obj:  # a WebSocket streaming message
            if obj["event"] not in ("update", "status.update"):
                return Batch()  # delete events carry a local id only, notifications are not posts
            payload = obj["payload"]
            obj = _dict(loads(payload.encode()) if isinstance(payload, str) else payload,
                        "streaming payload")
        return status_batch(obj)


# -- ActivityPub outbox (account export) -----------------------------------------------------

def _activity_author(actor: str) -> Author:
    acct = actor_acct(actor)
    return Author(id=author_id(acct), source=SOURCE, native_id=acct, handle=acct, url=actor)


def _note_post(activity: dict[str, Any], note: dict[str, Any], author: Author) -> Post:
    uri = _str(note.get("id"))
    if uri is None:
        raise NormalizeError("Create activity whose object has no id")
    content = note.get("content")
    content_map = note.get("contentMap")
    if not isinstance(content, str) and isinstance(content_map, dict) and content_map:
        content = next(iter(content_map.values()))
    rendered = render_html(content if isinstance(content, str) else "")
    tags = [t for t in note.get("tag") or [] if isinstance(t, dict)]
    post = Post(
        id=f"{SOURCE}:{uri}", source=SOURCE, native_id=uri, text=rendered.text,
        created_at=parse_time(note.get("published") or activity.get("published")),
        url=_str(note.get("url")) or uri, title=_str(note.get("summary")),
        author_id=author.id, author_handle=author.handle,
        lang=_lang(next(iter(content_map), None)) if isinstance(content_map, dict) else None,
        mentions=[_mention_acct(t) for t in tags if t.get("type") == "Mention"],
        hashtags=[t["name"].lstrip("#") for t in tags
                  if t.get("type") == "Hashtag" and _str(t.get("name"))],
        urls=rendered.links,
        sensitive=note.get("sensitive") if isinstance(note.get("sensitive"), bool) else None,
        raw=dumps(activity),
    )
    post.mentions = [m for m in post.mentions if m]
    for att in note.get("attachment") or []:
        if isinstance(att, dict) and att.get("type") in ("Document", "Image", "Video", "Audio"):
            mtype = (att.get("mediaType") or "").split("/")[0]
            kind = {"image": "photo", "video": "video", "audio": "audio"}.get(mtype, "other")
            post.media.append(Media(kind=kind, url=_str(att.get("url")), alt=_str(att.get("name"))))
    parent = _str(note.get("inReplyTo"))
    if parent:
        post.kind = "reply"
        post.parent_id = f"{SOURCE}:{parent}"
        m = _LOCAL_STATUS.match(parent)
        if m:
            post.in_reply_to_author_id = author_id(f"{m.group(1)}@{_host(parent)}")
    quote = _str(note.get("quote") or note.get("quoteUrl") or note.get("_misskey_quote"))
    if quote:
        post.quoted_id = f"{SOURCE}:{quote}"
        if post.kind == "post":
            post.kind = "quote"
    return post


def _mention_acct(tag: dict[str, Any]) -> str:
    name = (_str(tag.get("name")) or "").lstrip("@")
    if not name:
        return actor_acct(tag["href"]) if _str(tag.get("href")) else ""
    return full_acct(name, tag.get("href")) or ""


class ActivityPubOutbox(Format):
    name = "activitypub-outbox"
    title = "Mastodon account export outbox.json (ActivityPub)"
    examples = "outbox.json"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if '"orderedItems"' not in text:
            return 0
        score = 60 + 20 * ('"OrderedCollection' in text) + 10 * ("activitystreams" in text)
        return min(100, score + 10 * filename.endswith("outbox.json"))

    def records(self, fp: BinaryIO, filename: str, options: Options
                ) -> Iterator[Record | Malformed]:
        return json_items(peek(fp)[1], "orderedItems.item")

    def normalize(self, raw: bytes, options: Options) -> Batch:
        activity = _dict(loads(raw), "activity")
        kind, actor = activity.get("type"), _str(activity.get("actor"))
        if kind not in ("Create", "Announce"):
            return Batch()
        if actor is None:
            raise NormalizeError(f"{kind} activity without actor")
        author = _activity_author(actor)
        obj = activity.get("object")
        if kind == "Announce":
            if obj is None:
                raise NormalizeError("Announce without object")
            target = obj if isinstance(obj, str) else _str(_dict(obj, "object").get("id"))
            uri = _str(activity.get("id"))
            if not target or not uri:
                raise NormalizeError("Announce without id or object")
            post = Post(id=f"{SOURCE}:{uri}", source=SOURCE, native_id=uri, text="",
                        created_at=parse_time(activity.get("published")), url=uri,
                        author_id=author.id, author_handle=author.handle, kind="repost",
                        reposted_id=f"{SOURCE}:{target}", raw=dumps(activity))
            return Batch(posts=[post], authors=[author])
        note = _dict(obj, "Create object")
        if note.get("type") == "Tombstone":
            return Batch()
        return Batch(posts=[_note_post(activity, note, author)], authors=[author])


__all__ = ["FORMATS", "ActivityPubOutbox", "MastodonStatuses", "peek", "first_line_is_json"]
FORMATS: list[Format] = [MastodonStatuses(), ActivityPubOutbox()]
