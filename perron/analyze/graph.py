"""Influence graph math: weighted PageRank, communities, exports, the million-follower check.

Pure functions over edge lists: parallel arrays ``src``, ``dst`` (node indexes ``0..n-1``),
optional ``kind`` (interaction kind per edge) and ``weight``. An edge ``a → b`` means *a did
something to b* (reposted, quoted, replied to, mentioned, recommended with #FF, followed), so rank
flows to those whom others act upon. Map ids to indexes with :func:`index_nodes`.

Exports are written by hand with escaping of every attacker-controlled string (author names and
handles): XML text and attributes are escaped, characters XML 1.0 forbids are replaced, and CSV
cells that a spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape as _xml_escape

import numpy as np
import scipy.sparse as sp
from scipy.stats import spearmanr

#: default weight of one interaction of each kind. Endorsements (repost, #FF recommendation)
#: count most; a reply or mention is attention, not approval; a follow is cheap and inflatable.
DEFAULT_WEIGHTS: dict[str, float] = {
    "repost": 1.0, "ff_recommendation": 1.0, "quote": 0.8, "mention": 0.6, "reply": 0.5,
    "follow": 0.2, "like": 0.1,
}

# --------------------------------------------------------------------------- edge lists


def index_nodes(src_ids: Sequence[str], dst_ids: Sequence[str],
                ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids to indexes: ``(node ids, src indexes, dst indexes)``; nodes sorted by id."""
    ids = np.asarray(list(src_ids) + list(dst_ids), dtype=object)
    nodes, inverse = np.unique(ids, return_inverse=True)
    k = len(src_ids)
    return [str(x) for x in nodes], inverse[:k].astype(np.int64), inverse[k:].astype(np.int64)


def edge_weights(kinds: Sequence[str] | np.ndarray, table: Mapping[str, float] | None = None,
                 names: Sequence[str] | None = None) -> np.ndarray:
    """One weight per edge from its kind (unknown kinds raise ValueError, naming the kind).

    ``kinds`` are names, or integer codes into ``names`` (cheaper for millions of edges).
    """
    table = {**DEFAULT_WEIGHTS, **(table or {})}
    arr = np.asarray(kinds)
    if arr.dtype.kind in "iu":
        if names is None:
            raise ValueError("integer kind codes need names=[...] (the kind of each code)")
        codes, vocab = arr, [str(x) for x in names]
    else:
        uniq, codes = np.unique(arr, return_inverse=True)
        vocab = [str(u) for u in uniq]
    missing = [k for k in vocab if k not in table]
    if missing:
        raise ValueError(f"no weight for interaction kind(s) {missing}; known: {sorted(table)}")
    return np.array([table[k] for k in vocab], dtype=np.float64)[codes]


def _weights(m: int, kind: Sequence[str] | np.ndarray | None, weight: np.ndarray | None,
             table: Mapping[str, float] | None, names: Sequence[str] | None = None) -> np.ndarray:
    w = np.ones(m) if weight is None else np.asarray(weight, dtype=np.float64)
    if kind is not None:
        w = w * edge_weights(kind, table, names)
    if len(w) != m:
        raise ValueError(f"{len(w)} weights for {m} edges")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("edge weights must be finite and non-negative")
    return w


def _n_nodes(src: np.ndarray, dst: np.ndarray, n: int | None) -> int:
    top = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
    if n is None:
        return top
    if top > n:
        raise ValueError(f"edge refers to node {top - 1} but n={n}")
    return n


# --------------------------------------------------------------------------- PageRank

