"""SQLite store: one file, WAL, FTS5 full-text index fed in the same transaction as the posts."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from ..errors import StoreError
from ..places import register_sqlite
from ..query.doc import Doc, fts_document, sqlite_created
from . import migrations
from .base import POST_COLUMNS, Store


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.url = path
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {path}: {exc}",
                             hint="check that the folder exists and is writable") from None
        # wal_autocheckpoint: copy the WAL back every ~40 MB rather than 4 MB, so a big import
        # rewrites hot index pages less often
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "temp_store=MEMORY",
                       "cache_size=-65536", "busy_timeout=30000", "mmap_size=268435456",
                       "wal_autocheckpoint=10000"):
            self.conn.execute(f"PRAGMA {pragma}")
        register_sqlite(self.conn)  # near:SITE in queries (perron.places.site_sql)
        self._depth = 0
        self.migrate()

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations.SQLITE):
            raise StoreError(f"{self.url} was written by a newer perron (schema {version})",
                             hint="upgrade perron")
        for step, statements in enumerate(migrations.SQLITE[version:], version + 1):
            with self.transaction():
                for stmt in statements:
                    self.conn.execute(stmt)
                self.conn.execute(f"PRAGMA user_version = {step}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def _in_transaction(self) -> bool:
        return self._depth > 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite error: {exc}", hint="see the message above") from exc

    NEWEST_WALK_SECONDS = 0.015  # time given to the newest-first walk (0: never walk)

    def newest(self, select: str, where: str, params: Sequence[Any], limit: int) -> list[tuple]:
        """Two plans, same rows. A query matching thousands of posts is answered fastest by
        walking the created_at index from the newest post, testing each (the full-text part
        without reading the row) and stopping at ``limit``; one matching few is answered fastest
        from its own index (full-text, language, author…), then sorted. Which is which cannot be
        told cheaply beforehand, so the two take turns: the walk gets NEWEST_WALK_SECONDS, then
        the query's own plan as long, then each four times longer, until one finishes. The
        answer costs at most a few times the faster plan, even on a cold disk where a plan's
        usual time means nothing. On 1M posts the 20 bench queries have a p95 of ~240 ms with
        the own plan only, 358 ms with one 15 ms walk then the own plan, and 47 ms taking turns
        (bench/bench_import.py, 2026-12-07)."""
        if self.NEWEST_WALK_SECONDS <= 0:
            return super().newest(select, where, params, limit)
        tail = f"WHERE {where} ORDER BY p.created_at DESC, p.rowid DESC LIMIT ?"
        plans = (f"SELECT {select} FROM posts p INDEXED BY posts_created {tail}",
                 f"SELECT {select} FROM posts p {tail}")
        budget = self.NEWEST_WALK_SECONDS
        while True:
            for sql in plans:
                rows = self._within(budget, sql, [*params, limit])
                if rows is not None:
                    return rows
            budget *= 4

    def _within(self, seconds: float, sql: str, params: Sequence[Any]) -> list[tuple] | None:
        """The rows of ``sql``, or None if it takes longer than ``seconds``."""
        deadline = time.perf_counter() + seconds
        self.conn.set_progress_handler(lambda: time.perf_counter() > deadline, 2_000)
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            if "interrupt" in str(exc):
                return None
            raise StoreError(f"SQLite error: {exc}", hint="see the message above") from exc
        finally:
            self.conn.set_progress_handler(None, 0)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite error: {exc}", hint="see the message above") from exc

    def _ts(self, dt: datetime | None) -> str | None:
        return sqlite_created(dt)

    def _insert_posts(self, rows: list[list[Any]], docs: list[Doc]) -> list[int]:
        start = (self.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM posts").fetchone()[0]) + 1
        rowids = list(range(start, start + len(rows)))
        marks = ",".join("?" * len(POST_COLUMNS))
        self.executemany(f"INSERT INTO posts ({','.join(POST_COLUMNS)}) VALUES ({marks})",
                         ([rid, *row] for rid, row in zip(rowids, rows, strict=True)))
        self.executemany("INSERT INTO posts_fts (rowid, tokens) VALUES (?, ?)",
                         ((rid, fts_document(d.tokens)) for rid, d in zip(rowids, docs,
                                                                          strict=True)))
        return rowids

    def _unindex(self, rowid: int, doc_tokens: Sequence[str]) -> None:
        self.execute("INSERT INTO posts_fts (posts_fts, rowid, tokens) VALUES ('delete', ?, ?)",
                     [rowid, fts_document(doc_tokens)])

    def _day_sql(self, column: str) -> str:
        return f"substr({column}, 1, 10)"

    def close(self) -> None:
        self.conn.close()

