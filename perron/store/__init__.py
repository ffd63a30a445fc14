"""The store: SQLite by default (one file), PostgreSQL at scale, behind one interface."""

from __future__ import annotations

from pathlib import Path

from .. import config
from ..errors import ConfigError
from .base import Store, WriteCounts

DEFAULT_DB = "perron.db"

__all__ = ["Store", "WriteCounts", "open_store", "resolve_url"]


def resolve_url(url: str | None) -> str:
    """``--db`` flag, then ``PERRON_DB``, then the config file, then ``./perron.db``."""
    return str(config.get("db", url) or DEFAULT_DB)


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open (and migrate) a store. ``url`` is a file path or a ``postgresql://`` URL."""
    url = resolve_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    if "://" in url:
        raise ConfigError(f"unsupported store URL {url!r}",
                          hint="use a file path for SQLite or a postgresql://user@host/db URL")
    if not create and not Path(url).exists():
        raise ConfigError(f"no perron store at {url}",
                          hint="run `perron init` or `perron import FILE` first, or pass --db / "
                               "set PERRON_DB to the store you mean")
    from .sqlite import SQLiteStore

    return SQLiteStore(url)
