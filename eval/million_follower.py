"""The million-follower check (Cha et al., ICWSM 2010) on real Twitter data from ../shared/data.

Imports, each into its own temporary store (nothing is written to the repository but the
report):

- the twarc2 API v2 pages of ``twarc-csv-v2-tweets/test-data/*.jsonl`` (real tweets with their
  authors' follower counts, retweets/quotes/replies seen in the pages and reported by the API,
  mentions) with perron's ``twitter-v2`` format;
- the PHEME v1.1 source tweets of ``pheme-rumours/json/*.json`` (real users with follower counts,
  ``retweet_count`` per tweet, mentions) with perron's ``twitter-v1`` format;
- both together;

then runs :func:`perron.analyze.influence.follower_check` (the same code as
``perron influence-check``) on each and writes the figures as markdown.

Usage (from the repository root)::

    .venv/bin/python eval/million_follower.py                       # print
    .venv/bin/python eval/million_follower.py --markdown eval/MILLION_FOLLOWER.md
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perron.analyze.influence import follower_check, influencers  # noqa: E402
from perron.errors import PerronError  # noqa: E402
from perron.pipeline import import_file  # noqa: E402
from perron.store import open_store  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TWARC = sorted((DATA / "twarc-csv-v2-tweets" / "test-data").glob("*.jsonl"))
PHEME = sorted((DATA / "pheme-rumours" / "json").glob("*.json"))


def load(store_path: Path, sets: list[tuple[list[Path], str]]) -> dict[str, int]:
    read = Counter()
    with open_store(str(store_path)) as store:
        for files, fmt in sets:
            for f in files:
                try:
                    s = import_file(store, f, fmt)
                except PerronError:
                    read["files skipped (not tweets)"] += 1
                    continue
                read["records (pages or statuses)"] += s.records
                read["posts"] += s.imported
                read["quarantined"] += s.quarantined
    return dict(read)


def run(name: str, sets: list[tuple[list[Path], str]], tmp: Path) -> tuple[str, dict]:
    path = tmp / f"{name}.db"
    read = load(path, sets)
    with open_store(str(path), create=False) as store:
        report = influencers(store)
        check = follower_check(store, report=report)
        kinds = Counter()
        for k, c in zip(report.graph.kind.tolist(), report.graph.count.tolist(), strict=True):
            kinds[k] += int(c)
        active = [s for s in report.scores if s.id in report.active]
        facts = {
            "posts": store.count("posts"), "authors (profiles)": store.count("authors"),
            "authors with a post": len(active),
            "of which follower count known": sum(s.followers is not None for s in active),
            "interactions in the graph": sum(kinds.values()),
            "by kind": ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())),
            "edges with no resolvable target": sum(report.graph.unresolved.values()),
            **{f"import: {k}": v for k, v in read.items()},
        }
        by_f = sorted((s for s in active if s.followers is not None),
                      key=lambda s: -(s.followers or 0))[:5]
        rank_rt = {s.id: i for i, s in enumerate(sorted(active, key=lambda s: -s.reposts), 1)}
        rank_pr = {s.id: i for i, s in enumerate(sorted(active, key=lambda s: -s.graph_rank), 1)}
        tops = [(s.handle, s.followers, s.reposts, rank_rt[s.id], s.mentions, rank_pr[s.id])
                for s in by_f]
    return check.to_markdown(), {"facts": facts, "check": check, "tops": tops,
                                 "n": len(active)}


def markdown(results: dict[str, tuple[str, dict]], command: str) -> str:
    out = ["# The million-follower check on real data", "",
           "Do the accounts with the most followers get the most reposts and mentions, and the "
           "highest rank in the interaction graph? Cha et al. (ICWSM 2010, *Measuring User "
           "Influence in Twitter: The Million Follower Fallacy*) compared these rankings with "
           "Spearman's ρ and the overlap of their top 10 %; perron runs the same check on its "
           "store with `perron influence-check` (function `perron.analyze.influence."
           "follower_check`).", "",
           f"Produced by `{command}` (from the repository root; reads `../shared/data`, writes "
           "only this file).", "",
           "Measures per author (authors with at least one post in the store): **followers** "
           "(profile count, unknown left out of the pairs that need it); **reposts** received "
           "(the larger of the reposts perron saw in the store and the repost count the "
           "platform reports on the author's posts); **mentions** received (seen in the store); "
           "**graph rank** (weighted PageRank of the interaction graph: reposts, quotes, "
           "replies, mentions, #FF; `perron.analyze.graph.DEFAULT_WEIGHTS`). Top overlap: share "
           "of the top 10 % by A that is also in the top 10 % by B.", ""]
    titles = {"twarc": "Twitter API v2 pages (twarc2 test data)",
              "pheme": "PHEME v1.1 breaking-news tweets (developer part)",
              "both": "Both together"}
    for key, (table, info) in results.items():
        out += [f"## {titles[key]}", ""]
        for k, v in info["facts"].items():
            out.append(f"- {k}: {v:,}" if isinstance(v, int) else f"- {k}: {v}")
        out += ["", table.rstrip(), "",
                "The five most-followed authors, and where reposts and graph rank put them "
                f"(out of {info['n']:,}):", "",
                "| author | followers | reposts | rank by reposts | mentions | rank by graph |",
                "|---|---:|---:|---:|---:|---:|"]
        for handle, fol, rt, r_rt, men, r_pr in info["tops"]:
            out.append(f"| {handle} | {fol:,} | {rt:,} | {r_rt:,} | {men:,} | {r_pr:,} |")
        out.append("")
    out += ["## Reading", "",
            *reading(results), "",
            "Limits: these are small samples collected for other purposes (twarc's test pages "
            "mix unrelated searches; PHEME keeps only the source tweet of each breaking-news "
            "thread, so mentions and graph edges are sparse and many authors tie at zero; its "
            "retweets are counts on the tweets, not edges, so its graph holds only mentions "
            "and a few replies and its graph rank is the mention ranking). The figures show "
            "the method on real accounts, not a replication of Cha et al. "
            "(54 million accounts).", ""]
    return "\n".join(out)


def reading(results: dict[str, tuple[str, dict]]) -> list[str]:
    lines = []
    for key, (_, info) in results.items():
        c = info["check"]
        rho = c.spearman[("followers", "reposts")]
        ov = c.top_overlap[("followers", "reposts")]
        rho_m = c.spearman[("followers", "mentions")]
        if math.isnan(rho):
            continue
        lines.append(f"- {key}: followers vs reposts ρ = {rho:.2f}, and only {100 * ov:.0f} % "
                     f"of the 10 % most-followed are among the 10 % most-reposted; followers vs "
                     f"mentions ρ = {rho_m:.2f}.")
    lines.append("- Follower counts and what people do are related but far from the same "
                 "ranking: ranking by followers would miss most of the authors whom people "
                 "actually repost and mention. This is why `perron influencers` ranks by "
                 "actions and shows followers only for the cost tier.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--markdown", type=Path, help="Write the report to this file.")
    args = ap.parse_args()
    if not TWARC or not PHEME:
        sys.exit(f"missing data under {DATA} (twarc-csv-v2-tweets, pheme-rumours)")
    results: dict[str, tuple[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["twarc"] = run("twarc", [(TWARC, "twitter-v2")], Path(tmp))
        results["pheme"] = run("pheme", [(PHEME, "twitter-v1")], Path(tmp))
        results["both"] = run("both", [(TWARC, "twitter-v2"), (PHEME, "twitter-v1")], Path(tmp))
    command = ".venv/bin/python eval/million_follower.py --markdown eval/MILLION_FOLLOWER.md"
    text = markdown(results, command)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
        print(f"written to {args.markdown}", file=sys.stderr)
    else:
        print(text)


if __name__ == "__main__":
    main()
