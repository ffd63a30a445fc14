"""Versioned schema migrations, one list per dialect. Append, never edit a released step."""

from __future__ import annotations

SQLITE: list[list[str]] = [
    [  # 1: the foundation
        """CREATE TABLE posts (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            url TEXT,
            author_id TEXT,
            author_handle TEXT,
            handle_key TEXT,
            created_at TEXT,
            title TEXT,
            text TEXT NOT NULL,
            lang TEXT,
            lang_declared TEXT,
            kind TEXT NOT NULL,
            parent_id TEXT,
            root_id TEXT,
            quoted_id TEXT,
            reposted_id TEXT,
            has_link INTEGER NOT NULL,
            has_media INTEGER NOT NULL,
            has_geo INTEGER NOT NULL,
            lat REAL,
            lon REAL,
            likes INTEGER,
            reposts INTEGER,
            replies INTEGER,
            quotes INTEGER,
            data TEXT NOT NULL,
            raw BLOB,
            imported_at TEXT NOT NULL
        )""",
        "CREATE INDEX posts_created ON posts(created_at)",
        "CREATE INDEX posts_author ON posts(author_id)",
        "CREATE INDEX posts_handle ON posts(handle_key)",
        "CREATE INDEX posts_parent ON posts(parent_id)",
        "CREATE INDEX posts_source_created ON posts(source, created_at)",
        "CREATE INDEX posts_lang ON posts(lang)",
        """CREATE VIRTUAL TABLE posts_fts USING fts5(tokens, content='',
            tokenize="unicode61 remove_diacritics 0 tokenchars '#@_'")""",
        """CREATE TABLE authors (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            handle TEXT,
            name TEXT,
            followers INTEGER,
            following INTEGER,
            posts INTEGER,
            listed INTEGER,
            created_at TEXT,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX authors_handle ON authors(source, handle)",
        """CREATE TABLE interactions (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            target_author_id TEXT,
            target_handle TEXT,
            post_id TEXT,
            target_post_id TEXT,
            created_at TEXT
        )""",
        "CREATE INDEX interactions_target ON interactions(target_author_id)",
        "CREATE INDEX interactions_target_post ON interactions(target_post_id)",
        "CREATE TABLE deletions (post_id TEXT PRIMARY KEY, deleted_at TEXT)",
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            location TEXT NOT NULL,
            format TEXT NOT NULL,
            reason TEXT NOT NULL,
            raw BLOB NOT NULL,
            created_at TEXT NOT NULL,
            resolved_at TEXT,
            UNIQUE (file, location)
        )""",
        "CREATE TABLE monitors (name TEXT PRIMARY KEY, query TEXT NOT NULL, created_at TEXT NOT NULL)",
        """CREATE TABLE post_monitors (post_rowid INTEGER NOT NULL, monitor TEXT NOT NULL,
            PRIMARY KEY (monitor, post_rowid)) WITHOUT ROWID""",
        """CREATE TABLE imports (id INTEGER PRIMARY KEY, file TEXT NOT NULL, format TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT, records INTEGER, imported INTEGER,
            present INTEGER, quarantined INTEGER)""",
    ],
]

POSTGRESQL: list[list[str]] = [
    [
        """CREATE TABLE posts (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            url TEXT,
            author_id TEXT,
            author_handle TEXT,
            handle_key TEXT,
            created_at TIMESTAMPTZ,
            title TEXT,
            text TEXT NOT NULL,
            lang TEXT,
            lang_declared TEXT,
            kind TEXT NOT NULL,
            parent_id TEXT,
            root_id TEXT,
            quoted_id TEXT,
            reposted_id TEXT,
            has_link BOOLEAN NOT NULL,
            has_media BOOLEAN NOT NULL,
            has_geo BOOLEAN NOT NULL,
            lat DOUBLE PRECISION,
            lon DOUBLE PRECISION,
            likes BIGINT,
            reposts BIGINT,
            replies BIGINT,
            quotes BIGINT,
            data JSONB NOT NULL,
            raw BYTEA,
            imported_at TIMESTAMPTZ NOT NULL,
            tsv TSVECTOR NOT NULL
        )""",
        "CREATE INDEX posts_created ON posts(created_at)",
        "CREATE INDEX posts_author ON posts(author_id)",
        "CREATE INDEX posts_handle ON posts(handle_key)",
        "CREATE INDEX posts_parent ON posts(parent_id)",
        "CREATE INDEX posts_source_created ON posts(source, created_at)",
        "CREATE INDEX posts_lang ON posts(lang)",
        "CREATE INDEX posts_tsv ON posts USING GIN (tsv)",
        """CREATE TABLE authors (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            handle TEXT,
            name TEXT,
            followers BIGINT,
            following BIGINT,
            posts BIGINT,
            listed BIGINT,
            created_at TIMESTAMPTZ,
            data JSONB NOT NULL
        )""",
        "CREATE INDEX authors_handle ON authors(source, handle)",
        """CREATE TABLE interactions (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            target_author_id TEXT,
            target_handle TEXT,
            post_id TEXT,
            target_post_id TEXT,
            created_at TIMESTAMPTZ
        )""",
        "CREATE INDEX interactions_target ON interactions(target_author_id)",
        "CREATE INDEX interactions_target_post ON interactions(target_post_id)",
        "CREATE TABLE deletions (post_id TEXT PRIMARY KEY, deleted_at TIMESTAMPTZ)",
        """CREATE TABLE quarantine (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            file TEXT NOT NULL,
            location TEXT NOT NULL,
            format TEXT NOT NULL,
            reason TEXT NOT NULL,
            raw BYTEA NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            resolved_at TIMESTAMPTZ,
            UNIQUE (file, location)
        )""",
        "CREATE TABLE monitors (name TEXT PRIMARY KEY, query TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
        """CREATE TABLE post_monitors (post_rowid BIGINT NOT NULL, monitor TEXT NOT NULL,
            PRIMARY KEY (monitor, post_rowid))""",
        """CREATE TABLE imports (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, file TEXT NOT NULL,
            format TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ,
            records BIGINT, imported BIGINT, present BIGINT, quarantined BIGINT)""",
    ],
]

