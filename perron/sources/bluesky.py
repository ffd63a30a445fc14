"""Bluesky Jetstream v1 events (JSON Lines), as served by ``wss://jetstream*.bsky.network``.

One event per line: ``{"did", "time_us", "kind": "commit", "commit": {"rev", "operation",
"collection", "rkey", "record", "cid"}}``. What each commit becomes:

- ``app.bsky.feed.post`` create/update → a :class:`Post` ``bluesky:at://<did>/app.bsky.feed.post/<rkey>``;
  delete → a :class:`Deletion`;
- ``app.bsky.feed.repost`` / ``app.bsky.feed.like`` → an :class:`Interaction` on the subject post
  (a Bluesky repost has no text of its own, so it is not a post);
- ``app.bsky.graph.follow`` → a follow :class:`Interaction`;
- ``app.bsky.actor.profile`` → the author's name and bio;
- ``identity`` events → the author's current handle; anything else → an empty batch.

Facets (mentions, links, tags) index the text by UTF-8 *byte* offsets, not characters.
Jetstream carries no handles with posts, so ``author_handle`` is unknown (None); mentions are the
handles as written in the text (the facet's byte slice, without ``@``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from ..errors import NormalizeError
from ..models import Author, Batch, Deletion, Interaction, Media, Post
from .base import Format, Malformed, Options, Record, head_text, jsonl_records, loads, peek

SOURCE = "bluesky"
POST = "app.bsky.feed.post"
_SENSITIVE_LABELS = frozenset({"porn", "sexual", "nudity", "graphic-media", "gore"})
_CDN = "https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg"


def at_id(uri: str) -> str:
    return f"{SOURCE}:{uri}"


def did_of(uri: object) -> str | None:
    """``at://did:plc:x/app.bsky.feed.post/y`` → ``did:plc:x``."""
    if isinstance(uri, str) and uri.startswith("at://did:"):
        return uri[5:].split("/", 1)[0]
    return None


def author_id(did: str) -> str:
    return f"{SOURCE}:{did}"


def _time(record: dict[str, Any], time_us: object) -> datetime | None:
    value = record.get("createdAt")
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        except ValueError:
            pass  # the client wrote garbage: the relay's clock is the next best thing
    return _us(time_us)


def _us(time_us: object) -> datetime | None:
    if isinstance(time_us, int) and not isinstance(time_us, bool):
        return datetime.fromtimestamp(time_us / 1_000_000, UTC)
    return None


def _subject_uri(record: dict[str, Any]) -> str:
    subject = record.get("subject")
    uri = subject.get("uri") if isinstance(subject, dict) else None
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise NormalizeError("record without a subject uri")
    return uri


def _blob_cid(blob: object) -> str | None:
    if isinstance(blob, dict):
        ref = blob.get("ref")
        if isinstance(ref, dict) and isinstance(ref.get("$link"), str):
            return ref["$link"]
        if isinstance(blob.get("cid"), str):  # legacy blob
            return blob["cid"]
    return None


def _facets(post: Post, record: dict[str, Any]) -> None:
    data = post.text.encode("utf-8")
    for facet in record.get("facets") or []:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        for feature in facet.get("features") or []:
            kind = feature.get("$type") if isinstance(feature, dict) else None
            if kind == "app.bsky.richtext.facet#mention":
                if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                    handle = data[start:end].decode("utf-8", "replace").strip().lstrip("@")
                    if handle:
                        post.mentions.append(handle)
            elif kind == "app.bsky.richtext.facet#link" and isinstance(feature.get("uri"), str):
                post.urls.append(feature["uri"])
            elif kind == "app.bsky.richtext.facet#tag" and isinstance(feature.get("tag"), str):
                post.hashtags.append(feature["tag"].lstrip("#"))


def _embed(post: Post, embed: object, did: str) -> None:
    if not isinstance(embed, dict):
        return
    kind = embed.get("$type")
    if kind == "app.bsky.embed.record":
        uri = (embed.get("record") or {}).get("uri")
        if isinstance(uri, str) and uri.startswith("at://"):
            post.quoted_id = at_id(uri)  # may also quote a list or a feed generator
    elif kind == "app.bsky.embed.recordWithMedia":
        _embed(post, {**(embed.get("record") or {}), "$type": "app.bsky.embed.record"}, did)
        _embed(post, embed.get("media"), did)
    elif kind == "app.bsky.embed.images":
        for image in embed.get("images") or []:
            if isinstance(image, dict):
                cid = _blob_cid(image.get("image"))
                post.media.append(Media(kind="photo",
                                        url=_CDN.format(did=did, cid=cid) if cid else None,
                                        alt=image.get("alt") or None))
    elif kind == "app.bsky.embed.video":
        post.media.append(Media(kind="video", alt=embed.get("alt") or None))
    elif kind == "app.bsky.embed.external":
        uri = (embed.get("external") or {}).get("uri")
        if isinstance(uri, str) and uri:
            post.urls.append(uri)


