"""The store on real SQLite and real PostgreSQL: exactly-once writes, quarantine, deletions,
monitors, search and exports. Every test runs on both stores (``db_url`` fixture)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from perron.errors import SourceError
from perron.models import Batch, Deletion, Post
from perron.pipeline import import_file, import_paths, retry_quarantine
from perron.store import open_store
from perron.testing.procs import children, running

from .synth import write_pages


def dump(store) -> dict:
    """Everything that defines the store's content (not timestamps of the import itself)."""
    return {
        "posts": store.query("SELECT rowid, id, source, author_id, created_at, text, lang, kind, "
                             "likes, data FROM posts ORDER BY rowid"),
        "authors": store.query("SELECT id, handle, followers, data FROM authors ORDER BY id"),
        "interactions": store.query("SELECT key, kind FROM interactions ORDER BY key"),
        "quarantine": store.query("SELECT file, location, format, reason, raw FROM quarantine "
                                  "ORDER BY file, location"),
        "tags": store.query("SELECT post_rowid, monitor FROM post_monitors "
                            "ORDER BY monitor, post_rowid"),
    }


def test_import_twice_adds_nothing(db_url: str, tmp_path: Path) -> None:
    f = write_pages(tmp_path / "pages.jsonl", pages=5)
    with open_store(db_url) as store:
        first = import_file(store, f)
        assert (first.records, first.imported, first.present, first.quarantined) == (5, 500, 0, 0)
        before = dump(store)
        again = import_file(store, f)
        assert (again.imported, again.present) == (0, 500)
        assert dump(store) == before
        assert store.count("posts") == 500
        assert store.count("authors") == 50


def test_bad_records_are_quarantined_and_the_rest_goes_in(db_url: str, tmp_path: Path) -> None:
    f = write_pages(tmp_path / "pages.jsonl", pages=6, broken_every=3)
    with open_store(db_url) as store:
        s = import_file(store, f)
        assert (s.records, s.imported, s.quarantined) == (6, 400, 2)
        q = store.quarantine_list()
        assert [e.location for e in q] == ["line 3", "line 6"]
        assert all(e.format == "twitter-v2" and e.raw.startswith(b'{"data"') for e in q)
        assert all("JSON" in e.reason for e in q)
        # a re-run neither duplicates the quarantine nor the posts
        import_file(store, f)
        assert len(store.quarantine_list()) == 2 and store.count("posts") == 400
        # fix one record and retry it
        fixed = json.dumps({"data": [{"id": "42", "text": "réparé", "author_id": "1"}]}).encode()
        ok, failed = retry_quarantine(store, [q[0].id], fixed)
        assert (ok, failed) == (1, 0)
        assert store.get_post("twitter:42").text == "réparé"
        assert [e.location for e in store.quarantine_list()] == ["line 6"]
        ok, failed = retry_quarantine(store)
        assert (ok, failed) == (0, 1)


