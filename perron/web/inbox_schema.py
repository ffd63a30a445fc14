"""Inbox state, kept inside each workspace's own store (``web_inbox_version`` migration).

Why there and not in the control store: it is data *about the workspace's posts* (who answered
whom, notes on a person), so it must live, be exported, retained and erased with those posts, and
a workspace on its own PostgreSQL server carries its inbox with it. Isolation by construction.
"""

from __future__ import annotations

from ..store import Store
from .control import migrate

_COMMON = [
    "CREATE TABLE inbox_items (post_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'open',"
    " assignee TEXT, arrived_at TEXT, responded_at TEXT, resolved_at TEXT, updated_at TEXT)",
    "CREATE INDEX inbox_items_status ON inbox_items(status)",
    "CREATE TABLE inbox_drafts (post_id TEXT PRIMARY KEY, text TEXT NOT NULL, author TEXT,"
    " updated_at TEXT NOT NULL)",
    # the inbox walks triage labels by priority: this index keeps it a short range scan
    "CREATE INDEX IF NOT EXISTS web_labels_task_score ON labels(task, score)",
]
STEPS = {
    "sqlite": [_COMMON + [
        "CREATE TABLE inbox_notes (id INTEGER PRIMARY KEY, post_id TEXT NOT NULL, author TEXT,"
        " text TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX inbox_notes_post ON inbox_notes(post_id)",
        "CREATE TABLE saved_replies (id INTEGER PRIMARY KEY, name TEXT NOT NULL, text TEXT NOT"
        " NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS web_posts_root ON posts(root_id)",
    ]],
    "postgresql": [_COMMON + [
        "CREATE TABLE inbox_notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, post_id"
        " TEXT NOT NULL, author TEXT, text TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX inbox_notes_post ON inbox_notes(post_id)",
        "CREATE TABLE saved_replies (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name"
        " TEXT NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS web_posts_root ON posts(root_id)",
    ]],
}


# 2: dashboards count posts per monitor inside a time window: drive from the posts' date index
# and look each post's monitors up by rowid (the primary key leads with the monitor)
for _dialect in STEPS:
    STEPS[_dialect].append(["CREATE INDEX IF NOT EXISTS web_post_monitors_rowid ON "
                            "post_monitors(post_rowid, monitor)"])


def migrate_workspace(store: Store) -> None:
    migrate(store, "web_inbox_version", STEPS)
