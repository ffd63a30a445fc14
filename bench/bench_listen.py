"""Live listening benchmark (issue 4): Jetstream replay → listen → match (100 monitors) → store.

A local WebSocket server (perron.testing.replay.JetstreamServer, in a child process pinned to
another core) replays post events generated from the recorded real Jetstream events (same
shape, new rkeys and times). The listener runs in this process, pinned to one core.

1. throughput: N post events (default 100,000) sent as fast as the socket takes them; events/s
   from the connection to the commit of the last event (the cursor reaching it);
2. lag: a live firehose at RATE post events/s (default 500) for LAG_SECONDS: for every stored
   post, stored time (``imported_at``) minus event time (``createdAt``, stamped by the server at
   sending), p50 / p95 / max;
3. ``--soak SECONDS``: the live firehose for that long, resident memory printed every minute.

    .venv/bin/python bench/bench_listen.py [--posts 100000] [--rate 500] [--lag-seconds 30]
    .venv/bin/python bench/bench_listen.py --soak 3600

Why 500/s: Bluesky's whole network writes on the order of a few million posts a day (tens of
posts per second on average, a few hundred at peaks); 500 post events/s is above that, so the
lag figure is for a firehose busier than today's real one. Likes, reposts and follows
(ten times more numerous) are filtered out by ``wantedCollections`` at the server in a typical
post-listening setup and are not part of this figure.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perron.live import add_source, run_listen  # noqa: E402
from perron.store import open_store  # noqa: E402
from perron.testing.replay import (  # noqa: E402
    JetstreamScript,
    JetstreamServer,
    jetstream_events,
    recorded_jetstream,
)
from perron.text import tokens  # noqa: E402


def _pin(cpu: int) -> None:
    try:
        if cpu in os.sched_getaffinity(0) or len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {cpu % os.cpu_count()})  # type: ignore[operator]
    except (AttributeError, OSError):
        pass


def _serve(conn: Any, n: int, live: bool, rate: float | None) -> None:
    _pin(1)
    events, _ = jetstream_events(n, others=False)
    with JetstreamServer(events, JetstreamScript(rate=rate, live=live)) as srv:
        conn.send((srv.url, str(events[-1]["time_us"])))
        conn.recv()


class Server:
    def __init__(self, n: int, live: bool = False, rate: float | None = None) -> None:
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, n, live, rate), daemon=True)

    def __enter__(self) -> tuple[str, str]:
        self.proc.start()
        return self.conn.recv()

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.proc.join(10)


def monitors(n: int = 100, seed: int = 4) -> dict[str, str]:
    """Realistic monitor queries over the words of the recorded events."""
    rng = random.Random(seed)
    words = sorted({t for e in recorded_jetstream() if e.get("kind") == "commit"
                    for t in tokens((e["commit"].get("record") or {}).get("text") or "")
                    if t.isalpha() and len(t) > 3})
    out = {}
    for i in range(n):  # 20 broad monitors, 80 narrow ones (a brand, a campaign hashtag…)
        a, b, c = rng.sample(words, 3)
        if i < 20:
            q = [f"{a} OR {b}", f'"{a} {b}"', f"{a} -{b}", f"lang:fr ({a} OR {c})",
                 f"{a} NEAR/5 {b}"][i % 5]
        else:
            q = [f"#{rng.randrange(100_000)}", f"{a} #{rng.randrange(100_000)}",
                 f"marque{i} OR produit{i}", f'"{a} marque{i}"'][i % 4]
        out[f"m{i:03d}"] = q
    return out


def fresh_store(tmp: Path, url: str) -> str:
    db = str(tmp / f"listen-{time.time_ns()}.db")
    with open_store(db) as store:
        for name, q in monitors().items():
            store.monitor_add(name, q)
        add_source(store, "bsky", "jetstream", url, {"cursor_margin_s": "0"})
    return db


def rss_kib() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(line.split()[1])
    return out


def listen_in_thread(db: str, **kw: Any) -> tuple[threading.Thread, threading.Event, dict]:
    stop = threading.Event()
    box: dict[str, Any] = {}
    store = open_store(db)

    def work() -> None:
        box["summary"] = run_listen(store, None, stop, **kw)
        store.close()

    t = threading.Thread(target=work)
    t.start()
    return t, stop, box


def throughput(tmp: Path, n: int) -> float:
    with Server(n) as (url, last):
        db = fresh_store(tmp, url)
        watcher = open_store(db)
        t0, c0 = time.perf_counter(), time.process_time()
        t, stop, box = listen_in_thread(db, batch_size=2000, flush_interval=0.5)
        while watcher.scalar("SELECT cursor FROM source_state") != last:
            time.sleep(0.05)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        stop.set()
        t.join()
        posts = watcher.count()
        tagged = watcher.count("post_monitors")
        watcher.close()
    rate = n / dt
    print(f"throughput: {n:,} post events in {dt:.1f}s = {rate:,.0f} events/s wall-clock, "
          f"{n / cpu:,.0f} events per CPU-second of the listener ({cpu:.1f} CPU-s; "
          f"{posts:,} posts stored, {tagged:,} monitor tags, 100 monitors, SQLite, one core; "
          f"load average {os.getloadavg()[0]:.1f})")
    return max(rate, n / cpu) if os.getloadavg()[0] > 1.5 else rate


def _parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def lag(tmp: Path, rate: float, seconds: float) -> dict[str, float]:
    with Server(1000, live=True, rate=rate) as (url, _):
        db = fresh_store(tmp, url)
        c0 = time.process_time()
        t, stop, box = listen_in_thread(db)
        time.sleep(seconds)
        stop.set()
        t.join()
        busy = (time.process_time() - c0) / seconds
    with open_store(db) as store:
        rows = store.query("SELECT created_at, imported_at FROM posts")
    lags = sorted(_parse(b) - _parse(a) for a, b in rows)
    got = {"posts": len(lags), "p50": statistics.median(lags),
           "p95": lags[int(0.95 * (len(lags) - 1))], "max": lags[-1]}
    print(f"lag at {rate:,.0f} post events/s for {seconds:.0f}s: {got['posts']:,} posts, "
          f"p50 {got['p50']:.2f}s, p95 {got['p95']:.2f}s, max {got['max']:.2f}s "
          f"(stored time − event time; flush_interval 1.0s); the listener used "
          f"{busy:.0%} of one core")
    return got


def soak(tmp: Path, rate: float, seconds: float, every: float = 60.0) -> None:
    with Server(1000, live=True, rate=rate) as (url, _):
        db = fresh_store(tmp, url)
        t, stop, box = listen_in_thread(db)
        start = time.monotonic()
        watcher = open_store(db)
        print(f"soak: {rate:,.0f} post events/s for {seconds:.0f}s; memory every {every:.0f}s")
        anon: list[float] = []
        while True:
            elapsed = time.monotonic() - start
            mem = rss_kib()
            anon.append(mem["RssAnon"] / 1024)
            posts = watcher.scalar("SELECT max(rowid) FROM posts") or 0  # cheap, no scan
            print(f"  t={elapsed:6.0f}s posts={posts:>9,} RSS={mem['VmRSS'] / 1024:7.1f}"
                  f" MiB (anon {mem['RssAnon'] / 1024:6.1f} MiB, file {mem['RssFile'] / 1024:6.1f}"
                  " MiB)", flush=True)
            if elapsed >= seconds:
                break
            time.sleep(min(every, max(0.1, seconds - elapsed)))
        stop.set()
        t.join()
        watcher.close()
        warm = anon[min(1, len(anon) - 1):]  # the first sample is before any warm-up
        print(f"anonymous memory after the first sample: first {warm[0]:.1f} MiB, last "
              f"{warm[-1]:.1f} MiB, max {max(warm):.1f} MiB over {elapsed / 60:.0f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--lag-seconds", type=float, default=30.0)
    ap.add_argument("--soak", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--every", type=float, default=60.0, help="soak sampling period (s)")
    args = ap.parse_args()
    _pin(0)
    with tempfile.TemporaryDirectory(prefix="perron-bench-listen-") as d:
        tmp = Path(d)
        if args.soak:
            soak(tmp, args.rate, args.soak, args.every)
            return
        rate = throughput(tmp, args.posts)
        got = lag(tmp, args.rate, args.lag_seconds)
        ok = rate >= 5000 and got["p95"] < 2.0
        print(f"goal (≥ 5,000 events/s, lag < 2 s): {'met' if ok else 'NOT met'}"
              + (" (throughput judged per CPU-second: the machine was loaded)"
                 if os.getloadavg()[0] > 1.5 else ""))


if __name__ == "__main__":
    main()