def test_worker_processes_give_the_same_store(db_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Big files are normalized and indexed by worker processes (import.workers); the store must
    end exactly as with none: same rows in the same order, same languages detected, same tags,
    same quarantine. Small chunks make flushes fall inside a worker's chunk."""
    import perron.pipeline as pipeline

    f = write_pages(tmp_path / "pages.jsonl", pages=60, per_page=20, broken_every=7)
    monkeypatch.setattr(pipeline, "CHUNK_RECORDS", 7)
    monkeypatch.setattr(pipeline, "BATCH_POSTS", 150)
    dumps = {}
    for workers, url in (("0", str(tmp_path / "seq.db")), ("1", str(tmp_path / "par.db")),
                         ("2", db_url)):
        monkeypatch.setenv("PERRON_IMPORT_WORKERS", workers)
        assert pipeline.import_workers(f) == int(workers)
        with open_store(url) as store:
            store.monitor_add("fr", "lang:fr")
            s = import_file(store, f)
            assert (s.records, s.imported, s.quarantined) == (60, 52 * 20, 8)
            dumps[workers] = dump(store)
    assert dumps["0"] == dumps["1"]
    assert dumps["0"]["tags"] and dumps["0"]["quarantine"]
    # languages were detected for the posts declared "und", by the workers as without them
    assert any('"lang"' not in row[9] and row[6] in ("fr", "en") for row in dumps["1"]["posts"])
    cols = (1, 2, 3, 5, 6, 7)  # id, source, author, text, lang, kind (times differ in type)
    assert [[r[c] for c in cols] for r in dumps["2"]["posts"]] == \
        [[r[c] for c in cols] for r in dumps["0"]["posts"]]
    assert dumps["2"]["tags"] == dumps["0"]["tags"]


def _dying_worker(*_args: object) -> None:
    os._exit(3)


def test_a_dead_worker_is_a_clear_error_and_a_rerun_completes(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import perron.pipeline as pipeline

    f = write_pages(tmp_path / "pages.jsonl", pages=4)
    monkeypatch.setenv("PERRON_IMPORT_WORKERS", "1")
    with open_store(str(tmp_path / "s.db")) as store:
        monkeypatch.setattr(pipeline, "prepare_chunk", _dying_worker)
        with pytest.raises(SourceError, match="worker process died") as err:
            import_file(store, f)
        assert "PERRON_IMPORT_WORKERS=0" in (err.value.hint or "")
        monkeypatch.undo()
        monkeypatch.setenv("PERRON_IMPORT_WORKERS", "1")
        assert import_file(store, f).imported == 400


def test_compressed_inputs_are_read_transparently(db_url: str, tmp_path: Path) -> None:
    plain = write_pages(tmp_path / "p.jsonl", pages=2)
    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    zst = tmp_path / "p.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    with open_store(db_url) as store:
        a, b = import_paths(store, [gz, zst])
        assert (a.format, a.imported) == ("twitter-v2", 200)
        assert (b.format, b.imported, b.present) == ("twitter-v2", 0, 200)


def test_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("just some words\n")
    with open_store(str(tmp_path / "s.db")) as store, pytest.raises(SourceError) as err:
        import_file(store, f)
    assert "twitter-v2" in err.value.hint and "jetstream" in err.value.hint
    assert "--format" in err.value.hint


def test_deletions_are_honoured_and_never_resurrected(db_url: str) -> None:
    p = Post(id="bluesky:at://x/app.bsky.feed.post/1", source="bluesky", native_id="at://x/1",
             text="à effacer #bientôt")
    with open_store(db_url) as store:
        store.monitor_add("m", "#bientot")
        store.write([Batch(posts=[p])], store.matcher())
        assert [r["id"] for r in store.search("#bientôt")] == [p.id]
        c = store.write([Batch(deletions=[Deletion(post_id=p.id)])])
        assert c.deleted == 1
        assert list(store.search("#bientôt")) == [] and store.count("post_monitors") == 0
        c = store.write([Batch(posts=[p])])
        assert (c.imported, c.present) == (0, 1)
        assert store.count("posts") == 0


def test_monitors_tag_at_import_and_backfill(db_url: str, tmp_path: Path) -> None:
    f = write_pages(tmp_path / "p.jsonl", pages=3)
    with open_store(db_url) as store:
        store.monitor_add("greve", "grève OR #grève")
        import_file(store, f)
        tagged = {r["id"] for r in store.search(None, monitor="greve")}
        found = {r["id"] for r in store.search("greve OR #greve")}
        assert tagged == found and len(found) > 10
        store.monitor_add("sncf", "@sncf retard")
        assert store.backfill("sncf") == len(list(store.search("@SNCF retard")))


def test_search_order_and_limit(db_url: str, tmp_path: Path) -> None:
    with open_store(db_url) as store:
        import_file(store, write_pages(tmp_path / "p.jsonl", pages=2))
        rows = list(store.search("lang:fr", limit=5))
        assert len(rows) == 5
        assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows),
                                                        reverse=True)
        assert all(r["lang"] == "fr" for r in rows)


def test_newest_first_plans_agree(db_url: str, tmp_path: Path) -> None:
    """Store.newest lets the walk down the created_at index and the query's own plan take turns
    with growing time budgets: both must give the same rows, in the same order (ties on time
    broken by rowid), with posts of unknown time last. Compared here by forcing each plan."""
    from datetime import UTC, datetime

    with open_store(db_url) as store:
        import_file(store, write_pages(tmp_path / "p.jsonl", pages=3))
        tie = datetime(2030, 1, 1, tzinfo=UTC)  # newer than the synthetic pages
        store.write([Batch(posts=[
            Post(id=f"csv:tie{i}", source="csv", native_id=f"tie{i}", text="égalité parfaite",
                 lang="fr", created_at=None if i % 4 == 3 else tie) for i in range(8)])])
        queries = ["lang:fr", "-lang:fr", "égalité OR lang:en", "is:reply", "nothingmatchesthis"]
        for q in queries:
            walk = list(store.search(q, limit=7))
            store.NEWEST_WALK_SECONDS = 0.0  # never walk: the query's own plan
            try:
                own = list(store.search(q, limit=7))
                store.NEWEST_WALK_SECONDS = 1e-9  # both interrupted, again and again, then one ends
                turns = list(store.search(q, limit=7))
            finally:
                del store.NEWEST_WALK_SECONDS
            full = list(store.search(q))[:7]
            ids = [r["id"] for r in full]
            assert [r["id"] for r in walk] == [r["id"] for r in own] == ids, q
            assert [r["id"] for r in turns] == ids, q


