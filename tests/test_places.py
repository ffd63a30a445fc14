"""Places: circles and polygons (with holes), the place-bounding-box rule, SQL that agrees with
Python on both stores, and the per-site pulse (aggregates, masked small counts)."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perron.commands.sites import sites_group
from perron.errors import ConfigError, NotFound
from perron.models import Batch, Geo, Post
from perron.places import (
    Site,
    add_site,
    get_site,
    list_sites,
    normalize_geometry,
    parse_distance,
    pulse,
    remove_site,
    resolve_site,
    site_contains,
    site_posts,
    site_posts_sql,
)
from perron.store import open_store

MTL = Site(name="Usine Saint-Jérôme", lat=45.5017, lon=-73.5673, radius_m=2000)
SQUARE = [[-73.60, 45.45], [-73.50, 45.45], [-73.50, 45.55], [-73.60, 45.55], [-73.60, 45.45]]
HOLE = [[-73.56, 45.49], [-73.54, 45.49], [-73.54, 45.51], [-73.56, 45.51], [-73.56, 45.49]]
FAR = [[2.30, 48.85], [2.40, 48.85], [2.40, 48.90], [2.30, 48.90], [2.30, 48.85]]
CAMPUS = Site(name="Café de l'Église", polygon={
    "type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [FAR]]})


def _dist_m(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def test_parse_distance():
    assert parse_distance("2km") == 2000 and parse_distance("800m") == 800
    assert parse_distance("2,5 km") == 2500 and parse_distance("150") == 150
    for bad in ("loin", "-3km", "0m"):
        with pytest.raises(ConfigError):
            parse_distance(bad)


def test_radius():
    inside = (45.5017 + 0.0170, -73.5673)  # ≈ 1.89 km north
    outside = (45.5017 + 0.0190, -73.5673)  # ≈ 2.11 km north
    assert _dist_m(*MTL_center(), *inside) < 2000 < _dist_m(*MTL_center(), *outside)
    assert site_contains(MTL, inside) and not site_contains(MTL, outside)
    east = (45.5017, -73.5673 + 0.0250)  # ≈ 1.95 km east (longitude degrees are shorter here)
    assert site_contains(MTL, east) and not site_contains(MTL, (45.5017, -73.5673 + 0.0270))
    post = Post(id="x:1", source="x", native_id="1", text="t", geo=Geo(lat=inside[0],
                                                                       lon=inside[1]))
    assert site_contains(MTL, post)
    assert not site_contains(MTL, Post(id="x:2", source="x", native_id="2", text="no geo"))
    # a query Doc carrying lat/lon/bbox attributes, and a dict, work the same
    assert site_contains(MTL, SimpleNamespace(lat=inside[0], lon=inside[1], bbox=None))
    assert site_contains(MTL, {"lat": inside[0], "lon": inside[1]})


def MTL_center():  # noqa: N802
    return MTL.lat, MTL.lon


def test_polygon_with_hole_and_multipolygon():
    assert site_contains(CAMPUS, (45.47, -73.58))  # in the square
    assert not site_contains(CAMPUS, (45.50, -73.55))  # in the hole
    assert site_contains(CAMPUS, (45.505, -73.535))  # between the hole and the edge
    assert not site_contains(CAMPUS, (45.60, -73.55))  # north of it
    assert site_contains(CAMPUS, (48.86, 2.35))  # the second part (Paris)
    assert not site_contains(CAMPUS, (48.86, 2.45))


def test_geometry_loading():
    feature = {"type": "Feature", "properties": {"nom": "Église"},
               "geometry": {"type": "Polygon", "coordinates": [SQUARE[:-1]]}}  # not closed
    g = normalize_geometry(feature)
    assert g["type"] == "Polygon" and g["coordinates"][0][0] == g["coordinates"][0][-1]
    fc = {"type": "FeatureCollection", "features": [feature, {
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [FAR]}}]}
    assert normalize_geometry(fc)["type"] == "MultiPolygon"
    for bad in ({"type": "Point", "coordinates": [1, 2]},
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 100], [2, 0]]]}):
        with pytest.raises(ConfigError):
            normalize_geometry(bad)
    with pytest.raises(ConfigError, match="circle or a polygon"):
        Site(name="x", lat=1, lon=2, radius_m=3, polygon=feature)
    with pytest.raises(ConfigError, match="needs --lat"):
        Site(name="x", lat=1)


def test_bbox_rule():
    box = lambda w, s, e, n: {"bbox": (w, s, e, n)}  # noqa: E731
    # a neighbourhood-sized box touching the circle counts; a country-sized one does not
    assert site_contains(MTL, box(-73.60, 45.50, -73.55, 45.53))
    assert not site_contains(MTL, box(-141.0, 41.7, -52.6, 83.1))  # Canada
    assert not site_contains(MTL, box(-73.70, 45.60, -73.65, 45.62))  # small but away
    # the setting decides what "small" is
    big = box(-74.2, 45.2, -73.2, 45.8)  # ≈ 100 km diagonal
    assert not site_contains(MTL, big) and site_contains(MTL, big, max_km=150)
    # polygons: a thin box crossing the square's west edge, no vertex inside, no corner inside
    assert site_contains(CAMPUS, box(-73.62, 45.47, -73.58, 45.471))
    assert not site_contains(CAMPUS, box(-73.555, 45.495, -73.545, 45.505))  # inside the hole
    assert site_contains(CAMPUS, box(-73.59, 45.46, -73.58, 45.47))  # inside the square
    assert site_contains(CAMPUS, box(-73.61, 45.44, -73.49, 45.56))  # around all of it
    # a point wins over a box
    assert not site_contains(MTL, {"lat": 10.0, "lon": 10.0, "bbox": (-73.60, 45.50, -73.55,
                                                                      45.53)})


@pytest.fixture
def store(db_url):
    with open_store(db_url) as s:
        yield s


def test_sites_crud_with_accents(store):
    add_site(store, MTL)
    add_site(store, CAMPUS)
    assert [s.name for s in list_sites(store)] == ["Café de l'Église", "Usine Saint-Jérôme"]
    back = get_site(store, "Usine Saint-Jérôme")
    assert (back.lat, back.lon, back.radius_m) == (MTL.lat, MTL.lon, MTL.radius_m)
    assert get_site(store, "Café de l'Église").polygon == CAMPUS.polygon
    with pytest.raises(Exception, match="already exists"):
        add_site(store, MTL)
    sites = list_sites(store)
    assert resolve_site(sites, "usine-saint-jerome").name == "Usine Saint-Jérôme"
    assert resolve_site(sites, "CAFE DE L'EGLISE").name == "Café de l'Église"
    with pytest.raises(NotFound):
        resolve_site(sites, "usine")
    remove_site(store, "Usine Saint-Jérôme")
    with pytest.raises(NotFound):
        get_site(store, "Usine Saint-Jérôme")


_ids = itertools.count()


def _write_geo(store, points, boxes, at=datetime(2024, 5, 1, tzinfo=UTC)):
    posts = []
    for lat, lon in points:
        n = next(_ids)
        posts.append(Post(id=f"g:{n}", source="g", native_id=str(n), text="ici", created_at=at,
                          geo=Geo(lat=lat, lon=lon), author_id=f"g:a{n % 7}"))
    for bbox in boxes:
        n = next(_ids)
        posts.append(Post(id=f"g:{n}", source="g", native_id=str(n), text="là", created_at=at,
                          geo=Geo(place_name="quelque part", bbox=bbox), author_id=f"g:a{n % 7}"))
    store.write([Batch(posts=posts)])
    return posts


def _sql_ids(store, site, ids, max_km=None):
    where, params = site_posts_sql(store, site, "p", max_km)
    marks = ",".join("?" * len(ids))
    return {r[0] for r in store.query(f"SELECT p.id FROM posts p WHERE {where} AND p.id IN "
                                      f"({marks})", [*params, *ids])}


def test_sql_agrees_on_fixed_cases(store):
    pts = [(45.5017 + 0.0170, -73.5673), (45.5017 + 0.0190, -73.5673), (45.47, -73.58),
           (45.50, -73.55), (45.505, -73.535), (48.86, 2.35), (48.86, 2.45)]
    boxes = [(-73.60, 45.50, -73.55, 45.53), (-141.0, 41.7, -52.6, 83.1),
             (-73.62, 45.47, -73.58, 45.471), (-73.555, 45.495, -73.545, 45.505),
             (-73.61, 45.44, -73.49, 45.56)]
    posts = _write_geo(store, pts, boxes)
    ids = [p.id for p in posts]
    for site in (MTL, CAMPUS):
        expected = {p.id for p in posts if site_contains(site, p)}
        assert _sql_ids(store, site, ids) == expected
        assert expected  # the cases are not all outside
    posts_no_geo = [Post(id="g:none", source="g", native_id="none", text="sans lieu")]
    store.write([Batch(posts=posts_no_geo)])
    assert _sql_ids(store, MTL, ["g:none"]) == set()


_FIXTURE = [HealthCheck.function_scoped_fixture]  # one store per test; examples use fresh ids


@settings(max_examples=25, deadline=None, suppress_health_check=_FIXTURE)
@given(lat0=st.floats(-80, 80), lon0=st.floats(-179, 179), radius=st.floats(1, 300_000),
       offsets=st.lists(st.tuples(st.floats(-4, 4), st.floats(-4, 4)), min_size=1, max_size=25),
       boxes=st.lists(st.tuples(st.floats(-4, 4), st.floats(-4, 4), st.floats(0, 1),
                                st.floats(0, 1)), max_size=8))
def test_sql_agrees_with_python_circles(store, lat0, lon0, radius, offsets, boxes):
    site = Site(name="h", lat=lat0, lon=lon0, radius_m=radius)
    scale = radius / 111_000 + 1e-4  # offsets in units of the radius, so both sides occur
    pts = [(max(-90.0, min(90.0, lat0 + a * scale)), max(-180.0, min(180.0, lon0 + b * scale)))
           for a, b in offsets]
    bxs = [(lon0 + a * scale, lat0 + b * scale, lon0 + a * scale + w * scale * 2,
            lat0 + b * scale + h * scale * 2) for a, b, w, h in boxes]
    bxs = [(w, max(-90, s), e, min(90, n)) for w, s, e, n in bxs if -180 <= w and e <= 180]
    posts = _write_geo(store, pts, bxs)
    ids = [p.id for p in posts]
    assert _sql_ids(store, site, ids) == {p.id for p in posts if site_contains(site, p)}


@settings(max_examples=25, deadline=None, suppress_health_check=_FIXTURE)
@given(points=st.lists(st.tuples(st.floats(45.43, 45.57), st.floats(-73.62, -73.48)),
                       min_size=1, max_size=30),
       boxes=st.lists(st.tuples(st.floats(45.43, 45.57), st.floats(-73.62, -73.48),
                                st.floats(0, 0.05), st.floats(0, 0.05)), max_size=10))
def test_sql_agrees_with_python_polygons(store, points, boxes):
    bxs = [(lon, lat, lon + w, lat + h) for lat, lon, w, h in boxes]
    posts = _write_geo(store, points, bxs)
    ids = [p.id for p in posts]
    assert _sql_ids(store, CAMPUS, ids) == {p.id for p in posts if site_contains(CAMPUS, p)}


def _labelled_day(store, day, n_posts, n_authors, negatives):
    posts = []
    for i in range(n_posts):
        k = next(_ids)
        posts.append(Post(id=f"pl:{k}", source="pl", native_id=str(k), text="au travail",
                          created_at=day + timedelta(hours=8, minutes=i),
                          author_id=f"pl:auteur{i % n_authors}", author_handle=f"auteur{i}",
                          geo=Geo(lat=45.5017 + 0.001 * (i % 3), lon=-73.5673)))
    store.write([Batch(posts=posts)])
    rowids = [r[0] for r in store.query(
        f"SELECT rowid FROM posts WHERE id IN ({','.join('?' * n_posts)}) ORDER BY id",
        [p.id for p in posts])]
    store.executemany("INSERT INTO labels (post_rowid, task, label, score, model, version, "
                      "created_at) VALUES (?, 'sentiment', ?, 0.9, 't', '1', ?)",
                      [[r, "negative" if j < negatives else "positive", store.ts(day)]
                       for j, r in enumerate(rowids)])


def test_pulse_aggregates_and_masking(store):
    d1 = datetime(2024, 5, 1, tzinfo=UTC)
    _labelled_day(store, d1, 6, 4, 2)
    _labelled_day(store, d1 + timedelta(days=1), 2, 1, 1)  # one person: masked
    _labelled_day(store, d1 + timedelta(days=2), 5, 5, 0)
    _write_geo(store, [(45.60, -73.5673)], [])  # 11 km away: not at the site
    add_site(store, MTL)
    rows = pulse(store, get_site(store, MTL.name), "day", min_authors=3)
    got = [(r.start.day, r.posts, r.authors, r.negative, r.positive, r.masked) for r in rows]
    assert got == [(1, 6, 4, 2, 4, False), (2, None, None, None, None, True),
                   (3, 5, 5, 0, 5, False)]
    assert [r.posts for r in pulse(store, MTL, "week", min_authors=1)] == [13]
    assert len(site_posts(store, MTL)) == 13


def test_sites_cli(tmp_path):
    db = str(tmp_path / "p.db")
    geo = tmp_path / "campus.geojson"
    geo.write_text(json.dumps({"type": "Feature", "geometry": {"type": "Polygon",
                                                               "coordinates": [SQUARE, HOLE]}}))

    @click.group()
    def main() -> None:
        pass

    main.add_command(sites_group)
    r = CliRunner()
    out = r.invoke(main, ["sites", "add", "Usine Saint-Jérôme", "--lat", "45.5017", "--lon",
                          "-73.5673", "--radius", "2km", "--db", db])
    assert out.exit_code == 0, out.output
    assert "radius 2 km" in out.output
    added = r.invoke(main, ["sites", "add", "Église", "--polygon", str(geo), "--db", db])
    assert added.exit_code == 0 and "polygon, 1 part(s)" in added.output
    listed = r.invoke(main, ["sites", "list", "--json", "--db", db])
    names = [json.loads(line)["name"] for line in listed.output.splitlines()]
    assert names == ["Usine Saint-Jérôme", "Église"]
    with open_store(db) as s:
        _labelled_day(s, datetime(2024, 5, 1, tzinfo=UTC), 6, 4, 2)
    pulse_out = r.invoke(main, ["sites", "pulse", "Usine Saint-Jérôme", "--json", "--db", db])
    assert pulse_out.exit_code == 0, pulse_out.output
    assert "Vue agrégée" in pulse_out.output  # the privacy note
    row = json.loads([ln for ln in pulse_out.output.splitlines() if ln.startswith("{")][0])
    assert (row["posts"], row["negative"], row["start"]) == (6, 2, "2024-05-01T00:00:00Z")
    bad = r.invoke(main, ["sites", "add", "x", "--lat", "45", "--db", db])
    assert bad.exit_code != 0 and "needs --lat, --lon and --radius" in bad.output
    assert r.invoke(main, ["sites", "remove", "Église", "--db", db]).exit_code == 0
