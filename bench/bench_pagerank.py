"""Benchmark perron's weighted PageRank against networkx (and igraph when installed).

    .venv/bin/python bench/bench_pagerank.py [--edges 10000000] [--sub 1000000] [--seed 7]
    .venv/bin/python bench/bench_pagerank.py --cascades ../shared/data/twitter15-16-cascades

Graph: a synthetic interaction graph with heavy-tailed in- and out-degrees (Zipf's law over
n = edges / 5 nodes, exponent 0.6 for actors and 0.9 for targets, node ids shuffled), one
interaction kind per edge drawn from a realistic mix (mostly reposts and mentions), weighted
by perron's default table. With ``--cascades``, the edges are instead resampled (with
replacement) from the real Twitter15 retweet/reply trees (child → parent user), to the
requested size.

What is measured, each in a fresh subprocess (so that peak memory is per run):
- perron ``pagerank()`` on the full graph (time includes building the sparse matrix; tol 1e-10);
- perron, networkx and igraph on a ``--sub``-edge graph from the same model (n = edges / 5);
  networkx: build time of the DiGraph (parallel edges merged, weights summed) and
  ``nx.pagerank`` time at its default tolerance (1e-6 × n, looser than ours) and at ours
  (L1 change < 1e-10), then the top-100 overlap of networkx (default) with perron;
- peak RSS of each subprocess (VmHWM, else ``resource.getrusage``), which includes the edge
  arrays it loads; the peak right after loading is printed too: the difference is the
  algorithm's own.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = np.array(["repost", "mention", "reply", "quote", "ff_recommendation", "follow"])
KIND_P = np.array([0.45, 0.25, 0.15, 0.08, 0.02, 0.05])


def rss_mib() -> float:
    """Peak RSS of this process. Linux: VmHWM (reset by exec, unlike ru_maxrss, which a child
    inherits from the parent it was forked from)."""
    try:
        with open("/proc/self/status") as fp:
            for line in fp:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _powerlaw(rng: np.random.Generator, n: int, m: int, alpha: float) -> np.ndarray:
    """m draws of node ranks 0..n-1, density ∝ (r + 1)^-alpha with alpha < 1 (Zipf's law over
    n nodes), by inverting its CDF ((r + 1)^(1 - alpha) - 1) / ((n + 1)^(1 - alpha) - 1)."""
    e = 1.0 - alpha
    r = (1.0 + rng.random(m) * ((n + 1.0) ** e - 1.0)) ** (1.0 / e) - 1.0
    return np.minimum(r.astype(np.int64), n - 1)


def synthetic(m: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n = max(m // 5, 10)
    src = rng.permutation(n)[_powerlaw(rng, n, m, 0.6)]  # who acts: mildly skewed
    dst = rng.permutation(n)[_powerlaw(rng, n, m, 0.9)]  # who is acted upon: heavy tail
    return src.astype(np.int64), dst.astype(np.int64), n


def from_cascades(folder: Path, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    pairs = []
    with gzip.open(folder / "twitter15_edges.tsv.gz", "rt") as fp:
        next(fp)
        for line in fp:
            cols = line.rstrip("\n").split("\t")
            if cols[1] != "ROOT" and cols[1] != cols[4]:
                pairs.append((cols[4], cols[1]))
    ids, inv = np.unique(np.array(pairs).ravel(), return_inverse=True)
    inv = inv.reshape(-1, 2)
    pick = np.random.default_rng(seed).integers(0, len(inv), m)
    return inv[pick, 0].astype(np.int64), inv[pick, 1].astype(np.int64), len(ids)


def worker(kind: str, path: str) -> dict[str, object]:
    data = np.load(path)
    src, dst, kinds, n = data["src"], data["dst"], data["kind"], int(data["n"])
    from perron.analyze.graph import edge_weights, pagerank

    out: dict[str, object] = {"what": kind, "edges": len(src), "nodes": n,
                              "rss_loaded_mib": round(rss_mib(), 1)}
    t0 = time.perf_counter()
    ref = pagerank(src, dst, n, kind=kinds, kind_names=KINDS.tolist())
    out["perron_s"] = round(time.perf_counter() - t0, 3)
    w = edge_weights(kinds, names=KINDS.tolist())
    top = np.argsort(-ref, kind="stable")[:100]
    if kind == "perron":
        t0 = time.perf_counter()
        tight = pagerank(src, dst, n, kind=kinds, kind_names=KINDS.tolist(), tol=1e-13)
        out["perron_tol1e-13_s"] = round(time.perf_counter() - t0, 3)
        out["top100_overlap_tol1e-10_vs_1e-13"] = len(
            set(top.tolist()) & set(np.argsort(-tight, kind="stable")[:100].tolist())) / 100
    elif kind == "networkx":
        import networkx as nx

        t0 = time.perf_counter()
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        keep = src != dst
        key = src[keep] * n + dst[keep]
        uniq, inv = np.unique(key, return_inverse=True)
        ws = np.bincount(inv, weights=w[keep])
        g.add_weighted_edges_from(zip((uniq // n).tolist(), (uniq % n).tolist(), ws.tolist(),
                                      strict=True))
        out["networkx_build_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        pr = nx.pagerank(g, weight="weight")
        out["networkx_pagerank_s"] = round(time.perf_counter() - t0, 3)
        nx_vec = np.array([pr[i] for i in range(n)])
        t0 = time.perf_counter()
        nx.pagerank(g, weight="weight", tol=1e-10 / n, max_iter=1000)  # perron's stop rule
        out["networkx_pagerank_same_tol_s"] = round(time.perf_counter() - t0, 3)
        out["networkx_top100_overlap_with_perron"] = len(
            set(top.tolist()) & set(np.argsort(-nx_vec, kind="stable")[:100].tolist())) / 100
        out["networkx_max_abs_diff"] = float(np.abs(nx_vec - ref).max())
    elif kind == "igraph":
        import igraph

        t0 = time.perf_counter()
        keep = src != dst
        g = igraph.Graph(n=n, edges=np.column_stack([src[keep], dst[keep]]), directed=True)
        g.es["weight"] = w[keep]
        out["igraph_build_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        ig = np.array(g.pagerank(weights="weight", damping=0.85))
        out["igraph_pagerank_s"] = round(time.perf_counter() - t0, 3)
        out["igraph_max_abs_diff"] = float(np.abs(ig - ref).max())
    out["peak_rss_mib"] = round(rss_mib(), 1)
    return out


def run(kind: str, path: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--file", path],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"what": kind, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make(args: argparse.Namespace, m: int, path: str) -> str:
    """Make an m-edge graph with the chosen model (n = m / 5 nodes when synthetic), save it."""
    t0 = time.perf_counter()
    if args.cascades:
        src, dst, n = from_cascades(args.cascades, m, args.seed)
        origin = f"resampled from Twitter15 cascades ({args.cascades})"
    else:
        src, dst, n = synthetic(m, args.seed)
        origin = "synthetic Zipf's law (exponent 0.6 actors, 0.9 targets)"
    kinds = np.random.default_rng(args.seed + 1).choice(len(KINDS), len(src), p=KIND_P)
    print(f"graph: {origin}: {len(src):,} edges, {n:,} nodes "
          f"(made in {time.perf_counter() - t0:.1f} s)")
    np.savez(path, src=src, dst=dst, kind=kinds.astype(np.int8), n=n)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--sub", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cascades", type=Path)
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--worker")
    ap.add_argument("--file")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.file)))
        return
    sub = min(args.sub, args.edges)
    with tempfile.TemporaryDirectory() as tmp:
        full = make(args, args.edges, str(Path(tmp) / "full.npz"))
        small = make(args, sub, str(Path(tmp) / "sub.npz"))
        results = [run("perron", full)]
        if not args.no_networkx:
            results.append(run("networkx", small))
        try:
            import igraph  # noqa: F401
            results.append(run("igraph", small))
        except ImportError:
            pass
    for r in results:
        print(json.dumps(r))
    full = results[0]
    print(f"\nperron, {full['edges']:,} edges: {full.get('perron_s')} s, peak RSS "
          f"{full.get('peak_rss_mib')} MiB (after loading edges {full.get('rss_loaded_mib')} "
          f"MiB); top-100 at tol 1e-10 vs 1e-13: "
          f"{full.get('top100_overlap_tol1e-10_vs_1e-13')}")
    for r in results[1:]:
        if "error" in r:
            print(f"{r['what']}: failed: {r['error']}")
            continue
        lib = r["what"]
        total = r[f"{lib}_build_s"] + r[f"{lib}_pagerank_s"]
        print(f"{sub:,}-edge subgraph: perron {r['perron_s']} s; {lib} build "
              f"{r[f'{lib}_build_s']} s + pagerank {r[f'{lib}_pagerank_s']} s "
              f"→ perron is {total / r['perron_s']:.0f}× faster end to end, "
              f"{r[f'{lib}_pagerank_s'] / r['perron_s']:.1f}× on the PageRank call alone")
        if lib == "networkx":
            same = r["networkx_pagerank_same_tol_s"]
            print(f"  networkx at perron's tolerance (L1 < 1e-10): pagerank {same} s → perron "
                  f"{(r['networkx_build_s'] + same) / r['perron_s']:.0f}× faster end to end, "
                  f"{same / r['perron_s']:.1f}× on the call alone")
            print(f"  networkx (default tol) top-100 overlap with perron: "
                  f"{r['networkx_top100_overlap_with_perron']}; max |Δ| "
                  f"{r['networkx_max_abs_diff']:.1e}; peak RSS {r['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
