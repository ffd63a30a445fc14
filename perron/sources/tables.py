"""CSV tables: twarc-csv (Twitter API v2), 4CAT exports, and any CSV with a column mapping.

Rows are streamed with :mod:`csv` over a text view of the binary input (constant memory). The
delimiter (``,`` ``;`` or tab) is read from the header line; the encoding is UTF-8 (with or
without BOM), or Windows-1252 when the first 64 KiB are not UTF-8 (French spreadsheets saved by
Excel). A record is the JSON of the row (``{"column": "value", …}``) and its location is
``row N, line L`` (data rows count from 1; ``L`` is the file line where the row starts). A row
whose number of fields differs from the header's is reported as malformed, never guessed at.

- **twarc-csv**: the columns twarc-csv writes for API v2 tweets. Source ``twitter`` with the
  same ids as the JSON importers (``twitter:<id>``, authors ``twitter:<author_id>``) so a tweet
  read from CSV and from JSON is one post. twarc-csv writes line breaks in text as ``\\n``: they
  are turned back into line breaks. A retweet row carries the retweeted tweet's text and
  metrics (twarc-csv merges them), so its metrics are left unknown.
- **4cat**: 4CAT's CSV exports (core columns ``id, thread_id, author, body, timestamp``; the
  rest varies by data source). Source: a ``source``/``datasource`` column holding a plain name,
  else ``4cat``. A row whose ``thread_id`` differs from its ``id`` is a reply in that thread: to
  the post a leading ``>>123`` names (imageboards), else to the thread's first post.
- **csv**: any CSV, read through ``--map perron_field=column,…`` (see :data:`MAPPABLE`). The
  posts' source is ``csv`` unless a ``source`` column is mapped.

Dates may be ISO 8601, RFC 2822, ``YYYY-MM-DD HH:MM:SS`` or unix seconds (milliseconds when the
number is too large to be seconds); a date without a time zone is UTC.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

from ..errors import NormalizeError, SourceError
from ..models import Author, Batch, Geo, Media, Metrics, Post, post_id
from ..text import extract_hashtags, extract_mentions, extract_urls
from ._twitter_common import (
    PrefixedReader,
    best_variant,
    clean_lang,
    default_avatar,
    media_from_key,
    media_kind,
    opt_tid,
    tid,
    tweet_url,
    unescape,
)
from .base import Format, Malformed, Options, Record, dumps, head_text, loads

HEAD_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t")
_PANDAS_FLOAT = re.compile(r"^(\d+)\.0+$")
_GROUPED = re.compile(r"^\d{1,3}(?:[ ,\u00a0\u202f]\d{3})+$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_QUOTE_LINK = re.compile(r"^\s*>>(\d+)")
_ANONYMOUS = frozenset({"anonymous", "[deleted]", "[removed]", "deleted", ""})

Row = dict[str, str]


# --- reading ----------------------------------------------------------------------------------


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_of(head: bytes) -> list[str]:
    """The column names of a CSV whose first bytes are ``head`` (``[]`` if it is not a CSV)."""
    text = head_text(head)
    if not text or text[0] in "<{[":
        return []
    line = text.split("\n", 1)[0].rstrip("\r")
    try:
        return next(csv.reader([line], delimiter=_delimiter(line)), [])
    except csv.Error:
        return []


def _encoding(head: bytes) -> str:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut by the end of the head
            return "cp1252"
    return "utf-8-sig"


def csv_rows(fp: BinaryIO) -> Iterator[tuple[list[str], str, Row] | Malformed]:
    """``(header, location, row)`` for every data row, in constant memory."""
    head = fp.read(HEAD_BYTES)
    encoding = _encoding(head)
    stream = io.BufferedReader(PrefixedReader(head, fp))  # type: ignore[arg-type]
    text = io.TextIOWrapper(stream, encoding=encoding, newline="",
                            errors="replace" if encoding == "cp1252" else "strict")
    first = head.decode(encoding, "replace").lstrip("\ufeff").split("\n", 1)[0]
    reader = csv.reader(text, delimiter=_delimiter(first))
    n = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        width = len(header)
        while True:
            start = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                return
            if not fields:
                continue  # blank line
            n += 1
            location = f"row {n}, line {start}"
            if len(fields) > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]  # trailing delimiters
            if len(fields) != width:
                yield Malformed(location, f"{len(fields)} fields where the header has {width} "
                                "columns", _joined(fields, first))
                continue
            yield header, location, dict(zip(header, fields, strict=True))
    except UnicodeDecodeError:
        yield Malformed(f"after row {n}", "the file is not valid UTF-8 after this row: re-save it "
                        "as UTF-8 and import it again", b"")
    except csv.Error as exc:
        yield Malformed(f"after row {n} (line {reader.line_num})",
                        f"invalid CSV, the rest of the file cannot be read: {exc}", b"")
    finally:
        text.detach()  # leave the caller's stream open


def _joined(fields: list[str], first_line: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=_delimiter(first_line), lineterminator="").writerow(fields)
    return out.getvalue().encode()


def _row(raw: bytes) -> Row:
    row = loads(raw)
    if not isinstance(row, dict) or not all(isinstance(v, str) for v in row.values()):
        raise NormalizeError("not a CSV row (expected a JSON object of column → text)")
    return row


# --- values -----------------------------------------------------------------------------------


def parse_when(value: str) -> datetime:
    """ISO 8601, RFC 2822, ``YYYY-MM-DD HH:MM:SS`` or unix seconds/milliseconds → aware UTC.

    Raises ValueError."""
    v = value.strip()
    if _NUMBER.match(v):
        x = float(v)
        return datetime.fromtimestamp(x / 1000 if abs(x) >= 1e11 else x, UTC)
    for suffix in (" UTC", " GMT", " Z"):
        if v.endswith(suffix):
            v = v[: -len(suffix)] + "+00:00"
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        try:
            dt = parsedate_to_datetime(v)
        except (TypeError, ValueError, IndexError):
            raise ValueError(value) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _date(row: Row, column: str) -> datetime | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    try:
        return parse_when(value)
    except (ValueError, OverflowError, OSError):
        raise NormalizeError(f"column {column!r}: unreadable date {value!r}",
                             hint="dates may be ISO 8601 (2024-03-05T08:30:00Z), RFC 2822, "
                                  "'YYYY-MM-DD HH:MM:SS' or unix seconds") from None


def count(value: str | None) -> int | None:
    """A count as spreadsheets and pandas write it (``12``, ``12.0``, ``1 234``); else None."""
    v = (value or "").strip()
    if v.isdigit():
        return int(v)
    m = _PANDAS_FLOAT.match(v)
    if m:
        return int(m.group(1))
    if _GROUPED.match(v):
        return int(re.sub(r"\D", "", v))
    return None


def _bool(value: str | None) -> bool | None:
    v = (value or "").strip().lower()
    return True if v in ("true", "1", "yes") else False if v in ("false", "0", "no") else None


def _json_list(value: str | None) -> list[Any]:
    v = (value or "").strip()
    if not v.startswith("["):
        return []
    try:
        got = json.loads(v)
    except ValueError:
        return []
    return got if isinstance(got, list) else []


def _split_list(value: str | None) -> list[str]:
    """``"a,b, c"`` or a JSON list → ``["a", "b", "c"]``."""
    v = (value or "").strip()
    if v.startswith("["):
        return [str(x).strip() for x in _json_list(v) if str(x).strip()]
    return [x.strip() for x in v.split(",") if x.strip()]


def _metrics(**values: str | None) -> Metrics | None:
    m = Metrics(**{k: count(v) for k, v in values.items()})
    return None if m == Metrics() else m


def _first(row: Row, *columns: str) -> str | None:
    for c in columns:
        v = row.get(c, "").strip()
        if v:
            return v
    return None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _lang(value: str | None) -> str | None:
    v = (value or "").strip().lower()
    m = re.match(r"^([a-z]{2,3})(?:[-_][a-z0-9]+)*$", v.split(",")[0].strip())
    return m.group(1) if m else None


# --- twarc-csv --------------------------------------------------------------------------------


def _twarc_text(value: str) -> str:
    v = value
    if len(v) >= 2 and v[0] == v[-1] == '"':  # written with --json-encode-text
        try:
            decoded = json.loads(v)
            if isinstance(decoded, str):
                return unescape(decoded)
        except ValueError:
            pass
    return unescape(v.replace("\\n", "\n"))


def _entity_names(value: str | None, key: str, sigil: str) -> list[str]:
    out = []
    for e in _json_list(value):
        name = e.get(key) if isinstance(e, dict) else e
        if isinstance(name, str) and name.strip():
            out.append(name.strip().removeprefix(sigil))
    return _unique(out)


def _twarc_urls(value: str | None) -> list[str]:
    out = []
    for e in _json_list(value):
        url = (e.get("unwound_url") or e.get("expanded_url") or e.get("url")
               if isinstance(e, dict) else e)
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            out.append(url)
    return _unique(out)


def _twarc_media(row: Row) -> list[Media]:
    """``attachments.media`` objects in ``attachments.media_keys`` order; a key whose object is
    missing still tells the media's kind (as in the JSON importer)."""
    objects = {str(m.get("media_key")): m for m in _json_list(row.get("attachments.media"))
               if isinstance(m, dict) and m.get("media_key")}
    keys = [str(k) for k in _json_list(row.get("attachments.media_keys"))] or list(objects)
    out = []
    for key in keys:
        m = objects.get(key)
        if m is None:
            out.append(media_from_key(key, None))
            continue
        url = m.get("url") or best_variant(m.get("variants")) or m.get("preview_image_url")
        out.append(Media(kind=media_kind(m.get("type")), url=url, alt=m.get("alt_text") or None))
    return out