def pagerank(src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray,
             n: int | None = None, *, kind: Sequence[str] | np.ndarray | None = None,
             weight: Sequence[float] | np.ndarray | None = None,
             weights: Mapping[str, float] | None = None,
             kind_names: Sequence[str] | None = None, damping: float = 0.85,
             personalization: Sequence[float] | np.ndarray | None = None,
             tol: float = 1e-10, max_iter: int = 1000, self_loops: bool = False) -> np.ndarray:
    """Weighted PageRank by sparse power iteration; returns scores summing to 1.

    Edge weight = ``weight`` × ``weights[kind]`` (``DEFAULT_WEIGHTS`` by default; ``kind`` may
    be integer codes into ``kind_names``); parallel edges add up. Dangling nodes (no out-weight)
    give their rank to the personalization vector (uniform by default), as networkx does.
    Stops when the L1 change is below ``tol`` (absolute, over all nodes: 1e-10 keeps the top-100
    stable on 10M-edge graphs; networkx's default stops at ``n × 1e-6``, far too loose on large
    graphs). Self-loops are dropped unless ``self_loops``.
    """
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    if s.shape != d.shape:
        raise ValueError("src and dst must have the same length")
    n = _n_nodes(s, d, n)
    if n == 0:
        return np.zeros(0)
    w = _weights(len(s), kind, None if weight is None else np.asarray(weight), weights,
                 kind_names)
    if not self_loops:
        keep = s != d
        s, d, w = s[keep], d[keep], w[keep]
    out_w = np.bincount(s, weights=w, minlength=n)
    norm = np.divide(w, out_w[s], out=np.zeros_like(w), where=out_w[s] > 0) * damping
    # M[j, i] = damping × share of i's out-weight going to j; duplicates (j, i) are summed
    idx = np.int32 if n < 2**31 - 1 else np.int64
    M = sp.csr_matrix((norm, (d.astype(idx), s.astype(idx))), shape=(n, n))
    del norm, w
    if personalization is None:
        p: np.ndarray | float = 1.0 / n
    else:
        p = np.asarray(personalization, dtype=np.float64)
        if p.shape != (n,) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError("personalization must be n non-negative values, not all zero")
        p = p / p.sum()
    dangling = np.flatnonzero(out_w == 0)
    x = np.full(n, 1.0 / n) if isinstance(p, float) else p.copy()
    diff = np.empty(n)
    err = math.inf
    for _ in range(max_iter):
        x_new = M @ x
        # rank of dangling nodes and the teleport both go to the personalization vector
        leak = damping * x[dangling].sum() + (1.0 - damping)
        x_new += leak * p
        np.subtract(x_new, x, out=diff)
        np.abs(diff, out=diff)
        err = float(diff.sum())
        x = x_new
        if err < tol:
            return x / x.sum()
    raise RuntimeError(f"PageRank did not converge in {max_iter} iterations (L1 change "
                       f"{err:.2e} > tol {tol:.0e})")


# --------------------------------------------------------------------------- communities

def communities(src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray,
                n: int | None = None, *, weight: Sequence[float] | np.ndarray | None = None,
                kind: Sequence[str] | np.ndarray | None = None,
                weights: Mapping[str, float] | None = None, resolution: float = 1.0,
                seed: int = 0, method: str = "auto", iterations: int = 2) -> np.ndarray:
    """Community id per node (0 = largest community), on the undirected weighted graph.

    ``method``: ``"leiden"`` (python-igraph, modularity objective, ``iterations`` passes: ~2 s
    for 100k nodes / 500k edges), ``"louvain"`` (networkx: pure Python, about a minute on the same
    graph — for small graphs), or ``"auto"`` (igraph when installed, else networkx).
    Deterministic for a given ``seed``. Isolated nodes get their own community.
    """
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    n = _n_nodes(s, d, n)
    w = _weights(len(s), kind, None if weight is None else np.asarray(weight), weights)
    keep = s != d
    s, d, w = s[keep], d[keep], w[keep]
    # undirected, parallel edges merged: (min, max) pairs with summed weight
    a, b = np.minimum(s, d), np.maximum(s, d)
    if len(a):
        key = a * n + b
        uniq, inv = np.unique(key, return_inverse=True)
        w = np.bincount(inv, weights=w)
        a, b = uniq // n, uniq % n
    if method == "auto":
        try:
            import igraph  # noqa: F401
            method = "leiden"
        except ImportError:
            method = "louvain"
    if method == "leiden":
        groups = _leiden(n, a, b, w, resolution, seed, iterations)
    elif method == "louvain":
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
        groups = [sorted(c) for c in nx.community.louvain_communities(
            g, weight="weight", resolution=resolution, seed=seed)]
    else:
        raise ValueError(f"unknown community method {method!r} (leiden, louvain, auto)")
    groups.sort(key=lambda c: (-len(c), min(c) if len(c) else 0))
    out = np.empty(n, dtype=np.int64)
    for cid, members in enumerate(groups):
        out[np.asarray(members, dtype=np.int64)] = cid
    return out


def _leiden(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, resolution: float,
            seed: int, iterations: int) -> list[list[int]]:
    import random

    import igraph

    g = igraph.Graph(n=n, edges=np.column_stack([a, b]).tolist(), directed=False)
    g.es["weight"] = w.tolist()
    igraph.set_random_number_generator(random.Random(seed))
    try:
        part = g.community_leiden(objective_function="modularity", weights="weight",
                                  resolution=resolution, n_iterations=iterations)
    finally:
        igraph.set_random_number_generator(random)
    return [list(c) for c in part]


# --------------------------------------------------------------------------- tiers

def tier(followers: int | None) -> str | None:
    """Cost tier by followers: nano < 10k ≤ micro < 100k ≤ mid < 500k ≤ macro < 1M ≤ mega."""
    if followers is None:
        return None
    for limit, name in ((10_000, "nano"), (100_000, "micro"), (500_000, "mid"),
                        (1_000_000, "macro")):
        if followers < limit:
            return name
    return "mega"


# --------------------------------------------------------------------------- exports

