"""Security of the web layer: XSS corpus through every page, the permission matrix over every
route × role × own/other workspace, CSRF, login rate limiting, argon2id, headers, cookies."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perron.store import open_store
from perron.web import create_app
from perron.web.app import all_routes
from perron.web.control import ROLES, Control
from perron.web.permissions import MATRIX, allowed

from .test_web_api import World, bearer, build_world, login

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(2)</script>",
    '<svg><script xlink:href="data:,alert(3)"></script></svg>',
    '<a href="javascript:alert(4)">clic</a>',
    "<iframe src=javascript:alert(5)>",
    "{{ 7*7 }}<style>*{}</style>",
    "\u202e<b>evil</b>\u202d ＜script＞alert(6)＜/script＞",
    "<math><mtext></p><img src=x onerror=alert(7)>",
]
BAD_URLS = ["javascript:alert(1)", " JaVaScRiPt:alert(2)", "java\tscript:alert(3)",
            "data:text/html,<script>alert(4)</script>", "vbscript:msgbox(1)",
            'https://ok.example/"onmouseover="alert(5)', "//evil.example/x"]
ALLOWED_TAGS = {"details", "summary", "optgroup", "html", "head",
                "meta", "title", "link", "script", "body", "header", "a", "span",
                "small", "nav", "form", "input", "button", "main", "h1", "h2", "h3", "h4", "p",
                "section", "div", "article", "time", "ol", "ul", "li", "table", "thead", "tbody",
                "tr", "th", "td", "svg", "rect", "text", "circle", "label", "select", "option",
                "textarea", "output", "code", "em", "strong", "pre", "dl", "dt", "dd", "aside",
                "br"}
URL_ATTRS = {"href", "src", "action", "xlink:href", "formaction", "data"}


class Audit(HTMLParser):
    """Collects every tag and attribute as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"unexpected <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            if name in URL_ATTRS and value is not None:
                v = "".join(ch for ch in value if ch > " ").lower()
                if not (v.startswith(("/", "?", "#", "http://", "https://")) and
                        not v.startswith("//")):
                    self.problems.append(f"unsafe {name}={value!r} on <{tag}>")
        if tag == "script" and dict(attrs).get("src") != "/static/perron.js":
            self.problems.append("inline or foreign <script>")


def audit_html(html: str) -> list[str]:
    parser = Audit()
    parser.feed(html)
    return parser.problems


@pytest.fixture
def xss_world(tmp_path: Path) -> World:
    texts = {i: XSS[i % len(XSS)] for i in range(0, 40)}
    w = build_world(tmp_path, texts=texts)
    with open_store(w.acme_url) as store:
        for i, url in enumerate(BAD_URLS):
            store.execute("UPDATE posts SET url = ?, author_handle = ?, title = ? WHERE id = ?",
                          [url, XSS[i], XSS[-1 - i], f"t:{30 + i}"])
        store.execute("UPDATE authors SET name = ?, handle = ?", [XSS[1], XSS[0]])
        store.execute("UPDATE alerts SET title = ?, explanation = ?",
                      [XSS[0], json.dumps({XSS[1]: XSS[2], "posts": ["t:30", "t:31"]})])
        store.execute("UPDATE sites SET name = ?", [XSS[2]])
        store.execute("INSERT INTO monitors (name, query, created_at) VALUES (?, ?, ?)",
                      [XSS[1], "grève", "2025-01-01T00:00:00.000000Z"])
        store.execute("INSERT INTO facts (kind, text, correction, sources, created_at) VALUES "
                      "(?,?,?,?,?)", ["false_claim", XSS[3], XSS[4],
                                      json.dumps(BAD_URLS), "2025-01-01T00:00:00.000000Z"])
        store.execute("INSERT INTO source_state (name, kind, config, status, last_error) VALUES "
                      "(?,?,?,?,?)", [XSS[0], "rss", "{}", "dead", XSS[1]])
        store.execute("INSERT INTO alert_rules (name, kind, config, created_at) VALUES "
                      "(?,?,?,?)", [XSS[5], "spike", json.dumps({"x": XSS[0]}), "2025"])
        store.execute("INSERT INTO settings (key, value) VALUES ('rate_card', ?)",
                      [json.dumps({"nano": XSS[0]})])
    return w


