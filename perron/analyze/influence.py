"""Influence by what people do, not by follower counts: pure functions over the store.

For one monitor (or the whole store) and a time window ``[since, until)``:

1. **The interaction graph.** An edge ``a → b`` means *a did something to b*: reposted, quoted,
   replied to, mentioned, liked or followed b, or recommended b in a ``#FF`` / ``#FollowFriday``
   / ``#VendrediFollow`` post. Interactions come from the store's ``interactions`` table and are
   kept when the post that carries them or the post they target is tagged by the monitor, and
   when they happen in the window (an interaction of unknown time is kept only without a window).
   Follows carry no post: with a monitor they are kept between authors of the monitor's posts.
   The target of an interaction is its ``target_author_id``, else the author of the target post,
   else its handle resolved to an author of the same source (case-insensitive); a handle that
   matches no stored author stays a node of its own (id ``<source>:@<handle>``). ``#FF``
   recommendations are read from the monitor's posts (the store is not changed).
2. **Per author**: reposts, quotes, replies and mentions received, ``#FF`` recommendations
   received, list memberships, weighted PageRank (:func:`graph.pagerank`), engagement rates,
   advocacy, tier and an estimated cost per post (:mod:`.ratecard`).
3. **A score** (0–100) that adds weighted parts; :meth:`InfluenceScore.breakdown` gives the points
   of each part, which sum to the score. See ``docs/influence.md`` for every formula.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np

from ..models import Post
from ..store.base import CHUNK, Store, _as_bytes
from ..text import extract_hashtags, extract_mentions, fold
from . import graph
from .ratecard import Cost, RateCard

__all__ = ["FF_TAGS", "SCORE_WEIGHTS", "InteractionGraph", "InfluenceReport", "InfluenceScore",
           "Part", "build_graph", "export_graph", "ff_recommendations", "follower_check",
           "influencers"]

#: hashtags (folded) that make a post a #FollowFriday recommendation
FF_TAGS = frozenset({"ff", "followfriday", "fridayfollow", "vendredifollow"})
_FF_LIKE = ("%#ff%", "%followfriday%", "%fridayfollow%", "%vendredifollow%")

#: weight of each part of the score (they sum to 1; the score is 100 × Σ weight × part)
SCORE_WEIGHTS: dict[str, float] = {
    "reposts": 0.20, "quotes": 0.10, "replies": 0.10, "mentions": 0.10, "recommendations": 0.05,
    "lists": 0.05, "graph_rank": 0.20, "engagement": 0.10, "advocacy": 0.10,
}
#: engagement part: engagement / (followers + ENGAGEMENT_PRIOR) reaches full marks at ENGAGEMENT_CAP
ENGAGEMENT_PRIOR = 100
ENGAGEMENT_CAP = 0.10
#: advocacy: (positive − negative) / (labelled posts + ADVOCACY_PRIOR) — shrinks small samples to 0
ADVOCACY_PRIOR = 2.0
BELOW_MACRO = ("nano", "micro", "mid")
_METRICS = ("reposts", "quotes", "replies", "likes")


# --------------------------------------------------------------------------- #FF

def ff_recommendations(post: Post) -> list[str]:
    """Handles (lowercase, no ``@``) that a ``#FF`` / ``#FollowFriday`` / ``#VendrediFollow``
    post recommends; empty for any other post. Reposts recommend nobody (the recommendation is
    the original author's); the author's own handle is left out."""
    if post.kind == "repost":
        return []
    tags = post.hashtags or extract_hashtags(post.text)
    if not any(fold(t.lstrip("#")) in FF_TAGS for t in tags):
        return []
    own = (post.author_handle or "").lower()
    handles = post.mentions or extract_mentions(post.text)
    out = (h.lstrip("@").lower() for h in handles)
    return list(dict.fromkeys(h for h in out if h and h != own))


# --------------------------------------------------------------------------- the graph

@dataclass
class InteractionGraph:
    """Aggregated edges ``(src, dst, kind) → count`` over node indexes ``0..n-1``."""

    nodes: list[str]
    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray  # kind name per edge (str)
    count: np.ndarray  # interactions per edge
    unresolved: dict[str, int] = field(default_factory=dict)  # kind → edges with no target

    @property
    def weight(self) -> np.ndarray:
        """Per-edge weight: count × the kind's weight (:data:`graph.DEFAULT_WEIGHTS`)."""
        return self.count * graph.edge_weights(self.kind) if len(self.kind) else np.zeros(0)

    def pagerank(self, weights: Mapping[str, float] | None = None) -> np.ndarray:
        return graph.pagerank(self.src, self.dst, len(self.nodes), kind=self.kind,
                              weight=self.count, weights=weights)

    def communities(self, seed: int = 0) -> np.ndarray:
        return graph.communities(self.src, self.dst, len(self.nodes), kind=self.kind,
                                 weight=self.count, seed=seed)


@dataclass
class _Observed:
    edges: Counter[tuple[str, str, str]]
    unresolved: Counter[str]
    posts: dict[str, int]  # own posts (not reposts) in the window
    active: set[str]  # authors with any post in the window
    metric_posts: dict[str, int]  # own posts whose platform gives engagement counts
    metrics: dict[str, dict[str, int]]  # author → metric → sum over own posts
    sentiment: dict[str, Counter[str]]
    handles: dict[str, str]  # node → handle for unresolved-handle nodes


def _window(store: Store, column: str, since: datetime | None, until: datetime | None,
            params: list[Any]) -> str:
    out = ""
    if since is not None:
        out += f" AND {column} >= ?"
        params.append(store.ts(since))
    if until is not None:
        out += f" AND {column} < ?"
        params.append(store.ts(until))
    return out


_MONITORED = "SELECT mp.id FROM posts mp JOIN post_monitors mpm ON mpm.post_rowid = mp.rowid " \
             "WHERE mpm.monitor = ?"


def _posts_sql(store: Store, monitor: str | None, since: datetime | None,
               until: datetime | None, columns: str, extra: str = "",
               joins: str = "") -> tuple[str, list[Any]]:
    params: list[Any] = []
    if monitor is not None:
        joins = " JOIN post_monitors pm ON pm.post_rowid = p.rowid AND pm.monitor = ?" + joins
        params.append(monitor)
    sql = (f"SELECT {columns} FROM posts p{joins} WHERE p.author_id IS NOT NULL"
           + _window(store, "p.created_at", since, until, params) + extra)
    return sql, params


def _resolve_handles(store: Store, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(source, lowercase handle) → author id, for handles of stored authors."""
    out: dict[tuple[str, str], str] = {}
    handles = sorted({h for _, h in wanted})
    for i in range(0, len(handles), CHUNK):
        chunk = handles[i: i + CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = store.query(f"SELECT id, source, lower(handle) FROM authors WHERE handle IS NOT "
                           f"NULL AND lower(handle) IN ({marks}) ORDER BY id", chunk)
        for aid, source, handle in rows:
            out.setdefault((source, handle), aid)  # several ids for one handle: the first id
    return out


def _source(node_id: str) -> str:
    return node_id.split(":", 1)[0]


def _observe(store: Store, monitor: str | None, since: datetime | None,
             until: datetime | None) -> _Observed:
    if monitor is not None:
        store.monitor_query(monitor)  # NotFound with a hint when there is no such monitor
    raw: list[tuple[str, str, str | None, str | None]] = []  # kind, actor, target id, handle
    params: list[Any] = []
    sql = ("SELECT i.kind, i.actor_id, COALESCE(i.target_author_id, tp.author_id), "
           "i.target_handle FROM interactions i LEFT JOIN posts tp ON tp.id = i.target_post_id "
           "WHERE i.kind <> 'follow'" + _window(store, "i.created_at", since, until, params))
    if monitor is not None:
        sql += f" AND (i.post_id IN ({_MONITORED}) OR i.target_post_id IN ({_MONITORED}))"
        params += [monitor, monitor]
    raw.extend(store.execute(sql, params))
    params = []
    sql = ("SELECT i.kind, i.actor_id, i.target_author_id, i.target_handle FROM interactions i "
           "WHERE i.kind = 'follow'" + _window(store, "i.created_at", since, until, params))
    if monitor is not None:
        authors = ("SELECT ap.author_id FROM posts ap JOIN post_monitors apm ON apm.post_rowid = "
                   "ap.rowid WHERE apm.monitor = ?")
        sql += f" AND i.actor_id IN ({authors}) AND i.target_author_id IN ({authors})"
        params += [monitor, monitor]
    raw.extend(store.execute(sql, params))

    # #FF recommendations: candidate posts by a cheap text filter, confirmed on hashtags
    like = " OR ".join("lower(p.text) LIKE ?" for _ in _FF_LIKE)
    sql, params = _posts_sql(store, monitor, since, until, "p.author_id, p.data",
                             f" AND ({like})")
    for author_id, data in store.execute(sql, [*params, *_FF_LIKE]):
        post = msgspec.json.decode(_as_bytes(data), type=Post)
        for handle in ff_recommendations(post):
            raw.append(("ff_recommendation", author_id, None, handle))

    wanted = {(_source(a), h) for _, a, t, h in raw if t is None and h}
    resolved = _resolve_handles(store, wanted)
    edges: Counter[tuple[str, str, str]] = Counter()
    unresolved: Counter[str] = Counter()
    handles: dict[str, str] = {}
    for kind, actor, target, handle in raw:
        if target is None and handle:
            target = resolved.get((_source(actor), handle))
            if target is None:
                target = f"{_source(actor)}:@{handle}"
                handles[target] = handle
        if target is None:
            unresolved[kind] += 1
        elif target != actor:
            edges[(actor, target, kind)] += 1

    posts: dict[str, int] = defaultdict(int)
    metric_posts: dict[str, int] = defaultdict(int)
    metrics: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_METRICS, 0))
    active: set[str] = set()
    sql, params = _posts_sql(store, monitor, since, until,
                             "p.author_id, p.kind, p.reposts, p.quotes, p.replies, p.likes")
    for author_id, kind, *values in store.execute(sql, params):
        active.add(author_id)
        if kind == "repost":
            continue
        posts[author_id] += 1
        if any(v is not None for v in values):
            metric_posts[author_id] += 1
            m = metrics[author_id]
            for name, v in zip(_METRICS, values, strict=True):
                m[name] += v or 0

    sentiment: dict[str, Counter[str]] = defaultdict(Counter)
    sql, params = _posts_sql(
        store, monitor, since, until, "p.author_id, COALESCE(c.label, l.label)",
        " AND (l.label IS NOT NULL OR c.label IS NOT NULL)",
        " LEFT JOIN labels l ON l.post_rowid = p.rowid AND l.task = 'sentiment'"
        " LEFT JOIN corrections c ON c.post_id = p.id AND c.task = 'sentiment'")
    for author_id, label in store.execute(sql, params):
        sentiment[author_id][str(label)] += 1
    return _Observed(edges, unresolved, dict(posts), active, dict(metric_posts), dict(metrics),
                     dict(sentiment), handles)


def build_graph(store: Store, monitor: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> InteractionGraph:
    """The interaction graph of a monitor (None: every post) in ``[since, until)``."""
    return _graph(_observe(store, monitor, since, until))


def _graph(obs: _Observed, extra_nodes: Iterable[str] = ()) -> InteractionGraph:
    ids = {a for a, _, _ in obs.edges} | {b for _, b, _ in obs.edges} | set(extra_nodes)
    nodes = sorted(ids)
    index = {n: i for i, n in enumerate(nodes)}
    keys = sorted(obs.edges)
    return InteractionGraph(
        nodes, np.array([index[a] for a, _, _ in keys], dtype=np.int64),
        np.array([index[b] for _, b, _ in keys], dtype=np.int64),
        np.array([k for _, _, k in keys], dtype=object).astype(str),
        np.array([obs.edges[k] for k in keys], dtype=np.float64), dict(obs.unresolved))


# --------------------------------------------------------------------------- scores

@dataclass(frozen=True)
class Part:
    """One part of a score: the measure (``value``, None = unknown), its 0–1 (−1–1 for
    advocacy) normalized form, its weight and the points it adds (100 × weight × normalized)."""

    name: str
    value: float | None
    normalized: float
    weight: float
    points: float
    formula: str


@dataclass
class InfluenceScore:
    id: str
    handle: str | None
    name: str | None
    followers: int | None
    tier: str | None
    posts: int  # own posts (not reposts) in the window
    reposts: int
    quotes: int
    replies: int
    mentions: int
    likes: int
    recommendations: int  # #FF received
    listed: int | None
    graph_rank: float  # weighted PageRank (sums to 1 over the graph)
    engagement: int | None  # reposts + quotes + replies + likes on their posts (platform counts)
    engagement_rate_followers: float | None
    engagement_rate_posts: float | None
    advocacy: float | None
    advocacy_posts: int  # their posts with a sentiment label
    cost: Cost | None
    score: float = 0.0
    parts: dict[str, Part] = field(default_factory=dict)

    def breakdown(self) -> dict[str, float]:
        """Points per part; they sum to :attr:`score`."""
        return {name: p.points for name, p in self.parts.items()}

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "id", "handle", "name", "followers", "tier", "score", "posts", "reposts", "quotes",
            "replies", "mentions", "likes", "recommendations", "listed", "graph_rank",
            "engagement", "engagement_rate_followers", "engagement_rate_posts", "advocacy",
            "advocacy_posts")}
        out["cost"] = self.cost.to_dict() if self.cost else None
        out["breakdown"] = self.breakdown()
        return out


def _log_share(x: float | None, top: float) -> float:
    if x is None or x <= 0 or top <= 0:
        return 0.0
    return math.log1p(x) / math.log1p(top)


@dataclass
class InfluenceReport:
    monitor: str | None
    since: datetime | None
    until: datetime | None
    scores: list[InfluenceScore]  # best first
    graph: InteractionGraph
    card: RateCard
    weights: dict[str, float]
    active: set[str]  # authors with a post in the window

    def top(self, n: int | None = None) -> list[InfluenceScore]:
        return self.scores if n is None else self.scores[:n]

    def advocates(self, include_unknown_tier: bool = False) -> list[InfluenceScore]:
        """Authors who speak well of the subject (advocacy > 0) below the macro tier, best
        first (unknown tier only when asked: their size, and so their price, is unknown)."""
        return [s for s in self.scores if s.advocacy is not None and s.advocacy > 0
                and (s.tier in BELOW_MACRO or (include_unknown_tier and s.tier is None))]

    def find(self, who: str) -> InfluenceScore | None:
        """An author by id, or by handle (``@`` and case ignored)."""
        key = who.lstrip("@").lower()
        for s in self.scores:
            if s.id == who or (s.handle or "").lower() == key:
                return s
        return None


def influencers(store: Store, monitor: str | None = None, since: datetime | None = None,
                until: datetime | None = None, *, card: RateCard | None = None,
                weights: Mapping[str, float] | None = None,
                edge_weights: Mapping[str, float] | None = None) -> InfluenceReport:
    """Score every author of the monitor's conversation in ``[since, until)``.

    ``weights`` override :data:`SCORE_WEIGHTS` (parts); ``edge_weights`` override
    :data:`graph.DEFAULT_WEIGHTS` (interaction kinds in PageRank); ``card`` defaults to the
    store's rate card.
    """
    from .ratecard import load_card

    card = card or load_card(store)[0]
    w = {**SCORE_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(SCORE_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown score part(s) {sorted(unknown)}; known: {list(SCORE_WEIGHTS)}")
    obs = _observe(store, monitor, since, until)
    g = _graph(obs, obs.active)
    pr = g.pagerank(edge_weights) if g.nodes else np.zeros(0)
    received: dict[str, Counter[str]] = defaultdict(Counter)
    for (_, b, kind), c in obs.edges.items():
        received[b][kind] += c
    profiles = {r[0]: r[1:] for r in _author_rows(
        store, [n for n in g.nodes if n not in obs.handles])}

    scores: list[InfluenceScore] = []
    for i, node in enumerate(g.nodes):
        handle, name, followers, listed = profiles.get(node, (obs.handles.get(node), None,
                                                              None, None))
        got = received.get(node, Counter())
        m = obs.metrics.get(node)

        def best(kind: str, seen: int, m: dict[str, int] | None = m) -> int:
            return max(seen, m[kind]) if m else seen

        eng = sum(m.values()) if m else None
        n_eng = obs.metric_posts.get(node, 0)
        lab = obs.sentiment.get(node)
        n_lab = sum(lab.values()) if lab else 0
        adv = ((lab["positive"] - lab["negative"]) / (n_lab + ADVOCACY_PRIOR)
               if lab and n_lab else None)
        t = graph.tier(followers)
        scores.append(InfluenceScore(
            node, handle, name, followers, t, obs.posts.get(node, 0),
            best("reposts", got["repost"]), best("quotes", got["quote"]),
            best("replies", got["reply"]), got["mention"], best("likes", got["like"]),
            got["ff_recommendation"], listed, float(pr[i]), eng,
            eng / followers if eng is not None and followers else None,
            eng / n_eng if eng is not None and n_eng else None, adv, n_lab, card.cost(t)))
    _score(scores, w, len(g.nodes))
    scores.sort(key=lambda s: (-s.score, -s.reposts, s.id))
    return InfluenceReport(monitor, since, until, scores, g, card, w, obs.active)


def _author_rows(store: Store, ids: Sequence[str]) -> list[tuple]:
    out: list[tuple] = []
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i: i + CHUNK])
        marks = ",".join("?" * len(chunk))
        out += store.query(f"SELECT id, handle, name, followers, listed FROM authors "
                           f"WHERE id IN ({marks})", chunk)
    return out


_COUNTED = (("reposts", "reposts"), ("quotes", "quotes"), ("replies", "replies"),
            ("mentions", "mentions"), ("recommendations", "recommendations"), ("lists", "listed"))


def _score(scores: list[InfluenceScore], w: Mapping[str, float], n: int) -> None:
    tops = {part: max((getattr(s, attr) or 0 for s in scores), default=0)
            for part, attr in _COUNTED}
    ranks = [s.graph_rank for s in scores if s.graph_rank > 0]
    lo, hi = (min(ranks), max(ranks)) if ranks else (0.0, 0.0)
    spread = math.log(hi / lo) if lo > 0 and hi > lo * (1 + 1e-9) else 0.0
    for s in scores:
        parts: dict[str, Part] = {}

        def add(name: str, value: float | None, norm: float, formula: str,
                parts: dict[str, Part] = parts) -> None:
            parts[name] = Part(name, value, norm, w[name], 100.0 * w[name] * norm, formula)

        for part, attr in _COUNTED:
            v = getattr(s, attr)
            add(part, v, _log_share(v, tops[part]),
                f"log(1+x) / log(1+{tops[part]:g})" if tops[part] else "no author has any")
        g = math.log(s.graph_rank / lo) / spread if spread and s.graph_rank > 0 else 0.0
        add("graph_rank", s.graph_rank * n if n else None, g,
            "log(rank / lowest rank) / log(highest / lowest); value = rank × nodes")
        e = (min(1.0, s.engagement / (s.followers + ENGAGEMENT_PRIOR) / ENGAGEMENT_CAP)
             if s.engagement is not None and s.followers is not None else 0.0)
        add("engagement", s.engagement_rate_followers, e,
            f"min(1, engagement / (followers + {ENGAGEMENT_PRIOR}) / {ENGAGEMENT_CAP:g})")
        add("advocacy", s.advocacy, s.advocacy or 0.0,
            f"(positive − negative) / (labelled + {ADVOCACY_PRIOR:g})")
        s.parts = parts
        s.score = sum(p.points for p in parts.values())


# --------------------------------------------------------------------------- exports

def export_graph(report: InfluenceReport, fmt: str, out: IO[str] | str | Path,
                 seed: int = 0) -> list[graph.Node]:
    """Write the report's graph as ``gexf``, ``graphml`` or ``csv`` (edges), with PageRank,
    community (:func:`graph.communities`), followers and tier as node attributes. Returns the
    nodes (for a CSV, write them with :func:`write_nodes_csv`)."""
    g = report.graph
    by_id = {s.id: s for s in report.scores}
    comm = g.communities(seed) if g.nodes else np.zeros(0, dtype=np.int64)
    nodes = []
    for i, node in enumerate(g.nodes):
        s = by_id[node]
        nodes.append(graph.Node(node, s.handle or s.name or node, s.graph_rank, int(comm[i]),
                                s.followers))
    writer = {"gexf": graph.write_gexf, "graphml": graph.write_graphml,
              "csv": graph.write_edges_csv}.get(fmt)
    if writer is None:
        raise ValueError(f"unknown graph format {fmt!r} (gexf, graphml, csv)")
    writer(out, nodes, g.src, g.dst, g.kind, g.weight)
    return nodes


def write_nodes_csv(out: IO[str] | str | Path, nodes: Sequence[graph.Node]) -> None:
    """``id,label,pagerank,community,followers,tier`` with spreadsheet-safe cells."""
    import csv

    with graph._open(out, newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["id", "label", "pagerank", "community", "followers", "tier"])
        for n in nodes:
            w.writerow([graph.csv_cell(n.id), graph.csv_cell(n.label),
                        "" if n.pagerank is None else repr(n.pagerank),
                        "" if n.community is None else n.community,
                        "" if n.followers is None else n.followers, n.tier or ""])


# --------------------------------------------------------------------------- Cha et al.

def follower_check(store: Store, monitor: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, top_share: float = 0.10,
                   report: InfluenceReport | None = None) -> graph.InfluenceCheck:
    """The million-follower check (Cha et al., ICWSM 2010) on the store: Spearman's ρ between
    the rankings of authors by followers, reposts received, mentions received and graph rank,
    and the overlap of their top ``top_share``. Authors: those with at least one post in the
    window (where all four measures are observed); unknown followers are left out of the pairs
    that need them."""
    report = report or influencers(store, monitor, since, until)
    pop = [s for s in report.scores if s.id in report.active]
    pop.sort(key=lambda s: s.id)
    return graph.million_follower_check({
        "followers": [s.followers for s in pop], "reposts": [s.reposts for s in pop],
        "mentions": [s.mentions for s in pop], "graph rank": [s.graph_rank for s in pop],
    }, top_share)
