"""Alerts on real stores (SQLite and PostgreSQL), delivered to a real local SMTP server and a real
local HTTP server. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import json
import random
import socket
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from perron.alerts import (
    Channel,
    CollectorDownRule,
    DeliverySettings,
    FirstTermRule,
    InfluentialAuthorRule,
    SpikeRule,
    TriageBurstRule,
    add_rule,
    deliveries,
    evaluate,
    get_alert,
    list_alerts,
    list_rules,
    make_rule,
    remove_rule,
    run,
    send_test,
    set_status,
)
from perron.errors import ConfigError, NotFound, QueryError
from perron.models import Author, Batch, Post
from perron.store import open_store

T0 = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)  # a Monday
BURST = T0 + timedelta(days=4, hours=14)  # Friday 14:00 UTC
NOW = BURST + timedelta(hours=1, minutes=20)
CALM = ["Le train de 8 h est à l'heure, merci", "Beau trajet en train vers Lyon aujourd'hui",
        "Le wifi du train marche bien", "Train on time today, nice staff",
        "Petit retard du train ce matin mais rien de grave"]


def _post(i: int, at: datetime, text: str, author: str, likes: int = 0) -> Post:
    return Post(id=f"test:{i}", source="mastodon", native_id=str(i), text=text, created_at=at,
                author_id=f"mastodon:{author}", author_handle=author, lang="fr",
                url=f"https://example.org/@{author}/{i}")


def _fill(store, burst: int = 120, seed: int = 3) -> None:
    """Four and a half days of calm hourly traffic, then a burst of #pannegénérale posts."""
    rng = random.Random(seed)
    store.monitor_add("rail", "train OR #pannegenerale")
    posts, i = [], 0
    t = T0
    while t < NOW:
        n = burst if t == BURST else rng.randint(2, 6)
        for _ in range(n):
            at = t + timedelta(seconds=rng.randrange(3600))
            if t == BURST:
                author = "lanceur_alerte" if i % 2 == 0 else f"voyageur{i % 40}"
                text = f"#PanneGénérale aucun train ne circule ce matin, encore ! ({i})"
            else:
                author, text = f"habitue{rng.randrange(60)}", rng.choice(CALM)
            posts.append(_post(i, at, text, author))
            i += 1
        t += timedelta(hours=1)
    authors = [Author(id="mastodon:lanceur_alerte", source="mastodon", native_id="la",
                      handle="lanceur_alerte", followers=250_000)]
    store.write([Batch(posts=posts, authors=authors)], matcher=store.matcher())


@pytest.fixture
def store(db_url):
    with open_store(db_url) as s:
        yield s


# ---- rules ------------------------------------------------------------------------------------

def test_rules_roundtrip_and_errors(store):
    rule = SpikeRule(name="pic-rail", monitor="rail", on="negative", cooldown="6h",
                     channels=[Channel("email", to="cm@example.org")])
    add_rule(store, rule)
    [back] = list_rules(store)
    assert back == rule and back.channels[0].to == "cm@example.org"
    with pytest.raises(Exception, match="already exists"):
        add_rule(store, rule)
    with pytest.raises(ConfigError, match="unknown option"):
        make_rule("spike", "x", {"monitor": "rail", "colour": "red"})
    with pytest.raises(ConfigError, match="needs a monitor"):
        make_rule("spike", "x", {})
    with pytest.raises(ConfigError, match="bad duration"):
        make_rule("spike", "x", {"monitor": "rail", "cooldown": "soon"})
    with pytest.raises(ConfigError, match="webhook URL"):
        Channel("webhook", url="ftp://nope")
    remove_rule(store, "pic-rail")
    assert list_rules(store) == []
    with pytest.raises(NotFound):
        remove_rule(store, "pic-rail")


# ---- spike ------------------------------------------------------------------------------------

