"""The HTTP API in process (Starlette TestClient) on real SQLite stores written through
perron.store: auth, the error envelope, cursor pagination, exports, inbox and monitors."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perron.models import Author, Batch, Geo, Metrics, Post
from perron.store import open_store
from perron.web import create_app
from perron.web.app import all_routes
from perron.web.control import ROLES, Control

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
N_POSTS = 60


@dataclass
class World:
    control_url: str
    acme_url: str
    rival_url: str
    tokens: dict[str, str] = field(default_factory=dict)  # role (or "rival") → token
    passwords: dict[str, str] = field(default_factory=dict)

    def email(self, role: str) -> str:
        return f"{role}@acme.test" if role != "rival" else "admin@rival.test"


def make_posts(n: int = N_POSTS, texts: dict[int, str] | None = None,
               prefix: str = "t") -> tuple[list[Post], list[Author]]:
    authors = [Author(id=f"{prefix}:u{i}", source=prefix, native_id=f"u{i}", handle=f"user{i}",
                      name=f"Utilisatrice {i}", followers=100 * (i + 1), following=50)
               for i in range(5)]
    posts = []
    for i in range(n):
        text = (texts or {}).get(i, f"message {i} sur la grève SNCF et le service client")
        kind = "reply" if i in (11, 12) else "post"
        posts.append(Post(
            id=f"{prefix}:{i}", source=prefix, native_id=str(i), text=text,
            created_at=T0 + timedelta(minutes=7 * i) if i != 5 else None,
            url=f"https://example.org/p/{i}", author_id=authors[i % 5].id,
            author_handle=authors[i % 5].handle, kind=kind,
            parent_id=f"{prefix}:10" if i in (11, 12) else None,
            root_id=f"{prefix}:10" if i in (11, 12) else None,
            geo=Geo(lat=45.5, lon=-73.56) if i == 20 else None,
            metrics=Metrics(likes=i % 9, reposts=i % 4, replies=0, quotes=0)))
    return posts, authors


def label(store: Any, post_id: str, task: str, value: str, score: float,
          scores: Any = None, reasons: Any = None) -> None:
    rowid = store.scalar("SELECT rowid FROM posts WHERE id = ?", [post_id])
    store.execute("INSERT INTO labels (post_rowid, task, label, score, scores, reasons, model, "
                  "version, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                  [rowid, task, value, score, json.dumps(scores) if scores is not None else None,
                   json.dumps(reasons) if reasons is not None else None, "test", "1",
                   store.ts(T0 + timedelta(days=1))])


PATH = {"path": [{"question": "Q1 positif ou équilibré ?", "answer": False,
                  "evidence": "négatif 0.91"},
                 {"question": "Q2 troll ?", "answer": False, "evidence": "0/3 messages hostiles"},
                 {"question": "Q5 client mécontent ?", "answer": True,
                  "evidence": "plainte 0.88"}]}


def build_world(tmp: Path, texts: dict[int, str] | None = None) -> World:
    w = World(str(tmp / "control.db"), str(tmp / "acme.db"), str(tmp / "rival.db"))
    control = Control.open(w.control_url)
    control.workspace_add("Acme", w.acme_url, slug="acme")
    control.workspace_add("Rival", w.rival_url, slug="rival")
    for role in (*ROLES, "rival"):
        pw = f"pw-{role}-123456"
        control.user_add(w.email(role), pw, lang="fr")
        control.grant(w.email(role), "rival" if role == "rival" else "acme",
                      "admin" if role == "rival" else role)
        w.passwords[role] = pw
        w.tokens[role] = control.token_create(w.email(role))
    control.close()
    for url, prefix in ((w.acme_url, "t"), (w.rival_url, "r")):
        store = open_store(url)
        posts, authors = make_posts(texts=texts if prefix == "t" else None, prefix=prefix)
        store.write([Batch(posts=posts, authors=authors)])
        store.monitor_add("greve", "grève")
        store.backfill("greve")
        label(store, f"{prefix}:30", "triage", "restoration", 0.9, PATH, ["plainte 0.88"])
        label(store, f"{prefix}:31", "triage", "fix_the_facts", 0.7, PATH)
        label(store, f"{prefix}:32", "triage", "monitor_only", 0.3, [["Q2 troll ?", True, "5/6"]])
        label(store, f"{prefix}:33", "triage", "concurrence", 0.0)
        label(store, f"{prefix}:10", "triage", "restoration", 0.5, "not json at all")
        label(store, f"{prefix}:30", "sentiment", "negative", 0.91, None, ["« nul »"])
        label(store, f"{prefix}:31", "sentiment", "positive", 0.8)
        store.execute("INSERT INTO alerts (rule, dedupe_key, monitor, fired_at, title, "
                      "explanation, status) VALUES (?,?,?,?,?,?,?)",
                      ["spike", "k1", "greve", store.ts(T0 + timedelta(hours=3)),
                       "Pic de volume sur greve", json.dumps(
                           {"summary": "3× le volume habituel",
                            "posts": [f"{prefix}:3", f"{prefix}:4"]}), "open"])
        store.execute("INSERT INTO sites (name, lat, lon, radius_m, created_at) VALUES "
                      "(?,?,?,?,?)", ["Usine", 45.5, -73.56, 500, store.ts(T0)])
        store.close()
    return w


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app(world.control_url), base_url="http://127.0.0.1")


def bearer(world: World, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[role]}"}


def login(client: TestClient, world: World, role: str) -> str:
    """Log in through the form; returns the CSRF token of the session."""
    client.cookies.clear()
    client.get("/login")
    r = client.post("/login", data={"email": world.email(role), "password": world.passwords[role],
                                    "csrf": client.cookies.get("perron_login_csrf"),
                                    "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/").text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def assert_envelope(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"]
    err = body["error"]
    assert {"code", "message", "hint"} <= set(err) <= {"code", "message", "hint", "column"}
    assert err["code"] == code and isinstance(err["message"], str) and err["message"]
    return err


# ---- tests ----------------------------------------------------------------------------------
def test_healthz_needs_no_auth_and_everything_else_does(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    checked = 0
    for route in all_routes(client.app):  # type: ignore[arg-type]
        path = route.path
        if path in ("/healthz", "/login", "/api/openapi.json") or path.startswith("/static"):
            continue
        url = path.replace("{slug}", "acme").replace("{alert_id}", "1").replace(
            "{name}", "greve").replace("{email}", "viewer@acme.test")
        for method in route.methods - {"HEAD"}:
            r = client.request(method, url, follow_redirects=False)
            if path.startswith("/api/"):
                assert_envelope(r, 401, "unauthenticated")
            elif method == "GET":
                assert r.status_code == 303 and r.headers["location"].startswith("/login")
            else:
                assert r.status_code == 401, (method, path)
            checked += 1
    assert checked > 40


def test_error_envelope_is_one_shape(client: TestClient, world: World) -> None:
    h = bearer(world)
    assert_envelope(client.get("/api/nowhere", headers=h), 404, "not_found")
    err = assert_envelope(client.get("/api/w/acme/posts?q=(grève", headers=h), 400,
                          "query_error")
    assert err["column"] == 1 and "')'" in err["hint"]
    assert_envelope(client.get("/api/w/acme/posts?limit=0", headers=h), 422, "invalid_request")
    assert_envelope(client.get("/api/w/acme/posts?cursor=nonsense", headers=h), 400,
                    "bad_cursor")
    assert_envelope(client.get("/api/w/rival/posts", headers=h), 404, "not_found")
    assert_envelope(client.get("/api/w/acme/alerts/999", headers=h), 404, "not_found")
    assert_envelope(client.delete("/api/w/acme/monitors/nope", headers=h), 404, "not_found")
    assert_envelope(client.get("/api/me", headers={"Authorization": "Bearer prn_wrong"}), 401,
                    "unauthenticated")
    assert_envelope(client.post("/api/w/acme/monitors", headers=h, json={"name": "x"}), 422,
                    "invalid_request")


def test_cursor_pagination_walks_every_post_once_newest_first(client: TestClient,
                                                              world: World) -> None:
    h = bearer(world, "analyst")
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/w/acme/posts", headers=h, params=params).json()
        assert len(body["items"]) <= 7
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    ids = [p["id"] for p in seen]
    assert len(ids) == len(set(ids)) == N_POSTS
    with open_store(world.acme_url) as store:
        expected = [p["id"] for p in store.search()]
    assert ids == expected  # same order as the library: newest first, undated last
    assert ids[-1] == "t:5"  # the undated post comes last, not lost


def test_search_with_query_and_monitor(client: TestClient, world: World) -> None:
    h = bearer(world)
    body = client.get("/api/w/acme/posts", headers=h, params={"q": "message 42"}).json()
    assert [p["id"] for p in body["items"]] == ["t:42"]
    body = client.get("/api/w/acme/posts", headers=h, params={"monitor": "greve",
                                                             "limit": 200}).json()
    assert len(body["items"]) == N_POSTS


def test_exports_csv_and_json(client: TestClient, world: World) -> None:
    h = bearer(world, "viewer")
    r = client.get("/api/w/acme/posts/export", headers=h, params={"q": "grève", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == N_POSTS - 1  # the viewer does not get the geotagged post
    assert "t:20" not in {row["id"] for row in rows}
    r = client.get("/api/w/acme/posts/export", headers=bearer(world),
                   params={"q": "grève", "format": "json", "limit": 5})
    data = r.json()
    assert len(data) == 5 and data[0]["id"] == "t:59" and "text" in data[0]


def test_csv_export_defuses_formulas(tmp_path: Path) -> None:
    w = build_world(tmp_path, texts={1: "=HYPERLINK(\"http://evil\") grève"})
    c = TestClient(create_app(w.control_url))
    r = c.get("/api/w/acme/posts/export", headers=bearer(w), params={"q": "hyperlink"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["text"].startswith("'=HYPERLINK")


def test_viewer_sees_aggregates_but_not_geotagged_posts(client: TestClient,
                                                        world: World) -> None:
    r = client.get("/api/w/acme/post", headers=bearer(world, "viewer"), params={"id": "t:20"})
    assert_envelope(r, 404, "not_found")
    r = client.get("/api/w/acme/post", headers=bearer(world, "analyst"), params={"id": "t:20"})
    assert r.status_code == 200 and r.json()["post"]["has_geo"] is True
    sites = client.get("/api/w/acme/sites", headers=bearer(world, "viewer")).json()
    assert sites == [{"name": "Usine", "lat": 45.5, "lon": -73.56, "radius_m": 500.0,
                      "pulse": 1}]


def test_inbox_orders_by_priority_and_reads_paths_defensively(client: TestClient,
                                                              world: World) -> None:
    body = client.get("/api/w/acme/inbox", headers=bearer(world, "responder")).json()
    items = body["items"]
    assert [i["post"]["id"] for i in items] == ["t:30", "t:31", "t:10", "t:32"]
    assert [i["outcome"] for i in items] == ["restoration", "fix_the_facts", "restoration",
                                             "monitor_only"]
    assert [i["priority"] for i in items] == [0.9, 0.7, 0.5, 0.3]

    def detail(post_id: str) -> dict[str, Any]:
        return client.get("/api/w/acme/inbox/item", headers=bearer(world, "responder"),
                          params={"id": post_id}).json()

    assert detail("t:30")["path"][2] == {"question": "Q5 client mécontent ?", "answer": True,
                                         "evidence": "plainte 0.88"}
    assert detail("t:30")["reasons"] == ["plainte 0.88"]
    assert detail("t:32")["path"] == [{"question": "Q2 troll ?", "answer": True,
                                       "evidence": "5/6"}]
    assert detail("t:10")["path"] == []  # unreadable JSON: no path, no crash
    detail = client.get("/api/w/acme/inbox/item", headers=bearer(world, "responder"),
                        params={"id": "t:11"}).json()
    assert detail["thread"]["parent"]["id"] == "t:10"
    assert detail["author"]["followers"] == 200


def test_inbox_actions_measure_time_to_first_response(client: TestClient, world: World) -> None:
    h = bearer(world, "responder")
    r = client.post("/api/w/acme/inbox/assign", headers=h,
                    json={"post_id": "t:30", "assignee": "responder@acme.test"})
    assert r.json()["assignee"] == "responder@acme.test"
    mine = client.get("/api/w/acme/inbox", headers=h, params={"assignee": "me"}).json()
    assert [i["post"]["id"] for i in mine["items"]] == ["t:30"]
    assert_envelope(client.post("/api/w/acme/inbox/assign", headers=h,
                                json={"post_id": "t:30", "assignee": "admin@rival.test"}),
                    422, "not_a_member")
    client.post("/api/w/acme/inbox/draft", headers=h, json={"post_id": "t:30", "text": "Bonjour"})
    client.post("/api/w/acme/inbox/note", headers=h, json={"post_id": "t:30", "text": "VIP"})
    r = client.post("/api/w/acme/inbox/status", headers=h,
                    json={"post_id": "t:30", "status": "responded"})
    item = r.json()
    assert item["status"] == "responded" and item["draft"] == "Bonjour"
    assert item["notes"][0]["text"] == "VIP" and item["ttfr_seconds"] > 0
    first = item["responded_at"]
    item = client.post("/api/w/acme/inbox/status", headers=h,
                       json={"post_id": "t:30", "status": "resolved"}).json()
    assert item["responded_at"] == first  # first response time is not overwritten
    queue = client.get("/api/w/acme/inbox", headers=h).json()
    assert "t:30" not in [i["post"]["id"] for i in queue["items"]]
    assert queue["median_ttfr_seconds"] == pytest.approx(item["ttfr_seconds"])


def test_override_writes_corrections_and_wins(client: TestClient, world: World) -> None:
    h = bearer(world, "responder")
    r = client.post("/api/w/acme/inbox/override", headers=h,
                    json={"post_id": "t:31", "task": "triage", "label": "let_stand",
                          "note": "déjà corrigé"})
    assert r.json()["outcome"] == "let_stand" and r.json()["overridden"] is True
    with open_store(world.acme_url) as store:
        assert store.query("SELECT label, note, author FROM corrections WHERE post_id = 't:31'"
                           ) == [("let_stand", "déjà corrigé", "responder@acme.test")]
    ids = [i["post"]["id"] for i in client.get("/api/w/acme/inbox", headers=h).json()["items"]]
    assert "t:31" not in ids
    assert_envelope(client.post("/api/w/acme/inbox/override", headers=h, json={
        "post_id": "t:31", "task": "triage", "label": "shrug"}), 422, "bad_label")
    assert_envelope(client.post("/api/w/acme/inbox/override", headers=h, json={
        "post_id": "t:31", "task": "sentiment", "label": "grumpy"}), 422, "bad_label")
    r = client.post("/api/w/acme/inbox/override", headers=h, json={
        "post_id": "t:31", "task": "sentiment", "label": "negative"})
    assert {"task": "sentiment", "label": "negative", "model_label": "positive"}.items() <= {
        k: v for k, v in r.json()["labels"][0].items()}.items()


def test_monitor_create_check_and_preview(client: TestClient, world: World) -> None:
    h = bearer(world, "analyst")
    bad = client.get("/api/w/acme/query/check", headers=h, params={"q": "grève AND"}).json()
    assert bad["valid"] is False and bad["error"]["column"] >= 7 and bad["error"]["hint"]
    assert client.get("/api/w/acme/query/check", headers=h, params={"q": "grève"}).json()[
        "valid"]
    r = client.post("/api/w/acme/monitors", headers=h,
                    json={"name": "m42", "query": '"message 42"'})
    assert r.status_code == 201 and r.json()["matched"] == 1
    assert {"name": "m42", "query": '"message 42"'} in client.get(
        "/api/w/acme/monitors", headers=h).json()


def test_alert_detail_lists_the_posts_it_names(client: TestClient, world: World) -> None:
    h = bearer(world, "viewer")
    alerts = client.get("/api/w/acme/alerts", headers=h).json()
    assert alerts[0]["title"] == "Pic de volume sur greve"
    detail = client.get(f"/api/w/acme/alerts/{alerts[0]['id']}", headers=h).json()
    assert sorted(p["id"] for p in detail["posts"]) == ["t:3", "t:4"]


def test_overview_aggregates(client: TestClient, world: World) -> None:
    ov = client.get("/api/w/acme/overview", headers=bearer(world, "viewer")).json()
    assert ov["total"] == N_POSTS - 1  # the undated post is outside any window
    assert sum(n for _, n in ov["volume"]) == ov["total"]
    assert dict(ov["sentiment"]) == {"negative": 1, "positive": 1}
    assert ov["share_of_voice"] == [["greve", N_POSTS - 1]]
    assert ov["open_alerts"][0]["title"] == "Pic de volume sur greve"
    assert "t:20" not in [p["id"] for p in ov["top_posts"]]


def test_api_rate_limit_per_token(world: World) -> None:
    c = TestClient(create_app(world.control_url, api_rate=(5, 60)))
    codes = [c.get("/api/me", headers=bearer(world)).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    r = c.get("/api/me", headers=bearer(world))
    assert_envelope(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    assert c.get("/api/me", headers=bearer(world, "viewer")).status_code == 200  # per token


def test_openapi_document_is_public_and_pinned(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/w/{slug}/inbox" in doc["paths"] and "/w/{slug}/inbox" not in doc["paths"]


def test_postgresql_control_and_workspace_stores(pg_url: str) -> None:
    """The same journey with the control store and a workspace store on PostgreSQL (two
    databases: a workspace never shares its database)."""
    import psycopg

    ws_url = pg_url + "_ws"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{ws_url.rsplit("/", 1)[1]}"')
    try:
        control = Control.open(pg_url)
        control.workspace_add("Acme", ws_url, slug="acme")
        control.user_add("ana@acme.test", "pw-ana-123456")
        control.grant("ana@acme.test", "acme", "responder")
        token = control.token_create("ana@acme.test")
        control.close()
        with open_store(ws_url) as store:
            posts, authors = make_posts()
            store.write([Batch(posts=posts, authors=authors)])
            label(store, "t:30", "triage", "restoration", 0.9, PATH, ["plainte"])
            label(store, "t:31", "triage", "monitor_only", None)
            label(store, "t:30", "sentiment", "negative", 0.9)
        c = TestClient(create_app(pg_url))
        h = {"Authorization": f"Bearer {token}"}
        seen, cursor = [], None
        while True:
            body = c.get("/api/w/acme/posts", headers=h,
                         params={"limit": 9, **({"cursor": cursor} if cursor else {})}).json()
            seen += [p["id"] for p in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == N_POSTS and seen[-1] == "t:5"
        queue = c.get("/api/w/acme/inbox", headers=h).json()["items"]
        assert [i["post"]["id"] for i in queue] == ["t:30", "t:31"]  # NULL priority last
        item = c.post("/api/w/acme/inbox/status", headers=h,
                      json={"post_id": "t:30", "status": "responded"}).json()
        assert item["ttfr_seconds"] > 0
        item = c.post("/api/w/acme/inbox/override", headers=h, json={
            "post_id": "t:30", "task": "triage", "label": "let_stand"}).json()
        assert item["outcome"] == "let_stand"
        ov = c.get("/api/w/acme/overview", headers=h).json()
        assert ov["total"] == N_POSTS - 1 and dict(ov["sentiment"]) == {"negative": 1}
        r = c.get("/api/w/acme/posts/export", headers=h, params={"q": "grève", "format": "csv"})
        assert len(list(csv.DictReader(io.StringIO(r.text)))) == N_POSTS
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{ws_url.rsplit("/", 1)[1]}" WITH (FORCE)')
