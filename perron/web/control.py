"""The control store: workspaces, users, roles, API tokens, sessions and the audit log.

It lives in the ``--db`` store (SQLite or PostgreSQL) in tables of its own, created by the small
versioned migration below (``web_control_version``), separate from the posts schema. Each
workspace's posts live in *their own* store (``store_url``): isolation by construction.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ConfigError, NotFound
from ..store import Store, open_store

ROLES = ("admin", "analyst", "responder", "viewer")
LANGS = ("fr", "en")
SESSION_DAYS = 14
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

_COMMON = [
    "CREATE TABLE workspaces (slug TEXT PRIMARY KEY, name TEXT NOT NULL, store_url TEXT NOT NULL,"
    " created_at TEXT NOT NULL)",
    "CREATE TABLE users (email TEXT PRIMARY KEY, password_hash TEXT NOT NULL, lang TEXT NOT NULL"
    " DEFAULT 'fr', created_at TEXT NOT NULL)",
    "CREATE TABLE memberships (user_email TEXT NOT NULL, workspace TEXT NOT NULL, role TEXT NOT"
    " NULL, PRIMARY KEY (user_email, workspace))",
    "CREATE INDEX memberships_ws ON memberships(workspace)",
    "CREATE TABLE tokens (hash TEXT PRIMARY KEY, user_email TEXT NOT NULL, created_at TEXT NOT"
    " NULL, last_used_at TEXT)",
    "CREATE TABLE sessions (hash TEXT PRIMARY KEY, user_email TEXT NOT NULL, csrf TEXT NOT NULL,"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
]
MIGRATIONS: dict[str, list[list[str]]] = {
    "sqlite": [_COMMON + [
        "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_email TEXT,"
        " workspace TEXT, action TEXT NOT NULL, target TEXT)",
        "CREATE INDEX audit_log_ws ON audit_log(workspace, at)",
    ]],
    "postgresql": [_COMMON + [
        "CREATE TABLE audit_log (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at TEXT NOT"
        " NULL, user_email TEXT, workspace TEXT, action TEXT NOT NULL, target TEXT)",
        "CREATE INDEX audit_log_ws ON audit_log(workspace, at)",
    ]],
}


def migrate(store: Store, table: str, steps: dict[str, list[list[str]]]) -> None:
    """Apply the missing steps of a web-layer migration, tracked in ``table``."""
    store.execute(f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER NOT NULL)")
    with store.transaction():
        version = int(store.scalar(f"SELECT COALESCE(max(version), 0) FROM {table}") or 0)
        for step, statements in enumerate(steps[store.dialect][version:], version + 1):
            for stmt in statements:
                store.execute(stmt)
            store.execute(f"INSERT INTO {table} (version) VALUES (?)", [step])


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class User:
    email: str
    lang: str


@dataclass(frozen=True)
class Workspace:
    slug: str
    name: str
    store_url: str


class Control:
    def __init__(self, store: Store) -> None:
        self.store = store
        migrate(store, "web_control_version", MIGRATIONS)

    @classmethod
    def open(cls, url: str | None) -> Control:
        return cls(open_store(url))

    def close(self) -> None:
        self.store.close()

    # ---- workspaces -----------------------------------------------------------------
    def default_store_url(self, slug: str) -> str:
        url = self.store.url
        if "://" in url:
            raise ConfigError("the control store is PostgreSQL: give the workspace its own store",
                              hint="perron workspace add NAME --store postgresql://…/other_db")
        base = Path(url)
        return str(base.with_name(f"{base.name}.ws-{slug}.db"))

    def workspace_add(self, name: str, store_url: str | None = None,
                      slug: str | None = None) -> Workspace:
        slug = slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
        if not _SLUG.fullmatch(slug):
            raise ConfigError(f"cannot make a workspace id from {name!r}",
                              hint="use letters and digits in the name (e.g. `acme-fr`)")
        if self.workspace(slug, missing_ok=True):
            raise ConfigError(f"workspace {slug!r} already exists", hint="pick another name")
        url = store_url or self.default_store_url(slug)
        from .inbox_schema import migrate_workspace

        store = open_store(url)  # creates and migrates it now, so errors show at creation
        try:
            migrate_workspace(store)
        finally:
            store.close()
        self.store.execute("INSERT INTO workspaces (slug, name, store_url, created_at) "
                           "VALUES (?,?,?,?)", [slug, name, url, now_iso()])
        return Workspace(slug, name, url)

    def workspace(self, slug: str, missing_ok: bool = False) -> Workspace | None:
        rows = self.store.query("SELECT slug, name, store_url FROM workspaces WHERE slug = ?",
                                [slug])
        if not rows:
            if missing_ok:
                return None
            raise NotFound(f"no workspace {slug!r}", hint="list them with `perron workspace list`")
        return Workspace(*rows[0])

    def workspaces(self) -> list[Workspace]:
        return [Workspace(*r) for r in self.store.query(
            "SELECT slug, name, store_url FROM workspaces ORDER BY slug")]

    # ---- users and roles --------------------------------------------------------------
    def user_add(self, email: str, password: str, lang: str = "fr") -> User:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise ConfigError(f"{email!r} is not an e-mail address", hint="use name@example.org")
        if len(password) < 8:
            raise ConfigError("password too short", hint="use at least 8 characters")
        self.store.execute("INSERT INTO users (email, password_hash, lang, created_at) VALUES "
                           "(?,?,?,?) ON CONFLICT (email) DO UPDATE SET password_hash = "
                           "excluded.password_hash",
                           [email, hash_password(password), lang if lang in LANGS else "fr",
                            now_iso()])
        return User(email, lang)

    def user(self, email: str) -> User | None:
        rows = self.store.query("SELECT email, lang FROM users WHERE email = ?",
                                [email.strip().lower()])
        return User(*rows[0]) if rows else None

    def password_hash(self, email: str) -> str | None:
        return self.store.scalar("SELECT password_hash FROM users WHERE email = ?",
                                 [email.strip().lower()])

    def authenticate(self, email: str, password: str) -> User | None:
        stored = self.password_hash(email)
        if stored is None:
            verify_password(_dummy_hash(), password)  # same work whether the user exists or not
            return None
        return self.user(email) if verify_password(stored, password) else None

    def set_lang(self, email: str, lang: str) -> None:
        if lang in LANGS:
            self.store.execute("UPDATE users SET lang = ? WHERE email = ?", [lang, email])

    def grant(self, email: str, workspace: str, role: str) -> None:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}", hint="roles: " + ", ".join(ROLES))
        self.workspace(workspace)
        if self.user(email) is None:
            raise NotFound(f"no user {email!r}", hint="create it with `perron users add`")
        self.store.execute("INSERT INTO memberships (user_email, workspace, role) VALUES (?,?,?) "
                           "ON CONFLICT (user_email, workspace) DO UPDATE SET role = excluded.role",
                           [email.strip().lower(), workspace, role])

    def revoke(self, email: str, workspace: str) -> None:
        self.store.execute("DELETE FROM memberships WHERE user_email = ? AND workspace = ?",
                           [email, workspace])

    def role(self, email: str, workspace: str) -> str | None:
        return self.store.scalar("SELECT role FROM memberships WHERE user_email = ? AND "
                                 "workspace = ?", [email, workspace])

    def memberships(self, email: str) -> list[tuple[Workspace, str]]:
        rows = self.store.query("SELECT w.slug, w.name, w.store_url, m.role FROM memberships m "
                                "JOIN workspaces w ON w.slug = m.workspace WHERE m.user_email = ? "
                                "ORDER BY w.slug", [email])
        return [(Workspace(*r[:3]), r[3]) for r in rows]

    def members(self, workspace: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.store.query(
            "SELECT user_email, role FROM memberships WHERE workspace = ? ORDER BY user_email",
            [workspace])]

    # ---- API tokens -------------------------------------------------------------------
    def token_create(self, email: str) -> str:
        if self.user(email) is None:
            raise NotFound(f"no user {email!r}", hint="create it with `perron users add`")
        token = "prn_" + secrets.token_urlsafe(32)
        self.store.execute("INSERT INTO tokens (hash, user_email, created_at) VALUES (?,?,?)",
                           [digest(token), email.strip().lower(), now_iso()])
        return token

    def token_user(self, token: str, touched: dict[str, float] | None = None) -> User | None:
        """The token's user; ``last_used_at`` is written at most once a minute per token when
        ``touched`` (a dict kept by the caller) is given."""
        h = digest(token)
        email = self.store.scalar("SELECT user_email FROM tokens WHERE hash = ?", [h])
        if email is None:
            return None
        now = time.monotonic()
        if touched is None or now - touched.get(h, -1e9) > 60:
            if touched is not None:
                touched[h] = now
            self.store.execute("UPDATE tokens SET last_used_at = ? WHERE hash = ?",
                               [now_iso(), h])
        return self.user(email)

    # ---- sessions ---------------------------------------------------------------------
    def session_create(self, email: str) -> tuple[str, str]:
        """A new session: (cookie value, CSRF token). Only a hash of the cookie is stored."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = (datetime.now(UTC) + timedelta(days=SESSION_DAYS)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        self.store.execute("INSERT INTO sessions (hash, user_email, csrf, created_at, expires_at)"
                           " VALUES (?,?,?,?,?)", [digest(sid), email, csrf, now_iso(), expires])
        return sid, csrf

    def session(self, sid: str) -> tuple[User, str] | None:
        rows = self.store.query("SELECT user_email, csrf, expires_at FROM sessions WHERE hash = ?",
                                [digest(sid)])
        if not rows or rows[0][2] < now_iso():
            return None
        user = self.user(rows[0][0])
        return (user, rows[0][1]) if user else None

    def session_end(self, sid: str) -> None:
        self.store.execute("DELETE FROM sessions WHERE hash = ?", [digest(sid)])

    # ---- audit log (who looked at what) -----------------------------------------------
    def audit(self, email: str | None, workspace: str | None, action: str,
              target: str | None = None) -> None:
        self.store.execute("INSERT INTO audit_log (at, user_email, workspace, action, target) "
                           "VALUES (?,?,?,?,?)", [now_iso(), email, workspace, action, target])

    def audit_entries(self, workspace: str, limit: int = 200) -> list[Sequence[Any]]:
        return self.store.query("SELECT at, user_email, action, target FROM audit_log WHERE "
                                "workspace = ? ORDER BY at DESC LIMIT ?", [workspace, limit])


@functools.cache
def _dummy_hash() -> str:
    return hash_password("perron-timing-equaliser")