def test_spike_fires_once_with_explanation(store):
    _fill(store)
    rule = SpikeRule(name="pic", monitor="rail", lang="fr")
    add_rule(store, rule)
    [result] = run(store, NOW, settings=DeliverySettings(max_attempts=1))
    assert len(result.new) == 1, result.to_dict()
    alert = get_alert(store, result.new[0].id)
    e = alert.explanation
    assert e["window"]["start"] == "2024-05-10T14:00:00Z"
    assert e["observed"] == 120 and e["expected"] < 10 and e["score"] >= e["sensitivity"]
    assert e["measure"] == "volume" and alert.status == "open" and alert.monitor == "rail"
    over = e["over_represented"]
    assert over["hashtags"][0]["key"] == "#pannegenerale"
    assert over["hashtags"][0]["window_count"] == 120
    assert over["hashtags"][0]["baseline_count"] == 0
    assert over["authors"][0]["key"] == "lanceur_alerte"
    assert over["authors"][0]["window_count"] == 60
    assert e["top_posts"] and all("pannegénérale" in p["text"].lower() for p in e["top_posts"])
    assert "Pic de volume" in alert.title and "« rail »" in alert.title
    assert "#pannegenerale" in e["summary"]["fr"] and "#pannegenerale" in e["summary"]["en"]
    # same run again: nothing new (dedupe)
    [again] = run(store, NOW + timedelta(minutes=10), settings=DeliverySettings(max_attempts=1))
    assert again.new == [] and again.duplicates == 1
    assert len(list_alerts(store)) == 1


def test_a_sustained_rise_alerts_with_its_windows_totals(store):
    """5-minute buckets: no bucket stands out, but 12:00–18:00 holds twice its usual posts."""
    rng = random.Random(5)
    store.monitor_add("rail", "train OR #retardgeneral")
    rise = T0 + timedelta(days=4, hours=12)
    now = rise + timedelta(hours=6, minutes=20)
    posts, i, t = [], 0, T0
    while t < now:
        lam = 6.0 if rise <= t < rise + timedelta(hours=6) else 3.0
        n = sum(1 for _ in range(60) if rng.random() < lam / 60)
        for _ in range(n):
            at = t + timedelta(seconds=rng.randrange(300))
            text = (f"#RetardGénéral encore un train en retard ({i})" if lam > 3
                    else rng.choice(CALM))
            posts.append(_post(i, at, text, f"habitue{rng.randrange(60)}"))
            i += 1
        t += timedelta(minutes=5)
    store.write([Batch(posts=posts)], matcher=store.matcher())
    in_window = sum(1 for p in posts if rise <= p.created_at < rise + timedelta(hours=6))
    assert evaluate(store, SpikeRule(name="p", monitor="rail", interval="5m",
                                     sensitivity=1000), now)  # the window alone alerts
    [alert] = evaluate(store, SpikeRule(name="pic", monitor="rail", interval="5m"), now)
    e = alert.explanation
    assert e["sustained"] == "6h" and e["interval"] == "5m"
    assert e["window"] == {"start": "2024-05-10T12:00:00Z", "end": "2024-05-10T18:00:00Z"}
    assert e["observed"] == in_window == e["posts_in_window"]
    assert e["score"] >= e["sensitivity"] == 5.0
    assert e["over_represented"]["hashtags"][0]["key"] == "#retardgeneral"
    assert "12:00–18:00" in alert.title


def test_spike_on_negative_without_labels_falls_back_to_volume(store):
    _fill(store)
    rule = SpikeRule(name="neg", monitor="rail", on="negative")
    [alert] = evaluate(store, rule, NOW)
    assert alert.explanation["measure"] == "volume"
    assert alert.explanation["requested"] == "negative"
    assert "no sentiment labels" in alert.explanation["notes"][0]


