"""Screenshots of the demo dashboard for the README (docs/inbox.png, docs/inbox-item.png).

    DEMO_SERVE=0 make demo && .venv/bin/python scripts/screenshots.py

Serves the demo control store on a free loopback port, logs in as the demo responder in
headless Chromium (the system's, as the tests use) and captures the inbox and one inbox item.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CONTROL = ROOT / "demo" / "perron-demo-control.db"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    if not CONTROL.exists():
        sys.exit("run `DEMO_SERVE=0 make demo` first")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "perron"), "serve", "--db", str(CONTROL),
                               "--port", str(port)], cwd=ROOT)
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="fr-FR")
            page.goto(base + "/login")
            page.fill("input[name=email]", "responder@demo.perron")
            page.fill("input[name=password]", "demo-responder-perron")
            page.click("#login-submit")
            page.wait_for_load_state()
            page.goto(base + "/w/demo/inbox")
            page.screenshot(path=str(ROOT / "docs" / "inbox.png"))
            page.locator("a[href*='/inbox/item']").first.click()
            page.wait_for_load_state()
            page.screenshot(path=str(ROOT / "docs" / "inbox-item.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
