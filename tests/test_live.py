"""Live listening against real servers on 127.0.0.1 (perron.testing.replay) that replay the
recorded Jetstream events, Mastodon statuses, feeds and Reddit listings, with scripted faults:
dropped connections, malformed frames, 429/5xx answers, restarts, kill -9 and SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perron.errors import ConfigError
from perron.live import add_source, run_listen, source_status
from perron.live.base import LRU, Backoff, resolve_token, retry_after
from perron.live.runner import ListenSummary
from perron.store import open_store
from perron.store.base import Store
from perron.testing.replay import (
    FIXTURES,
    FeedServer,
    JetstreamScript,
    JetstreamServer,
    MastodonServer,
    MastodonWsStreaming,
    RedditServer,
    jetstream_events,
    mastodon_post_id,
    mastodon_statuses,
    reddit_things,
)

ROOT = Path(__file__).resolve().parents[1]
FAST = {"backoff_base": "0.02", "backoff_cap": "0.2"}


def post_ids(store: Store, source: str) -> list[str]:
    return [r[0] for r in store.query("SELECT id FROM posts WHERE source = ?", [source])]


def cursor_of(store: Store, name: str) -> str | None:
    return store.scalar("SELECT cursor FROM source_state WHERE name = ?", [name])


def listen_until(url: str, until: Callable[[Store], bool], timeout: float = 30.0,
                 **kw: Any) -> ListenSummary:
    """Run run_listen in a thread until ``until(store)`` holds (checked on a second
    connection), then stop it the way SIGTERM does."""
    stop = threading.Event()
    result: dict[str, Any] = {}
    store = open_store(url)

    def work() -> None:
        try:
            result["summary"] = run_listen(store, None, stop, flush_interval=0.05, **kw)
        except BaseException as exc:  # surfaced below
            result["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    watcher = open_store(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and t.is_alive():
            if until(watcher):
                break
            time.sleep(0.05)
        else:
            if t.is_alive():
                pytest.fail(f"timed out waiting for the listener: {source_status(watcher)}")
    finally:
        stop.set()
        t.join(15)
        watcher.close()
        store.close()
    if "error" in result:
        raise result["error"]
    return result["summary"]


# --- Jetstream ------------------------------------------------------------------------------

def test_jetstream_exactly_once_through_disconnects_faults_and_deletions(db_url: str) -> None:
    events, keep = jetstream_events(400, deletions=25)
    last = str(events[-1]["time_us"])
    script = JetstreamScript(disconnect_after=[120, 150], refuse=[None, 429, 503],
                             retry_after=0.05, malformed_at={60})
    with JetstreamServer(events, script) as srv:
        with open_store(db_url) as store:
            monitors_before = store.count("monitors")
            store.monitor_add("generes", "#7 OR #77")
            add_source(store, "bsky", "jetstream", srv.url,
                       {**FAST, "collections": "app.bsky.feed.post,app.bsky.feed.like,"
                                               "app.bsky.graph.follow"})
        summary = listen_until(db_url, lambda s: cursor_of(s, "bsky") == last)
        assert len(srv.connections) == 3  # two drops, two refusals, three streams
        # each reconnection resumed from the last event received, minus the safety margin
        assert srv.connections[1]["cursor"] is not None
        assert srv.connections[1]["cursor"] < srv.connections[2]["cursor"]
    with open_store(db_url) as store:
        ids = post_ids(store, "bluesky")
        assert len(ids) == len(set(ids)) == len(keep)
        assert set(ids) == keep
        assert store.count("deletions") == 25
        assert cursor_of(store, "bsky") == last
        q = store.quarantine_list()
        assert [(e.file, e.format) for e in q] == [("live:bsky", "jetstream")]
        assert q[0].location.startswith("after cursor ")
        assert store.count("monitors") == monitors_before + 1
        tagged = store.scalar("SELECT count(*) FROM post_monitors WHERE monitor = 'generes'")
        assert tagged == sum(1 for i in range(25, 400) if str(i) in ("7", "77"))
        assert store.count("interactions") > 0  # likes and follows came through too
        (status,) = source_status(store)
        assert status["state"] == "stopped" and status["errors"] >= 4
        assert status["last_event_at"].startswith("2024-11-21T")
    assert summary.quarantined == 3 and summary.deleted == 25  # the bad frame, seen 3 times


def test_jetstream_restart_resumes_from_saved_cursor_without_gap(db_url: str) -> None:
    events, keep = jetstream_events(600, others=False)
    last = str(events[-1]["time_us"])
    with JetstreamServer(events, JetstreamScript(rate=1000)) as srv:
        with open_store(db_url) as store:
            add_source(store, "bsky", "jetstream", srv.url, {**FAST, "cursor_margin_s": "0.05"})
        enriched: list[str] = []

        def enrich(store: Store, ids: list[str]) -> None:
            assert store.count() >= len(ids)  # called after the commit, on the same store
            enriched.extend(ids)

        listen_until(db_url, lambda s: s.count() >= 150,  # stopped mid-stream
                     enrich_batch=enrich)
        with open_store(db_url) as store:
            saved = int(cursor_of(store, "bsky") or 0)
            first = store.count()
        assert 150 <= first < 600 and saved
        listen_until(db_url, lambda s: cursor_of(s, "bsky") == last, enrich_batch=enrich)
        assert srv.connections[1]["cursor"] == saved - 50_000  # cursor minus the margin
        # the events replayed inside the margin were stored once and enriched once
        assert len(enriched) == len(set(enriched)) == 600 and set(enriched) == keep
    with open_store(db_url) as store:
        ids = post_ids(store, "bluesky")
        assert len(ids) == 600 and set(ids) == keep


def _zstd_dictionary(events: list[dict[str, Any]], path: Path, seed: int = 0) -> bytes:
    """A zstd dictionary trained on the events, as Jetstream trains its own on its stream."""
    import zstandard

    samples = [json.dumps(e).encode() for e in events]
    random.Random(seed).shuffle(samples)
    data = zstandard.train_dictionary(4096, samples[:400]).as_bytes()
    path.write_bytes(data)
    return data


def test_jetstream_compressed_with_its_dictionary_exactly_once(db_url: str, tmp_path: Path) -> None:
    events, keep = jetstream_events(500, others=False)
    last = str(events[-1]["time_us"])
    dictionary = _zstd_dictionary(events, tmp_path / "zstd_dictionary")
    script = JetstreamScript(disconnect_after=[150], malformed_at={80},
                             zstd_dictionary=dictionary)
    with JetstreamServer(events, script) as srv:
        with open_store(db_url) as store:
            add_source(store, "bsky", "jetstream", srv.url,
                       {**FAST, "zstd_dictionary": str(tmp_path / "zstd_dictionary")})
        listen_until(db_url, lambda s: cursor_of(s, "bsky") == last)
        assert len(srv.connections) == 2
        assert all("compress=true" in c["path"] for c in srv.connections)
    with open_store(db_url) as store:
        ids = post_ids(store, "bluesky")
        assert len(ids) == len(set(ids)) == len(keep) and set(ids) == keep
        (entry,) = store.quarantine_list()  # the corrupt frame, once although replayed
        assert "cannot decompress the zstd frame" in entry.reason


def test_jetstream_compression_needs_the_servers_dictionary(db_url: str, tmp_path: Path) -> None:
    events, _ = jetstream_events(300, others=False)
    served = _zstd_dictionary(events, tmp_path / "served")
    _zstd_dictionary(events, tmp_path / "other", seed=1)
    with JetstreamServer(events, JetstreamScript(zstd_dictionary=served)) as srv:
        with open_store(db_url) as store:
            add_source(store, "bsky", "jetstream", srv.url,
                       {**FAST, "zstd_dictionary": str(tmp_path / "other")})
        with pytest.raises(ConfigError, match="compresses with zstd dictionary") as exc:
            listen_until(db_url, lambda s: False, timeout=10.0)
        assert "download the dictionary" in (exc.value.hint or "")
    with open_store(db_url) as store:
        assert store.count() == 0
        assert len(store.quarantine_list()) == 3  # three frames tried, kept, then it stopped
        (status,) = source_status(store)
        assert status["state"] == "failed" and "dictionary" in status["last_error"]


def test_a_lone_event_on_a_quiet_stream_is_written_within_the_flush_interval(db_url: str) -> None:
    # one event, then silence: it must not wait for a second event (or the stop) to be written
    events, keep = jetstream_events(1, others=False)
    with JetstreamServer(events) as srv:
        with open_store(db_url) as store:
            add_source(store, "bsky", "jetstream", srv.url, FAST)
        # before the fix it was written only when the listener stopped: never, here
        listen_until(db_url, lambda s: s.count() == 1, timeout=10.0)
    with open_store(db_url) as store:
        assert set(post_ids(store, "bluesky")) == keep
        assert cursor_of(store, "bsky") == str(events[0]["time_us"])


def _cli(db: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "perron.commands.listen", *args, "--db", db],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait(store: Store, cond: Callable[[Store], bool], proc: subprocess.Popen[bytes],
          timeout: float = 25.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond(store):
            return
        if proc.poll() is not None:
            pytest.fail(f"listener exited early: {proc.stderr.read().decode()}")  # type: ignore
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out; stderr: {proc.communicate()[1].decode()}")


def test_kill9_then_restart_is_exactly_once_and_sigterm_exits_0(db_url: str) -> None:
    events, keep = jetstream_events(3000, deletions=10)
    last = str(events[-1]["time_us"])
    with JetstreamServer(events, JetstreamScript(rate=2500)) as srv:
        with open_store(db_url) as store:
            add_source(store, "bsky", "jetstream", srv.url, FAST)
            proc = _cli(db_url, "listen", "--flush-interval", "0.05", "--batch-size", "200")
            _wait(store, lambda s: s.count() >= 800, proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
            killed_at = store.count()
            assert killed_at < 3000
            proc = _cli(db_url, "listen", "--flush-interval", "0.05")
            _wait(store, lambda s: cursor_of(s, "bsky") == last, proc)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
            assert proc.returncode == 0, err.decode()
            assert b"stopped:" in err
            ids = post_ids(store, "bluesky")
            assert len(ids) == len(keep) and set(ids) == keep
            assert store.count("deletions") == 10
            (status,) = source_status(store)
            assert status["state"] == "stopped" and status["cursor"] == last


def test_sigterm_flushes_what_was_received(tmp_path: Path) -> None:
    db = str(tmp_path / "perron.db")
    events, keep = jetstream_events(200, others=False)
    with JetstreamServer(events) as srv:
        with open_store(db) as store:
            add_source(store, "bsky", "jetstream", srv.url, FAST)
            # a long flush interval: the posts are still in memory when SIGTERM arrives
            proc = _cli(db, "listen", "--flush-interval", "60", "--batch-size", "100000")
            _wait(store, lambda s: (cursor_of(s, "bsky") is None
                                    and len(srv.connections) == 1
                                    and srv.connections[0]["sent"] == 200), proc)
            time.sleep(0.3)
            assert store.count() == 0
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
            assert proc.returncode == 0, err.decode()
            assert set(post_ids(store, "bluesky")) == keep
            assert cursor_of(store, "bsky") == str(events[-1]["time_us"])


# --- Mastodon -------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["sse", "websocket"])
def test_mastodon_stream_backfills_the_gap_and_honours_deletes(db_url: str,
                                                               transport: str) -> None:
    statuses = mastodon_statuses(90)
    segments = [([], list(range(0, 30))),  # streamed, then the connection drops
                (list(range(30, 60)), list(range(60, 80)))]  # published while disconnected
    deleted = statuses[5]["id"]
    with contextlib.ExitStack() as stack:
        srv = stack.enter_context(MastodonServer(statuses, segments, deletes={1: [deleted]},
                                                 malformed_at={10}))
        options = {**FAST, "stream": "hashtag", "tag": "perron", "transport": transport}
        if transport == "websocket":
            ws = stack.enter_context(MastodonWsStreaming(srv))
            options["streaming"] = ws.url
        with open_store(db_url) as store:
            add_source(store, "piaille", "mastodon", srv.url, options)
        want = {mastodon_post_id(statuses[i]) for i in range(80) if i != 5}
        listen_until(db_url, lambda s: s.count("deletions") == 1
                     and cursor_of(s, "piaille") == statuses[79]["id"])
        if transport == "websocket":
            assert len(ws.paths) == 2 and "stream=hashtag&tag=perron" in ws.paths[0]
        # the backfill asked for what came after the last status seen before the drop
        assert any(f"min_id={statuses[29]['id']}" in r for r in srv.rest_requests)
    with open_store(db_url) as store:
        ids = post_ids(store, "mastodon")
        assert len(ids) == len(want) and set(ids) == want
        assert store.scalar("SELECT post_id FROM deletions") == mastodon_post_id(statuses[5])
        q = store.quarantine_list()
        assert len(q) == 1 and q[0].file == "live:piaille" and q[0].format == "mastodon"


def test_mastodon_delete_after_a_restart_removes_the_post_stored_before(db_url: str) -> None:
    statuses = mastodon_statuses(21)
    with MastodonServer(statuses, [([], list(range(20)))]) as srv:
        with open_store(db_url) as store:
            add_source(store, "piaille", "mastodon", srv.url,
                       {**FAST, "stream": "hashtag", "tag": "perron"})
        listen_until(db_url, lambda s: s.count() == 20)
        # perron stops and starts again. Then status 5 (stored before the restart) is deleted,
        # status 20 is posted and deleted at once, and 999 (never seen) is deleted: ignored
        srv.segments.append(([], [20]))
        srv.deletes[1] = [statuses[5]["id"], statuses[20]["id"], "999"]
        listen_until(db_url, lambda s: s.count("deletions") == 2)
    with open_store(db_url) as store:
        ids = set(post_ids(store, "mastodon"))
        assert ids == {mastodon_post_id(statuses[i]) for i in range(20) if i != 5}
        assert {r[0] for r in store.query("SELECT post_id FROM deletions")} == {
            mastodon_post_id(statuses[5]), mastodon_post_id(statuses[20])}


def test_mastodon_private_stream_without_token_names_the_three_places(monkeypatch) -> None:
    monkeypatch.delenv("PERRON_MASTODON_TOKEN", raising=False)
    monkeypatch.setattr("perron.config._from_file", lambda name: None)
    with pytest.raises(ConfigError) as err:
        resolve_token("mastodon", None, required=True, why="the user stream is private")
    text = str(err.value)
    for place in ("--token mastodon=", "PERRON_MASTODON_TOKEN", "perron.toml", "Development"):
        assert place in text
    monkeypatch.setenv("PERRON_MASTODON_TOKEN", "from-env")
    assert resolve_token("mastodon", None, required=True) == "from-env"
    assert resolve_token("mastodon", "from-flag", required=True) == "from-flag"


# --- RSS --------------------------------------------------------------------------------------

def test_rss_conditional_polling_304_and_new_items(tmp_path: Path) -> None:
    db = str(tmp_path / "perron.db")
    blog = (FIXTURES / "rss" / "blog-fr.xml").read_bytes()
    comments = (FIXTURES / "rss" / "comments-feed.xml").read_bytes()
    with FeedServer(blog) as srv:
        with open_store(db) as store:
            add_source(store, "carnet", "rss", srv.url + "/feed.xml",
                       {**FAST, "interval": "0.1"})
        listen_until(db, lambda s: len(srv.answers) >= 3)
        assert srv.answers[:3] == [200, 304, 304]
        assert srv.requests[0]["if_none_match"] is None
        assert srv.requests[1] == {"if_none_match": '"v1"',
                                   "if_modified_since": "Mon, 23 Nov 2026 10:00:00 GMT"}
        with open_store(db) as store:
            assert store.count() == 3
            assert json.loads(cursor_of(store, "carnet") or "{}")["etag"] == '"v1"'
        # a restart keeps the validators; the feed changes: new items, comments threaded
        srv.update(comments, '"v2"', "Mon, 23 Nov 2026 11:00:00 GMT")
        n = len(srv.requests)
        listen_until(db, lambda s: s.count() == 6 and len(srv.answers) >= n + 2)
        assert srv.requests[n]["if_none_match"] == '"v1"'
        assert srv.answers[n:n + 2] == [200, 304]
    with open_store(db) as store:
        assert store.scalar("SELECT count(*) FROM posts WHERE kind = 'reply'") == 3


# --- Reddit ------------------------------------------------------------------------------------

def test_reddit_obeys_rate_limit_headers_and_dedupes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PERRON_REDDIT_USER_AGENT", "perron-tests/1.0 by u/perron")
    monkeypatch.delenv("PERRON_REDDIT_TOKEN", raising=False)
    db = str(tmp_path / "perron.db")
    things = reddit_things(150)
    with RedditServer(things, per_request=30, allowed=3, window=1.0) as srv:
        with open_store(db) as store:
            add_source(store, "quebec", "reddit", srv.url,
                       {**FAST, "subreddit": "quebec", "interval": "0"})
        listen_until(db, lambda s: s.count() == 150 and len(srv.requests) >= 7)
        assert srv.violations == 0
        times = [t for t, _ in srv.requests]
        assert all(sum(1 for u in times if t <= u < t + 1.0) <= 3 for t in times)
        assert any("before=t3_" in p for _, p in srv.requests)
        assert srv.user_agents == {"perron-tests/1.0 by u/perron"}
    with open_store(db) as store:
        ids = post_ids(store, "reddit")
        assert len(ids) == 150 and set(ids) == {f"reddit:{t['data']['name']}" for t in things}
        assert cursor_of(store, "quebec") == things[-1]["data"]["name"]


# --- building blocks ----------------------------------------------------------------------------

def test_backoff_is_exponential_jittered_and_capped() -> None:
    b = Backoff(base=1.0, cap=8.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    assert all(0 <= d <= min(8.0, 2 ** i) for i, d in enumerate(delays))
    assert max(delays[4:]) > 2.0  # it grows…
    b.reset()
    assert b.next_delay() <= 1.0  # …and starts over after a success
    assert Backoff(rng=random.Random(3)).next_delay() == Backoff(rng=random.Random(3)).next_delay()


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after("2.5") == 2.5
    assert retry_after("Mon, 23 Nov 2026 10:00:30 GMT", now=1795428000.0) == 30.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_lru_stays_bounded() -> None:
    lru: LRU[int, bool] = LRU(100)
    assert all(lru.add(i) for i in range(10_000))
    assert len(lru) == 100 and 9_999 in lru and 0 not in lru
    assert not lru.add(9_999)


def test_status_shows_stale_when_the_listener_died(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    db = str(tmp_path / "perron.db")
    with open_store(db) as store:
        add_source(store, "bsky", "jetstream", "ws://127.0.0.1:9")
        store.execute("UPDATE source_state SET status = ?, updated_at = ?",
                      ['{"state": "connected", "per_minute": 5.0, "lag_s": 0.3}',
                       store.ts(datetime.now(UTC) - timedelta(minutes=10))])
        (row,) = source_status(store)
        assert row["state"] == "stale" and not row["connected"]
        (row,) = source_status(store, now=datetime.now(UTC) - timedelta(minutes=10))
        assert row["connected"] and row["events_per_minute"] == 5.0 and row["lag_s"] == 0.3


def test_sources_commands_add_list_status_remove(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from perron.commands.listen import sources_group

    db = str(tmp_path / "perron.db")
    run = CliRunner().invoke
    r = run(sources_group, ["add", "piaille", "--kind", "mastodon", "--endpoint",
                            "https://piaille.example.fr", "--option", "tag=montreal", "--db", db])
    assert r.exit_code == 0, r.output
    r = run(sources_group, ["add", "x", "--kind", "mastodon", "--db", db])
    assert r.exit_code == 2 and "--endpoint" in r.output
    r = run(sources_group, ["add", "j", "--kind", "jetstream", "--option", "compress=true",
                            "--db", db])
    assert r.exit_code == 2 and "needs Jetstream's zstd dictionary" in r.output
    assert "zstd_dictionary=PATH" in r.output
    r = run(sources_group, ["add", "j", "--kind", "jetstream", "--option",
                            f"zstd_dictionary={tmp_path / 'missing'}", "--db", db])
    assert r.exit_code == 2 and "cannot read zstd_dictionary" in r.output
    r = run(sources_group, ["add", "j", "--kind", "jetstream", "--option", "compress=maybe",
                            "--db", db])
    assert r.exit_code == 2 and "is not true or false" in r.output and "compress=true" in r.output
    r = run(sources_group, ["list", "--json", "--db", db])
    assert [json.loads(line)["name"] for line in r.output.splitlines()] == ["piaille"]
    r = run(sources_group, ["status", "--json", "--db", db])
    row = json.loads(r.output)
    assert row["state"] == "never run" and row["options"] == {"tag": "montreal"}
    assert run(sources_group, ["remove", "piaille", "--db", db]).exit_code == 0
    r = run(sources_group, ["remove", "piaille", "--db", db])
    assert r.exit_code == 5 and "no source named" in r.output