def test_xss_corpus_is_always_escaped(xss_world: World) -> None:
    w = xss_world
    c = TestClient(create_app(w.control_url))
    csrf = login(c, w, "admin")
    for action, extra in (("note", {"text": XSS[3]}), ("draft", {"text": XSS[3]}),
                          ("override", {"override": "sentiment:negative",
                                        "note": XSS[0]})):
        r = c.post("/w/acme/inbox/item", data={"csrf": csrf, "id": "t:30", "action": action,
                                               **extra}, follow_redirects=False)
        assert r.status_code == 303
    c.post("/w/acme/saved-replies", data={"csrf": csrf, "name": XSS[0], "text": XSS[3],
                                          "next": "/"})
    alert_id = 1
    pages = ["/", "/w/acme/", "/w/acme/inbox", "/w/acme/inbox?status=all",
             "/w/acme/inbox/item?id=t:30", "/w/acme/inbox/item?id=t:31",
             "/w/acme/inbox/item?id=t:11", "/w/acme/post?id=t:32",
             "/w/acme/search?q=grève OR script OR img", "/w/acme/search?q=" + XSS[0],
             "/w/acme/monitors", "/w/acme/monitors?q=" + XSS[1] + "&name=" + XSS[0],
             "/w/acme/alerts", f"/w/acme/alerts/{alert_id}", "/w/acme/sites",
             "/w/acme/settings", "/w/acme/users", "/w/acme/influencers", "/w/acme/audience",
             "/login?next=" + XSS[1], "/w/acme/nope"]
    seen_payloads = 0
    for page in pages:
        r = c.get(page)
        html = r.text
        assert r.status_code in (200, 404), (page, r.status_code)
        assert audit_html(html) == [], page
        for payload in XSS:
            assert payload not in html, (page, payload)
            if payload.replace("<", "&lt;").replace(">", "&gt;")[:12] in html:
                seen_payloads += 1
        for url in BAD_URLS:
            assert f'href="{url}' not in html
    assert seen_payloads > 20  # the payloads were really on the pages, escaped


def test_javascript_urls_are_never_links(xss_world: World) -> None:
    c = TestClient(create_app(xss_world.control_url))
    login(c, xss_world, "admin")
    html = c.get("/w/acme/post?id=t:30").text
    assert "javascript:alert(1)" in html  # shown as text…
    assert 'class="unsafe-url"' in html  # …in a span, never an <a href>
    assert audit_html(html) == []


# ---- the permission matrix ------------------------------------------------------------------
SAMPLE: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/me/lang"): {"json": {"lang": "en"}},
    ("POST", "/api/w/{slug}/monitors"): {"json": {"name": "pm", "query": "grève",
                                                  "replace": True}},
    ("POST", "/api/w/{slug}/inbox/assign"): {"json": {"post_id": "{p}:30"}},
    ("POST", "/api/w/{slug}/inbox/status"): {"json": {"post_id": "{p}:30", "status": "open"}},
    ("POST", "/api/w/{slug}/inbox/draft"): {"json": {"post_id": "{p}:30", "text": "x"}},
    ("POST", "/api/w/{slug}/inbox/note"): {"json": {"post_id": "{p}:30", "text": "x"}},
    ("POST", "/api/w/{slug}/inbox/override"): {"json": {"post_id": "{p}:30", "task": "irony",
                                                        "label": "not_irony"}},
    ("POST", "/api/w/{slug}/saved-replies"): {"json": {"name": "n", "text": "t"}},
    ("POST", "/api/w/{slug}/alerts/{alert_id}/status"): {"json": {"status": "open"}},
    ("POST", "/api/w/{slug}/facts"): {"json": {"text": "la terre est plate"}},
    ("PUT", "/api/w/{slug}/rate-card"): {"json": {"nano": 50}},
    ("POST", "/api/w/{slug}/members"): {"json": {"email": "viewer@acme.test",
                                                 "role": "viewer"}},
    ("GET", "/api/w/{slug}/post"): {"params": {"id": "{p}:30"}},
    ("GET", "/api/w/{slug}/inbox/item"): {"params": {"id": "{p}:30"}},
    ("GET", "/api/w/{slug}/query/check"): {"params": {"q": "grève"}},
    ("POST", "/lang"): {"data": {"lang": "fr", "next": "/"}},
    ("GET", "/w/{slug}/post"): {"params": {"id": "{p}:30"}},
    ("GET", "/w/{slug}/inbox/item"): {"params": {"id": "{p}:30"}},
    ("POST", "/w/{slug}/monitors"): {"data": {"name": "pm2", "query": "grève", "replace": "1"}},
    ("POST", "/w/{slug}/monitors/delete"): {"data": {"name": "greve"}},
    ("POST", "/w/{slug}/inbox/item"): {"data": {"id": "{p}:30", "action": "note",
                                                "text": "x"}},
    ("POST", "/w/{slug}/saved-replies"): {"data": {"name": "n", "text": "t", "next": "/"}},
    ("POST", "/w/{slug}/settings/facts"): {"data": {"text": "x"}},
    ("POST", "/w/{slug}/settings/rate-card"): {"data": {"nano": "10"}},
    ("POST", "/w/{slug}/users"): {"data": {"email": "viewer@acme.test", "role": "viewer"}},
}
PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login")}
NOT_ROUTES = {"/api/openapi.json"}  # served by FastAPI itself, public by design
WRITE_TABLES = ("monitors", "corrections", "facts", "settings", "inbox_items", "inbox_notes",
                "inbox_drafts", "saved_replies", "alerts WHERE status != 'open'")