def test_spike_on_negative_share(store):
    _fill(store)
    rows = store.query("SELECT rowid, created_at, text FROM posts")
    now = store.ts(NOW)
    labels = []
    for rowid, _created, text in rows:
        label = "negative" if "Panne" in text or rowid % 9 == 0 else "neutral"
        labels.append([rowid, "sentiment", label, 0.9, "test", "1", now])
    store.executemany("INSERT INTO labels (post_rowid, task, label, score, model, version, "
                      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", labels)
    [alert] = evaluate(store, SpikeRule(name="neg", monitor="rail", on="negative"), NOW)
    e = alert.explanation
    assert e["measure"] == "negative" and "notes" not in e
    assert e["negative_posts"] == 120 and e["labelled_posts"] == 120 and e["share"] == 1.0
    assert e["expected_share"] < 0.3
    assert e["over_represented"]["hashtags"][0]["key"] == "#pannegenerale"
    assert "négatifs" in alert.title


def test_cooldown_and_dedupe(store):
    _fill(store)
    rule = SpikeRule(name="pic", monitor="rail", cooldown="6h", sensitivity=12)
    add_rule(store, rule)
    run(store, NOW, settings=DeliverySettings(max_attempts=1))
    # a second burst two hours later: inside the 6 h cooldown, so no alert
    second = BURST + timedelta(hours=2)
    store.write([Batch(posts=[_post(10_000 + k, second + timedelta(seconds=k), "#PanneGénérale "
                                    f"le train encore bloqué {k}", "x") for k in range(150)])],
                matcher=store.matcher())
    later = second + timedelta(hours=1, minutes=5)
    [r] = run(store, later, settings=DeliverySettings(max_attempts=1))
    assert r.new == []
    assert r.cooled + r.duplicates >= 1
    assert len(list_alerts(store)) == 1
    # the same burst with no cooldown alerts (detector cooldown off too)
    add_rule(store, SpikeRule(name="pic", monitor="rail", cooldown="0s", sensitivity=12),
             replace=True)
    [r2] = run(store, later, settings=DeliverySettings(max_attempts=1))
    assert len(r2.new) == 1 and r2.new[0].explanation["window"]["start"] == "2024-05-10T16:00:00Z"


def test_a_broken_rule_does_not_stop_the_others(store):
    _fill(store)
    add_rule(store, SpikeRule(name="a-pic", monitor="rail"))
    store.monitor_add("vieux", "train")
    add_rule(store, FirstTermRule(name="a-vieux", monitor="vieux", terms=["wifi"]))
    store.monitor_remove("vieux")
    runs = {r.rule: r for r in run(store, NOW, settings=DeliverySettings(max_attempts=1))}
    assert "no monitor named 'vieux'" in runs["a-vieux"].error
    assert len(runs["a-pic"].new) == 1 and runs["a-pic"].error is None
    with pytest.raises(QueryError, match="unbalanced parenthesis"):
        FirstTermRule(name="x", monitor="rail", terms=["(grève"])


def test_status_changes(store):
    _fill(store)
    add_rule(store, SpikeRule(name="pic", monitor="rail"))
    [r] = run(store, NOW, settings=DeliverySettings(max_attempts=1))
    aid = r.new[0].id
    set_status(store, aid, "acknowledged")
    assert [a.id for a in list_alerts(store, status="acknowledged")] == [aid]
    assert list_alerts(store, status="open") == []
    set_status(store, aid, "closed")
    assert get_alert(store, aid).status == "closed"
    with pytest.raises(ConfigError):
        set_status(store, aid, "snoozed")


# ---- other kinds -------------------------------------------------------------------------------

def test_first_term(store):
    _fill(store)
    rule = FirstTermRule(name="nouveau", monitor="rail", window="1d", min_posts=3)
    found = evaluate(store, rule, NOW)
    assert [a.explanation["term"] for a in found] == ["#pannegenerale"]
    e = found[0].explanation
    assert e["posts_so_far"] == 120 and e["first_post"]["created_at"].startswith("2024-05-10T14")
    listed = FirstTermRule(name="liste", monitor="rail", terms=["ne circule", "wifi"])
    keys = [a.explanation["term"] for a in evaluate(store, listed, NOW)]
    assert keys == ["ne circule"]  # "wifi" appeared days ago: not a first appearance
    add_rule(store, rule)
    assert len(run(store, NOW, settings=DeliverySettings(max_attempts=1))[0].new) == 1
    assert run(store, NOW, settings=DeliverySettings(max_attempts=1))[0].new == []


def test_influential_author(store):
    _fill(store)
    rule = InfluentialAuthorRule(name="gros-compte", monitor="rail", min_followers=100_000,
                                 window="1d", cooldown="6h")
    found = evaluate(store, rule, NOW)
    assert found and {a.explanation["author"]["handle"] for a in found} == {"lanceur_alerte"}
    assert found[0].explanation["author"]["followers"] == 250_000
    add_rule(store, rule)
    [r] = run(store, NOW, settings=DeliverySettings(max_attempts=1))
    assert len(r.new) == 1 and r.cooled == len(found) - 1  # one per author per cooldown
    assert evaluate(store, InfluentialAuthorRule(name="x", min_followers=300_000), NOW) == []


def test_triage_burst(store):
    _fill(store)
    rows = store.query("SELECT rowid, text FROM posts ORDER BY rowid")
    now = store.ts(NOW)
    labels = []
    for rowid, text in rows:
        if "Panne" in text:
            outcome = "monitor_only" if rowid % 3 else "restoration"
        else:
            outcome = "restoration" if rowid % 50 == 0 else "let_stand"
        labels.append([rowid, "triage", outcome, 0.8, json.dumps(["« panne » (+1.2)"]), "t", "1",
                       now])
    store.executemany("INSERT INTO labels (post_rowid, task, label, score, reasons, model, "
                      "version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", labels)
    [alert] = evaluate(store, TriageBurstRule(name="tri", monitor="rail", min_count=10), NOW)
    e = alert.explanation
    assert e["count"] == 120 and set(e["outcomes"]) == {"monitor_only", "restoration"}
    assert e["expected"] < 1 and e["window"]["start"] == "2024-05-10T14:00:00Z"
    assert e["posts"][0]["reasons"] == ["« panne » (+1.2)"]
    assert e["authors"][0]["author"] == "lanceur_alerte"
    assert evaluate(store, TriageBurstRule(name="tri", monitor="rail", min_count=500), NOW) == []


def test_collector_down(store):
    beat = NOW - timedelta(minutes=1)  # heartbeat: the listener is alive
    rows = [("jetstream", "connected", NOW - timedelta(minutes=5), beat),
            ("mastodon-fr", "reconnecting", NOW - timedelta(minutes=3), beat),
            ("rss-blogs", json.dumps({"state": "connected", "per_minute": 0.0}),
             NOW - timedelta(hours=3), beat),
            ("reddit-qc", "connected", NOW - timedelta(minutes=8), NOW - timedelta(minutes=10))]
    store.executemany("INSERT INTO source_state (name, kind, config, status, last_event_at, "
                      "last_error, updated_at) VALUES (?, 'rss', '{}', ?, ?, ?, ?)",
                      [[n, st, store.ts(at), "HTTP 401" if "reconnecting" in st else None,
                        store.ts(up)] for n, st, at, up in rows])
    rule = CollectorDownRule(name="sante", silent="30m", lang="en")
    found = {a.scope: a for a in evaluate(store, rule, NOW)}
    assert set(found) == {"mastodon-fr", "rss-blogs", "reddit-qc"}
    assert found["mastodon-fr"].explanation["reasons"] == ["status"]
    assert found["mastodon-fr"].explanation["last_error"] == "HTTP 401"
    assert found["rss-blogs"].explanation["reasons"] == ["silent"]
    assert found["rss-blogs"].explanation["silent_minutes"] == 180
    assert found["reddit-qc"].explanation["status"] == "stale"  # no heartbeat for 10 min
    assert "Collector “rss-blogs” down: nothing received for 180 min" == found["rss-blogs"].title
    add_rule(store, rule)
    assert len(run(store, NOW, settings=DeliverySettings(max_attempts=1))[0].new) == 3
    later = run(store, NOW + timedelta(seconds=30), settings=DeliverySettings(max_attempts=1))
    assert later[0].new == [] and later[0].duplicates == 3
    only = CollectorDownRule(name="jet", sources=["jetstream"], silent="2h")
    assert evaluate(store, only, NOW) == []


# ---- delivery: real SMTP and HTTP servers on 127.0.0.1 ----------------------------------------

@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    received: list[Message] = []

    class Keep(MessageHandler):
        def handle_message(self, message: Message) -> None:
            received.append(message)

        def prepare_message(self, session, envelope):  # keep the raw bytes, parse them
            msg = message_from_bytes(envelope.content, policy=policy.default)
            msg["X-Rcpt"] = ",".join(envelope.rcpt_tos)
            return msg

    with socket.socket() as probe:  # a free port (aiosmtpd checks it can connect, so not 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Keep(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, received
    finally:
        ctl.stop()


class _Hook:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                code = hook.statuses.pop(0) if len(hook.statuses) > 1 else hook.statuses[0]
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"boom")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory():
    hooks: list[_Hook] = []

    def make(statuses: list[int]) -> _Hook:
        hooks.append(_Hook(statuses))
        return hooks[-1]

    yield make
    for h in hooks:
        h.close()


