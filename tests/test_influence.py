"""Influence by what people do, on real SQLite and PostgreSQL stores, and its commands.

The world: a mega account (2M followers) that posts about the subject and gets nothing back, a
nano account (800 followers) that people repost, mention and recommend with #FF, a micro account
in between, fans, an author whose follower count is unknown, and a hostile handle.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import networkx as nx
import pytest
from click.testing import CliRunner

from perron.analyze.influence import (
    SCORE_WEIGHTS,
    build_graph,
    ff_recommendations,
    follower_check,
    influencers,
)
from perron.analyze.ratecard import default_card, load_card, read_card_file, save_card
from perron.commands.influence import (
    audit_command,
    graph_group,
    influence_check_command,
    influencers_command,
    ratecard_group,
)
from perron.errors import ConfigError, NotFound
from perron.models import Author, Batch, Metrics, Post
from perron.store import open_store

T0 = datetime(2024, 6, 7, 9, 0, tzinfo=UTC)  # a Friday
HOSTILE = "<script>alert(1)</script>"


def author(handle: str | None, native: str, followers: int | None, listed: int | None = None,
           ) -> Author:
    return Author(id=f"twitter:{native}", source="twitter", native_id=native, handle=handle,
                  followers=followers, following=None if followers is None else 100,
                  listed=listed)


def post(native: str, who: Author, text: str, minutes: int = 0, **kw: object) -> Post:
    return Post(id=f"twitter:{native}", source="twitter", native_id=native, text=text,
                created_at=T0 + timedelta(minutes=minutes), author_id=who.id,
                author_handle=who.handle, **kw)  # type: ignore[arg-type]


STAR = author("LaGrandeMarque", "1", 2_000_000, listed=9000)
ALICE = author("alice", "2", 800, listed=3)
BOB = author("Bob", "3", 15_000, listed=40)
CAROL = author("carol", "4", None)  # follower count unknown
FANS = [author(f"fan{i}", str(10 + i), 120) for i in range(5)]
EVIL = author(HOSTILE, "99", 50)


def world() -> Batch:
    m = Metrics
    posts = [
        post("100", STAR, "Notre nouveau vélo électrique est là", 0,
             metrics=m(reposts=0, quotes=0, replies=0, likes=3)),
        post("101", STAR, "Le vélo, c'est la liberté", 5,
             metrics=m(reposts=0, quotes=0, replies=0, likes=1)),
        post("200", ALICE, "Le vélo à Lyon, c'est génial", 10,
             metrics=m(reposts=6, quotes=0, replies=1, likes=10)),
        post("201", ALICE, "Mon vélo cargo après un an", 20, metrics=m(reposts=1, likes=2)),
        post("300", BOB, "Réparer son vélo soi-même", 30,
             metrics=m(reposts=2, quotes=1, replies=0, likes=4)),
        post("400", CAROL, "Je pense acheter un vélo", 40),
        post("500", EVIL, "vélo @alice", 45, mentions=["alice", "=1+1"]),
    ]
    for i, fan in enumerate(FANS):
        posts.append(post(f"6{i}0", fan, "RT @alice: Le vélo à Lyon, c'est génial", 50 + i,
                          kind="repost", reposted_id="twitter:200"))
        posts.append(post(f"6{i}1", fan, "@alice merci pour le conseil vélo", 60 + i,
                          mentions=["alice"]))
    posts += [
        post("700", FANS[0], "#FF @alice @Bob pour tout savoir sur le vélo", 70,
             hashtags=["FF"], mentions=["alice", "Bob"]),
        post("701", FANS[1], "#FollowFriday @Alice, la reine du vélo", 71,
             hashtags=["FollowFriday"], mentions=["Alice"]),
        post("702", FANS[2], "#VendrediFollow @alice et @ghost : vélo !", 72),  # no entities
        post("703", FANS[3], "@bob ton vélo est top", 73, kind="reply",
             parent_id="twitter:300", in_reply_to_author_id=BOB.id, mentions=["bob"]),
        post("704", FANS[4], "Quel vélo pour @carol ?", 74, mentions=["carol"]),
        post("705", FANS[4], "La marque @LaGrandeMarque et le vélo", 75,
             mentions=["LaGrandeMarque"]),
        # outside the window used by the window test, and outside the monitor
        post("800", FANS[0], "RT @alice: Mon vélo cargo après un an", 60 * 24 * 30,
             kind="repost", reposted_id="twitter:201"),
        post("801", FANS[1], "@alice toujours à vélo ?", 60 * 24 * 30, mentions=["alice"]),
        post("900", FANS[1], "@alice hors sujet", 80, mentions=["alice"]),
    ]
    return Batch(posts=posts, authors=[STAR, ALICE, BOB, CAROL, EVIL, *FANS])


def make_store(url: str, labels: bool = True):
    store = open_store(url)
    store.write([world()])
    store.monitor_add("velo", "vélo")
    store.backfill("velo")
    if labels:
        for pid, label in (("twitter:200", "positive"), ("twitter:201", "positive"),
                           ("twitter:100", "positive"), ("twitter:101", "positive"),
                           ("twitter:300", "negative"), ("twitter:400", "negative")):
            rowid = store.scalar("SELECT rowid FROM posts WHERE id = ?", [pid])
            store.execute("INSERT INTO labels (post_rowid, task, label, score, model, version, "
                          "created_at) VALUES (?, 'sentiment', ?, 0.9, 'test', '1', ?)",
                          [rowid, label, store.ts(T0)])
        # a person overruled the model on Bob's post
        store.execute("INSERT INTO corrections (post_id, task, label, created_at) VALUES "
                      "(?, 'sentiment', 'positive', ?)", ["twitter:300", store.ts(T0)])
    return store


# --------------------------------------------------------------------------- #FF


def test_ff_parsing() -> None:
    def p(text: str, **kw: object) -> Post:
        return post("1", FANS[0], text, **kw)

    assert ff_recommendations(p("#FF @a @b", hashtags=["FF"], mentions=["a", "b"])) == ["a", "b"]
    assert ff_recommendations(p("#FF @a @b")) == ["a", "b"]  # entities missing: read the text
    assert ff_recommendations(p("#FollowFriday @Alice!")) == ["alice"]
    assert ff_recommendations(p("Pour ce #VendrediFollow : @Zoé et @marc_L")) == ["zoé", "marc_l"]
    assert ff_recommendations(p("#ff @a @a @fan0")) == ["a"]  # de-duplicated, not oneself
    assert ff_recommendations(p("#FFXIV @a")) == []
    assert ff_recommendations(p("merci @a")) == []
    assert ff_recommendations(p("RT @x: #FF @a", kind="repost")) == []


# --------------------------------------------------------------------------- library


def test_ranking_follows_what_people_do(db_url: str) -> None:
    with make_store(db_url) as store:
        report = influencers(store, "velo")
        top = [s.handle for s in report.scores]
        assert top[0] == "alice"
        star = report.find("@lagrandemarque")
        alice = report.find("alice")
        assert star and alice
        assert star.followers == 2_000_000 and star.tier == "mega"
        assert top.index("Bob") < top.index("LaGrandeMarque")
        assert alice.score > 2 * star.score
        # reposts: 6 seen in the store, 6 + 1 reported by the platform: the larger
        assert alice.reposts == 7
        # 5 fans, EVIL, the #FF and #FollowFriday posts (their mention lists), a late one; the
        # #VendrediFollow post has no mention list: it recommends, it is not a mention
        assert alice.mentions == 9
        assert alice.recommendations == 3  # #FF, #FollowFriday, #VendrediFollow
        bob = report.find("bob")
        assert bob and bob.recommendations == 1 and bob.replies == 1 and bob.quotes == 1
        # the graph knows who acts on whom; followers play no part in it
        g = report.graph
        assert alice.graph_rank == max(s.graph_rank for s in report.scores)
        assert star.graph_rank < bob.graph_rank
        kinds = {g.kind[i] for i in range(len(g.src)) if g.nodes[g.dst[i]] == ALICE.id}
        assert kinds == {"repost", "mention", "ff_recommendation"}
        # an unknown handle stays a node of its own; known handles resolve whatever the case
        assert "twitter:@ghost" in g.nodes and "twitter:@bob" not in g.nodes
        # the hors-sujet post is not in the monitor
        assert all(n != "twitter:900" for n in g.nodes)


def test_breakdown_sums_to_the_score(db_url: str) -> None:
    with make_store(db_url) as store:
        report = influencers(store, "velo")
    assert math.isclose(sum(SCORE_WEIGHTS.values()), 1.0)
    for s in report.scores:
        parts = s.breakdown()
        assert set(parts) == set(SCORE_WEIGHTS)
        assert math.isclose(sum(parts.values()), s.score, abs_tol=1e-9)
        assert all(p.points == pytest.approx(100 * p.weight * p.normalized)
                   for p in s.parts.values())
    alice = report.find("alice")
    assert alice is not None
    assert alice.parts["reposts"].normalized == 1.0  # the most reposted of the monitor


def test_engagement_rates_and_unknowns(db_url: str) -> None:
    with make_store(db_url) as store:
        report = influencers(store, "velo")
    alice, carol, ghost = report.find("alice"), report.find("carol"), report.find("ghost")
    assert alice and carol and ghost
    # (reposts + quotes + replies + likes) on her 2 posts = (6+0+1+10) + (1+2) = 20
    assert alice.engagement == 20
    assert alice.engagement_rate_followers == pytest.approx(20 / 800)
    assert alice.engagement_rate_posts == pytest.approx(20 / 2)
    # carol: followers unknown, no counts on her post → unknown, never 0
    assert carol.followers is None and carol.tier is None and carol.cost is None
    assert carol.engagement is None and carol.engagement_rate_followers is None
    assert carol.engagement_rate_posts is None and carol.posts == 1
    assert carol.parts["engagement"].value is None and carol.parts["engagement"].points == 0
    assert ghost.followers is None and ghost.handle == "ghost" and ghost.posts == 0
    d = carol.to_dict()
    assert d["followers"] is None and d["engagement_rate_followers"] is None


def test_advocacy_from_labels_and_advocates(db_url: str) -> None:
    with make_store(db_url) as store:
        report = influencers(store, "velo")
    alice, star, bob, carol = (report.find(h) for h in ("alice", "LaGrandeMarque", "bob", "carol"))
    assert alice and star and bob and carol
    assert alice.advocacy == pytest.approx(2 / (2 + 2)) and alice.advocacy_posts == 2
    assert star.advocacy == pytest.approx(0.5)
    assert bob.advocacy == pytest.approx(1 / 3)  # the correction overrides the model's label
    assert carol.advocacy == pytest.approx(-1 / 3)
    assert report.find("fan0").advocacy is None  # type: ignore[union-attr]  # no label: unknown
    advocates = [s.handle for s in report.advocates()]
    assert advocates == ["alice", "Bob"]  # star: mega; carol: negative and tier unknown
    assert alice.parts["advocacy"].points == pytest.approx(100 * SCORE_WEIGHTS["advocacy"] * 0.5)


def test_window(db_url: str) -> None:
    with make_store(db_url) as store:
        everything = influencers(store)  # no monitor: every post, the hors-sujet one too
        assert everything.find("alice").mentions == 10  # type: ignore[union-attr]
        windowed = influencers(store, "velo", T0, T0 + timedelta(days=1))
        assert windowed.find("alice").mentions == 8  # type: ignore[union-attr]
        late = influencers(store, "velo", T0 + timedelta(days=2))
        alice = late.find("alice")
        assert alice and alice.posts == 0 and alice.mentions == 1 and alice.reposts == 1
        assert alice.engagement is None  # no post of hers in the window
        g = build_graph(store, "velo", T0 + timedelta(minutes=69), T0 + timedelta(minutes=72))
        assert sorted(set(g.kind.tolist())) == ["ff_recommendation", "mention"]
        with pytest.raises(NotFound):
            influencers(store, "no-such-monitor")
        store.monitor_add("vide", "trottinette")
        assert store.backfill("vide") == 0
        empty = influencers(store, "vide")
        assert empty.scores == [] and empty.advocates() == [] and len(empty.graph.src) == 0
        check = follower_check(store, "vide")
        assert check.authors == 0 and all(math.isnan(r) for r in check.spearman.values())


def test_rate_card(db_url: str, tmp_path: Path) -> None:
    card = default_card()
    assert card.cost("nano") is not None and "PLACEHOLDER" in (card.note or "")
    f = tmp_path / "card.toml"
    f.write_text('currency = "CAD"\n[tiers]\nnano = [10, 20]\nmicro = [100, 300]\n',
                 encoding="utf-8")
    with make_store(db_url) as store:
        assert load_card(store)[1] is True
        save_card(store, read_card_file(f))
        stored, is_default = load_card(store)
        assert not is_default and stored.currency == "CAD"
        report = influencers(store, "velo")
        alice, bob, star = (report.find(h) for h in ("alice", "bob", "LaGrandeMarque"))
        assert alice.cost.to_dict() == {"low": 10, "high": 20, "currency": "CAD"}  # type: ignore
        assert bob.cost.text() == "100–300 CAD"  # type: ignore[union-attr]
        assert star.cost is None  # type: ignore[union-attr]  # mega not priced in this card
    bad = tmp_path / "bad.json"
    bad.write_text('{"currency": "EUR", "tiers": {"nano": [300, 100]}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="low ≤ high"):
        read_card_file(bad)
    bad.write_text('{"currency": "EUR", "tiers": {"giga": [1, 2]}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown tier"):
        read_card_file(bad)


def test_million_follower_check_known_case(db_url: str) -> None:
    # followers 10, 20, 30, 40; reposts received 4, 3, 2, 1; mentions received 2, 1, 0, 0
    people = [author(h, str(i), f) for i, (h, f) in enumerate(
        (("a", 10), ("b", 20), ("c", 30), ("d", 40)), 1)]
    posts = [post(f"{i}0", p, "bonjour", metrics=Metrics(reposts=r, likes=0))
             for i, (p, r) in enumerate(zip(people, (4, 3, 2, 1), strict=True), 1)]
    a, b, c, d = people
    posts += [post("91", c, "@a salut", mentions=["a"]), post("92", d, "@a salut", mentions=["a"]),
              post("93", d, "@b salut", mentions=["b"])]
    with open_store(db_url) as store:
        store.write([Batch(posts=posts, authors=people)])
        check = follower_check(store)
    assert check.authors == 4
    rho = check.spearman
    assert rho[("followers", "reposts")] == pytest.approx(-1.0)
    assert rho[("followers", "mentions")] == pytest.approx(-3 / math.sqrt(10))
    assert rho[("reposts", "mentions")] == pytest.approx(3 / math.sqrt(10))
    assert rho[("mentions", "graph rank")] == pytest.approx(1.0)
    assert check.top_overlap[("followers", "reposts")] == 0.0  # top 1 of 4: d vs a
    assert check.top_overlap[("mentions", "graph rank")] == 1.0


# --------------------------------------------------------------------------- commands

@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    db = str(tmp_path / "cli.db")
    make_store(db).close()
    monkeypatch.setenv("PERRON_DB", db)
    group = click.Group("perron", commands={c.name: c for c in (  # type: ignore[misc]
        influencers_command, audit_command, graph_group, ratecard_group,
        influence_check_command)})
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(group, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_cli_influencers(cli) -> None:
    table = cli("influencers", "velo").stdout.splitlines()
    assert table[0].split()[:4] == ["#", "handle", "tier", "score"]
    assert table[1].split()[1] == "alice" and "50–250 EUR" in table[1]
    lines = [json.loads(x) for x in cli("influencers", "velo", "--json", "-n", "3").stdout
             .splitlines()]
    assert [x["rank"] for x in lines] == [1, 2, 3] and lines[0]["handle"] == "alice"
    assert sum(lines[0]["breakdown"].values()) == pytest.approx(lines[0]["score"])
    rows = list(csv.DictReader(io.StringIO(cli("influencers", "velo", "--csv").stdout)))
    assert rows[0]["handle"] == "alice" and rows[0]["tier"] == "nano"
    carol = next(r for r in rows if r["handle"] == "carol")
    assert carol["followers"] == "" and carol["engagement_rate_followers"] == ""
    assert {r["handle"] for r in rows} >= {"'=1+1", HOSTILE}  # formula defused, text kept
    adv = cli("influencers", "velo", "--advocates", "--json").stdout.splitlines()
    assert [json.loads(x)["handle"] for x in adv] == ["alice", "Bob"]
    explain = cli("influencers", "velo", "--explain", "@Alice").stdout
    assert "total" in explain and "graph_rank" in explain and "advocacy" in explain
    missing = cli("influencers", "velo", "--explain", "nobody", code=5)
    assert "no author 'nobody'" in missing.stderr
    cli("influencers", "nope", code=5)
    assert "no author found" in cli("influencers", "velo", "--since", "2030-01-01").stderr
    assert "is not a date" in cli("influencers", "velo", "--since", "demain", code=2).stderr


def test_cli_ratecard_and_check(cli, tmp_path: Path) -> None:
    shown = json.loads(cli("ratecard", "show", "--json").stdout)
    assert shown["currency"] == "EUR" and set(shown["tiers"]) >= {"nano", "mega"}
    f = tmp_path / "card.json"
    f.write_text(json.dumps({"currency": "USD", "tiers": {"nano": [1, 2], "micro": [3, 4]}}))
    assert "rate card saved (USD" in cli("ratecard", "set", str(f)).stdout
    assert "| nano | < 10k | 1 | 2 |" in cli("ratecard", "show").stdout
    row = json.loads(cli("influencers", "velo", "--json", "-n", "1").stdout)
    assert row["cost"] == {"low": 1.0, "high": 2.0, "currency": "USD"}
    f.write_text("currency = 'USD'\n[tiers]\nnano = 'cheap'\n")
    assert "must be [low, high]" in cli("ratecard", "set", str(f), code=2).stderr
    md = cli("influence-check", "velo").stdout
    assert "| followers | reposts |" in md and "Spearman" in md
    data = json.loads(cli("influence-check", "--json").stdout)
    assert data["authors"] > 5 and len(data["pairs"]) == 6


def test_cli_graph_export(cli, tmp_path: Path) -> None:
    out = tmp_path / "g.gexf"
    cli("graph", "export", "velo", "--format", "gexf", "-o", str(out))
    g = nx.read_gexf(out)
    labels = {d["label"] for _, d in g.nodes(data=True)}
    assert {"alice", "Bob", HOSTILE, "=1+1"} <= labels  # XML-escaped, read back intact
    assert "<script>" not in out.read_text(encoding="utf-8")
    alice = next(d for _, d in g.nodes(data=True) if d["label"] == "alice")
    assert "community" in alice and alice["tier"] == "nano" and alice["followers"] == 800
    assert g.number_of_edges() > 10
    gml = tmp_path / "g.graphml"
    cli("graph", "export", "velo", "--format", "graphml", "-o", str(gml))
    assert nx.read_graphml(gml).number_of_nodes() == g.number_of_nodes()
    edges = tmp_path / "e.csv"
    cli("graph", "export", "velo", "--format", "csv", "-o", str(edges))
    rows = list(csv.DictReader(open(edges, encoding="utf-8", newline="")))
    assert {"source", "target", "kind", "weight"} <= set(rows[0])
    assert any(r["source_label"] == HOSTILE for r in rows)
    assert any(r["target_label"] == "'=1+1" for r in rows)
    nodes = list(csv.DictReader(open(tmp_path / "e_nodes.csv", encoding="utf-8", newline="")))
    assert len(nodes) == g.number_of_nodes() and all(r["community"] != "" for r in nodes)


def test_cli_audit(cli, tmp_path: Path) -> None:
    f = tmp_path / "followers.csv"
    f.write_text(
        "id,screen_name,name,description,followers_count,friends_count,statuses_count,"
        "favourites_count,listed_count,created_at,default_profile,default_profile_image\n"
        "1,claire_lyon,Claire,Boulangère à Lyon,340,280,5200,900,12,"
        "Thu Sep 08 13:20:35 +0000 2011,,\n"
        "2,kelly_fb4829,Kelly #TeamFollowBack,#F4F 100% follow back,12,2000,8,0,0,"
        "Mon Jan 08 10:00:00 +0000 2024,1,1\n"
        "3,broken,Broken,,lots,10,10,0,0,Thu Sep 08 13:20:35 +0000 2011,,\n"
        "4,=cmd,Nobody,,,,,,,,,\n", encoding="utf-8")
    res = cli("audit", str(f), "--csv", "--lang", "en", "--as-of", "2024-06-01")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["screen_name"] for r in rows] == ["claire_lyon", "kelly_fb4829", "'=cmd"]
    assert {"id", "screen_name", "label", "score", "reasons"} <= set(rows[0])
    assert rows[0]["label"] == "real"
    assert rows[1]["label"] == "suspicious" and "#F4F in bio" in rows[1]["reasons"]
    assert rows[2]["label"] == "unknown" and rows[2]["score"] == ""
    assert "row 4" in res.stderr and "followers is not a count" in res.stderr
    assert "Audience audit: 3 accounts" in res.stderr and "1 quarantined" in res.stderr
    js = cli("audit", str(f), "--json", "--as-of", "2024-06-01")
    items = [json.loads(x) for x in js.stdout.splitlines()]
    assert len(items) == 3 and isinstance(items[1]["reasons"], list)
    assert "Audit d'audience" in js.stderr
    human = cli("audit", str(f), "--as-of", "2024-06-01")
    assert "@kelly_fb4829" in human.stdout and "Score de qualité" in human.stdout
    assert "@claire_lyon" not in human.stdout and "(1 real account with nothing" in human.stdout
