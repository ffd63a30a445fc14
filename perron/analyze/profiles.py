"""Follower / following lists with profiles: read them from the formats people have.

Each input item is one account; it is normalized into an :class:`AccountProfile` where *unknown
is* ``None``, *never* ``0`` (a Bluesky profile has no favourites count: ``favourites`` stays
``None``, it is not "zero likes").

Formats (``fmt=``):

- ``twitter-v1``: API v1.1 user objects — a JSON array, JSON lines, or pages ``{"users": [...]}``
  (``followers/list``, ``friends/list``, ``users/lookup``);
- ``twitter-v2``: API v2 user objects — twarc2 pages (``{"data": [users], ...}``, one per line)
  or one user per line; ``public_metrics`` carries the counts;
- ``bluesky``: ``app.bsky.actor.getProfile`` / ``getProfiles`` / ``graph.getFollowers`` /
  ``graph.getFollows`` responses, or profile views one per line;
- ``mastodon``: Mastodon ``Account`` entities (``/api/v1/accounts/:id/followers`` pages);
- ``csv``: a CSV with Twitter v1.1 user columns (``id, screen_name, followers_count,
  friends_count, statuses_count, created_at, default_profile_image…``, as in the Cresci 2015
  data); twarc-csv style ``public_metrics.followers_count`` columns are accepted too.

Items that cannot be read are returned as :class:`Quarantined` (where + why); the rest is read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ijson
import msgspec

from ..errors import NormalizeError, SourceError
from ..models import Author
from ..sources.detect import open_input
from ..sources.html_text import html_to_text

FORMATS = ("twitter-v1", "twitter-v2", "bluesky", "mastodon", "csv")

JSONObject = dict[str, Any]


@dataclass
class AccountProfile:
    """One account of a follower/following list. ``None`` means unknown, never zero."""

    id: str  # "<source>:<native id>": twitter:123, bluesky:did:plc:…, mastodon:https://…
    source: str  # twitter, bluesky, mastodon
    screen_name: str | None = None  # handle, without "@"
    name: str | None = None
    bio: str | None = None
    url: str | None = None
    location: str | None = None
    created_at: datetime | None = None
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    favourites: int | None = None
    listed: int | None = None
    default_profile: bool | None = None
    default_avatar: bool | None = None
    verified: bool | None = None
    protected: bool | None = None
    bot: bool | None = None  # as declared by the platform (Mastodon "bot", Bluesky label)
    lang: str | None = None
    observed_at: datetime | None = None  # when the profile was collected, if the input says


@dataclass(frozen=True)
class Quarantined:
    """An item that could not be read: ``location`` (``row 12``, ``line 3, item 5``) + why."""

    location: str
    reason: str


# --------------------------------------------------------------------------- small converters

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_V1_DATE = re.compile(r"^\w{3} (\w{3}) (\d{1,2}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}) (\d{4})$")
_EMPTY = (None, "", "NULL", "null", "None")


def parse_date(value: object) -> datetime | None:
    """Twitter v1.1 (``Thu Sep 08 13:20:35 +0000 2011``), ISO 8601, or ``2015-02-14 10:54:49``
    (taken as UTC) → aware UTC datetime. Empty → None; anything else raises NormalizeError."""
    if value in _EMPTY:
        return None
    if not isinstance(value, str):
        raise NormalizeError(f"unreadable date {value!r}")
    text = value.strip()
    m = _V1_DATE.match(text)
    if m:
        mon, day, hh, mi, ss, off, year = m.groups()
        if mon not in _MONTHS:
            raise NormalizeError(f"unreadable date {value!r}")
        dt = datetime.strptime(f"{year}-{_MONTHS[mon]:02d}-{int(day):02d} {hh}:{mi}:{ss} {off}",
                               "%Y-%m-%d %H:%M:%S %z")
        return dt.astimezone(UTC)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise NormalizeError(f"unreadable date {value!r} (expected 'Thu Sep 08 13:20:35 +0000 "
                             "2011' or ISO 8601)") from None
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).astimezone(UTC)


def _int(value: object, field: str) -> int | None:
    if value in _EMPTY:
        return None
    if isinstance(value, bool):
        raise NormalizeError(f"{field} is not a count: {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        n = int(value.strip())
    else:
        raise NormalizeError(f"{field} is not a count: {value!r}")
    if n < 0:
        raise NormalizeError(f"{field} is negative: {n}")
    return n


def _bool(value: object, *, empty_is_false: bool = False) -> bool | None:
    """JSON booleans, or CSV ``1``/``0``/``true``/``false``. In a CSV whose header has the column,
    an empty cell is False (the v1.1 CSV convention: booleans written as ``"1"`` or nothing)."""
    if isinstance(value, bool):
        return value
    if value in _EMPTY:
        return False if empty_is_false and value != "NULL" else None
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y"):
        return True
    if text in ("0", "false", "f", "no", "n"):
        return False
    return None


def _str(value: object) -> str | None:
    if value in _EMPTY:
        return None
    text = str(value).strip()
    return text or None


def _native_id(value: object, field: str = "id") -> str:
    if isinstance(value, bool) or value in _EMPTY:
        raise NormalizeError(f"no account {field}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise NormalizeError(f"no account {field}")
    return text


def _default_image(url: str | None) -> bool | None:
    if url is None:
        return None
    return "default_profile_images" in url or "default_profile_" in url.rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- per-format parsers

def from_twitter_v1(obj: JSONObject) -> AccountProfile:
    native = _native_id(obj.get("id_str") or obj.get("id"))
    image = _str(obj.get("profile_image_url_https") or obj.get("profile_image_url"))
    default_avatar = _bool(obj.get("default_profile_image"))
    if default_avatar is None:
        default_avatar = _default_image(image)
    url = _str(obj.get("url"))
    entities = obj.get("entities") or {}
    for u in ((entities.get("url") or {}).get("urls") or []) if isinstance(entities, dict) else []:
        url = _str(u.get("expanded_url")) or url
    return AccountProfile(
        id=f"twitter:{native}", source="twitter", screen_name=_str(obj.get("screen_name")),
        name=_str(obj.get("name")), bio=_str(obj.get("description")), url=url,
        location=_str(obj.get("location")), created_at=parse_date(obj.get("created_at")),
        followers=_int(obj.get("followers_count"), "followers_count"),
        following=_int(obj.get("friends_count"), "friends_count"),
        posts=_int(obj.get("statuses_count"), "statuses_count"),
        favourites=_int(obj.get("favourites_count"), "favourites_count"),
        listed=_int(obj.get("listed_count"), "listed_count"),
        default_profile=_bool(obj.get("default_profile")), default_avatar=default_avatar,
        verified=_bool(obj.get("verified")), protected=_bool(obj.get("protected")),
        lang=_str(obj.get("lang")))


def from_twitter_v2(obj: JSONObject) -> AccountProfile:
    native = _native_id(obj.get("id"))
    m = obj.get("public_metrics") or {}
    image = _str(obj.get("profile_image_url"))
    url = _str(obj.get("url"))
    ent = ((obj.get("entities") or {}).get("url") or {}).get("urls") or []
    for u in ent:
        url = _str(u.get("expanded_url")) or url
    return AccountProfile(
        id=f"twitter:{native}", source="twitter", screen_name=_str(obj.get("username")),
        name=_str(obj.get("name")), bio=_str(obj.get("description")), url=url,
        location=_str(obj.get("location")), created_at=parse_date(obj.get("created_at")),
        followers=_int(m.get("followers_count"), "followers_count"),
        following=_int(m.get("following_count"), "following_count"),
        posts=_int(m.get("tweet_count"), "tweet_count"),
        favourites=_int(m.get("like_count"), "like_count"),
        listed=_int(m.get("listed_count"), "listed_count"),
        default_avatar=_default_image(image), verified=_bool(obj.get("verified")),
        protected=_bool(obj.get("protected")))


def from_bluesky(obj: JSONObject) -> AccountProfile:
    did = _native_id(obj.get("did"), "did")
    labels = obj.get("labels") or []
    bot = any(isinstance(lab, dict) and lab.get("val") == "bot" for lab in labels) or None
    return AccountProfile(
        id=f"bluesky:{did}", source="bluesky", screen_name=_str(obj.get("handle")),
        name=_str(obj.get("displayName")), bio=_str(obj.get("description")),
        created_at=parse_date(obj.get("createdAt")),
        followers=_int(obj.get("followersCount"), "followersCount"),
        following=_int(obj.get("followsCount"), "followsCount"),
        posts=_int(obj.get("postsCount"), "postsCount"),
        # a profile view omits "avatar" when none is set: absence means the default avatar
        default_avatar=_str(obj.get("avatar")) is None, bot=bot,
        observed_at=None)


def from_mastodon(obj: JSONObject) -> AccountProfile:
    acct = _native_id(obj.get("acct"), "acct")
    url = _str(obj.get("url"))  # the profile page; the person's own links are in "fields"
    link = next((m.group(0) for f in (obj.get("fields") or []) if isinstance(f, dict)
                 for m in [_HREF.search(str(f.get("value") or ""))] if m), None)
    avatar = _str(obj.get("avatar")) or _str(obj.get("avatar_static"))
    bio = html_to_text(obj.get("note")) if obj.get("note") else None
    return AccountProfile(
        id=f"mastodon:{url or acct}", source="mastodon", screen_name=acct,
        name=_str(obj.get("display_name")), bio=_str(bio), url=link,
        created_at=parse_date(obj.get("created_at")),
        followers=_int(obj.get("followers_count"), "followers_count"),
        following=_int(obj.get("following_count"), "following_count"),
        posts=_int(obj.get("statuses_count"), "statuses_count"),
        default_avatar=None if avatar is None else avatar.endswith("/missing.png"),
        protected=_bool(obj.get("locked")), bot=_bool(obj.get("bot")))


_HREF = re.compile(r"https?://[^\s\"'<>]+")


_PARSERS: dict[str, Callable[[JSONObject], AccountProfile]] = {
    "twitter-v1": from_twitter_v1, "twitter-v2": from_twitter_v2,
    "bluesky": from_bluesky, "mastodon": from_mastodon,
}


def item_format(obj: object) -> str | None:
    """Which JSON user format one object is, from its keys (None when it is no user object)."""
    if not isinstance(obj, dict):
        return None
    if "did" in obj and "handle" in obj:
        return "bluesky"
    if "acct" in obj:
        return "mastodon"
    if "screen_name" in obj and ("friends_count" in obj or "followers_count" in obj
                                 or "id" in obj or "id_str" in obj):
        return "twitter-v1"
    if "username" in obj and "id" in obj:
        return "twitter-v2"
    return None


def from_author(author: Author, observed_at: datetime | None = None) -> AccountProfile:
    """An :class:`~perron.models.Author` from the store as a profile to audit (no favourites:
    the normalized schema does not keep them)."""
    return AccountProfile(
        id=author.id, source=author.source, screen_name=author.handle, name=author.name,
        bio=author.bio, url=author.url, location=author.location, created_at=author.created_at,
        followers=author.followers, following=author.following, posts=author.posts,
        listed=author.listed, default_profile=author.default_profile,
        default_avatar=author.default_avatar, verified=author.verified,
        protected=author.protected, bot=author.bot, observed_at=observed_at)


# --------------------------------------------------------------------------- CSV

#: our field → accepted CSV column names, first match wins
_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id_str", "id", "user_id", "author_id", "did"),
    "screen_name": ("screen_name", "username", "handle", "acct"),
    "name": ("name", "display_name", "displayName"),
    "bio": ("description", "bio", "note"),
    "url": ("url",),
    "location": ("location",),
    "created_at": ("created_at", "createdAt"),
    "followers": ("followers_count", "public_metrics.followers_count", "followersCount"),
    "following": ("friends_count", "following_count", "public_metrics.following_count",
                  "followsCount", "follows_count"),
    "posts": ("statuses_count", "public_metrics.tweet_count", "tweet_count", "postsCount",
              "posts_count"),
    "favourites": ("favourites_count", "public_metrics.like_count", "like_count"),
    "listed": ("listed_count", "public_metrics.listed_count"),
    "default_profile": ("default_profile",),
    "default_avatar": ("default_profile_image",),
    "image": ("profile_image_url_https", "profile_image_url", "avatar"),
    "verified": ("verified",),
    "protected": ("protected",),
    "lang": ("lang",),
    "observed_at": ("updated", "collected_at", "__twarc.retrieved_at"),
}


def _csv_mapping(header: list[str]) -> dict[str, str]:
    present = set(header)
    out = {}
    for ours, names in _CSV_COLUMNS.items():
        for name in names:
            if name in present:
                out[ours] = name
                break
    return out


def from_csv_row(row: dict[str, str], mapping: dict[str, str], source: str) -> AccountProfile:
    def get(field: str) -> str | None:
        col = mapping.get(field)
        return row.get(col) if col else None

    def flag(field: str) -> bool | None:
        return _bool(get(field), empty_is_false=True) if field in mapping else None

    native = _native_id(get("id"))
    default_avatar = flag("default_avatar")
    if "default_avatar" not in mapping:
        default_avatar = _default_image(_str(get("image")))
    prefix = "bluesky" if native.startswith("did:") else source
    return AccountProfile(
        id=f"{prefix}:{native}", source=prefix, screen_name=_str(get("screen_name")),
        name=_str(get("name")), bio=_str(get("bio")), url=_str(get("url")),
        location=_str(get("location")), created_at=parse_date(get("created_at")),
        followers=_int(get("followers"), "followers"),
        following=_int(get("following"), "following"),
        posts=_int(get("posts"), "posts"), favourites=_int(get("favourites"), "favourites"),
        listed=_int(get("listed"), "listed"), default_profile=flag("default_profile"),
        default_avatar=default_avatar, verified=flag("verified"), protected=flag("protected"),
        lang=_str(get("lang")), observed_at=parse_date(get("observed_at")))


def _read_csv(fp: io.BufferedIOBase, out: list[AccountProfile], bad: list[Quarantined],
              source: str) -> None:
    text = io.TextIOWrapper(fp, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.DictReader(text)
    header = reader.fieldnames or []
    mapping = _csv_mapping(list(header))
    if "id" not in mapping:
        raise SourceError("this CSV has no account id column",
                          hint="expected a column named one of: "
                               + ", ".join(_CSV_COLUMNS["id"]))
    for row in reader:
        where = f"row {reader.line_num}"  # physical line of the row's end (1 = header)
        if None in row:
            bad.append(Quarantined(where, f"{len(header) + len(row[None])} cells for "
                                          f"{len(header)} columns"))
            continue
        try:
            out.append(from_csv_row(row, mapping, source))
        except NormalizeError as exc:
            bad.append(Quarantined(where, exc.message))


# --------------------------------------------------------------------------- JSON containers

_LIST_KEYS = ("users", "data", "followers", "follows", "profiles", "accounts")


def _expand(value: object, where: str) -> Iterator[tuple[str, object]]:
    """A top-level JSON value → user items: pages are opened, a bare user object is one item."""
    if isinstance(value, list):
        for i, item in enumerate(value, 1):
            yield f"{where}item {i}", item
        return
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            items = value.get(key)
            if isinstance(items, list) and item_format(value) is None:
                for i, item in enumerate(items, 1):
                    yield f"{where}{key} item {i}", item
                return
    yield where.rstrip(", ") or "item 1", value


def _json_values(fp: io.BufferedIOBase, first: bytes) -> Iterator[tuple[str, object]]:
    """JSON lines, one JSON document, or a (possibly huge) JSON array streamed item by item."""
    decoder = msgspec.json.Decoder()
    if first == b"[":
        n = 0
        try:
            for n, obj in enumerate(ijson.items(fp, "item", use_float=True), 1):
                yield f"item {n}", obj
        except ijson.JSONError as exc:
            yield f"after item {n}", NormalizeError(f"invalid JSON, rest of file unread: {exc}")
        return
    data = fp.read()
    try:
        yield "", decoder.decode(data)
        return
    except msgspec.DecodeError:
        pass
    for lineno, line in enumerate(data.split(b"\n"), 1):
        line = line.strip()
        if not line:
            continue
        try:
            yield f"line {lineno}, ", decoder.decode(line)
        except msgspec.DecodeError as exc:
            yield f"line {lineno}", NormalizeError(f"invalid JSON: {exc}")


def read_profiles(path: str | Path, fmt: str = "auto",
                  ) -> tuple[list[AccountProfile], list[Quarantined]]:
    """Read a follower/following list. Returns (profiles, quarantined items).

    ``fmt="auto"`` decides from the content: CSV when it does not start with ``[``/``{``,
    otherwise the JSON user format of the first recognisable item; items of another format
    are quarantined. Raises :class:`SourceError` when the file cannot be read at all or no
    known format recognises it.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise SourceError(f"unknown profile format {fmt!r}",
                          hint=f"known formats: {', '.join(FORMATS)} (or auto)")
    path = Path(path)
    out: list[AccountProfile] = []
    bad: list[Quarantined] = []
    with open_input(path) as fp:
        buffered = io.BufferedReader(fp) if not hasattr(fp, "peek") else fp  # type: ignore[arg-type]
        head = buffered.peek(4096)[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")  # type: ignore[union-attr]
        if not head:
            raise SourceError(f"{path} is empty", hint="export the follower list again")
        first = head[:1]
        if fmt == "csv" or (fmt == "auto" and first not in (b"[", b"{")):
            _read_csv(buffered, out, bad, source="twitter")
            return out, bad
        chosen = None if fmt == "auto" else fmt
        # consume any BOM / leading space before handing the stream to the JSON readers
        while buffered.peek(1)[:1] in (b"\xef", b"\xbb", b"\xbf", b" ", b"\t", b"\r", b"\n"):
            buffered.read(1)
        for top_where, value in _json_values(buffered, first):
            if isinstance(value, NormalizeError):
                bad.append(Quarantined(top_where.rstrip(", "), value.message))
                continue
            for where, item in _expand(value, top_where):
                kind = item_format(item)
                if chosen is None and kind is not None:
                    chosen = kind
                if kind is None or kind != chosen:
                    what = "not a user object" if kind is None else f"a {kind} user, not {chosen}"
                    bad.append(Quarantined(where, what))
                    continue
                try:
                    out.append(_PARSERS[kind](item))  # type: ignore[arg-type]
                except NormalizeError as exc:
                    bad.append(Quarantined(where, exc.message))
                except (AttributeError, TypeError) as exc:
                    bad.append(Quarantined(where, f"unexpected structure: {exc}"))
    if not out and chosen is None:
        raise SourceError(f"cannot tell the profile format of {path}: no item is a known "
                          "user object",
                          hint=f"known formats: {', '.join(FORMATS)}. Expected Twitter v1.1 "
                               "users (screen_name), v2 users (username + id), Bluesky profiles "
                               "(did + handle), Mastodon accounts (acct) or a CSV with an id "
                               "column")
    return out, bad
