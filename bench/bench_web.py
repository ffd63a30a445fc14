"""Web load benchmark (issue 6): the dashboard and the API over a store of N posts.

Builds (once, reused afterwards) a workspace store of N synthetic posts written through
``Store.write`` in big batches, with sentiment labels on every post, triage labels on 5 % of
them, 5 monitors, alerts and sites; starts ``perron serve`` as a subprocess on 127.0.0.1; then,
from this second process, runs C concurrent users (asyncio + httpx, keep-alive) against each
endpoint for D seconds and prints requests/s, p50 and p95 latency and errors per endpoint.

    .venv/bin/python bench/bench_web.py [--posts 1000000] [--users 50] [--seconds 15]

Goal: p95 < 200 ms for the overview and inbox pages at 50 users, zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# `perron serve` through the real command line
SERVE = "import sys; from perron.cli import main; main(['serve', *sys.argv[1:]], prog_name='perron')"
sys.path.insert(0, str(ROOT))

from perron.commands.web import default_workers  # noqa: E402
from perron.models import Author, Batch, Geo, Metrics, Post  # noqa: E402
from perron.store import open_store  # noqa: E402
from perron.web.control import Control  # noqa: E402

COMMON = ("le la les de et un une est pas que pour sur grève SNCF retard train merci service "
          "client nul génial Paris Lyon remboursement colis jamais arrivé vote football musique "
          "bravo honte attente guichet application billet contrôleur quai annulé #grève #sncf "
          "@sncf Montréal écologie").split()
# a Zipf-like vocabulary: a few very common words, a long tail of rare ones (as in real text)
WORDS = COMMON + [f"mot{k}" for k in range(20_000)]
CUM: list[float] = []
for _rank in range(1, len(WORDS) + 1):
    CUM.append((CUM[-1] if CUM else 0.0) + 1.0 / _rank)
MONITORS = {"greve": "grève OR #grève", "remboursement": "rembours*",
            "retards": "retard NEAR/3 train", "lyon": "lyon -is:repost", "app": "application"}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def build(ws_url: str, n: int, batch: int = 20_000) -> None:
    rng = random.Random(6)
    store = open_store(ws_url)
    have = store.count()
    if have >= n:
        print(f"reusing {ws_url}: {have:,} posts", flush=True)
        store.close()
        return
    t = time.time()
    span = 365 * 86400 / n  # one year of posts
    authors = [Author(id=f"b:u{i}", source="b", native_id=f"u{i}", handle=f"user{i}",
                      name=f"Personne {i}", followers=int(rng.paretovariate(1.2) * 50))
               for i in range(20_000)]
    store.write([Batch(authors=authors)])
    for start in range(have, n, batch):
        posts = []
        for i in range(start, min(n, start + batch)):
            reply = i > 10 and rng.random() < 0.2
            parent = f"b:{rng.randrange(max(1, i - 500), i)}" if reply else None
            a = rng.randrange(20_000)
            posts.append(Post(
                id=f"b:{i}", source="b", native_id=str(i),
                text=" ".join(rng.choices(WORDS, cum_weights=CUM, k=rng.randint(6, 20))),
                created_at=T0 + timedelta(seconds=span * i), url=f"https://example.org/{i}",
                author_id=f"b:u{a}", author_handle=f"user{a}",
                kind="reply" if reply else "post", parent_id=parent,
                root_id=parent, geo=Geo(lat=45.5 + rng.random() / 50, lon=-73.57 +
                                        rng.random() / 50) if rng.random() < 0.01 else None,
                metrics=Metrics(likes=rng.randrange(50), reposts=rng.randrange(10),
                                replies=rng.randrange(5), quotes=0)))
        store.write([Batch(posts=posts)])
        print(f"\r  {min(n, start + batch):,} posts ({time.time() - t:.0f} s)", end="",
              flush=True, file=sys.stderr)
    print(flush=True, file=sys.stderr)
    now = store.ts(datetime.now(UTC))
    outcomes = ("restoration", "fix_the_facts", "monitor_only", "concurrence", "let_stand")
    path = json.dumps({"path": [{"question": "Q1", "answer": False, "evidence": "négatif 0.9"},
                                {"question": "Q5", "answer": True, "evidence": "plainte 0.8"}]})
    with store.transaction():
        store.executemany(
            "INSERT INTO labels (post_rowid, task, label, score, model, version, created_at) "
            "VALUES (?, 'sentiment', ?, ?, 'bench', '1', ?) ON CONFLICT DO NOTHING",
            ([r, rng.choice(("positive", "neutral", "negative")), rng.random(), now]
             for r in range(1, n + 1)))
        store.executemany(
            "INSERT INTO labels (post_rowid, task, label, score, scores, reasons, model, "
            "version, created_at) VALUES (?, 'triage', ?, ?, ?, ?, 'bench', '1', ?) "
            "ON CONFLICT DO NOTHING",
            ([r, rng.choice(outcomes), round(rng.random(), 3), path, '["plainte"]', now]
             for r in range(1, n + 1, 20)))
        for i in range(20):
            store.execute("INSERT INTO alerts (rule, dedupe_key, monitor, fired_at, title, "
                          "explanation, status) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                          ["spike", f"k{i}", "greve", now, f"Pic {i}",
                           json.dumps({"posts": [f"b:{n - 1 - i}"]}), "open"])
        store.execute("INSERT INTO sites (name, lat, lon, radius_m, created_at) VALUES "
                      "('Gare', 45.51, -73.56, 800, ?) ON CONFLICT DO NOTHING", [now])
    for name, query in MONITORS.items():
        if name not in store.monitors():
            store.monitor_add(name, query)
            store.backfill(name)
    print(f"built {n:,} posts in {time.time() - t:.0f} s", flush=True)
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def hammer(base: str, path: str, headers: dict[str, str], cookies: dict[str, str],
                 users: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base, headers=headers, cookies=cookies,
                                 limits=limits, timeout=30) as client:
        await client.get(path)  # warm (caches, connections)
        stop = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    r = await client.get(path)
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
        elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
            "errors": errors}


WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, '
    .. '"p95_us": %d, "p99_us": %d, "errors": %d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def run_wrk(base: str, path: str, headers: dict[str, str], cookies: dict[str, str],
            users: int, seconds: float, threads: int) -> dict[str, float]:
    """The same measurement with wrk (C, keep-alive): the load generator costs little CPU."""
    script = Path(os.environ.get("TMPDIR", "/tmp")) / "perron-bench-web.lua"
    script.write_text(WRK_LUA)
    hdrs = {**headers, **({"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
                          if cookies else {})}
    httpx.get(base + path, headers=hdrs, timeout=60)  # warm
    cmd = ["wrk", f"-t{threads}", f"-c{users}", f"-d{seconds:.0f}s", "--timeout", "10s",
           "-s", str(script)]
    for k, v in hdrs.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, base + path], capture_output=True, text=True, check=True).stdout
    data = json.loads(out.split("WRKJSON", 1)[1])
    return {"requests": data["requests"],
            "rps": round(data["requests"] / (data["duration_us"] / 1e6), 1),
            "p50_ms": round(data["p50_us"] / 1000, 1), "p95_ms": round(data["p95_us"] / 1000, 1),
            "errors": data["errors"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--workers", type=int, default=None,
                    help="perron serve --workers (default: perron's own, one per CPU, at most 8)")
    ap.add_argument("--httpx", action="store_true",
                    help="use the Python load generator even when wrk is installed")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    control_url = str(args.out / f"web-control-{args.posts}.db")
    ws_url = str(args.out / f"web-ws-{args.posts}.db")
    build(ws_url, args.posts)
    control = Control.open(control_url)
    if control.workspace("bench", missing_ok=True) is None:
        control.workspace_add("Bench", ws_url, slug="bench")
        control.user_add("bench@bench.test", "bench-password-1", "fr")
        control.grant("bench@bench.test", "bench", "admin")
    token = control.token_create("bench@bench.test")
    sid, _ = control.session_create("bench@bench.test")
    control.close()
    port = free_port()
    n_workers = args.workers or default_workers()
    workers = ["--workers", str(args.workers)] if args.workers else []
    server = subprocess.Popen([sys.executable, "-c", SERVE, "--db", control_url, "--port",
                               str(port), "--api-rate", "100000000", *workers], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with open_store(ws_url) as store:
            item = store.scalar("SELECT p.id FROM labels l JOIN posts p ON p.rowid = "
                                "l.post_rowid WHERE l.task = 'triage' ORDER BY l.score DESC "
                                "LIMIT 1")
        page, api = ({}, {"perron_session": sid}), ({"Authorization": f"Bearer {token}"}, {})
        endpoints = [
            ("overview page", "/w/bench/", page), ("inbox page", "/w/bench/inbox", page),
            ("inbox item page", f"/w/bench/inbox/item?id={item}", page),
            ("API overview", "/api/w/bench/overview", api),
            ("API inbox", "/api/w/bench/inbox", api),
            ("API latest posts", "/api/w/bench/posts?limit=50", api),
            ("API search", "/api/w/bench/posts?q=remboursement%20guichet&limit=20", api),
            ("API monitor posts", "/api/w/bench/posts?monitor=retards&limit=20", api),
        ]
        use_wrk = shutil.which("wrk") is not None and not args.httpx
        tool = "wrk" if use_wrk else "httpx (Python)"
        print(f"\n{args.posts:,} posts, {args.users} concurrent users, {args.seconds:.0f} s each,"
              f" {os.cpu_count()} CPUs shared by server ({n_workers} "
              f"worker(s)) and load generator ({tool})")
        print(f"{'endpoint':<20} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
        results = {}
        for name, path, (headers, cookies) in endpoints:
            if use_wrk:
                r = run_wrk(base, path, headers, cookies, args.users, args.seconds,
                            threads=2)
            else:
                r = asyncio.run(hammer(base, path, headers, cookies, args.users, args.seconds))
            results[name] = r
            print(f"{name:<20} {r['rps']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} "
                  f"{r['errors']:>7}", flush=True)
        (args.out / "web.json").write_text(json.dumps(
            {"posts": args.posts, "users": args.users, "cpus": os.cpu_count(), "tool": tool,
             "workers": n_workers,
             "results": results}, indent=1))
        ok = all(results[k]["p95_ms"] < 200 for k in ("overview page", "inbox page")) and \
            all(r["errors"] == 0 for r in results.values())
        print("goal (p95 < 200 ms overview and inbox, zero errors):", "met" if ok else "NOT met")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
