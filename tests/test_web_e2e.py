"""End-to-end journeys in real headless Chromium against `perron serve` in a subprocess on
127.0.0.1: log in, create a monitor and see it match, triage a post from the inbox, follow an
alert to its posts, switch language. Screenshots go to test-artifacts/screenshots/.

Chromium comes from the system (Debian's `chromium`); playwright only drives it. Under CI=true a
missing browser is a failure, locally a skip with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from perron.store import open_store

from .test_web_api import World, build_world

ROOT = Path(__file__).resolve().parents[1]
# `perron serve` through the real command line, with its default workers (one per CPU)
SERVE = "import sys; from perron.cli import main; main(['serve', *sys.argv[1:]], prog_name='perron')"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("PERRON_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
TEXTS = {
    30: "Trois semaines que j'attends mon remboursement, service client injoignable. "
        "Inadmissible @SNCF #grève",
    31: "C'est officiel : la SNCF supprime tous les trains de nuit dès 2026 ! #grève",
    32: "Encore une grève, bande de bons à rien, vous êtes tous des parasites #grève",
    10: "Mon train de 8 h 12 est annoncé avec 45 minutes de retard, quelqu'un sait pourquoi ? "
        "#grève",
}


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} under CI=true: `make test` must install chromium")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_api() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    tmp = tmp_path_factory.mktemp("e2e")
    world = build_world(tmp, texts=TEXTS)
    with open_store(world.acme_url) as store:  # triaged two hours ago: a realistic wait
        store.execute("UPDATE labels SET created_at = ?",
                      [store.ts(datetime.now(UTC) - timedelta(hours=2, minutes=14))])
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "--db", world.control_url,
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail("perron serve did not start: " + proc.stdout.read().decode()[-2000:])
        yield base, world
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def page(playwright_api: object, tmp_path: Path) -> Iterator[object]:
    ctx = playwright_api.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport={"width": 1280, "height": 900}, locale="fr-FR")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def log_in(page: object, base: str, world: World, role: str) -> None:
    page.goto(base + "/w/acme/")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("input[name=email]", world.email(role))  # type: ignore[attr-defined]
    page.fill("input[name=password]", world.passwords[role])  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_url(base + "/w/acme/")  # type: ignore[attr-defined]


def test_login_and_overview(page: object, server: tuple[str, World]) -> None:
    base, world = server
    page.goto(base + "/login")  # type: ignore[attr-defined]
    page.fill("input[name=email]", world.email("viewer"))  # type: ignore[attr-defined]
    page.fill("input[name=password]", "wrong password")  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    assert page.locator("p.error").is_visible()  # type: ignore[attr-defined]
    log_in(page, base, world, "viewer")
    assert page.locator("h1").inner_text() == "Vue d'ensemble"  # type: ignore[attr-defined]
    assert page.locator("svg.chart rect").count() >= 3  # volume, sentiment  # type: ignore
    assert page.locator("a:has-text('Boîte de réception')").count() == 0  # type: ignore
    shot(page, "overview")


def test_create_a_monitor_and_see_it_match(page: object, server: tuple[str, World]) -> None:
    base, world = server
    log_in(page, base, world, "analyst")
    page.goto(base + "/w/acme/monitors")  # type: ignore[attr-defined]
    page.fill("#monitor-name", "remboursements")  # type: ignore[attr-defined]
    page.fill("#monitor-query", "remboursement AND (")  # type: ignore[attr-defined]
    status = page.locator("#monitor-preview .query-status")  # type: ignore[attr-defined]
    status.filter(has_text="col.").wait_for(timeout=5000)  # live check from the API
    assert "✘" in status.inner_text()
    page.fill("#monitor-query", "remboursement* -is:repost")  # type: ignore[attr-defined]
    status.filter(has_text="✔").wait_for(timeout=5000)
    page.click("#monitor-check")  # type: ignore[attr-defined]
    preview = page.locator("section.preview article.post")  # type: ignore[attr-defined]
    assert preview.count() == 1 and "remboursement" in preview.first.inner_text()
    page.click("#monitor-save button[type=submit]")  # type: ignore[attr-defined]
    row = page.locator("table.list tr", has_text="remboursements")  # type: ignore[attr-defined]
    assert row.locator("td").nth(2).inner_text() == "1"
    shot(page, "monitors")


def test_triage_a_post_from_the_inbox(page: object, server: tuple[str, World]) -> None:
    base, world = server
    log_in(page, base, world, "responder")
    page.click("a:has-text('Boîte de réception')")  # type: ignore[attr-defined]
    first = page.locator("table.inbox tbody tr").first  # type: ignore[attr-defined]
    assert "Réparer" in first.inner_text() and "remboursement" in first.inner_text()
    shot(page, "inbox")
    page.locator("a.item-link").nth(1).click()  # type: ignore[attr-defined]
    assert "Rétablir les faits" in page.locator("#outcome").inner_text()  # type: ignore
    assert page.locator("ol.path li").count() == 3  # type: ignore[attr-defined]
    page.select_option("#override-label", "triage:monitor_only")  # type: ignore[attr-defined]
    page.fill("#form-override input[name=note]", "compte parodique connu")  # type: ignore
    page.click("#form-override button")  # type: ignore[attr-defined]
    assert page.locator("#outcome").inner_text() == "Surveiller seulement"  # type: ignore
    page.fill("#draft-text", "Bonjour, voici la source officielle : …")  # type: ignore
    page.click("#form-draft button[type=submit]")  # type: ignore[attr-defined]
    page.click("#form-responded button")  # type: ignore[attr-defined]
    assert page.locator("#status").inner_text() == "Répondu"  # type: ignore[attr-defined]
    assert page.locator("#ttfr").inner_text() != "—"  # type: ignore[attr-defined]
    shot(page, "inbox-item")
    doc = ROOT / "docs" / "inbox.png"  # the README's picture: refreshed on request only
    if not doc.exists() or os.environ.get("PERRON_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(SHOTS / "inbox-item.png", doc)
    with open_store(world.acme_url) as store:
        assert store.query("SELECT label, author FROM corrections WHERE post_id = 't:31'") == [
            ("monitor_only", "responder@acme.test")]
    page.goto(base + "/w/acme/inbox")  # type: ignore[attr-defined]
    assert page.locator("#median-ttfr").inner_text() != "—"  # type: ignore[attr-defined]


def test_follow_an_alert_to_its_posts(page: object, server: tuple[str, World]) -> None:
    base, world = server
    with open_store(world.acme_url) as store:
        store.execute("INSERT INTO alerts (rule, dedupe_key, monitor, fired_at, title, "
                      "explanation, status) VALUES (?,?,?,?,?,?,?)",
                      ["negative", "e2e", "greve", "2025-03-01T12:00:00.000000Z",
                       "Hausse des messages négatifs", json.dumps(
                           {"summary": "4 messages négatifs contre 0,5 d'habitude",
                            "posts": ["t:30", "t:32"]}), "open"])
    log_in(page, base, world, "viewer")
    page.click("a:has-text('Alertes')")  # type: ignore[attr-defined]
    page.click("a:has-text('Hausse des messages négatifs')")  # type: ignore[attr-defined]
    assert "4 messages négatifs" in page.locator("dl").inner_text()  # type: ignore
    posts = page.locator("#alert-posts article.post")  # type: ignore[attr-defined]
    assert posts.count() == 2 and "parasites" in posts.first.inner_text()
    shot(page, "alert")


def test_switch_language(page: object, server: tuple[str, World]) -> None:
    base, world = server
    log_in(page, base, world, "admin")
    assert page.locator("h1").inner_text() == "Vue d'ensemble"  # type: ignore[attr-defined]
    page.click("#lang-switch")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Overview"  # type: ignore[attr-defined]
    page.goto(base + "/w/acme/inbox")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Inbox"  # type: ignore[attr-defined]
    shot(page, "inbox-en")
    page.click("#lang-switch")  # type: ignore[attr-defined]
    assert page.locator("h1").inner_text() == "Boîte de réception"  # type: ignore
