"""PostgreSQL store: the same schema with a GIN-indexed ``tsvector`` built by perron itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from ..errors import StoreError
from ..query.doc import Doc, tsvector_literal
from . import migrations
from .base import POST_COLUMNS, Store


def _pg_error(exc: Exception) -> StoreError:
    return StoreError(f"PostgreSQL error: {exc}".strip(),
                      hint="check the postgresql:// URL, that the server runs and that the user "
                           "may create tables")


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise _pg_error(exc) from None
        self._tx: Any = None
        self.migrate()

    def migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        with self.transaction():
            self.conn.execute("LOCK TABLE schema_version IN EXCLUSIVE MODE")
            row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0] or 0
            if version > len(migrations.POSTGRESQL):
                raise StoreError(f"this database was written by a newer perron (schema {version})",
                                 hint="upgrade perron")
            for step, statements in enumerate(migrations.POSTGRESQL[version:], version + 1):
                for stmt in statements:
                    self.conn.execute(stmt)
                self.conn.execute("INSERT INTO schema_version VALUES (%s)", [step])

    def _in_transaction(self) -> bool:
        return self._tx is not None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._tx is not None:
            yield
            return
        try:
            with self.conn.transaction() as tx:
                self._tx = tx
                yield
        except self._psycopg.Error as exc:
            raise _pg_error(exc) from exc
        finally:
            self._tx = None

    def _sql(self, sql: str) -> str:
        """``?`` placeholders to psycopg's ``%s`` (write LIKE patterns as parameters)."""
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(self._sql(sql), list(params))
        except self._psycopg.Error as exc:
            raise _pg_error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), list(rows))
        except self._psycopg.Error as exc:
            raise _pg_error(exc) from exc

    def _ts(self, dt: datetime | None) -> datetime | None:
        return dt

    def _insert_posts(self, rows: list[list[Any]], docs: list[Doc]) -> list[int]:
        cols = [c for c in POST_COLUMNS if c != "rowid"]
        marks = ",".join(["%s"] * len(cols))
        sql = (f"INSERT INTO posts ({','.join(cols)}, tsv) VALUES ({marks}, %s::tsvector) "
               "ON CONFLICT (id) DO NOTHING")
        self.executemany(sql, ([*row, tsvector_literal(d.tokens)]
                               for row, d in zip(rows, docs, strict=True)))
        ids = [r[0] for r in rows]
        found = dict(self.query("SELECT id, rowid FROM posts WHERE id = ANY(%s)", [ids]))
        return [found[i] for i in ids]

    def _day_sql(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def close(self) -> None:
        self.conn.close()
