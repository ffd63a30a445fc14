"""``near:SITE`` in the monitor query language: parsing, the stream matcher, SQL on SQLite and
PostgreSQL (real stores), validation when a monitor is saved, and a property test that the three
evaluators agree on random places and random queries mixing ``near:`` with other operators."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perron.errors import QueryError
from perron.models import Batch, Geo, Post
from perron.places import Site, add_site, list_sites, site_contains
from perron.query import Matcher, compile_sql, doc_of, matches, parse, validate_sites
from perron.query.ast import Field, Node, Not, Term, and_, or_
from perron.store import open_store

USINE = Site(name="Usine Saint-Jérôme", lat=45.5017, lon=-73.5673, radius_m=2000)
GARE = Site(name="gare", lat=45.4995, lon=-73.5664, radius_m=300)
SQUARE = [[-73.60, 45.45], [-73.50, 45.45], [-73.50, 45.55], [-73.60, 45.55], [-73.60, 45.45]]
HOLE = [[-73.56, 45.49], [-73.54, 45.49], [-73.54, 45.51], [-73.56, 45.51], [-73.56, 45.49]]
FAR = [[2.30, 48.85], [2.40, 48.85], [2.40, 48.90], [2.30, 48.90], [2.30, 48.85]]
EGLISE = Site(name="Café de l'Église", polygon={
    "type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [FAR]]})
SITES = [USINE, GARE, EGLISE]

INSIDE = (45.5017 + 0.0170, -73.5673)  # ≈ 1.89 km north of the factory
OUTSIDE = (45.5017 + 0.0190, -73.5673)  # ≈ 2.11 km north
_ids = itertools.count()


def post(text: str = "grève à l'usine", geo: Geo | None = None, **kw) -> Post:
    n = next(_ids)
    return Post(id=f"n:{n}", source=kw.pop("source", "bluesky"), native_id=str(n), text=text,
                geo=geo, created_at=datetime(2024, 5, 1, tzinfo=UTC), **kw)


def at(lat: float, lon: float, text: str = "grève à l'usine") -> Post:
    return post(text, Geo(lat=lat, lon=lon))


def boxed(w: float, s: float, e: float, n: float, text: str = "grève à l'usine") -> Post:
    return post(text, Geo(place_name="Montréal", bbox=(w, s, e, n)))


# --- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "node", "canonical"), [
    ("near:usine", Field("near", "usine"), "near:usine"),
    ("NEAR:usine", Field("near", "usine"), "near:usine"),
    ('near:"Usine Saint-Jérôme"', Field("near", "Usine Saint-Jérôme"),
     'near:"Usine Saint-Jérôme"'),
    ('near:"  Café de l\'Église "', Field("near", "Café de l'Église"),
     'near:"Café de l\'Église"'),
    ('near:"gare"', Field("near", "gare"), "near:gare"),
    ('near:"http://x.fr"', Field("near", "http://x.fr"), 'near:"http://x.fr"'),
    ("near:usine-saint-jérôme", Field("near", "usine-saint-jérôme"), "near:usine-saint-jérôme"),
    ('-near:"Usine Saint-Jérôme" grève',
     and_(Not(Field("near", "Usine Saint-Jérôme")), Term("greve")),
     '-near:"Usine Saint-Jérôme" greve'),
])
def test_parse_near_field(query: str, node: Node, canonical: str) -> None:
    assert parse(query) == node
    assert str(node) == canonical
    assert parse(canonical) == node


def test_near_operator_and_near_field_live_together() -> None:
    node = parse('grève NEAR/3 sncf near:"Usine Saint-Jérôme" OR near near:gare')
    assert str(node) == 'greve NEAR/3 sncf near:"Usine Saint-Jérôme" OR near near:gare'
    assert parse(str(node)) == node
    assert node.children[1].children == (Term("near"), Field("near", "gare"))  # type: ignore


@pytest.mark.parametrize(("query", "message", "hint", "column"), [
    ("near:", "near: needs a value", "near:usine", 1),
    ('grève near:"', "unclosed quote", 'closing "', 12),
    ('near:"  "', "near: needs a value", "perron sites list", 1),
    ("zzz:usine", "unknown field zzz:", "near:", 1),
    ("lieu:usine", "unknown field lieu:", "did you mean near:?", 1),
])
def test_parse_near_errors(query: str, message: str, hint: str, column: int) -> None:
    with pytest.raises(QueryError) as err:
        parse(query)
    assert err.value.message == message
    assert hint in (err.value.hint or "")
    assert err.value.column == column


RAW = ["near:", "NEAR:", 'near:"', '"', "Usine", "Saint-Jérôme", "(", ")", "NEAR/2", "near",
       "-", "OR", "sauf", "http://x", "gare", "é", "near:usine", 'near:"Usine Nord"', "*"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(RAW), max_size=7), st.booleans())
def test_parser_never_crashes_on_near(pieces: list[str], glue: bool) -> None:
    """Any string parses to a node that prints back to itself, or raises a QueryError with a
    column inside the query."""
    query = ("" if glue else " ").join(pieces)
    try:
        node = parse(query)
    except QueryError as exc:
        assert exc.hint and exc.query == query
        assert exc.column is not None and 1 <= exc.column <= len(query) + 1
        return
    assert parse(str(node)) == node


# --- the stream matcher -------------------------------------------------------------------------

def test_doc_carries_the_place() -> None:
    d = doc_of(at(*INSIDE))
    assert (d.lat, d.lon, d.bbox, d.has_geo) == (INSIDE[0], INSIDE[1], None, True)
    d = doc_of(boxed(-73.60, 45.50, -73.55, 45.53))
    assert (d.lat, d.lon, d.bbox) == (None, None, (-73.60, 45.50, -73.55, 45.53))
    d = doc_of(post())
    assert (d.lat, d.lon, d.bbox, d.has_geo) == (None, None, None, False)


def test_radius_site_with_french_names() -> None:
    m = Matcher({"exact": 'near:"Usine Saint-Jérôme"', "folded": "near:usine-saint-jerome",
                 "casse": 'near:"USINE SAINT JEROME"', "greve": "grève near:usine-saint-jerome"},
                sites=SITES)
    assert m.match(doc_of(at(*INSIDE))) == ["casse", "exact", "folded", "greve"]
    assert m.match(doc_of(at(*INSIDE, text="rien à signaler"))) == ["casse", "exact", "folded"]
    assert m.match(doc_of(at(*OUTSIDE))) == []
    assert m.match(doc_of(post())) == []  # no place: never at a site


def test_polygon_site_with_a_hole_and_two_parts() -> None:
    q = parse("near:\"Café de l'Église\"")
    assert matches(q, doc_of(at(45.47, -73.58)), SITES)  # in the square
    assert not matches(q, doc_of(at(45.50, -73.55)), SITES)  # in the hole
    assert matches(q, doc_of(at(48.86, 2.35)), SITES)  # the Paris part
    assert not matches(q, doc_of(at(48.86, 2.45)), SITES)
    assert matches(parse("near:cafe-de-l'eglise"), doc_of(at(45.47, -73.58)), SITES)


def test_bbox_rule() -> None:
    q = parse("near:usine-saint-jerome")
    assert matches(q, doc_of(boxed(-73.60, 45.50, -73.55, 45.53)), SITES)  # a neighbourhood
    assert not matches(q, doc_of(boxed(-141.0, 41.7, -52.6, 83.1)), SITES)  # Canada: too big
    assert not matches(q, doc_of(boxed(-73.70, 45.60, -73.65, 45.62)), SITES)  # small, away
    big = doc_of(boxed(-74.2, 45.2, -73.2, 45.8))  # ≈ 100 km diagonal
    assert not matches(q, big, SITES)
    assert Matcher({"q": q}, sites=SITES, max_km=150).match(big) == ["q"]
    # a point wins over a box
    both = doc_of(post(geo=Geo(lat=10.0, lon=10.0, bbox=(-73.60, 45.50, -73.55, 45.53))))
    assert not matches(q, both, SITES)


def test_unknown_site_never_matches() -> None:
    m = Matcher({"inconnu": "near:nulle-part", "sauf": "-near:nulle-part",
                 "ambigu": "near:EGLISE"},
                sites=[*SITES, Site(name="Église", lat=45.5, lon=-73.6, radius_m=500),
                       Site(name="eglise", lat=45.5, lon=-73.6, radius_m=500)])
    assert m.match(doc_of(at(45.5, -73.6))) == ["sauf"]
    assert Matcher({"sans": "near:gare"}).match(doc_of(at(45.4995, -73.5664))) == []


def test_sites_as_a_mapping() -> None:
    m = Matcher({"u": "near:usine"}, sites={"usine": USINE})
    assert m.match(doc_of(at(*INSIDE))) == ["u"]


def test_validate_sites() -> None:
    validate_sites(parse('near:"Usine Saint-Jérôme" OR near:gare'), [s.name for s in SITES])
    validate_sites(parse("-near:usine-saint-jerome"), SITES)
    validate_sites(parse("grève"), [])
    query = 'grève -near:"Usine Nord"'
    with pytest.raises(QueryError) as err:
        validate_sites(parse(query), ["gare"], query)
    assert err.value.message == 'unknown site near:"Usine Nord"'
    assert 'perron sites add "Usine Nord" --lat … --lon … --radius 2km' in err.value.hint
    assert "known sites: gare" in err.value.hint
    assert err.value.column == 8
    with pytest.raises(QueryError, match="several sites"):
        validate_sites(parse("near:eglise"), ["Église", "ÉGLISE"])


# --- SQL on real stores --------------------------------------------------------------------------

@pytest.fixture
def store(db_url: str):
    with open_store(db_url) as s:
        for site in SITES:
            add_site(s, site)
        yield s


def test_store_monitor_add_checks_sites(store) -> None:
    with pytest.raises(QueryError) as err:
        store.monitor_add("nord", 'near:"Usine Nord" grève')
    assert "perron sites add" in err.value.hint and err.value.column == 1
    assert store.monitors() == {}
    store.monitor_add("usine", "grève near:usine-saint-jerome")
    assert store.monitors() == {"usine": "grève near:usine-saint-jerome"}
    with pytest.raises(QueryError, match="unknown site"):
        list(store.search("near:nulle-part"))


def test_store_stream_search_and_backfill_agree(store) -> None:
    posts = [at(*INSIDE), at(*OUTSIDE), at(45.47, -73.58, "grève au café"),
             boxed(-73.60, 45.50, -73.55, 45.53), boxed(-141.0, 41.7, -52.6, 83.1),
             post(), at(45.4995, -73.5664, "la gare en grève")]
    store.monitor_add("usine", "grève near:usine-saint-jerome")
    store.monitor_add("eglise", "near:\"Café de l'Église\" -near:gare")
    store.write([Batch(posts=posts)], store.matcher())
    tagged = {name: {r[0] for r in store.query(
        "SELECT p.id FROM posts p JOIN post_monitors pm ON pm.post_rowid = p.rowid "
        "WHERE pm.monitor = ?", [name])} for name in ("usine", "eglise")}
    ids = [p.id for p in posts]
    assert tagged["usine"] == {ids[0], ids[3], ids[6]}
    assert tagged["eglise"] == {ids[0], ids[1], ids[2]}  # the box ids[3] touches the station
    for name in ("usine", "eglise"):
        assert {r["id"] for r in store.search(store.monitor_query(name))} == tagged[name]
        store.execute("DELETE FROM post_monitors WHERE monitor = ?", [name])
        assert store.backfill(name) == len(tagged[name])
        assert {r["id"] for r in store.search(monitor=name)} == tagged[name]


# --- property: matcher, SQLite and PostgreSQL agree ---------------------------------------------

NAMES = ["usine", "Usine Saint-Jérôme", "usine-saint-jerome", "gare", "GARE",
         "Café de l'Église", "cafe-de-l'eglise", "nulle-part"]
near_st = st.sampled_from(NAMES).map(lambda n: Field("near", n))
leaf_st = st.one_of(
    near_st, near_st,
    st.sampled_from(["greve", "usine", "cafe", "gare"]).map(Term),
    st.builds(Field, st.just("has"), st.just("geo")),
    st.builds(Field, st.just("source"), st.sampled_from(["bluesky", "mastodon"])),
)
query_st: st.SearchStrategy[Node] = st.recursive(
    leaf_st,
    lambda kids: st.one_of(
        kids.map(Not),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: and_(*xs)),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: or_(*xs)),
    ),
    max_leaves=5,
)
# points around the sites' centres and edges, at the scale of each site
CENTRES = [(USINE.lat, USINE.lon, 0.03), (GARE.lat, GARE.lon, 0.005), (45.50, -73.55, 0.015),
           (45.55, -73.60, 0.02)]
point_st = st.builds(lambda c, a, b: (c[0] + a * c[2], c[1] + b * c[2]),
                     st.sampled_from(CENTRES), st.floats(-1, 1), st.floats(-1, 1))
lat_st = st.floats(45.44, 45.56)
lon_st = st.floats(-73.62, -73.48)
geo_st = st.one_of(
    st.none(),
    point_st.map(lambda p: Geo(lat=p[0], lon=p[1])),
    point_st.map(lambda p: Geo(lat=p[0], lon=p[1])),
    st.builds(lambda la, lo: Geo(lat=la, lon=lo), st.floats(48.84, 48.91), st.floats(2.28, 2.42)),
    st.builds(lambda la, lo, w, h: Geo(place_name="x", bbox=(lo, la, lo + w, la + h)),
              lat_st, lon_st, st.floats(0, 0.08), st.floats(0, 0.08)),
    st.builds(lambda la, lo: Geo(place_name="x", bbox=(lo - 2, la - 2, lo + 2, la + 2)),
              lat_st, lon_st),  # ≈ 500 km: too big to count
    st.sampled_from([Geo(lat=USINE.lat, lon=USINE.lon), Geo(lat=45.5),
                     Geo(lat=45.47, bbox=(-73.6, 45.5, -73.55, 45.53)), Geo(place_name="x")]),
)
posts_st = st.lists(st.tuples(
    st.lists(st.sampled_from(["grève", "à", "l'usine", "café", "gare", "Montréal"]),
             max_size=4).map(" ".join),
    st.sampled_from(["bluesky", "mastodon"]), geo_st), min_size=1, max_size=12)


@pytest.fixture
def both_stores(tmp_path, pg_url: str):
    stores = [open_store(str(tmp_path / "near.db")), open_store(pg_url)]
    for s in stores:
        for site in SITES:
            add_site(s, site)
    yield stores
    for s in stores:
        s.close()


def _sql_ids(store, node: Node, ids: list[str]) -> set[str]:
    where, params = compile_sql(node, store.dialect, "p", sites=list_sites(store))
    marks = ",".join("?" * len(ids))
    return {r[0] for r in store.query(f"SELECT p.id FROM posts p WHERE ({where}) AND p.id IN "
                                      f"({marks})", [*params, *ids])}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=posts_st, queries=st.lists(query_st, min_size=1, max_size=5))
def test_matcher_sqlite_postgresql_agree_on_near(both_stores, rows, queries) -> None:
    posts = [post(text, geo, source=source) for text, source, geo in rows]
    for s in both_stores:
        s.write([Batch(posts=posts)])
    assert [parse(str(q)) for q in queries] == queries
    docs = {p.id: doc_of(p) for p in posts}
    sites = list_sites(both_stores[0])
    expected = [{pid for pid, d in docs.items() if matches(q, d, sites)} for q in queries]
    matcher = Matcher({f"m{i}": str(q) for i, q in enumerate(queries)}, sites=sites)
    by_stream: list[set[str]] = [set() for _ in queries]
    for pid, d in docs.items():
        for name in matcher.match(d):
            by_stream[int(name[1:])].add(pid)
    assert by_stream == expected
    for q, want in zip(queries, expected, strict=True):  # near: alone is site_contains
        if isinstance(q, Field) and q.name == "near" and q.value == "gare":
            assert want == {p.id for p in posts if site_contains(GARE, p)}
    ids = list(docs)
    for s in both_stores:
        assert [_sql_ids(s, q, ids) for q in queries] == expected, s.dialect
