"""The web commands (workspace, users, tokens), the demo seed and the aggregates cache."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from perron.commands.web import tokens_group, users_group, workspace_group
from perron.testing.procs import children, running
from perron.web import create_app
from perron.web.control import Control, digest
from perron.web.demo import seed_demo
from perron.web.state import TTLCache


def test_workspace_users_and_tokens_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "control.db")
    run = CliRunner().invoke
    r = run(workspace_group, ["add", "Acme FR", "--db", db])
    assert r.exit_code == 0, r.output
    assert f"acme-fr: Acme FR → {db}.ws-acme-fr.db" in r.output
    assert Path(f"{db}.ws-acme-fr.db").exists()  # its own store, created now
    assert run(workspace_group, ["add", "Acme FR", "--db", db]).exit_code != 0  # no duplicate
    assert "acme-fr\tAcme FR" in run(workspace_group, ["list", "--db", db]).output
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery\n")
    r = run(users_group, ["add", "Ana@Acme.example", "--workspace", "acme-fr", "--role",
                          "analyst", "--password-file", str(pw), "--db", db])
    assert r.exit_code == 0 and "ana@acme.example: analyst in acme-fr" in r.output
    r = run(users_group, ["add", "bob@acme.example", "--workspace", "acme-fr", "--role",
                          "viewer", "--generate", "--db", db])
    generated = r.output.strip().splitlines()[-1].split(": ", 1)[1]
    r = run(users_group, ["add", "x@acme.example", "--workspace", "nope", "--role", "viewer",
                          "--generate", "--db", db])
    assert r.exit_code != 0 and "no workspace 'nope'" in r.output
    r = run(tokens_group, ["create", "--user", "ana@acme.example", "--db", db])
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("prn_") and len(token) > 40
    control = Control.open(db)
    assert control.authenticate("ana@acme.example", "correct horse battery")
    assert control.authenticate("bob@acme.example", generated)
    assert control.store.query("SELECT hash FROM tokens") == [(digest(token),)]
    client = TestClient(create_app(db))
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["workspaces"] == [{"slug": "acme-fr", "name": "Acme FR", "role": "analyst"}]


def test_seed_demo_creates_one_user_per_role(tmp_path: Path) -> None:
    control, ws = str(tmp_path / "c.db"), str(tmp_path / "demo.db")
    users = seed_demo(control, ws)
    assert [u[2] for u in users] == ["admin", "analyst", "responder", "viewer"]
    assert seed_demo(control, ws) == users  # idempotent
    c = Control.open(control)
    for email, password, role in users:
        assert c.authenticate(email, password) and c.role(email, "demo") == role
    assert c.workspace("demo").store_url == ws  # type: ignore[union-attr]


def test_cache_refreshes_on_new_version_and_serves_stale_while_one_thread_recomputes() -> None:
    cache = TTLCache(ttl=60, min_age=0)
    calls: list[int] = []
    assert cache.get("k", lambda: calls.append(1) or "a", version=1) == "a"
    assert cache.get("k", lambda: calls.append(1) or "b", version=1) == "a"  # fresh
    assert cache.get("k", lambda: calls.append(1) or "c", version=2) == "c"  # new posts
    assert len(calls) == 2
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "d"

    t = threading.Thread(target=lambda: cache.get("k", slow, version=3))
    t.start()
    started.wait(5)
    t0 = time.monotonic()
    assert cache.get("k", lambda: "never", version=3) == "c"  # stale, without waiting
    assert time.monotonic() - t0 < 1
    release.set()
    t.join()
    assert cache.get("k", lambda: "never", version=3) == "d"


def test_serve_workers_leave_when_the_server_is_killed(tmp_path: Path) -> None:
    """`perron serve --workers 2` killed with -9: its workers stop serving and exit."""
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "perron.cli", "serve", "--db",
                             str(tmp_path / "control.db"), "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("perron serve did not answer /healthz")
        kids = children(proc.pid)
        assert len(kids) >= 2  # the two workers (and multiprocessing's helper)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while any(running(c) for c in kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [c for c in kids if running(c)]
    for c in survivors:  # leave nothing behind even when the assertion fails
        os.kill(c, signal.SIGKILL)
    assert survivors == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
