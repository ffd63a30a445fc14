"""Synthetic but well-formed Twitter API v2 pages, for tests that need volume."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = ("l'État la grève #Grève @SNCF retard train Montréal écologie #écologie qu'il merci "
         "service client nul génial remboursement jamais arrivé colis Paris Lyon brexit vote "
         "people football musique").split()


def page(start: int, n: int, rng: random.Random) -> dict:
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    tweets, users = [], {}
    for i in range(start, start + n):
        uid = str(1000 + rng.randrange(50))
        users[uid] = {"id": uid, "username": f"user{uid}", "name": f"Utilisatrice {uid}",
                      "public_metrics": {"followers_count": int(uid), "following_count": 10,
                                         "tweet_count": 5, "listed_count": 0}}
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        tweets.append({"id": str(10**15 + i), "text": text, "author_id": uid,
                       "created_at": (t0 + timedelta(minutes=i)).strftime(
                           "%Y-%m-%dT%H:%M:%S.000Z"),
                       "lang": rng.choice(["fr", "en", "fr", "und"]),
                       "public_metrics": {"retweet_count": rng.randrange(5), "reply_count": 0,
                                          "like_count": rng.randrange(9), "quote_count": 0}})
    return {"data": tweets, "includes": {"users": list(users.values())},
            "meta": {"result_count": n}}


def write_pages(path: Path, pages: int, per_page: int = 100, seed: int = 7,
                broken_every: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fp:
        for k in range(pages):
            if broken_every and k % broken_every == broken_every - 1:
                fp.write('{"data": [{"id": "oops", "text": \n')
                continue
            fp.write(json.dumps(page(k * per_page, per_page, rng), ensure_ascii=False) + "\n")
    return path