def _twarc_geo(row: Row) -> Geo | None:
    point = _json_list(row.get("geo.coordinates.coordinates"))
    bbox = _json_list(row.get("geo.geo.bbox"))
    geo = Geo(
        lon=float(point[0]) if len(point) == 2 else None,
        lat=float(point[1]) if len(point) == 2 else None,
        place_id=_first(row, "geo.place_id", "geo.id"),
        place_name=_first(row, "geo.full_name", "geo.name"),
        country_code=_first(row, "geo.country_code"),
        bbox=tuple(float(x) for x in bbox) if len(bbox) == 4 else None,  # type: ignore[arg-type]
    )
    return None if geo == Geo() else geo


def _references(row: Row) -> dict[str, str]:
    """``{"replied_to": id, "quoted": id, "retweeted": id}`` from either twarc-csv layout."""
    refs = {kind: row.get(f"referenced_tweets.{kind}.id", "").strip()
            for kind in ("replied_to", "quoted", "retweeted")}
    for ref in _json_list(row.get("referenced_tweets")):  # older twarc-csv: one JSON column
        if isinstance(ref, dict) and ref.get("type") in refs and not refs[ref["type"]]:
            refs[ref["type"]] = str(ref.get("id") or "")
    return {k: v for k, v in refs.items() if v}


