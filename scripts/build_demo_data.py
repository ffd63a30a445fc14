"""Rebuild demo/data from ../shared/data (only the MIT / Apache-2.0 datasets).

Run once by a developer; the output is committed so that `make demo` needs no ../shared.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "demo" / "data"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    twarc = SHARED / "twarc-csv-v2-tweets" / "test-data"
    shutil.copy(twarc / "2sets.jsonl", OUT / "twitter-v2-brexit-kpop.jsonl")
    shutil.copy(twarc / "geo_tweets.jsonl", OUT / "twitter-v2-geo.jsonl")
    samples = SHARED / "api-payload-samples"
    shutil.copy(samples / "mastodon_status_Mastodon.py.json", OUT / "mastodon-status.json")
    shutil.copy(samples / "bluesky_jetstream_events_greptimedb-jsonbench.jsonl",
                OUT / "bluesky-jetstream-events.jsonl")

    rows = []
    with open(SHARED / "bluesky-keegan-notebook-data" / "data" / "p02_archive.jsonl",
              encoding="utf-8") as fp:
        for line in fp.read().split("\n"):
            if line.strip():
                rows.append(json.loads(line))
    with open(OUT / "bluesky-snowball.csv", "w", encoding="utf-8", newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["source", "uri", "author_did", "author_handle", "created_at", "text", "lang",
                    "like_count", "repost_count", "reply_count"])
        for r in rows:
            w.writerow(["bluesky", r["uri"], r["author_did"], r["author_handle"], r["created_at"],
                        r["text"], (r.get("langs") or [""])[0] or "", r.get("like_count"),
                        r.get("repost_count"), r.get("reply_count")])

    with open(SHARED / "ftr-french-racist-tweets" / "ftr_dev.tsv", encoding="utf-8") as fp:
        lines = fp.read().split("\n")
    with open(OUT / "ftr-french-tweets.csv", "w", encoding="utf-8", newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["source", "row_id", "text"])
        for line in lines[1:]:
            if line.strip():
                rid, _label, text, _trunc = line.split("\t")
                w.writerow(["ftr", rid, text])
    print(f"demo data written to {OUT}")


if __name__ == "__main__":
    main()