def _run_import(db: str, f: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "perron.cli", "import", "--no-progress",
                             "--db", db, str(f)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_sigkill_then_rerun_equals_uninterrupted(db_url: str, tmp_path: Path) -> None:
    f = write_pages(tmp_path / "big.jsonl", pages=300, per_page=100, broken_every=50)
    # the killed run
    proc = _run_import(db_url, f)
    with open_store(db_url) as store:
        deadline = time.monotonic() + 60
        while store.count("posts") < 3000 and time.monotonic() < deadline:
            time.sleep(0.05)
    workers = children(proc.pid)
    assert workers, "a file this big is normalized by worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10  # the workers notice and exit: no orphan left behind
    while any(running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(running(w) for w in workers)
    with open_store(db_url) as store:
        partial = store.count("posts")
    assert 0 < partial < 29400, "the kill should land mid-import"
    assert _run_import(db_url, f).wait() == 0
    with open_store(db_url) as store:
        resumed = dump(store)
    # the uninterrupted run, in a fresh store of the same kind
    if db_url.startswith("postgresql://"):
        import psycopg

        base, _ = db_url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as c:
            c.execute('CREATE DATABASE "fresh_sigkill"')
        fresh = f"{base}/fresh_sigkill"
    else:
        fresh = str(tmp_path / "fresh.db")
    assert _run_import(fresh, f).wait() == 0
    with open_store(fresh) as store:
        clean = dump(store)
    for k in clean:
        assert resumed[k] == clean[k], k
    assert len(clean["posts"]) == 29400 and len(clean["quarantine"]) == 6
    if fresh.startswith("postgresql://"):
        with psycopg.connect(f"{base}/postgres", autocommit=True) as c:
            c.execute('DROP DATABASE "fresh_sigkill" WITH (FORCE)')


def test_env_var_selects_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERRON_DB", str(tmp_path / "env.db"))
    with open_store() as store:
        assert store.url == str(tmp_path / "env.db")
    assert os.path.exists(tmp_path / "env.db")


OLD_INTERACTION_KEY = ("kind || '|' || actor_id || '|' || COALESCE(NULLIF(target_author_id, ''), "
                       "target_handle, '') || '|' || COALESCE(post_id, '') || '|' || "
                       "COALESCE(target_post_id, '')")


def test_old_interaction_keys_are_migrated_and_a_reimport_adds_nothing(db_url: str,
                                                                       tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "sources"
    files = sorted(f for d in ("twitter-v1", "twitter-v2", "jetstream", "mastodon")
                   for f in (fixtures / d).iterdir() if f.suffix in (".json", ".jsonl"))
    with open_store(db_url) as store:
        import_paths(store, files)
        keys = store.query("SELECT key FROM interactions ORDER BY key")
        kinds = {k for (k,) in store.query("SELECT DISTINCT kind FROM interactions")}
        assert len(keys) > 50 and {"mention", "reply", "quote", "repost", "like", "follow"} <= kinds
        # back to schema 3, with the keys as perron wrote them then
        store.execute(f"UPDATE interactions SET key = {OLD_INTERACTION_KEY}")
        assert store.query("SELECT key FROM interactions ORDER BY key") != keys
        if store.dialect == "sqlite":
            store.execute("PRAGMA user_version = 3")
        else:
            store.execute("DELETE FROM schema_version WHERE version > 3")
            store.execute("DROP INDEX posts_newest")  # schema 5
    with open_store(db_url) as store:  # migration 4 (and the later ones) run
        assert store.query("SELECT key FROM interactions ORDER BY key") == keys
        again = import_paths(store, files)
        assert sum(s.imported for s in again) == 0
        assert store.query("SELECT key FROM interactions ORDER BY key") == keys