class TwarcCsvFormat(Format):
    name = "twarc-csv"
    title = "Tweets as CSV written by twarc-csv (Twitter API v2)"
    examples = "tweets.csv (from `twarc2 csv tweets.jsonl tweets.csv`)"

    def sniff(self, head: bytes, filename: str) -> int:
        cols = set(header_of(head))
        if {"id", "author_id", "text"} <= cols and any(
                c.startswith(("referenced_tweets", "public_metrics.", "author.")) for c in cols):
            return 90
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options) -> Iterator[
            Record | Malformed]:
        for got in csv_rows(fp):
            yield got if isinstance(got, Malformed) else Record(got[1], dumps(got[2]))

    def normalize(self, raw: bytes, options: Options) -> Batch:
        row = _row(raw)
        native = row.get("id", "").strip()
        if not native:
            raise NormalizeError("column 'id' is empty")
        if not native.isdigit():
            raise NormalizeError(f"column 'id': {native!r} is not a tweet id")
        if "text" not in row:
            raise NormalizeError("no 'text' column", hint=f"columns: {', '.join(row)}")
        refs = _references(row)
        reply_to_user = _first(row, "in_reply_to_user_id")
        kind = ("repost" if "retweeted" in refs else "reply" if "replied_to" in refs
                or reply_to_user else "quote" if "quoted" in refs else "post")
        pid = tid(native)
        conversation = opt_tid(_first(row, "conversation_id"))
        author_native = _first(row, "author_id", "author.id")
        handle = _first(row, "author.username")
        edits = [str(e) for e in _json_list(row.get("edit_history_tweet_ids"))]
        text = _twarc_text(row["text"])
        post = Post(
            id=pid, source="twitter", native_id=native, text=text,
            created_at=_date(row, "created_at"), url=tweet_url(native, handle),
            author_id=opt_tid(author_native), author_handle=handle,
            lang=clean_lang(row.get("lang")),
            kind=kind,  # type: ignore[arg-type]
            parent_id=opt_tid(refs.get("replied_to")),
            root_id=conversation,
            in_reply_to_author_id=opt_tid(reply_to_user) if kind != "repost" else None,
            quoted_id=opt_tid(refs.get("quoted")) if kind != "repost" else None,
            reposted_id=opt_tid(refs.get("retweeted")),
            mentions=_entity_names(row.get("entities.mentions"), "username", "@"),
            hashtags=_entity_names(row.get("entities.hashtags"), "tag", "#"),
            urls=_twarc_urls(row.get("entities.urls")),
            media=_twarc_media(row), geo=_twarc_geo(row),
            metrics=None if kind == "repost" else _metrics(
                reposts=row.get("public_metrics.retweet_count"),
                replies=row.get("public_metrics.reply_count"),
                likes=row.get("public_metrics.like_count"),
                quotes=row.get("public_metrics.quote_count"),
                views=row.get("public_metrics.impression_count")),
            edit_of=tid(edits[0]) if edits and edits[0] != native else None,
            withheld_in=_split_list(row.get("withheld.country_codes")),
            sensitive=_bool(row.get("possibly_sensitive")), raw=raw)
        authors = []
        if author_native and handle:
            avatar = _first(row, "author.profile_image_url")
            authors.append(Author(
                id=tid(author_native), source="twitter", native_id=author_native, handle=handle,
                name=_first(row, "author.name"),
                bio=_twarc_text(row["author.description"]) if row.get("author.description")
                else None,
                url=_first(row, "author.url"), location=_first(row, "author.location"),
                created_at=_date(row, "author.created_at"),
                followers=count(row.get("author.public_metrics.followers_count")),
                following=count(row.get("author.public_metrics.following_count")),
                posts=count(row.get("author.public_metrics.tweet_count")),
                listed=count(row.get("author.public_metrics.listed_count")),
                verified=_bool(row.get("author.verified")),
                protected=_bool(row.get("author.protected")),
                avatar_url=avatar, default_avatar=default_avatar(avatar)))
        return Batch(posts=[post], authors=authors)


