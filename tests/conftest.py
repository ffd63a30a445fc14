"""Shared fixtures: a real SQLite file per test and one real PostgreSQL server per session.

When the PostgreSQL binaries are missing the PostgreSQL tests are skipped locally, but under
CI=true that is a failure: CI must run the whole suite on both stores.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from perron.testing.pgserver import TempPostgres, find_bindir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if os.environ.get("PERRON_TEST_PG"):
        yield os.environ["PERRON_TEST_PG"]
        return
    if find_bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries are missing under CI=true: "
                        "`make test` must install them")
        pytest.skip("PostgreSQL binaries not found (run `make test` to install them)")
    with TempPostgres() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "perron.db")
    return request.getfixturevalue("pg_url")
