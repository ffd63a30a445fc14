"""Influence graph math: PageRank, communities, exports with hostile names, Cha et al. check."""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from perron.analyze.graph import (
    DEFAULT_WEIGHTS,
    Node,
    communities,
    edge_weights,
    index_nodes,
    million_follower_check,
    pagerank,
    tier,
    write_edges_csv,
    write_gexf,
    write_graphml,
)

HOSTILE = "<script>alert(1)</script>&\"'\x00\x07 Zoé\u2028"


def test_pagerank_hand_computed_cycle_with_dangling() -> None:
    # 0 → 1 → 2 → 0 is symmetric: every node has 1/3
    assert np.allclose(pagerank([0, 1, 2], [1, 2, 0]), [1 / 3] * 3, atol=1e-12)
    # 0 → 1, 1 dangling, d = 0.5: x0 = 0.25 + 0.5·x1/2, x1 = 0.25 + 0.5·x0 + 0.5·x1/2
    # with x0 + x1 = 1: 1.25·x0 = 0.5 → x0 = 0.4, x1 = 0.6 (solved by hand)
    pr = pagerank([0], [1], damping=0.5)
    assert np.allclose(pr, [0.4, 0.6], atol=1e-12)


def test_pagerank_matches_networkx_weighted_and_personalized() -> None:
    rng = np.random.default_rng(3)
    n, m = 300, 2000
    src = rng.integers(0, n, m)
    dst = (rng.zipf(1.7, m) - 1) % n
    w = rng.random(m) + 0.01
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b, x in zip(src.tolist(), dst.tolist(), w.tolist(), strict=True):
        if a != b:
            g.add_edge(a, b, weight=g[a][b]["weight"] + x if g.has_edge(a, b) else x)
    pers = rng.random(n)
    for p in (None, pers):
        ref = nx.pagerank(g, weight="weight", tol=1e-14, max_iter=2000,
                          personalization=None if p is None else dict(enumerate(p)))
        ours = pagerank(src, dst, n, weight=w, personalization=p, tol=1e-13)
        assert np.abs(ours - np.array([ref[i] for i in range(n)])).max() < 1e-10
        assert ours.sum() == pytest.approx(1.0, abs=1e-12)


def test_kind_weights_change_the_ranking() -> None:
    # 0 reposts 1, 0 mentions 2: 1 gets more rank by default; reversed table, 2 does
    src, dst, kind = [0, 0], [1, 2], ["repost", "mention"]
    pr = pagerank(src, dst, 3, kind=kind)
    assert pr[1] > pr[2]
    pr = pagerank(src, dst, 3, kind=kind, weights={"repost": 0.1, "mention": 1.0})
    assert pr[2] > pr[1]
    assert edge_weights(["follow", "repost"]).tolist() == [DEFAULT_WEIGHTS["follow"], 1.0]
    with pytest.raises(ValueError, match="poke"):
        edge_weights(["poke"])


def test_self_loops_dropped_and_parallel_edges_add_up() -> None:
    assert np.allclose(pagerank([0, 0, 1], [0, 1, 0]), pagerank([0, 1], [1, 0]))
    twice = pagerank([0, 0, 0], [1, 1, 2], 3)
    once_double = pagerank([0, 0], [1, 2], 3, weight=[2.0, 1.0])
    assert np.allclose(twice, once_double, atol=1e-12)


def test_index_nodes() -> None:
    nodes, s, d = index_nodes(["b", "a"], ["a", "c"])
    assert nodes == ["a", "b", "c"] and s.tolist() == [1, 0] and d.tolist() == [0, 2]


def test_communities_two_cliques() -> None:
    a = [(i, j) for i in range(6) for j in range(6) if i < j]
    b = [(i + 6, j + 6) for i, j in a]
    edges = np.array(a + b + [(0, 6)])
    methods = ["louvain"]
    try:
        import igraph  # noqa: F401
        methods.append("leiden")
    except ImportError:  # python-igraph is optional: "auto" falls back to networkx
        pass
    for method in methods:
        c = communities(edges[:, 0], edges[:, 1], 13, method=method, seed=1)
        assert len(set(c[:6].tolist())) == 1 and len(set(c[6:12].tolist())) == 1
        assert c[0] != c[6] and c[12] not in (c[0], c[6])  # node 12 is isolated
        assert c.tolist() == communities(edges[:, 0], edges[:, 1], 13, method=method,
                                         seed=1).tolist()