def _fast(port: int = 25, attempts: int = 4) -> DeliverySettings:
    sleeps: list[float] = []
    return DeliverySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="perron@test.local",
                            max_attempts=attempts, backoff=0.01, timeout=5,
                            sleep=sleeps.append)


def test_email_and_webhook_delivery(store, smtp_server, hook_factory):
    port, received = smtp_server
    hook = hook_factory([200])
    _fill(store)
    add_rule(store, SpikeRule(name="pic", monitor="rail", lang="fr", channels=[
        Channel("email", to="cm@example.org"), Channel("webhook", url=hook.url)]))
    [r] = run(store, NOW, settings=_fast(port))
    assert [d.status for _, d in r.deliveries] == ["sent", "sent"]
    [msg] = received
    assert msg["To"] == "cm@example.org" and msg["X-Rcpt"] == "cm@example.org"
    assert msg["Subject"].startswith("[perron] Pic de volume sur « rail »")
    assert msg["X-Perron-Alert"] == str(r.new[0].id)
    parts = {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "#pannegenerale" in parts["text/plain"] and "lanceur_alerte" in parts["text/plain"]
    assert "Mots-dièse surreprésentés" in parts["text/plain"]
    assert "<h2>" in parts["text/html"] and "#pannegenerale" in parts["text/html"]
    [body] = hook.bodies
    assert isinstance(body["text"], str) and "Pic de volume" in body["text"]
    att = body["attachments"][0]
    assert att["fallback"] and att["color"].startswith("#") and att["fields"]
    assert all(set(f) == {"title", "value", "short"} for f in att["fields"])
    assert body["alert"]["id"] == r.new[0].id and body["alert"]["kind"] == "spike"
    assert body["alert"]["explanation"]["over_represented"]["hashtags"][0]["key"] == \
        "#pannegenerale"
    log = deliveries(store, r.new[0].id)
    assert [(d["channel"], d["status"], d["attempts"]) for d in log] == [("email", "sent", 1),
                                                                        ("webhook", "sent", 1)]
    assert log[0]["recipient"] == "cm@example.org"
    assert "secret-token" not in log[1]["recipient"]  # webhook URLs are secrets
    assert log[1]["sent_at"] is not None


def test_webhook_retried_then_sent(store, hook_factory):
    hook = hook_factory([500, 500, 200])
    _fill(store)
    add_rule(store, SpikeRule(name="pic", monitor="rail",
                              channels=[Channel("webhook", url=hook.url)]))
    settings = _fast()
    [r] = run(store, NOW, settings=settings)
    [(_, d)] = r.deliveries
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, None)
    assert len(hook.bodies) == 3
    [log] = deliveries(store, r.new[0].id)
    assert (log["status"], log["attempts"]) == ("sent", 3)


