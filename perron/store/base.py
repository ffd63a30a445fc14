"""Store logic shared by SQLite and PostgreSQL. SQL is written with ``?`` placeholders and
translated by the dialect; user values always travel as parameters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import zstandard

from ..errors import NotFound, StoreError
from ..models import Author, Batch, Post, derived_interactions
from ..query import Matcher, parse
from ..query.doc import Doc, doc_of

_enc = msgspec.json.Encoder()
_zc = zstandard.ZstdCompressor(level=3)
_zd = zstandard.ZstdDecompressor()
CHUNK = 500

POST_COLUMNS = (
    "rowid", "id", "source", "native_id", "url", "author_id", "author_handle", "handle_key",
    "created_at", "title", "text", "lang", "lang_declared", "kind", "parent_id", "root_id",
    "quoted_id", "reposted_id", "has_link", "has_media", "has_geo", "lat", "lon", "likes",
    "reposts", "replies", "quotes", "data", "raw", "imported_at",
)
AUTHOR_COLUMNS = ("id", "source", "handle", "name", "followers", "following", "posts", "listed",
                  "created_at", "data")


@dataclass
class WriteCounts:
    imported: int = 0  # new posts
    present: int = 0  # posts already in the store (or deleted at the source)
    deleted: int = 0
    authors: int = 0
    interactions: int = 0

    def add(self, other: WriteCounts) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class QuarantineEntry:
    id: int
    file: str
    location: str
    format: str
    reason: str
    raw: bytes
    created_at: str
    resolved_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "file": self.file, "location": self.location,
                "format": self.format, "reason": self.reason,
                "raw": self.raw.decode("utf-8", "replace"), "created_at": self.created_at,
                "resolved_at": self.resolved_at}


def primary_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    code = lang.split("-")[0].split("_")[0].lower()
    return None if code in ("und", "zxx", "qme", "qht", "qam", "qct", "qst", "art") else code


def now_utc() -> datetime:
    return datetime.now(UTC)


class Store:
    """Common behaviour. Subclasses provide the connection and the dialect hooks."""

    dialect: str
    url: str

    # ---- dialect hooks ------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _in_transaction(self) -> bool:
        """Inside a transaction opened by ``transaction()`` (so a write is not yet committed)."""
        raise NotImplementedError

    def transaction(self) -> Any:
        raise NotImplementedError

    def _ts(self, dt: datetime | None) -> Any:
        """A datetime as the dialect stores it."""
        raise NotImplementedError

    def ts(self, dt: datetime | None) -> Any:
        """Public: a datetime as a query parameter for this dialect."""
        return self._ts(dt)

    def _insert_posts(self, rows: list[list[Any]], docs: list[Doc]) -> list[int]:
        """Insert new post rows (without rowid) and their full-text entries; return rowids."""
        raise NotImplementedError

    def _unindex(self, rowid: int, doc_tokens: Sequence[str]) -> None:
        """Drop a post's full-text entry (PostgreSQL: nothing to do, the row goes)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    # ---- writing -------------------------------------------------------------------
    def _ids_in(self, table: str, column: str, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i: i + CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.query(
                f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk))
        return found

    def _post_row(self, p: Post, doc: Doc, now: Any) -> list[Any]:
        raw = _zc.compress(p.raw) if p.raw else None
        p_noraw = msgspec.structs.replace(p, raw=None)
        m = p.metrics
        geo = p.geo
        return [
            p.id, p.source, p.native_id, p.url, p.author_id, p.author_handle, doc.handle,
            self._ts(p.created_at), p.title, p.text, doc.lang, p.lang, p.kind, p.parent_id,
            p.root_id, p.quoted_id, p.reposted_id, doc.has_link, doc.has_media, doc.has_geo,
            geo.lat if geo else None, geo.lon if geo else None,
            m.likes if m else None, m.reposts if m else None, m.replies if m else None,
            m.quotes if m else None, self._json(p_noraw), raw, now,
        ]

    def _json(self, obj: Any) -> Any:
        return _enc.encode(obj).decode()

    def write(self, batches: Sequence[Batch], matcher: Matcher | None = None,
              langs: dict[str, str] | None = None,
              prepared: dict[str, Doc] | None = None) -> WriteCounts:
        """Write normalized batches in one transaction. Idempotent: re-writing adds nothing.

        ``langs`` maps post ids to a detected language used where the platform declared none;
        ``prepared`` to their ``doc_of(post, langs.get(id))``, when a worker computed it.
        """
        counts = WriteCounts()
        outermost = not self._in_transaction()
        posts: dict[str, Post] = {}
        authors: dict[str, Author] = {}
        interactions: dict[str, Any] = {}
        deletions: dict[str, datetime | None] = {}
        for b in batches:
            for p in b.posts:
                posts.setdefault(p.id, p)
            for a in b.authors:
                authors[a.id] = _merge_author(authors.get(a.id), a)
            for it in b.interactions:
                interactions.setdefault(it.key, it)
            for d in b.deletions:
                deletions[d.post_id] = d.deleted_at
        for p in posts.values():
            for it in derived_interactions(p):
                interactions.setdefault(it.key, it)
        with self.transaction():
            ids = list(posts)
            present = self._ids_in("posts", "id", ids)
            gone = self._ids_in("deletions", "post_id", ids) | set(deletions)
            new = [p for pid, p in posts.items() if pid not in present and pid not in gone]
            counts.present = len(posts) - len(new)
            if new:
                now = self._ts(now_utc())
                ready = prepared or {}
                docs = [ready.get(p.id) or doc_of(p, (langs or {}).get(p.id)) for p in new]
                rows = [self._post_row(p, d, now) for p, d in zip(new, docs, strict=True)]
                rowids = self._insert_posts(rows, docs)
                counts.imported = len(new)
                if matcher is not None:
                    tags = [(rid, name) for rid, d in zip(rowids, docs, strict=True)
                            for name in matcher.match(d)]
                    if tags:
                        self.executemany("INSERT INTO post_monitors (post_rowid, monitor) "
                                         "VALUES (?, ?) ON CONFLICT DO NOTHING", tags)
            # an author written by this store with the very same fields is not written again
            # (remembered once the transaction commits): a resampled corpus or a busy stream
            # repeats the same profiles in every page
            written: dict[str, str] = self.__dict__.setdefault("_authors_written", {})
            author_rows = [[a.id, a.source, a.handle, a.name, a.followers, a.following, a.posts,
                            a.listed, self._ts(a.created_at), self._json(a)]
                           for a in authors.values()]
            author_rows = [r for r in author_rows if written.get(r[0]) != r[9]]
            if authors:
                counts.authors = len(authors)
            if author_rows:
                self.executemany(
                    "INSERT INTO authors (id, source, handle, name, followers, following, posts, "
                    "listed, created_at, data) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO "
                    "UPDATE SET handle = COALESCE(excluded.handle, authors.handle), "
                    "name = COALESCE(excluded.name, authors.name), "
                    "followers = COALESCE(excluded.followers, authors.followers), "
                    "following = COALESCE(excluded.following, authors.following), "
                    "posts = COALESCE(excluded.posts, authors.posts), "
                    "listed = COALESCE(excluded.listed, authors.listed), "
                    "created_at = COALESCE(excluded.created_at, authors.created_at), "
                    "data = excluded.data", author_rows)
            if interactions:
                counts.interactions = len(interactions)
                self.executemany(
                    "INSERT INTO interactions (key, kind, actor_id, target_author_id, "
                    "target_handle, post_id, target_post_id, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    [[k, i.kind, i.actor_id, i.target_author_id,
                      (i.target_handle or "").lower() or None, i.post_id, i.target_post_id,
                      self._ts(i.created_at)] for k, i in interactions.items()])
            if deletions:
                counts.deleted = self._delete_posts(deletions)
        if outermost:  # committed now (an outer transaction could still roll back)
            if len(written) > 200_000:
                written.clear()
            written.update((r[0], r[9]) for r in author_rows)
        return counts

    def remember_local_ids(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """(namespace, source-local id, post id) rows, for deletes that name only the local id."""
        if rows:
            self.executemany("INSERT INTO source_ids (namespace, local_id, post_id) "
                             "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows)

    def local_post_ids(self, keys: Sequence[tuple[str, str]]) -> list[str]:
        """The post ids remembered for (namespace, source-local id) keys; unknown keys are
        skipped (a post perron never stored)."""
        out: list[str] = []
        for namespace, local_id in keys:
            post = self.scalar("SELECT post_id FROM source_ids WHERE namespace = ? AND "
                               "local_id = ?", [namespace, local_id])
            if post is not None:
                out.append(post)
        return out

    def _delete_posts(self, deletions: dict[str, datetime | None]) -> int:
        self.executemany("INSERT INTO deletions (post_id, deleted_at) VALUES (?, ?) "
                         "ON CONFLICT DO NOTHING",
                         [[pid, self._ts(at)] for pid, at in deletions.items()])
        removed = 0
        ids = list(deletions)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i: i + CHUNK]
            marks = ",".join("?" * len(chunk))
            for rowid, data in self.query(
                    f"SELECT rowid, data FROM posts WHERE id IN ({marks})", chunk):
                post = _decode_post(data)
                self._unindex(rowid, doc_of(post).tokens)
                self.execute("DELETE FROM post_monitors WHERE post_rowid = ?", [rowid])
                self.execute("DELETE FROM posts WHERE rowid = ?", [rowid])
                removed += 1
        return removed

    # ---- quarantine ------------------------------------------------------------------
    def quarantine(self, entries: Sequence[tuple[str, str, str, str, bytes]]) -> None:
        """Record (file, location, format, reason, raw) entries; a re-run updates, never duplicates."""
        if not entries:
            return
        now = self._ts(now_utc())
        with self.transaction():
            self.executemany(
                "INSERT INTO quarantine (file, location, format, reason, raw, created_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (file, location) DO UPDATE SET "
                "reason = excluded.reason, raw = excluded.raw, format = excluded.format, "
                "resolved_at = NULL", [[*e, now] for e in entries])

    def quarantine_resolve(self, file: str, locations: Sequence[str]) -> None:
        """Mark entries of ``file`` resolved (their record went in on a later run)."""
        if not locations:
            return
        now = self._ts(now_utc())
        self.executemany("UPDATE quarantine SET resolved_at = ? WHERE file = ? AND location = ? "
                         "AND resolved_at IS NULL", [[now, file, loc] for loc in locations])

    def quarantine_list(self, include_resolved: bool = False) -> list[QuarantineEntry]:
        where = "" if include_resolved else " WHERE resolved_at IS NULL"
        rows = self.query("SELECT id, file, location, format, reason, raw, created_at, resolved_at "
                          f"FROM quarantine{where} ORDER BY id")
        return [QuarantineEntry(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), str(r[6]),
                                None if r[7] is None else str(r[7])) for r in rows]

    def quarantine_get(self, qid: int) -> QuarantineEntry:
        for e in self.quarantine_list(include_resolved=True):
            if e.id == qid:
                return e
        raise NotFound(f"no quarantine entry {qid}", hint="list them with `perron quarantine list`")

    def quarantine_update_raw(self, qid: int, raw: bytes) -> None:
        self.execute("UPDATE quarantine SET raw = ? WHERE id = ?", [raw, qid])

    def quarantine_mark(self, qid: int, reason: str | None) -> None:
        """Resolved when ``reason`` is None, else still failing with the new reason."""
        if reason is None:
            self.execute("UPDATE quarantine SET resolved_at = ? WHERE id = ?",
                         [self._ts(now_utc()), qid])
        else:
            self.execute("UPDATE quarantine SET reason = ? WHERE id = ?", [reason, qid])

    # ---- imports log -----------------------------------------------------------------
    def log_import(self, file: str, fmt: str, started: datetime, records: int, imported: int,
                   present: int, quarantined: int) -> None:
        with self.transaction():
            self.execute("INSERT INTO imports (file, format, started_at, finished_at, records, "
                         "imported, present, quarantined) VALUES (?,?,?,?,?,?,?,?)",
                         [file, fmt, self._ts(started), self._ts(now_utc()), records, imported,
                          present, quarantined])

    # ---- monitors --------------------------------------------------------------------
    def monitors(self) -> dict[str, str]:
        return dict(self.query("SELECT name, query FROM monitors ORDER BY name"))

    def monitor_add(self, name: str, query: str, *, replace: bool = False) -> None:
        from ..places import list_sites
        from ..query.sites import validate_sites

        # raises QueryError with the column (bad syntax, or near: naming no site)
        validate_sites(parse(query), list_sites(self), query)
        with self.transaction():
            if self.scalar("SELECT 1 FROM monitors WHERE name = ?", [name]):
                if not replace:
                    raise StoreError(f"a monitor named {name!r} already exists",
                                     hint="pick another name, or `perron monitor add --replace`")
                self.execute("DELETE FROM post_monitors WHERE monitor = ?", [name])
                self.execute("UPDATE monitors SET query = ? WHERE name = ?", [query, name])
            else:
                self.execute("INSERT INTO monitors (name, query, created_at) VALUES (?,?,?)",
                             [name, query, self._ts(now_utc())])

    def monitor_remove(self, name: str) -> None:
        with self.transaction():
            if not self.scalar("SELECT 1 FROM monitors WHERE name = ?", [name]):
                raise NotFound(f"no monitor named {name!r}",
                               hint="list them with `perron monitor list`")
            self.execute("DELETE FROM post_monitors WHERE monitor = ?", [name])
            self.execute("DELETE FROM monitors WHERE name = ?", [name])

    def monitor_query(self, name: str) -> str:
        q = self.scalar("SELECT query FROM monitors WHERE name = ?", [name])
        if q is None:
            raise NotFound(f"no monitor named {name!r}", hint="list them with `perron monitor list`")
        return str(q)

    def matcher(self) -> Matcher:
        from ..places import list_sites

        return Matcher(self.monitors(), sites=list_sites(self))

    def backfill(self, name: str) -> int:
        """Tag every stored post matching monitor ``name``; returns how many matched."""
        from ..places import list_sites
        from ..query.sql import compile_sql

        node = parse(self.monitor_query(name))
        where, params = compile_sql(node, self.dialect, "p",  # type: ignore[arg-type]
                                    sites=list_sites(self))
        with self.transaction():
            self.execute(f"INSERT INTO post_monitors (post_rowid, monitor) SELECT p.rowid, ? "
                         f"FROM posts p WHERE {where} ON CONFLICT DO NOTHING", [name, *params])
        return int(self.scalar("SELECT count(*) FROM post_monitors WHERE monitor = ?", [name]))

    # ---- reading ---------------------------------------------------------------------
    def newest(self, select: str, where: str, params: Sequence[Any], limit: int) -> list[tuple]:
        """``SELECT select FROM posts p WHERE where``, newest first (created_at, then rowid; posts
        of unknown time last), at most ``limit`` rows."""
        nulls = " NULLS LAST" if self.dialect == "postgresql" else ""
        return self.query(f"SELECT {select} FROM posts p WHERE {where} "
                          f"ORDER BY p.created_at DESC{nulls}, p.rowid DESC LIMIT ?", [*params, limit])

    def search(self, query: str | None = None, *, monitor: str | None = None,
               limit: int | None = None, oldest_first: bool = False) -> Iterator[dict[str, Any]]:
        """Posts matching a query (and/or tagged by a monitor), newest first."""
        from ..places import list_sites
        from ..query.sites import validate_sites
        from ..query.sql import compile_sql

        clauses, params = [], []
        if query:
            node, sites = parse(query), list_sites(self)
            validate_sites(node, sites, query)  # near: naming no site: say so, don't find nothing
            sql, qparams = compile_sql(node, self.dialect, "p", sites=sites)  # type: ignore[arg-type]
            clauses.append(sql)
            params.extend(qparams)
        if monitor:
            self.monitor_query(monitor)
            clauses.append("p.rowid IN (SELECT post_rowid FROM post_monitors WHERE monitor = ?)")
            params.append(monitor)
        where = " AND ".join(f"({c})" for c in clauses) or "1=1"
        order = "ASC" if oldest_first else "DESC"
        select = ("p.id, p.source, p.author_handle, p.created_at, p.text, p.url, p.lang, "
                  "p.kind, p.title, p.likes, p.reposts, p.replies, p.quotes, p.author_id")
        cols = ("id", "source", "author_handle", "created_at", "text", "url", "lang", "kind",
                "title", "likes", "reposts", "replies", "quotes", "author_id")
        if limit is not None and not oldest_first:
            rows: Iterable[tuple] = self.newest(select, where, params, limit)
        else:
            nulls = " NULLS LAST" if self.dialect == "postgresql" and not oldest_first else ""
            sql = (f"SELECT {select} FROM posts p WHERE {where} "
                   f"ORDER BY p.created_at {order}{nulls}, p.rowid {order}")
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            rows = self.execute(sql, params)
        for row in rows:
            out = dict(zip(cols, row, strict=True))
            out["created_at"] = self._iso(out["created_at"])
            yield out

    def _iso(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return str(value)

    def get_post(self, post_id: str) -> Post:
        data = self.scalar("SELECT data FROM posts WHERE id = ?", [post_id])
        if data is None:
            raise NotFound(f"no post {post_id!r} in the store",
                           hint="ids look like twitter:123 or bluesky:at://…; find them with "
                                "`perron search`")
        return _decode_post(data)

    def raw_of(self, post_id: str) -> bytes | None:
        raw = self.scalar("SELECT raw FROM posts WHERE id = ?", [post_id])
        return None if raw is None else _zd.decompress(bytes(raw))

    def iter_posts(self, batch: int = 2000) -> Iterator[Post]:
        """Every stored post, oldest first, in constant memory (keyset pagination)."""
        last = 0
        while True:
            rows = self.query("SELECT rowid, data FROM posts WHERE rowid > ? ORDER BY rowid "
                              "LIMIT ?", [last, batch])
            if not rows:
                return
            for _rowid, data in rows:
                yield _decode_post(data)
            last = rows[-1][0]

    def authors_by_id(self, ids: Sequence[str]) -> dict[str, Author]:
        out: dict[str, Author] = {}
        for i in range(0, len(ids), CHUNK):
            chunk = list(ids[i: i + CHUNK])
            marks = ",".join("?" * len(chunk))
            for aid, data in self.query(f"SELECT id, data FROM authors WHERE id IN ({marks})",
                                        chunk):
                out[aid] = msgspec.json.decode(_as_bytes(data), type=Author)
        return out

    def count(self, table: str = "posts") -> int:
        assert table in ("posts", "authors", "interactions", "deletions", "quarantine",
                         "monitors", "post_monitors")
        return int(self.scalar(f"SELECT count(*) FROM {table}"))

    def stats(self, top: int = 20) -> dict[str, list[tuple[str, int]]]:
        day = self._day_sql("created_at")
        out = {
            "source": self.query("SELECT source, count(*) FROM posts GROUP BY source "
                                 "ORDER BY 2 DESC, 1"),
            "language": self.query("SELECT COALESCE(lang, 'unknown'), count(*) FROM posts "
                                   "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?", [top]),
            "kind": self.query("SELECT kind, count(*) FROM posts GROUP BY kind ORDER BY 2 DESC, 1"),
            "day": self.query(f"SELECT {day}, count(*) FROM posts WHERE created_at IS NOT NULL "
                              "GROUP BY 1 ORDER BY 1 DESC LIMIT ?", [top]),
            "monitor": self.query("SELECT m.name, count(pm.post_rowid) FROM monitors m LEFT JOIN "
                                  "post_monitors pm ON pm.monitor = m.name GROUP BY m.name "
                                  "ORDER BY 2 DESC, 1"),
        }
        return {k: [(str(a), int(b)) for a, b in v] for k, v in out.items()}

    def _day_sql(self, column: str) -> str:
        raise NotImplementedError


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    return json.dumps(data).encode()  # PostgreSQL JSONB comes back decoded


def _decode_post(data: Any) -> Post:
    return msgspec.json.decode(_as_bytes(data), type=Post)


def _merge_author(old: Author | None, new: Author) -> Author:
    if old is None:
        return new
    fields = {f: getattr(new, f) for f in new.__struct_fields__ if getattr(new, f) is not None}
    return msgspec.structs.replace(old, **fields)
