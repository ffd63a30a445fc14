"""Stream matcher throughput: posts/s with 1,000 monitors on one core.

    .venv/bin/python bench/bench_matcher.py [--docs 50000] [--monitors 1000]

Builds realistic monitors (brands, hashtags, phrases, prefixes, NEAR, fields, negations, a few
that cannot be indexed) and synthetic French/English posts whose words follow a Zipf law, then
times ``Matcher.match`` over prebuilt docs, and ``doc_of`` + ``match`` from ``Post`` objects.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from perron.models import Post
from perron.query import Matcher, doc_of
from perron.query.ast import KEYWORDS

COMMON = ("le la les de des du un une et à en est pour que qui dans sur pas plus avec ce il "
          "elle nous vous ils the a to of and in is it you that for on with this be are not "
          "grève climat écologie prix service client merci nouveau jamais toujours très bien "
          "mal retard train avion vol magasin commande livraison remboursement").split()
COMMON = [w for w in COMMON if w not in KEYWORDS]  # "et", "not"… are operators in queries
SYL = ["ba", "co", "ri", "te", "mo", "lu", "na", "ve", "pi", "so", "da", "ké", "fu", "lé", "zo"]
BRAND_SYL = ["tra", "vik", "sol", "kor", "ne", "lix", "bo", "zen", "ar", "quo", "mi", "dex"]


def word(rng: random.Random, syllables: list[str] = SYL) -> str:
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))


def build_monitors(rng: random.Random, n: int) -> dict[str, str]:
    # brand names are distinctive words, not drawn from the everyday vocabulary
    brands = list(dict.fromkeys(word(rng, BRAND_SYL) for _ in range(n * 3)))[:n]
    out: dict[str, str] = {}
    for i, b in enumerate(brands):
        other = rng.choice(brands)
        k = i % 10
        if k == 0:
            q = b
        elif k == 1:
            q = f'"{b} {rng.choice(COMMON)}" OR #{b}'
        elif k == 2:
            q = f"{b} OR #{b} OR @{b} -promo -concours"
        elif k == 3:
            q = f"({b} OR {other}) lang:fr"
        elif k == 4:
            q = f"{b} NEAR/3 {rng.choice(['grève', 'retard', 'prix'])}"
        elif k == 5:
            q = f"{b[:5]}* -{other}"
        elif k == 6:
            q = f"source:reddit is:reply {b}"
        elif k == 7:
            q = f"author:@{b} OR @{b}"
        elif k == 8:
            q = f"#{b} has:media"
        else:
            q = f"({b} ET {rng.choice(COMMON)}) SAUF (spam OU pub) since:2024-01-01"
        out[f"m{i:04}"] = q
    # a few monitors nothing can index: evaluated on every post
    for j in range(5):
        out[f"z{j}"] = f"-{rng.choice(brands)} until:2024-01-0{j + 2}"
    return out


def build_posts(rng: random.Random, n: int, brands: list[str]) -> list[Post]:
    vocab = COMMON + [word(rng) for _ in range(20_000)]
    weights = [1 / (r + 1) for r in range(len(vocab))]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    posts = []
    for i in range(n):
        words = rng.choices(vocab, weights, k=rng.randint(8, 40))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words)), rng.choice(["#", "@", ""]) + rng.choice(brands))
        if rng.random() < 0.2:
            words.append("https://exemple.fr/x")
        posts.append(Post(
            id=f"bench:{i}", source=rng.choice(["twitter", "bluesky", "reddit", "rss"]),
            native_id=str(i), text=" ".join(words), author_handle=rng.choice(brands + ["bob"] * 50),
            lang=rng.choice(["fr", "en", "fr-CA", None]),
            kind=rng.choice(["post", "post", "reply", "repost", "quote"]),
            created_at=base + timedelta(minutes=i),
        ))
    return posts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--monitors", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    monitors = build_monitors(rng, args.monitors)
    brands = [q.split()[0].strip('"(#@') for q in monitors.values()][:200]
    posts = build_posts(rng, args.docs, brands)

    t0 = time.perf_counter()
    matcher = Matcher(monitors)
    t1 = time.perf_counter()
    docs = [doc_of(p) for p in posts]
    t2 = time.perf_counter()
    runs = []
    for _ in range(4):  # the first run warms the per-token cache; report the best of the rest
        hits = 0
        start = time.perf_counter()
        for d in docs:
            hits += len(matcher.match(d))
        runs.append(time.perf_counter() - start)
    elapsed = min(runs[1:])
    print(f"monitors: {len(monitors)} (compiled in {(t1 - t0) * 1000:.0f} ms)")
    print(f"docs: {len(docs)}, matches: {hits} ({hits / len(docs):.2f} per doc)")
    print(f"doc_of: {len(docs) / (t2 - t1):,.0f} posts/s")
    print(f"Matcher.match: {len(docs) / elapsed:,.0f} posts/s (best of 3; median "
          f"{len(docs) / sorted(runs[1:])[1]:,.0f})")
    print(f"doc_of + match: {len(docs) / (elapsed + t2 - t1):,.0f} posts/s")


if __name__ == "__main__":
    main()
