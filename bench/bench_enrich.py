"""Full enrichment speed on one core versus a per-post peer pipeline (VADER + langdetect).

    .venv/bin/python bench/bench_enrich.py [--posts 20000] [--batch 1000] [--peer-posts N]
    .venv/bin/python bench/bench_enrich.py --memory 300000

``--memory N``: memory only. Enriches N posts, each a developer text plus three made-up words, so
the vocabulary never stops growing (far faster than real traffic), and prints the resident memory
every 25,000 posts: it must level off (the featurizer's tables and caches are bounded).

Posts: developer texts read from ../shared/data (TweetEval val/train, UMSAB French and English,
MLMA French), cycled up to ``--posts``; synthetic French/English posts when ../shared is absent.
Ours: ``perron.enrich.enrich`` in batches (language, sentiment, offensive, hate, irony, complaint,
claim, context-free triage, with reasons). Peer: ``vaderSentiment`` + ``langdetect`` called one
post at a time (``DetectorFactory.seed = 0``). Both run in this process pinned to one CPU.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load_posts(n: int) -> tuple[list[str], str]:
    files = [DATA / "tweeteval" / t / f"{s}_text.txt" for t in ("offensive", "hate", "irony")
             for s in ("val", "train")]
    files += [DATA / "xlm-t-umsab" / lg / f"{s}_text.txt" for lg in ("french", "english")
              for s in ("val", "train")]
    texts: list[str] = []
    for path in files:
        if path.is_file():
            texts += [t.strip() for t in path.read_text(encoding="utf-8").split("\n") if t.strip()]
    mlma = DATA / "mlma-hate-speech" / "fr_dev.csv"
    if mlma.is_file():
        import csv

        with open(mlma, encoding="utf-8", newline="") as f:
            texts += [r["tweet"] for r in csv.DictReader(f)]
    source = "../shared/data developer texts"
    if len(texts) < 1000:
        texts, source = synthetic(5000), "synthetic posts"
    random.Random(7).shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)], source


def warmup_posts(n: int) -> tuple[list[str], str]:
    """Other developer texts (SemEval pool), disjoint from the bench posts: a running enricher
    has seen earlier posts, so its per-word caches are warm when new posts arrive."""
    import gzip

    path = DATA / "semeval2013-2016-sentiment" / "tweeteval_style" / "train_text.txt.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            texts = [t.strip() for t in f.read().split("\n") if t.strip()]
        return texts[:n], f"{min(n, len(texts)):,} SemEval pool tweets"
    return synthetic(n), f"{n:,} synthetic posts"


def synthetic(n: int) -> list[str]:
    rng = random.Random(11)
    fr = ["Merci pour votre aide, service au top !", "Ma commande n'est jamais arrivée",
          "Franchement déçu par le SAV", "Super soirée hier à #Montréal 😍", "C'est nul",
          "Quelqu'un sait si la ligne 4 est rétablie ?", "Bravo à toute l'équipe @perron"]
    en = ["Thanks for the quick reply!", "My package never arrived, terrible service",
          "What a great game last night #NBA", "This is the worst update ever",
          "Breaking: bridge closed after accident http://t.co/x", "lol ok"]
    out = []
    for i in range(n):
        a, b = rng.choice(fr + en), rng.choice(fr + en)
        out.append(f"{a} {b} #{i % 97}")
    return out


def memory(n: int, batch: int) -> None:
    import string

    from perron.enrich.classify import enrich

    texts, source = load_posts(50_000)
    rng = random.Random(1)
    page = os.sysconf("SC_PAGE_SIZE")

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page / 2**20

    print(f"posts: {n:,} ({source}, each + 3 made-up 7-letter words); batch {batch}")
    for i in range(0, n, batch):
        enrich([f"{texts[(i + j) % len(texts)]} " + " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(3))
            for j in range(batch)])
        if (i + batch) % 25_000 == 0:
            print(f"{i + batch:>9,} posts  resident {rss_mb():6.0f} MB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--peer-posts", type=int, default=None, help="default: same as --posts")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=20_000,
                    help="posts enriched before timing (disjoint from the bench posts)")
    ap.add_argument("--memory", type=int, default=None, metavar="POSTS",
                    help="memory under an ever-growing vocabulary instead of speed")
    args = ap.parse_args()
    if args.memory:
        memory(args.memory, args.batch)
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from perron.enrich.classify import enrich

    posts, source = load_posts(args.posts)
    warm, warm_source = warmup_posts(args.warmup)
    t0 = time.perf_counter()
    enrich(synthetic(100))
    load_s = time.perf_counter() - t0

    ours: list[float] = []
    ours_cpu: list[float] = []
    for _ in range(args.repeat):
        from perron.enrich import classify as _c

        _c._engine.cache_clear()  # fresh engine each repeat: the bench posts are unseen
        for i in range(0, len(warm), args.batch):
            enrich(warm[i:i + args.batch])
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(posts), args.batch):
            enrich(posts[i:i + args.batch])
        ours.append(len(posts) / (time.perf_counter() - t))
        ours_cpu.append(len(posts) / (time.process_time() - c))
    ours_rate = statistics.median(ours)
    ours_cpu_rate = statistics.median(ours_cpu)

    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    DetectorFactory.seed = 0
    vader = SentimentIntensityAnalyzer()
    peer_posts = posts[: args.peer_posts or len(posts)]
    detect("warm up the profiles")
    t, c = time.perf_counter(), time.process_time()
    for p in peer_posts:
        vader.polarity_scores(p)
        try:
            detect(p)
        except LangDetectException:
            pass
    peer_rate = len(peer_posts) / (time.perf_counter() - t)
    peer_cpu_rate = len(peer_posts) / (time.process_time() - c)

    print(f"posts: {len(posts):,} ({source}); batch {args.batch}; one core; "
          f"model load {load_s:.1f} s; caches warmed on {warm_source} before each timed run")
    print(f"perron enrich (language, sentiment, offensive, hate, irony, complaint, claim, triage, "
          f"reasons): {ours_rate:,.0f} posts/s (runs: {', '.join(f'{r:,.0f}' for r in ours)})")
    print(f"peer per post (VADER + langdetect), {len(peer_posts):,} posts: {peer_rate:,.0f} posts/s")
    print(f"ratio: {ours_rate / peer_rate:.1f}x")
    print(f"CPU time (less sensitive to other load on a shared machine): perron "
          f"{ours_cpu_rate:,.0f} posts/s, peer {peer_cpu_rate:,.0f} posts/s, "
          f"ratio {ours_cpu_rate / peer_cpu_rate:.1f}x")


if __name__ == "__main__":
    main()