# --- 4cat -------------------------------------------------------------------------------------


def _source_name(value: str | None, default: str) -> str:
    v = (value or "").strip().lower()
    return v if _SOURCE_NAME.match(v) else default


def _text_entities(text: str, row: Row, tags_cols: tuple[str, ...],
                   mention_cols: tuple[str, ...], url_cols: tuple[str, ...]
                   ) -> tuple[list[str], list[str], list[str]]:
    """Hashtags, mentions and URLs from their columns when the export has them, else the text."""
    def pick(cols: tuple[str, ...], sigil: str) -> list[str] | None:
        for c in cols:
            if row.get(c, "").strip():
                return _unique([v.removeprefix(sigil) for v in _split_list(row[c])])
        return None

    tags = pick(tags_cols, "#")
    mentions = pick(mention_cols, "@")
    urls = pick(url_cols, "")
    return (tags if tags is not None else _unique(extract_hashtags(text)),
            mentions if mentions is not None else _unique(extract_mentions(text)),
            urls if urls is not None else _unique(extract_urls(text)))


class FourCatFormat(Format):
    name = "4cat"
    title = "4CAT dataset exported as CSV"
    examples = "4cat-dataset.csv"

    def sniff(self, head: bytes, filename: str) -> int:
        cols = set(header_of(head))
        if {"id", "thread_id", "body"} <= cols and cols & {"timestamp", "unix_timestamp"}:
            return 80
        if {"thread_id", "body", "author"} <= cols:
            return 60
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options) -> Iterator[
            Record | Malformed]:
        for got in csv_rows(fp):
            yield got if isinstance(got, Malformed) else Record(got[1], dumps(got[2]))

    def normalize(self, raw: bytes, options: Options) -> Batch:
        row = _row(raw)
        for column in ("id", "body"):
            if column not in row:
                raise NormalizeError(f"no {column!r} column: not a 4CAT export",
                                     hint=f"columns: {', '.join(row)}")
        native = row["id"].strip()
        if not native:
            raise NormalizeError("column 'id' is empty")
        source = _source_name(_first(row, "source", "datasource"), "4cat")
        board = _first(row, "board")
        scope = f"{board}/" if board else ""  # 4chan-like ids are unique per board only
        pid = post_id(source, scope + native)
        thread = _first(row, "thread_id")
        root = post_id(source, scope + thread) if thread and thread != native else None
        quoted = _QUOTE_LINK.match(row["body"])  # imageboards: a reply starts with >>123
        parent_native = (_first(row, "parent_id", "reply_to", "in_reply_to")
                         or (quoted.group(1) if quoted and root else None))
        parent = post_id(source, scope + parent_native) if parent_native else root
        if "unix_timestamp" in row and row["unix_timestamp"].strip():
            created = _date(row, "unix_timestamp")
        elif "timestamp" in row:
            created = _date(row, "timestamp")
        else:
            created = _date(row, "created_at")
        text = row["body"]
        tags, mentions, urls = _text_entities(text, row, ("hashtags", "tags"),
                                              ("mentions", "usertags"), ("links", "urls"))
        handle = _first(row, "author", "author_username")
        author_native = _first(row, "author_id") or handle
        authors = []
        author_id = None
        if author_native and (handle or "").lower() not in _ANONYMOUS:
            author_id = post_id(source, author_native)
            authors.append(Author(id=author_id, source=source, native_id=author_native,
                                  handle=handle, name=_first(row, "author_fullname", "author_name",
                                                             "author_display_name")))
        image = _first(row, "image_url", "thumbnail_url")
        post = Post(
            id=pid, source=source, native_id=scope + native, text=text, created_at=created,
            url=_first(row, "url", "link", "permalink"), title=_first(row, "subject", "title"),
            author_id=author_id, author_handle=handle,
            lang=_lang(_first(row, "language", "lang", "languages")),
            kind="reply" if parent else "post", parent_id=parent, root_id=root,
            mentions=mentions, hashtags=tags, urls=urls,
            media=[Media(kind="photo", url=image)] if image else [],
            metrics=_metrics(likes=_first(row, "like_count", "likes", "num_likes"),
                             reposts=_first(row, "repost_count", "retweet_count", "shares",
                                            "num_shares"),
                             replies=_first(row, "reply_count", "num_replies", "num_comments",
                                            "comments"),
                             quotes=_first(row, "quote_count"),
                             views=_first(row, "view_count", "views", "num_views"),
                             score=_first(row, "score")),
            raw=raw)
        return Batch(posts=[post], authors=authors)