def _nodes() -> list[Node]:
    return [Node("twitter:1", HOSTILE, pagerank=0.5, community=0, followers=12),
            Node("twitter:2", "=HYPERLINK(\"http://evil\")", pagerank=0.3, community=1,
                 followers=2_000_000),
            Node("bluesky:did:plc:x", None, pagerank=0.2)]


def test_gexf_is_well_formed_and_escapes_hostile_names(tmp_path: Path) -> None:
    path = tmp_path / "g.gexf"
    write_gexf(path, _nodes(), [0, 1, 2], [1, 0, 0], kind=["repost", "reply", HOSTILE],
               weight=[1.0, 0.5, 2.0])
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "\x00" not in text
    root = ET.fromstring(text.encode())
    ns = {"g": "http://gexf.net/1.3"}
    labels = [n.get("label") for n in root.iterfind(".//g:node", ns)]
    assert labels[0] == "<script>alert(1)</script>&\"'\ufffd\ufffd Zoé\u2028"
    assert labels[2] == "bluesky:did:plc:x"
    edges = root.findall(".//g:edge", ns)
    assert [e.get("weight") for e in edges] == ["1.0", "0.5", "2.0"]
    g = nx.read_gexf(path)  # Gephi's format, read back by a third party
    assert g.number_of_nodes() == 3 and g.number_of_edges() == 3
    assert g.nodes["n1"]["tier"] == "mega" and g.nodes["n0"]["followers"] == 12


def test_graphml_round_trip_with_hostile_names(tmp_path: Path) -> None:
    buf = io.StringIO()
    write_graphml(buf, _nodes(), [0, 1], [1, 2], kind=["quote", "mention"])
    ET.fromstring(buf.getvalue().encode())
    path = tmp_path / "g.graphml"
    path.write_text(buf.getvalue(), encoding="utf-8")
    g = nx.read_graphml(path)
    assert g.nodes["n0"]["label"].startswith("<script>alert(1)</script>&\"'")
    assert g.nodes["n0"]["pagerank"] == 0.5 and g.nodes["n2"]["id"] == "bluesky:did:plc:x"
    assert g.edges["n0", "n1"]["kind"] == "quote"


def test_csv_edges_defuse_formulas(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    write_edges_csv(path, _nodes(), [1], [0], kind=["repost"], weight=[1.0])
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert rows[0]["source_label"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["target_label"] == HOSTILE and rows[0]["weight"] == "1.0"


def test_tiers() -> None:
    assert [tier(x) for x in (None, 0, 9_999, 10_000, 100_000, 500_000, 1_000_000)] == [
        None, "nano", "nano", "micro", "mid", "macro", "mega"]


def test_million_follower_check_known_case() -> None:
    figures = {
        "followers": [100, 90, 80, 70, 60, 50, 40, 30, 20, 10],
        "reposts": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],  # exactly reversed
        "pagerank": [0.3, 0.2, 0.1, 0.09, 0.08, 0.07, 0.06, 0.05, 0.04, None],
    }
    check = million_follower_check(figures, top_share=0.2)
    assert check.spearman[("followers", "reposts")] == pytest.approx(-1.0)
    assert check.top_overlap[("followers", "reposts")] == 0.0
    assert check.spearman[("followers", "pagerank")] == pytest.approx(1.0)
    assert check.pairs_n[("followers", "pagerank")] == 9
    assert check.top_overlap[("followers", "pagerank")] == 1.0  # top 2 of 9 both {0, 1}
    md = check.to_markdown()
    assert "| followers | reposts | 10 | -1.000 | 0.0% |" in md
    flat = million_follower_check({"a": [1, 1, 1], "b": [1, 2, 3]})
    assert math.isnan(flat.spearman[("a", "b")]) and "n/a" in flat.to_markdown()