def routes(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for r in all_routes(app):
        if r.path in NOT_ROUTES or r.path.startswith("/static"):
            continue
        for m in sorted(r.methods - {"HEAD"}):
            out.append((m, r.path, r.endpoint))
    return out


def test_every_route_declares_a_known_permission(client_app: Any) -> None:
    for method, path, endpoint in routes(client_app):
        assert hasattr(endpoint, "__perron_action__"), f"{method} {path} declares no rule"
        action = endpoint.__perron_action__
        if (method, path) in PUBLIC:
            assert action is None
        else:
            assert action == "self" or action in MATRIX, (method, path, action)
            assert ("{slug}" in path) == (action != "self"), (method, path)


@pytest.fixture
def client_app(world_m: World) -> Any:
    return create_app(world_m.control_url)


@pytest.fixture
def world_m(tmp_path: Path) -> World:
    return build_world(tmp_path)


def _request(c: TestClient, method: str, path: str, slug: str, prefix: str, role: str,
             world: World, csrf: str | None) -> Any:
    url = path.replace("{slug}", slug).replace("{alert_id}", "1").replace(
        "{name}", "greve").replace("{email}", "nobody@acme.test")
    sample = json.loads(json.dumps(SAMPLE.get((method, path), {})).replace("{p}", prefix))
    headers = {}
    if path.startswith("/api/"):
        headers = bearer(world, role)
    elif method != "GET":
        sample.setdefault("data", {})["csrf"] = csrf
    return c.request(method, url, headers=headers, follow_redirects=False, **sample)


def _snapshot(url: str) -> list[Any]:
    with open_store(url) as store:
        return [store.query(f"SELECT * FROM {t}") for t in WRITE_TABLES]


def test_permission_matrix(world_m: World, client_app: Any) -> None:
    w = world_m
    clients, csrfs = {}, {}
    for role in ROLES:
        clients[role] = TestClient(client_app)
        csrfs[role] = login(clients[role], w, role)
    table = routes(client_app)
    assert len(table) > 45
    before = _snapshot(w.acme_url), _snapshot(w.rival_url)
    # 1. what must be refused, first, then prove nothing changed
    refused = 0
    for role in ROLES:
        for method, path, endpoint in table:
            action = endpoint.__perron_action__
            if action in (None, "self"):
                continue
            r = _request(clients[role], method, path, "rival", "r", role, w, csrfs[role])
            assert r.status_code == 404, (role, method, path, r.status_code)  # other workspace
            assert "r:3" not in r.text
            if not allowed(role, action):
                r = _request(clients[role], method, path, "acme", "t", role, w, csrfs[role])
                assert r.status_code == 403, (role, method, path, r.status_code, r.text[:200])
                refused += 1
    assert (_snapshot(w.acme_url), _snapshot(w.rival_url)) == before
    assert refused > 40
    # 2. what each role may do, it can
    for role in ROLES:
        for method, path, endpoint in table:
            action = endpoint.__perron_action__
            if action is None or (action != "self" and not allowed(role, action)):
                continue
            if path in ("/logout",):
                continue
            r = _request(clients[role], method, path, "acme", "t", role, w, csrfs[role])
            assert r.status_code < 400 or (r.status_code == 404 and "no workspace" not in
                                           r.text and method != "GET"), \
                (role, method, path, r.status_code, r.text[:300])
    # 3. the rival admin never reaches acme
    rival = TestClient(client_app)
    for method, path, endpoint in table:
        if endpoint.__perron_action__ not in (None, "self"):
            r = _request(rival, method, path, "acme", "t", "rival", w, None)
            if path.startswith("/api/"):
                assert r.status_code == 404, (method, path)


def test_viewer_pages_hide_geotagged_posts(world_m: World, client_app: Any) -> None:
    c = TestClient(client_app)
    login(c, world_m, "viewer")
    assert "message 20 " not in c.get("/w/acme/search?q=grève").text
    assert c.get("/w/acme/post?id=t:20").status_code == 404
    assert c.get("/w/acme/inbox").status_code == 403
    c2 = TestClient(client_app)
    login(c2, world_m, "analyst")
    assert c2.get("/w/acme/post?id=t:20").status_code == 200


# ---- CSRF, login, passwords, headers ----------------------------------------------------------
def test_csrf_required_on_form_posts(world_m: World, client_app: Any) -> None:
    c = TestClient(client_app)
    csrf = login(c, world_m, "admin")
    form = {"name": "c1", "query": "grève"}
    assert c.post("/w/acme/monitors", data=form, follow_redirects=False).status_code == 403
    assert c.post("/w/acme/monitors", data={**form, "csrf": "wrong"},
                  follow_redirects=False).status_code == 403
    assert c.post("/w/acme/monitors", data={**form, "csrf": csrf},
                  follow_redirects=False).status_code == 303
    # the API with the session cookie needs the header; with a Bearer token it does not
    r = c.post("/api/w/acme/saved-replies", json={"name": "a", "text": "b"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = c.post("/api/w/acme/saved-replies", json={"name": "a", "text": "b"},
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    # logging in needs the login form's token too
    c2 = TestClient(client_app)
    r = c2.post("/login", data={"email": "admin@acme.test", "password": "pw-admin-123456"},
                follow_redirects=False)
    assert r.status_code == 403


def test_login_is_rate_limited_per_ip_and_email(world_m: World, client_app: Any) -> None:
    c = TestClient(client_app)
    c.get("/login")
    token = c.cookies.get("perron_login_csrf")
    form = {"email": "admin@acme.test", "password": "wrong-password", "csrf": token}
    codes = [c.post("/login", data=form, follow_redirects=False).status_code for _ in range(11)]
    assert codes[:10] == [303] * 10 and codes[10] == 429
    r = c.post("/login", data={**form, "password": "pw-admin-123456"}, follow_redirects=False)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0  # even the right one
    other = c.post("/login", data={**form, "email": "viewer@acme.test",
                                   "password": "pw-viewer-123456"}, follow_redirects=False)
    assert other.status_code == 303 and other.headers["location"] == "/"


def test_passwords_are_argon2id_and_tokens_only_hashed(world_m: World) -> None:
    control = Control.open(world_m.control_url)
    hashes = [r[0] for r in control.store.query("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    stored = [r[0] for r in control.store.query("SELECT hash FROM tokens")]
    assert world_m.tokens["admin"] not in stored and len(stored[0]) == 64
    assert control.authenticate("admin@acme.test", "pw-admin-123456") is not None
    assert control.authenticate("admin@acme.test", "pw-admin-12345") is None
    assert control.authenticate("ghost@acme.test", "pw-admin-123456") is None


def test_security_headers_and_cookie_flags(world_m: World, client_app: Any) -> None:
    c = TestClient(client_app)
    r = c.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"]
    r = c.post("/login", data={"email": "admin@acme.test", "password": "pw-admin-123456",
                               "csrf": c.cookies.get("perron_login_csrf")},
               follow_redirects=False)
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie"
              and v.startswith("perron_session=")][0].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    secure = TestClient(create_app(world_m.control_url, secure_cookies=True),
                        base_url="https://127.0.0.1")
    secure.get("/login")
    r = secure.post("/login", data={"email": "admin@acme.test", "password": "pw-admin-123456",
                                    "csrf": secure.cookies.get("perron_login_csrf")},
                    follow_redirects=False)
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie"
              and v.startswith("perron_session=")][0].lower()
    assert "secure" in cookie and r.headers["strict-transport-security"]


def test_open_redirects_are_refused(world_m: World, client_app: Any) -> None:
    c = TestClient(client_app)
    c.get("/login")
    r = c.post("/login", data={"email": "admin@acme.test", "password": "pw-admin-123456",
                               "csrf": c.cookies.get("perron_login_csrf"),
                               "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"