@dataclass
class Node:
    """One node of an export. Every string may be attacker-controlled: writers escape them."""

    id: str
    label: str | None = None  # handle or display name
    pagerank: float | None = None
    community: int | None = None
    followers: int | None = None
    tier: str | None = None

    def __post_init__(self) -> None:
        if self.tier is None:
            self.tier = tier(self.followers)


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ATTR_ENTITIES = {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def xml_text(value: object) -> str:
    """Escape for XML text: ``& < >`` plus characters XML 1.0 cannot hold (→ U+FFFD)."""
    return _xml_escape(_XML_FORBIDDEN.sub("\ufffd", str(value)))


def xml_attr(value: object) -> str:
    """Escape for a double- or single-quoted XML attribute value."""
    return _xml_escape(_XML_FORBIDDEN.sub("\ufffd", str(value)), _ATTR_ENTITIES)


def _edge_arrays(src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray,
                 kind: Sequence[str] | np.ndarray | None,
                 weight: Sequence[float] | np.ndarray | None) -> Iterable[tuple]:
    m = len(src)
    kinds = [None] * m if kind is None else kind
    ws = [None] * m if weight is None else weight
    return zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), list(kinds),
               np.asarray(ws).tolist() if weight is not None else ws, strict=True)


def _num(v: float) -> str:
    return repr(float(v)) if math.isfinite(float(v)) else "0.0"


_NODE_ATTRS = (("label", "string"), ("pagerank", "double"), ("community", "integer"),
               ("followers", "long"), ("tier", "string"))


def write_gexf(out: IO[str] | str | Path, nodes: Sequence[Node], src: Sequence[int] | np.ndarray,
               dst: Sequence[int] | np.ndarray, kind: Sequence[str] | np.ndarray | None = None,
               weight: Sequence[float] | np.ndarray | None = None) -> None:
    """GEXF 1.3 for Gephi, written as it goes (node ids are ``n<index>``, never user text)."""
    with _open(out) as fp:
        fp.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<gexf xmlns="http://gexf.net/1.3" version="1.3">\n'
                 '  <meta><creator>perron</creator></meta>\n'
                 '  <graph defaultedgetype="directed" mode="static">\n'
                 '    <attributes class="node">\n')
        for i, (name, typ) in enumerate(_NODE_ATTRS):
            fp.write(f'      <attribute id="{i}" title="{name}" type="{typ}"/>\n')
        fp.write('    </attributes>\n    <attributes class="edge">\n'
                 '      <attribute id="0" title="kind" type="string"/>\n'
                 '    </attributes>\n    <nodes>\n')
        for i, node in enumerate(nodes):
            label = node.label if node.label is not None else node.id
            fp.write(f'      <node id="n{i}" label="{xml_attr(label)}"><attvalues>')
            for j, (name, _) in enumerate(_NODE_ATTRS):
                v = getattr(node, name)
                if v is not None:
                    v = _num(v) if name == "pagerank" else v
                    fp.write(f'<attvalue for="{j}" value="{xml_attr(v)}"/>')
            fp.write("</attvalues></node>\n")
        fp.write("    </nodes>\n    <edges>\n")
        for e, (a, b, k, w) in enumerate(_edge_arrays(src, dst, kind, weight)):
            wattr = f' weight="{_num(w)}"' if w is not None else ""
            fp.write(f'      <edge id="{e}" source="n{a}" target="n{b}"{wattr}>')
            if k is not None:
                fp.write(f'<attvalues><attvalue for="0" value="{xml_attr(k)}"/></attvalues>')
            fp.write("</edge>\n")
        fp.write("    </edges>\n  </graph>\n</gexf>\n")