def test_dead_webhook_fails_but_alert_stays(store, hook_factory):
    hook = hook_factory([503])
    _fill(store)
    add_rule(store, SpikeRule(name="pic", monitor="rail",
                              channels=[Channel("webhook", url=hook.url),
                                        Channel("webhook", url="http://127.0.0.1:9/closed")]))
    [r] = run(store, NOW, settings=_fast(attempts=3))
    assert [(d.status, d.attempts) for _, d in r.deliveries] == [("failed", 3), ("failed", 3)]
    assert "HTTP 503" in r.deliveries[0][1].last_error
    assert len(hook.bodies) == 3
    [alert] = list_alerts(store)
    assert alert.status == "open" and alert.id == r.new[0].id
    assert [d["status"] for d in deliveries(store, alert.id)] == ["failed", "failed"]


def test_dead_smtp_fails_and_is_logged(store):
    _fill(store)
    add_rule(store, SpikeRule(name="pic", monitor="rail",
                              channels=[Channel("email", to="cm@example.org")]))
    [r] = run(store, NOW, settings=_fast(port=9, attempts=2))
    [(_, d)] = r.deliveries
    assert d.status == "failed" and d.attempts == 2 and "SMTP error" in d.last_error
    assert len(list_alerts(store)) == 1


def test_test_delivery_is_marked(store, hook_factory, smtp_server):
    port, received = smtp_server
    hook = hook_factory([200])
    _fill(store)
    add_rule(store, SpikeRule(name="pic", monitor="rail", lang="en", channels=[
        Channel("webhook", url=hook.url), Channel("email", to="lead@example.org")]))
    stored, results = send_test(store, "pic", NOW, settings=_fast(port))
    assert [d.status for d in results] == ["sent", "sent"]
    assert stored.status == "closed" and stored.explanation["test"] is True
    assert stored.title.startswith("[TEST] Volume spike")
    assert hook.bodies[0]["alert"]["explanation"]["test"] is True
    assert received[0]["X-Perron-Test"] == "yes"
    assert list_alerts(store, status="open") == []
    # a later real run still fires the real alert: tests do not count for dedupe or cooldown
    add_rule(store, SpikeRule(name="pic", monitor="rail"), replace=True)
    assert len(run(store, NOW, settings=_fast(port))[0].new) == 1


# ---- command line -----------------------------------------------------------------------------

def _cli():
    import click

    from perron.commands.alerts import alerts_group, spikes_group

    @click.group()
    def main() -> None:
        pass

    main.add_command(alerts_group)
    main.add_command(spikes_group)
    return main


