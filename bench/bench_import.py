"""Import and search benchmark (issue 2).

Builds a corpus of N posts by resampling the real Twitter API v2 tweets in
../shared/data/twarc-csv-v2-tweets (new ids and times, real texts, authors and entities), then,
side by side in the same run:

- perron: `perron import` of the v2 pages into a fresh SQLite store with 100 monitors active
  (normalize, dedupe, full-text index, tagging), in a child process; posts/s and peak RSS;
- peer: `sqlite-utils insert --nl` of the same tweets (flat JSON lines) into a fresh SQLite file;
- search: p50/p95 latency of 20 realistic monitor queries (newest 20 matches) over the store.

    .venv/bin/python bench/bench_import.py [--posts 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "twarc-csv-v2-tweets" / "test-data"
OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent

QUERIES = [
    "brexit", "#brexit", "brexit -is:repost", "labour OR tories OR corbyn", '"people\'s vote"',
    "bts OR blackpink", "#bts has:media", "lang:en vote*", "@borisjohnson", "eu NEAR/3 deal",
    "is:reply brexit", "has:link #brexit", "lang:de", "kpop -#bts", "music AND (love OR happy)",
    "since:2024-06-01 until:2024-06-08 brexit", "author:user123", "(trump OR biden) -is:repost",
    "#kpop OR #bts OR #blackpink", "police NEAR/5 protest",
]


def real_tweets() -> tuple[list[dict], dict[str, dict]]:
    tweets: dict[str, dict] = {}
    users: dict[str, dict] = {}
    for f in sorted(SHARED.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").split("\n"):
            try:
                page = json.loads(line)
            except ValueError:
                continue
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                continue
            for t in page["data"]:
                if "author_id" in t and "text" in t:
                    tweets[t["id"]] = t
            for u in page.get("includes", {}).get("users", []):
                users[u["id"]] = u
    return [t for t in tweets.values() if t["author_id"] in users], users


def build_corpus(n: int, seed: int = 42) -> tuple[Path, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    pages_path, flat_path = OUT / f"corpus-{n}.jsonl", OUT / f"flat-{n}.jsonl"
    if pages_path.exists() and flat_path.exists():
        return pages_path, flat_path
    tweets, users = real_tweets()
    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with open(pages_path, "w", encoding="utf-8") as pages, open(flat_path, "w",
                                                                 encoding="utf-8") as flat:
        for start in range(0, n, 100):
            data = []
            for i in range(start, min(n, start + 100)):
                t = dict(rng.choice(tweets))
                t["id"] = str(2 * 10**18 + i)
                t["created_at"] = (t0 + timedelta(seconds=i * 15 + rng.randrange(15))).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z")
                t.pop("edit_history_tweet_ids", None)
                data.append(t)
                flat.write(json.dumps(t, ensure_ascii=False) + "\n")
            page_users = [users[a] for a in {t["author_id"] for t in data}]
            pages.write(json.dumps({"data": data, "includes": {"users": page_users}},
                                   ensure_ascii=False) + "\n")
    return pages_path, flat_path


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed with status {status}")
    return elapsed, usage.ru_maxrss * 1024


def monitors(n: int = 100) -> list[tuple[str, str]]:
    base = QUERIES + ["eu", "uk", "london", "#army", "love", "news", "vote", "police", "covid",
                      "#music", "football", "party", "election", "twitter", "china", "usa"]
    return [(f"m{i:03d}", base[i % len(base)] + ("" if i < len(base) else f" OR w{i}"))
            for i in range(n)]


def search_latency(store: Any) -> dict[str, Any]:
    """p50/p95 of the 20 QUERIES (newest 20), five rounds, the first left out (it warms the
    cache), and the slowest query by its median."""
    lat: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(5):
        for q in QUERIES:
            t0 = time.perf_counter()
            list(store.search(q, limit=20))
            lat[q].append((time.perf_counter() - t0) * 1000)
    allv = sorted(v for vs in lat.values() for v in vs[1:])
    worst = max(lat, key=lambda q: statistics.median(lat[q]))
    return {"search_p50_ms": round(statistics.median(allv), 1),
            "search_p95_ms": round(allv[int(0.95 * (len(allv) - 1))], 1),
            "slowest_query": worst,
            "slowest_query_median_ms": round(statistics.median(lat[worst]), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.posts
    pages, flat = build_corpus(n)
    db = OUT / "perron.db"
    peer_db = OUT / "peer.db"
    for p in (db, peer_db):
        for suffix in ("", "-wal", "-shm"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    perron = str(VENV_BIN / "perron")
    for name, q in monitors():
        subprocess.run([perron, "monitor", "add", "--no-backfill", "--db", str(db), name, q],
                       check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    peer_s, peer_rss = run_child([str(VENV_BIN / "sqlite-utils"), "insert", str(peer_db),
                                  "tweets", str(flat), "--nl", "--alter"], env)
    ours_s, ours_rss = run_child([perron, "import", "--no-progress", "--db", str(db),
                                  str(pages)], env)
    sys.path.insert(0, str(ROOT))
    from perron.store import open_store

    store = open_store(str(db))
    stored = store.count("posts")
    res = {
        "posts": n, "stored": stored,
        "perron_posts_per_s": round(n / ours_s), "perron_seconds": round(ours_s, 1),
        "perron_peak_mb": round(ours_rss / 2**20),
        "sqlite_utils_posts_per_s": round(n / peer_s), "sqlite_utils_seconds": round(peer_s, 1),
        "sqlite_utils_peak_mb": round(peer_rss / 2**20),
        "ratio_vs_sqlite_utils": round(peer_s / ours_s, 2),
        **search_latency(store),
        "corpus_mb": round(pages.stat().st_size / 2**20),
    }
    print(json.dumps(res, indent=1))
    (OUT / "import.json").write_text(json.dumps(res, indent=1))
    if os.environ.get("BENCH_KEEP") != "1":
        shutil.rmtree(OUT / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