# --- csv with a mapping -----------------------------------------------------------------------

#: perron fields a ``--map`` may fill, and what each means
MAPPABLE = {
    "id": "the post's id in its source (required)",
    "text": "the post's text (required)",
    "title": "a title or subject",
    "author": "the author's handle",
    "author_id": "the author's id in the source (else the handle identifies the author)",
    "author_name": "the author's display name",
    "created_at": "date: ISO 8601, RFC 2822, 'YYYY-MM-DD HH:MM:SS' or unix seconds",
    "lang": "language code (fr, en, fr-CA…)",
    "url": "link to the post",
    "parent_id": "id of the post this one replies to",
    "source": "column naming the source (mastodon, bluesky…); else the source is 'csv'",
    "likes": "count", "reposts": "count", "replies": "count", "quotes": "count", "views": "count",
}
_ID_GUESS = ("id", "post_id", "tweet_id", "status_id", "uid", "identifiant")
_TEXT_GUESS = ("text", "body", "content", "message", "texte", "contenu", "full_text", "tweet")


def _example_map(columns: list[str]) -> str:
    lower = {c.lower(): c for c in columns}
    id_col = next((lower[g] for g in _ID_GUESS if g in lower), columns[0] if columns else "…")
    text_col = next((lower[g] for g in _TEXT_GUESS if g in lower),
                    columns[1] if len(columns) > 1 else "…")
    return f"--format csv --map id={id_col},text={text_col}"