SQLITE.append([  # 2: understanding, listening, alerting, places
    """CREATE TABLE labels (post_rowid INTEGER NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL,
        score REAL, scores TEXT, reasons TEXT, model TEXT NOT NULL, version TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (post_rowid, task)) WITHOUT ROWID""",
    "CREATE INDEX labels_task_label ON labels(task, label)",
    """CREATE TABLE corrections (post_id TEXT NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL,
        note TEXT, author TEXT, created_at TEXT NOT NULL, PRIMARY KEY (post_id, task))""",
    """CREATE TABLE facts (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, text TEXT NOT NULL,
        correction TEXT, sources TEXT, created_at TEXT NOT NULL)""",
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE source_state (name TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL,
        cursor TEXT, status TEXT, last_event_at TEXT, last_error TEXT, errors INTEGER NOT NULL
        DEFAULT 0, events INTEGER NOT NULL DEFAULT 0, updated_at TEXT)""",
    """CREATE TABLE alert_rules (name TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE alerts (id INTEGER PRIMARY KEY, rule TEXT NOT NULL, dedupe_key TEXT NOT NULL,
        monitor TEXT, fired_at TEXT NOT NULL, title TEXT NOT NULL, explanation TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open', UNIQUE (rule, dedupe_key))""",
    """CREATE TABLE deliveries (id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, channel TEXT
        NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
        last_error TEXT, sent_at TEXT)""",
    """CREATE TABLE sites (name TEXT PRIMARY KEY, lat REAL, lon REAL, radius_m REAL,
        polygon TEXT, created_at TEXT NOT NULL)""",
])

POSTGRESQL.append([  # 2: understanding, listening, alerting, places
    """CREATE TABLE labels (post_rowid BIGINT NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL,
        score DOUBLE PRECISION, scores TEXT, reasons TEXT, model TEXT NOT NULL, version TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (post_rowid, task))""",
    "CREATE INDEX labels_task_label ON labels(task, label)",
    """CREATE TABLE corrections (post_id TEXT NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL,
        note TEXT, author TEXT, created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (post_id, task))""",
    """CREATE TABLE facts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL,
        text TEXT NOT NULL, correction TEXT, sources TEXT, created_at TIMESTAMPTZ NOT NULL)""",
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE source_state (name TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL,
        cursor TEXT, status TEXT, last_event_at TIMESTAMPTZ, last_error TEXT, errors INTEGER NOT NULL
        DEFAULT 0, events INTEGER NOT NULL DEFAULT 0, updated_at TIMESTAMPTZ)""",
    """CREATE TABLE alert_rules (name TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE alerts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, rule TEXT NOT NULL,
        dedupe_key TEXT NOT NULL, monitor TEXT, fired_at TIMESTAMPTZ NOT NULL, title TEXT NOT NULL,
        explanation TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open', UNIQUE (rule, dedupe_key))""",
    """CREATE TABLE deliveries (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        alert_id BIGINT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT, sent_at TIMESTAMPTZ)""",
    """CREATE TABLE sites (name TEXT PRIMARY KEY, lat DOUBLE PRECISION, lon DOUBLE PRECISION,
        radius_m DOUBLE PRECISION, polygon TEXT, created_at TIMESTAMPTZ NOT NULL)""",
])

SQLITE.append([  # 3: source-local ids (a Mastodon delete names only the instance's own id)
    """CREATE TABLE source_ids (namespace TEXT NOT NULL, local_id TEXT NOT NULL,
        post_id TEXT NOT NULL, PRIMARY KEY (namespace, local_id)) WITHOUT ROWID""",
])

POSTGRESQL.append([  # 3: source-local ids (a Mastodon delete names only the instance's own id)
    """CREATE TABLE source_ids (namespace TEXT NOT NULL, local_id TEXT NOT NULL,
        post_id TEXT NOT NULL, PRIMARY KEY (namespace, local_id))""",
])

# 4: interaction keys start with the carrying post (see Interaction.key): appended, not scattered.
# Old keys start with a kind, new ones with a post id ("source:…") or "|": no collision midway.
_NEW_KEY = ("COALESCE(post_id, '') || '|' || kind || '|' || actor_id || '|' || "
            "COALESCE(NULLIF(target_author_id, ''), target_handle, '') || '|' || "
            "COALESCE(target_post_id, '')")
SQLITE.append([f"UPDATE interactions SET key = {_NEW_KEY}"])
POSTGRESQL.append([f"UPDATE interactions SET key = {_NEW_KEY}"])

# 5: newest-first on PostgreSQL. Search orders by created_at DESC NULLS LAST, rowid DESC; with an
# index in exactly that order the planner walks it and stops at LIMIT (0.3 ms for "brexit" on 1M
# posts) instead of sorting every match (200 ms). SQLite has its own walk (SQLiteStore.newest).
SQLITE.append([])
POSTGRESQL.append(["CREATE INDEX posts_newest ON posts (created_at DESC NULLS LAST, rowid DESC)"])