def test_alerts_cli(tmp_path, hook_factory):
    from click.testing import CliRunner

    db = str(tmp_path / "p.db")
    with open_store(db) as s:
        _fill(s)
    hook = hook_factory([200])
    main, r = _cli(), CliRunner()
    out = r.invoke(main, ["alerts", "rules", "add", "pic-rail", "--monitor", "rail", "--on",
                          "negative", "--cooldown", "6h", "--webhook", hook.url, "--db", db])
    assert out.exit_code == 0, out.output
    bad = r.invoke(main, ["alerts", "rules", "add", "x", "--monitor", "inconnu", "--db", db])
    assert bad.exit_code != 0 and "no monitor named 'inconnu'" in bad.output
    bad = r.invoke(main, ["alerts", "rules", "add", "x", "--kind", "collector_down", "--term",
                          "grève", "--db", db])
    assert bad.exit_code != 0 and "unknown option(s) for a collector_down rule" in bad.output
    listed = r.invoke(main, ["alerts", "rules", "list", "--json", "--db", db])
    [rule] = [json.loads(line) for line in listed.output.splitlines()]
    assert rule["on"] == "negative" and "secret-token" not in listed.output
    now = ["--now", "2024-05-10T15:20:00Z"]
    dry = r.invoke(main, ["alerts", "run", "--dry-run", *now, "--db", db])
    assert dry.exit_code == 0 and "(dry run) Pic de volume" in dry.output
    assert hook.bodies == []
    real = r.invoke(main, ["alerts", "run", "--json", *now, "--db", db])
    assert real.exit_code == 0, real.output
    [res] = [json.loads(line) for line in real.output.splitlines()]
    assert len(res["new"]) == 1 and res["deliveries"][0]["status"] == "sent"
    aid = res["new"][0]
    shown = r.invoke(main, ["alerts", "show", str(aid), "--db", db])
    assert "#pannegenerale" in shown.output and "webhook" in shown.output
    assert "aucune étiquette de sentiment" in shown.output
    assert r.invoke(main, ["alerts", "ack", str(aid), "--db", db]).exit_code == 0
    lst = r.invoke(main, ["alerts", "list", "--status", "acknowledged", "--json", "--db", db])
    assert [json.loads(line)["id"] for line in lst.output.splitlines()] == [aid]
    tested = r.invoke(main, ["alerts", "test", "pic-rail", *now, "--db", db])
    assert tested.exit_code == 0 and "[TEST]" in tested.output and len(hook.bodies) == 2
    assert r.invoke(main, ["alerts", "rules", "remove", "pic-rail", "--db", db]).exit_code == 0
    assert r.invoke(main, ["alerts", "show", "999", "--db", db]).exit_code == 5


def test_spikes_detect_cli():
    from pathlib import Path

    from click.testing import CliRunner

    from perron.analyze.spikes import SpikeSettings, detect, read_series_csv

    path = str(Path(__file__).parent / "fixtures" / "series"
               / "twitter_volume_fb_2015-03-06_2015-03-18.csv")
    times, values = read_series_csv(path)
    expected = [p.at.isoformat() for p in detect(times, values)]
    assert expected  # the fixture has at least one spike at the default settings
    r = CliRunner()
    out = r.invoke(_cli(), ["spikes", "detect", path])
    assert out.exit_code == 0 and out.output.splitlines() == expected
    js = r.invoke(_cli(), ["spikes", "detect", "--json", "--sensitivity", "6", path])
    rows = [json.loads(line) for line in js.output.splitlines()]
    assert len(rows) >= len(expected)
    assert all(row["score"] >= (5 if "span" in row else 6) for row in rows)
    # points only: the same as the detector without its sustained windows
    off = r.invoke(_cli(), ["spikes", "detect", "--sustained", "off", path])
    assert off.exit_code == 0
    assert off.output.splitlines() == [p.at.isoformat() for p in detect(
        times, values, SpikeSettings(sustained=None))]
    assert r.invoke(_cli(), ["spikes", "detect", "--sustained", "2h", "--sustained-sensitivity",
                             "3", "--json", path]).exit_code == 0
    zero = r.invoke(_cli(), ["spikes", "detect", "--sustained", "0s", path])
    assert zero.exit_code != 0 and "sustained" in zero.output and "off" in zero.output
    bad = r.invoke(_cli(), ["spikes", "detect", str(Path(__file__))])
    assert bad.exit_code != 0 and "error:" in bad.output