def _mapping_problem(mapping: dict[str, str], columns: list[str]) -> tuple[str, str] | None:
    """(message, hint) when the mapping cannot read a table with these columns."""
    cols = ", ".join(columns)
    if not mapping:
        return ("this CSV needs a column mapping (--map)",
                f"columns: {cols}. Example: {_example_map(columns)} (fields: "
                f"{', '.join(MAPPABLE)})")
    unknown = sorted(set(mapping) - set(MAPPABLE))
    if unknown:
        return (f"unknown field(s) in --map: {', '.join(unknown)}",
                f"fields: {', '.join(MAPPABLE)}")
    missing = [f for f in ("id", "text") if not mapping.get(f)]
    if missing:
        return (f"--map must name the column for {' and '.join(missing)}",
                f"columns: {cols}. Example: {_example_map(columns)}")
    absent = [f"{f}={c}" for f, c in mapping.items() if c not in columns]
    if absent:
        return (f"--map names column(s) this CSV does not have: {', '.join(absent)}",
                f"columns: {cols}")
    return None


class MappedCsvFormat(Format):
    name = "csv"
    title = "Any CSV/TSV, with a column mapping (--map id=…,text=…)"
    examples = "posts.csv --map id=post_id,text=body,created_at=date"

    def sniff(self, head: bytes, filename: str) -> int:
        if len(header_of(head)) >= 2 or filename.lower().endswith((".csv", ".tsv")):
            return 5  # any table: every specific format wins over this one
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options) -> Iterator[
            Record | Malformed]:
        mapping = _clean_mapping(options.mapping)
        checked = False
        for got in csv_rows(fp):
            if isinstance(got, Malformed):
                yield got
                continue
            header, location, row = got
            if not checked:  # one clear error instead of one per row
                problem = _mapping_problem(mapping, header)
                if problem:
                    raise SourceError(f"{filename}: {problem[0]}", hint=problem[1])
                checked = True
            yield Record(location, dumps(row))

    def normalize(self, raw: bytes, options: Options) -> Batch:
        row = _row(raw)
        mapping = _clean_mapping(options.mapping)
        problem = _mapping_problem(mapping, list(row))
        if problem:
            raise NormalizeError(problem[0], hint=problem[1])

        def get(field: str) -> str | None:
            column = mapping.get(field)
            return row[column].strip() or None if column else None

        native = get("id")
        if not native:
            raise NormalizeError(f"column {mapping['id']!r} (id) is empty")
        source = "csv"
        if mapping.get("source"):
            value = (get("source") or "").lower()
            if not _SOURCE_NAME.match(value):
                raise NormalizeError(f"column {mapping['source']!r} (source): {value!r} is not a "
                                     "source name", hint="a source name is a short lowercase word "
                                     "such as mastodon, bluesky or csv")
            source = value
        text = row[mapping["text"]]
        created = _date(row, mapping["created_at"]) if mapping.get("created_at") else None
        handle = (get("author") or "").removeprefix("@") or None
        author_native = get("author_id") or handle
        authors = []
        if author_native:
            authors.append(Author(id=post_id(source, author_native), source=source,
                                  native_id=author_native, handle=handle,
                                  name=get("author_name")))
        parent = get("parent_id")
        post = Post(
            id=post_id(source, native), source=source, native_id=native, text=text,
            created_at=created, url=get("url"), title=get("title"),
            author_id=post_id(source, author_native) if author_native else None,
            author_handle=handle, lang=_lang(get("lang")),
            kind="reply" if parent else "post",
            parent_id=post_id(source, parent) if parent else None,
            hashtags=_unique(extract_hashtags(text)), mentions=_unique(extract_mentions(text)),
            urls=_unique(extract_urls(text)),
            metrics=_metrics(likes=get("likes"), reposts=get("reposts"), replies=get("replies"),
                             quotes=get("quotes"), views=get("views")),
            raw=raw)
        return Batch(posts=[post], authors=authors)


def _clean_mapping(mapping: dict[str, str]) -> dict[str, str]:
    return {k.strip(): v.strip() for k, v in mapping.items() if k.strip()}


FORMATS: list[Format] = [TwarcCsvFormat(), FourCatFormat(), MappedCsvFormat()]