def write_graphml(out: IO[str] | str | Path, nodes: Sequence[Node],
                  src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray,
                  kind: Sequence[str] | np.ndarray | None = None,
                  weight: Sequence[float] | np.ndarray | None = None) -> None:
    """GraphML (yEd, Cytoscape, igraph, networkx), written as it goes."""
    with _open(out) as fp:
        fp.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
        for name, typ in (("id", "string"),) + _NODE_ATTRS:
            gtyp = {"integer": "int"}.get(typ, typ)
            fp.write(f'  <key id="{name}" for="node" attr.name="{name}" attr.type="{gtyp}"/>\n')
        fp.write('  <key id="kind" for="edge" attr.name="kind" attr.type="string"/>\n'
                 '  <key id="weight" for="edge" attr.name="weight" attr.type="double"/>\n'
                 '  <graph id="G" edgedefault="directed">\n')
        for i, node in enumerate(nodes):
            fp.write(f'    <node id="n{i}"><data key="id">{xml_text(node.id)}</data>')
            for name, _ in _NODE_ATTRS:
                v = getattr(node, name)
                if v is not None:
                    v = _num(v) if name == "pagerank" else v
                    fp.write(f'<data key="{name}">{xml_text(v)}</data>')
            fp.write("</node>\n")
        for a, b, k, w in _edge_arrays(src, dst, kind, weight):
            fp.write(f'    <edge source="n{a}" target="n{b}">')
            if k is not None:
                fp.write(f'<data key="kind">{xml_text(k)}</data>')
            if w is not None:
                fp.write(f'<data key="weight">{_num(w)}</data>')
            fp.write("</edge>\n")
        fp.write("  </graph>\n</graphml>\n")


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (leading ``= + - @`` get a ``'``)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_edges_csv(out: IO[str] | str | Path, nodes: Sequence[Node],
                    src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray,
                    kind: Sequence[str] | np.ndarray | None = None,
                    weight: Sequence[float] | np.ndarray | None = None) -> None:
    """``source,target,source_label,target_label,kind,weight`` — ids, not indexes."""
    with _open(out, newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["source", "target", "source_label", "target_label", "kind", "weight"])
        for a, b, k, wt in _edge_arrays(src, dst, kind, weight):
            na, nb = nodes[a], nodes[b]
            w.writerow([csv_cell(na.id), csv_cell(nb.id), csv_cell(na.label),
                        csv_cell(nb.label), csv_cell(k), "" if wt is None else _num(wt)])


class _open:
    """Use a given text stream as is, or open (and close) a path as UTF-8."""

    def __init__(self, out: IO[str] | str | Path, newline: str | None = None) -> None:
        self.out, self.newline, self.fp = out, newline, None

    def __enter__(self) -> IO[str]:
        if isinstance(self.out, (str, Path)):
            self.fp = open(self.out, "w", encoding="utf-8", newline=self.newline)
            return self.fp
        return self.out

    def __exit__(self, *exc: object) -> None:
        if self.fp is not None:
            self.fp.close()


# --------------------------------------------------------------------------- Cha et al. 2010

@dataclass
class InfluenceCheck:
    """The "million follower fallacy" check (Cha et al., ICWSM 2010): do the measures rank the
    same authors on top? ``spearman[(a, b)]``: Spearman's ρ between the rankings by a and b
    (authors known on both); ``top_overlap[(a, b)]``: share of the top ``top_share`` by a that is
    also in the top by b."""

    measures: list[str]
    authors: int
    top_share: float
    spearman: dict[tuple[str, str], float] = field(default_factory=dict)
    top_overlap: dict[tuple[str, str], float] = field(default_factory=dict)
    pairs_n: dict[tuple[str, str], int] = field(default_factory=dict)

    def to_markdown(self) -> str:
        top = f"{100 * self.top_share:g}"
        lines = [f"| measure A | measure B | authors | Spearman ρ | top {top}% overlap |",
                 "|---|---|---:|---:|---:|"]
        for key, rho in self.spearman.items():
            r = "n/a" if math.isnan(rho) else f"{rho:.3f}"
            ov = self.top_overlap[key]
            o = "n/a" if math.isnan(ov) else f"{100 * ov:.1f}%"
            lines.append(f"| {key[0]} | {key[1]} | {self.pairs_n[key]} | {r} | {o} |")
        return "\n".join(lines) + "\n"


def million_follower_check(figures: Mapping[str, Sequence[float | None] | np.ndarray],
                           top_share: float = 0.10) -> InfluenceCheck:
    """Compare per-author rankings, e.g. ``{"followers": [...], "reposts": [...],
    "mentions": [...], "pagerank": [...]}`` (same author order; None/NaN = unknown).

    For each pair: Spearman's ρ over authors known on both, and the overlap of the top
    ``top_share`` (k = ceil(share × authors known on both); ties broken by author order).
    """
    names = list(figures)
    cols = {k: np.array([np.nan if v is None else float(v) for v in figures[k]]) for k in names}
    sizes = {len(c) for c in cols.values()}
    if len(sizes) > 1:
        raise ValueError(f"figures have different lengths: {sorted(sizes)}")
    n = sizes.pop() if sizes else 0
    check = InfluenceCheck(names, n, top_share)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            known = ~np.isnan(cols[a]) & ~np.isnan(cols[b])
            x, y = cols[a][known], cols[b][known]
            m = len(x)
            check.pairs_n[(a, b)] = m
            if m < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                rho = math.nan
            else:
                rho = float(spearmanr(x, y).statistic)
            check.spearman[(a, b)] = rho
            if m == 0:
                check.top_overlap[(a, b)] = math.nan
                continue
            k = max(1, math.ceil(top_share * m))
            top_a = set(np.argsort(-x, kind="stable")[:k].tolist())
            top_b = set(np.argsort(-y, kind="stable")[:k].tolist())
            check.top_overlap[(a, b)] = len(top_a & top_b) / k
    return check