def _post(event: dict[str, Any], commit: dict[str, Any], raw: bytes) -> Batch:
    did, rkey = event["did"], commit["rkey"]
    record = commit.get("record")
    if not isinstance(record, dict):
        raise NormalizeError("post commit without a record")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise NormalizeError("post text is not a string")
    uri = f"at://{did}/{POST}/{rkey}"
    langs = record.get("langs")
    author = Author(id=author_id(did), source=SOURCE, native_id=did)
    post = Post(id=at_id(uri), source=SOURCE, native_id=uri, text=text,
                created_at=_time(record, event.get("time_us")),
                url=f"https://bsky.app/profile/{did}/post/{rkey}", author_id=author.id,
                lang=langs[0].lower() if isinstance(langs, list) and langs
                and isinstance(langs[0], str) else None, raw=raw)
    reply = record.get("reply")
    if isinstance(reply, dict):
        parent = (reply.get("parent") or {}).get("uri")
        root = (reply.get("root") or {}).get("uri")
        post.kind = "reply"
        post.parent_id = at_id(parent) if isinstance(parent, str) else None
        post.root_id = at_id(root) if isinstance(root, str) else None
        parent_did = did_of(parent)
        post.in_reply_to_author_id = author_id(parent_did) if parent_did else None
    _facets(post, record)
    _embed(post, record.get("embed"), did)
    if post.quoted_id and post.kind == "post":
        post.kind = "quote"
    post.mentions = list(dict.fromkeys(post.mentions))
    post.hashtags = list(dict.fromkeys(post.hashtags))
    post.urls = list(dict.fromkeys(post.urls))
    labels = record.get("labels")
    if isinstance(labels, dict):
        values = {v.get("val") for v in labels.get("values") or [] if isinstance(v, dict)}
        post.sensitive = bool(values & _SENSITIVE_LABELS)
    return Batch(posts=[post], authors=[author])


def _commit(event: dict[str, Any], raw: bytes) -> Batch:
    commit = event.get("commit")
    if not isinstance(commit, dict):
        raise NormalizeError("commit event without commit")
    collection, op = commit.get("collection"), commit.get("operation")
    did, rkey = event.get("did"), commit.get("rkey")
    if not isinstance(did, str) or not isinstance(rkey, str) or not isinstance(collection, str):
        raise NormalizeError("commit without did, collection or rkey")
    if op not in ("create", "update", "delete"):
        raise NormalizeError(f"unknown commit operation {op!r}")
    if collection == POST:
        if op == "delete":
            return Batch(deletions=[Deletion(post_id=at_id(f"at://{did}/{POST}/{rkey}"),
                                             deleted_at=_us(event.get("time_us")))])
        return _post(event, commit, raw)
    if op == "delete":
        return Batch()  # an undone like/repost/follow: nothing to record
    record = commit.get("record")
    if not isinstance(record, dict):
        raise NormalizeError(f"{collection} commit without a record")
    actor, at = author_id(did), _time(record, event.get("time_us"))
    if collection in ("app.bsky.feed.repost", "app.bsky.feed.like"):
        target = _subject_uri(record)
        target_did = did_of(target)
        kind = "repost" if collection.endswith("repost") else "like"
        return Batch(interactions=[Interaction(
            kind=kind, actor_id=actor, target_post_id=at_id(target), created_at=at,
            target_author_id=author_id(target_did) if target_did else None)])
    if collection == "app.bsky.graph.follow":
        subject = record.get("subject")
        if not isinstance(subject, str) or not subject.startswith("did:"):
            raise NormalizeError("follow without a subject did")
        return Batch(interactions=[Interaction(kind="follow", actor_id=actor, created_at=at,
                                               target_author_id=author_id(subject))])
    if collection == "app.bsky.actor.profile":
        return Batch(authors=[Author(id=actor, source=SOURCE, native_id=did,
                                     name=record.get("displayName") or None,
                                     bio=record.get("description") or None)])
    return Batch()


class Jetstream(Format):
    name = "jetstream"
    title = "Bluesky Jetstream events (JSONL)"
    examples = "jetstream.jsonl"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        first = text.split("\n", 1)[0]
        if '"did"' in first and '"time_us"' in first:
            return 95 if '"kind"' in first else 80
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options
                ) -> Iterator[Record | Malformed]:
        return jsonl_records(peek(fp)[1])

    def normalize(self, raw: bytes, options: Options) -> Batch:
        event = loads(raw)
        if not isinstance(event, dict) or not isinstance(event.get("did"), str):
            raise NormalizeError("not a Jetstream event (no did)")
        kind = event.get("kind")
        if kind == "commit":
            return _commit(event, raw)
        if kind == "identity":
            identity = event.get("identity")
            handle = identity.get("handle") if isinstance(identity, dict) else None
            if isinstance(handle, str) and handle:
                return Batch(authors=[Author(id=author_id(event["did"]), source=SOURCE,
                                             native_id=event["did"], handle=handle)])
            return Batch()
        if kind == "account":
            return Batch()
        raise NormalizeError(f"unknown Jetstream event kind {kind!r}")


FORMATS: list[Format] = [Jetstream()]
