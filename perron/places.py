"""Places (job 7): named sites — a circle (centre and radius) or a GeoJSON polygon — and which
geotagged posts are *at* a site.

**The rule** (the same in Python, in SQL and in the stream matcher):

- a post with a **point** (``lat``/``lon``) is at a site when the point is within the radius
  (great-circle distance, haversine, mean Earth radius 6,371,008.8 m) or inside the polygon
  (ray casting on longitude/latitude, holes excluded, MultiPolygon = any part);
- a post with only a **place bounding box** (``geo.bbox`` = west, south, east, north) is at a site
  when the box is *small* — its diagonal is at most ``max_bbox_km`` (default 50 km: a city or a
  neighbourhood, not a region or a country) — **and** it intersects the circle (the box's point
  nearest to the centre is within the radius) or the polygon (a polygon vertex in the box, a box
  corner in the polygon, or an edge crossing);
- a point wins over a box when a post has both; posts without geo are never at a site.

Limits: polygons and boxes that cross the antimeridian (±180°) are not supported (split them);
circles work everywhere. Points exactly on an edge may fall either side.

:func:`site_contains` is the reference; :func:`site_sql` gives ``(sql, params)`` over
``posts AS alias`` that agrees with it (same operations in the same order): plain SQL on
PostgreSQL, a registered Python function on SQLite (:func:`register_sqlite`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import config
from .errors import ConfigError, NotFound, StoreError

EARTH_RADIUS_M = 6_371_008.8
MAX_BBOX_KM = 50.0
_K = math.pi / 180.0  # degrees → radians (a parameter in SQL too: same constant, same rounding)
_K2 = _K / 2.0
_SLACK = 1e-6


def max_bbox_km(flag: float | None = None) -> float:
    """Setting ``places.max_bbox_km``: flag → ``PERRON_PLACES_MAX_BBOX_KM`` → default 50."""
    if flag is not None:
        return float(flag)
    if any(s.name == "places.max_bbox_km" for s in config.SETTINGS):
        return float(config.get("places.max_bbox_km"))
    return float(os.environ.get("PERRON_PLACES_MAX_BBOX_KM", MAX_BBOX_KM))


def parse_distance(text: str | float) -> float:
    """``"2km"``, ``"2,5 km"``, ``"800m"``, ``"800"`` (metres) → metres."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        t = text.strip().lower().replace(",", ".").replace(" ", "")
        factor = 1.0
        if t.endswith("km"):
            t, factor = t[:-2], 1000.0
        elif t.endswith("m"):
            t = t[:-1]
        try:
            value = float(t) * factor
        except ValueError:
            raise ConfigError(f"bad distance {text!r}",
                              hint="write metres or kilometres: 800m, 2km, 2.5km") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"bad distance {text!r}", hint="the radius must be positive")
    return value


# ---- sites ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    name: str
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    polygon: dict[str, Any] | None = None  # GeoJSON geometry: Polygon or MultiPolygon
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ConfigError("a site needs a name", hint="perron sites add NAME …")
        if self.polygon is not None:
            if self.lat is not None or self.radius_m is not None:
                raise ConfigError("a site is a circle or a polygon, not both",
                                  hint="give --lat/--lon/--radius or --polygon")
            object.__setattr__(self, "polygon", normalize_geometry(self.polygon))
            return
        if self.lat is None or self.lon is None or self.radius_m is None:
            raise ConfigError(f"site {self.name!r} needs --lat, --lon and --radius, or --polygon",
                              hint="perron sites add usine --lat 45.5 --lon -73.6 --radius 2km")
        _check_point(self.lat, self.lon)
        if not (math.isfinite(self.radius_m) and self.radius_m > 0):
            raise ConfigError(f"bad radius {self.radius_m!r}", hint="the radius must be positive")

    def __hash__(self) -> int:  # the polygon (a dict) is left out: equal sites still hash equal
        return hash((self.name, self.lat, self.lon, self.radius_m))

    @property
    def kind(self) -> str:
        return "polygon" if self.polygon is not None else "circle"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.polygon is not None:
            out["polygon"] = self.polygon
        else:
            out.update(lat=self.lat, lon=self.lon, radius_m=self.radius_m)
        if self.created_at:
            out["created_at"] = _iso(self.created_at)
        return out


def _check_point(lat: Any, lon: Any) -> None:
    if not (isinstance(lat, int | float) and isinstance(lon, int | float)
            and math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise ConfigError(f"bad coordinates ({lat!r}, {lon!r})",
                          hint="latitude in [-90, 90], longitude in [-180, 180], decimal degrees")


def normalize_geometry(obj: dict[str, Any]) -> dict[str, Any]:
    """A Polygon or MultiPolygon geometry from a geometry, a Feature or a FeatureCollection
    (polygons merged); rings closed; coordinates checked."""
    if not isinstance(obj, dict):
        raise ConfigError("the polygon must be a GeoJSON object", hint=_GEOJSON_HINT)
    kind = obj.get("type")
    if kind == "Feature":
        return normalize_geometry(obj.get("geometry") or {})
    if kind == "FeatureCollection":
        polys: list[Any] = []
        for f in obj.get("features") or []:
            g = normalize_geometry(f)
            polys.extend(g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]])
        if not polys:
            raise ConfigError("the FeatureCollection holds no polygon", hint=_GEOJSON_HINT)
        return {"type": "MultiPolygon", "coordinates": polys} if len(polys) > 1 else \
            {"type": "Polygon", "coordinates": polys[0]}
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": _polygon(obj.get("coordinates"))}
    if kind == "MultiPolygon":
        coords = obj.get("coordinates")
        if not isinstance(coords, list) or not coords:
            raise ConfigError("empty MultiPolygon", hint=_GEOJSON_HINT)
        return {"type": "MultiPolygon", "coordinates": [_polygon(p) for p in coords]}
    raise ConfigError(f"unsupported GeoJSON type {kind!r}", hint=_GEOJSON_HINT)


_GEOJSON_HINT = ("give a GeoJSON Polygon or MultiPolygon (or a Feature / FeatureCollection of "
                 "them), coordinates as [longitude, latitude]; draw one at https://geojson.io")


def _polygon(rings: Any) -> list[list[list[float]]]:
    if not isinstance(rings, list) or not rings:
        raise ConfigError("a polygon needs at least one ring", hint=_GEOJSON_HINT)
    out = []
    for ring in rings:
        if not isinstance(ring, list):
            raise ConfigError("a polygon ring must be a list of positions", hint=_GEOJSON_HINT)
        pts = []
        for pos in ring:
            if not isinstance(pos, list | tuple) or len(pos) < 2:
                raise ConfigError(f"bad position {pos!r}", hint=_GEOJSON_HINT)
            lon, lat = pos[0], pos[1]
            _check_point(lat, lon)
            pts.append([float(lon), float(lat)])
        if pts and pts[0] != pts[-1]:
            pts.append(list(pts[0]))
        if len(pts) < 4:
            raise ConfigError("a polygon ring needs at least 3 distinct positions",
                              hint=_GEOJSON_HINT)
        out.append(pts)
    return out


def load_polygon(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}", hint=_GEOJSON_HINT) from None
    return normalize_geometry(data)


# ---- geometry: one implementation, mirrored in SQL -------------------------------------------

@dataclass(frozen=True)
class _Circle:
    lat0: float
    lon0: float
    cos0: float
    thr: float  # haversine of the angular radius: sin²(r / 2R)
    lat_lo: float
    lat_hi: float
    lon_lo: float | None
    lon_hi: float | None


Edge = tuple[float, float, float, float, float, float]  # xi, yi, xj, yj, dx, dy


@dataclass(frozen=True)
class _Polygons:
    parts: tuple[tuple[tuple[Edge, ...], ...], ...]  # polygon → rings (outer first) → edges
    minx: float
    miny: float
    maxx: float
    maxy: float


@dataclass(frozen=True)
class _Shape:
    geom: _Circle | _Polygons
    bbox_thr: float  # haversine of the largest accepted bbox diagonal


_TINY = 1e-100  # |coordinate| below this is 0: keeps PostgreSQL's float underflow errors away


def _snap(x: float) -> float:
    return 0.0 if -_TINY < x < _TINY else x


def _snap_sql(expr: str) -> str:
    return f"(CASE WHEN abs({expr}) < 1e-100 THEN 0 ELSE {expr} END)"


def _hav(angle: float) -> float:
    s = math.sin(angle / 2.0)
    return s * s


def _shape(site: Site, max_km: float) -> _Shape:
    bbox_thr = _hav(max_km * 1000.0 / EARTH_RADIUS_M)
    if site.polygon is None:
        lat0, lon0 = _snap(float(site.lat)), _snap(float(site.lon))  # type: ignore[arg-type]
        r = float(site.radius_m)  # type: ignore[arg-type]
        ang = r / EARTH_RADIUS_M
        dlat = math.degrees(ang) * (1 + _SLACK) + _SLACK
        lon_lo = lon_hi = None
        if ang + abs(math.radians(lat0)) < math.pi / 2 - 1e-9:
            dlon = math.degrees(math.asin(min(1.0, math.sin(ang) / math.cos(math.radians(lat0)))))
            dlon = dlon * (1 + _SLACK) + _SLACK
            if -180 <= lon0 - dlon and lon0 + dlon <= 180:
                lon_lo, lon_hi = lon0 - dlon, lon0 + dlon
        thr = _hav(ang) if ang < math.pi else 1.0
        return _Shape(_Circle(lat0, lon0, math.cos(lat0 * _K), thr, lat0 - dlat, lat0 + dlat,
                              lon_lo, lon_hi), bbox_thr)
    geo = site.polygon
    polys = geo["coordinates"] if geo["type"] == "MultiPolygon" else [geo["coordinates"]]
    parts = []
    xs, ys = [], []
    for rings in polys:
        prings = []
        for ring in rings:
            edges = []
            snapped = [(_snap(x), _snap(y)) for x, y in ring]
            for (xi, yi), (xj, yj) in zip(snapped, snapped[1:], strict=False):
                edges.append((xi, yi, xj, yj, xj - xi, yj - yi))
                xs.append(xi)
                ys.append(yi)
            prings.append(tuple(edges))
        parts.append(tuple(prings))
    return _Shape(_Polygons(tuple(parts), min(xs), min(ys), max(xs), max(ys)), bbox_thr)


def _cap(c: _Circle, lat: float, lon: float) -> bool:
    s1 = math.sin((lat - c.lat0) * _K2)
    s2 = math.sin((lon - c.lon0) * _K2)
    return s1 * s1 + c.cos0 * math.cos(lat * _K) * s2 * s2 <= c.thr


def _in_circle(c: _Circle, lat: float, lon: float) -> bool:
    if not c.lat_lo <= lat <= c.lat_hi:
        return False
    if c.lon_lo is not None and not c.lon_lo <= lon <= c.lon_hi:  # type: ignore[operator]
        return False
    return _cap(c, lat, lon)


def _ring_crossings(edges: Sequence[Edge], x: float, y: float) -> int:
    n = 0
    for xi, yi, _xj, yj, dx, dy in edges:
        if (yi > y) != (yj > y) and x < dx * (y - yi) / dy + xi:
            n += 1
    return n


def _in_polygons(p: _Polygons, x: float, y: float, prefilter: bool = True) -> bool:
    if prefilter and not (p.minx <= x <= p.maxx and p.miny <= y <= p.maxy):
        return False
    for rings in p.parts:
        if _ring_crossings(rings[0], x, y) % 2 == 1 and all(
                _ring_crossings(hole, x, y) % 2 == 0 for hole in rings[1:]):
            return True
    return False


def _bbox_small(shape: _Shape, w: float, s: float, e: float, n: float) -> bool:
    s1 = math.sin((n - s) * _K2)
    s2 = math.sin((e - w) * _K2)
    return s1 * s1 + math.cos(s * _K) * math.cos(n * _K) * s2 * s2 <= shape.bbox_thr


def _bbox_hits(shape: _Shape, w: float, s: float, e: float, n: float) -> bool:
    if not (w <= e and s <= n and _bbox_small(shape, w, s, e, n)):
        return False
    g = shape.geom
    if isinstance(g, _Circle):
        return _cap(g, max(s, min(n, g.lat0)), max(w, min(e, g.lon0)))
    if not (w <= g.maxx and g.minx <= e and s <= g.maxy and g.miny <= n):
        return False
    for rings in g.parts:
        for ring in rings:
            for xi, yi, xj, yj, dx, dy in ring:
                if w <= xi <= e and s <= yi <= n:  # a vertex in the box
                    return True
                for y0 in (s, n):  # an edge crossing the box's south or north side
                    if (yi > y0) != (yj > y0) and w <= dx * (y0 - yi) / dy + xi <= e:
                        return True
                for x0 in (w, e):  # … or its west or east side
                    if (xi > x0) != (xj > x0) and s <= dy * (x0 - xi) / dx + yi <= n:
                        return True
    return _in_polygons(g, w, s, prefilter=False)  # the box inside the polygon


def geo_of(obj: Any) -> tuple[float | None, float | None, Sequence[float] | None]:
    """``(lat, lon, bbox)`` of a :class:`~perron.models.Post`, of anything with ``lat``/``lon``/
    ``bbox`` attributes (a query ``Doc``), of a mapping with those keys, or of a
    ``(lat, lon)`` pair."""
    if isinstance(obj, tuple) and len(obj) == 2:
        return obj[0], obj[1], None
    if isinstance(obj, dict):
        return obj.get("lat"), obj.get("lon"), obj.get("bbox")
    geo = getattr(obj, "geo", None)
    if geo is not None or hasattr(obj, "text"):
        if geo is None:
            return None, None, None
        return geo.lat, geo.lon, geo.bbox
    return getattr(obj, "lat", None), getattr(obj, "lon", None), getattr(obj, "bbox", None)


def site_contains(site: Site, obj: Any, max_km: float | None = None) -> bool:
    """Whether a post (or a ``Doc``, a dict, a ``(lat, lon)`` pair) is at ``site`` (see the
    module's rule)."""
    return _contains(_cached_shape(site, max_bbox_km(max_km)), *geo_of(obj))


@lru_cache(maxsize=256)
def _cached_shape(site: Site, max_km: float) -> _Shape:
    return _shape(site, max_km)


def _contains(shape: _Shape, lat: Any, lon: Any, bbox: Any) -> bool:
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            return False
        lat, lon = _snap(float(lat)), _snap(float(lon))
        if isinstance(shape.geom, _Circle):
            return _in_circle(shape.geom, lat, lon)
        return _in_polygons(shape.geom, lon, lat)
    if bbox is not None and len(bbox) == 4:
        w, s, e, n = (_snap(float(v)) for v in bbox)
        return _bbox_hits(shape, w, s, e, n)
    return False




# ---- SQL ------------------------------------------------------------------------------------

SQLITE_FUNCTION = "perron_site_contains"


def site_json(site: Site, max_km: float) -> str:
    """What the SQLite function receives: the site's geometry and the bbox setting."""
    return json.dumps({"lat": site.lat, "lon": site.lon, "radius_m": site.radius_m,
                       "polygon": site.polygon, "max_km": max_km}, sort_keys=True)


@lru_cache(maxsize=256)
def _shape_from_json(text: str) -> _Shape:
    d = json.loads(text)
    site = Site(name="-", lat=d["lat"], lon=d["lon"], radius_m=d["radius_m"],
                polygon=d["polygon"])
    return _shape(site, d["max_km"])


def _sqlite_contains(site: str, lat: Any, lon: Any, bbox: Any) -> int:
    box = json.loads(bbox) if isinstance(bbox, str) else None
    return int(_contains(_shape_from_json(site), lat, lon, box))


def register_sqlite(conn: Any) -> None:
    """Register ``perron_site_contains(site_json, lat, lon, bbox_json)`` on a sqlite3 connection
    (idempotent). :func:`site_sql` on SQLite needs it."""
    conn.create_function(SQLITE_FUNCTION, 4, _sqlite_contains, deterministic=True)


def prepare(store: Any) -> None:
    """Make ``store`` ready for :func:`site_sql` (registers the SQLite function)."""
    if store.dialect == "sqlite":
        register_sqlite(store.conn)


class _Sql:
    def __init__(self, dialect: str) -> None:
        self.ph = "?" if dialect == "sqlite" else "%s"
        self.params: list[Any] = []

    def p(self, value: float) -> str:
        self.params.append(float(value))
        return self.ph


def _cap_sql(q: _Sql, c: _Circle, lat: Callable[[], str], lon: Callable[[], str]) -> str:
    """``lat()``/``lon()`` build their SQL afresh at each use (they may hold placeholders)."""
    # built in text order: the placeholders are positional
    s1 = f"sin(({lat()} - {q.p(c.lat0)}) * {q.p(_K2)})"
    s1b = f"sin(({lat()} - {q.p(c.lat0)}) * {q.p(_K2)})"
    c0 = q.p(c.cos0)
    cos = f"cos({lat()} * {q.p(_K)})"
    s2 = f"sin(({lon()} - {q.p(c.lon0)}) * {q.p(_K2)})"
    s2b = f"sin(({lon()} - {q.p(c.lon0)}) * {q.p(_K2)})"
    return f"({s1} * {s1b} + {c0} * {cos} * {s2} * {s2b} <= {q.p(c.thr)})"


def _crossings_sql(q: _Sql, edges: Sequence[Edge], x: str, y: str) -> str:
    terms = [f"CASE WHEN ({q.p(yi)} > {y}) <> ({q.p(yj)} > {y}) AND {x} < {q.p(dx)} * "
             f"({y} - {q.p(yi)}) / {q.p(dy)} + {q.p(xi)} THEN 1 ELSE 0 END"
             for xi, yi, _xj, yj, dx, dy in edges if dy != 0]
    return "(" + " + ".join(terms) + ")" if terms else "0"


def _in_polygons_sql(q: _Sql, g: _Polygons, x: str, y: str) -> str:
    parts = []
    for rings in g.parts:
        cond = [f"mod({_crossings_sql(q, rings[0], x, y)}, 2) = 1"]
        cond += [f"mod({_crossings_sql(q, hole, x, y)}, 2) = 0" for hole in rings[1:]]
        parts.append("(" + " AND ".join(cond) + ")")
    return "(" + " OR ".join(parts) + ")"


def _bbox_sql(q: _Sql, shape: _Shape, alias: str) -> str:
    w, s, e, n = (_snap_sql(f"(({alias}.data #>> '{{geo,bbox,{i}}}')::float8)")
                  for i in range(4))
    # every fragment is built in text order: the placeholders are positional
    s1 = f"sin(({n} - {s}) * {q.p(_K2)})"
    s1b = f"sin(({n} - {s}) * {q.p(_K2)})"
    cos_s = f"cos({s} * {q.p(_K)})"
    cos_n = f"cos({n} * {q.p(_K)})"
    s2 = f"sin(({e} - {w}) * {q.p(_K2)})"
    s2b = f"sin(({e} - {w}) * {q.p(_K2)})"
    small = f"{s1} * {s1b} + {cos_s} * {cos_n} * {s2} * {s2b} <= {q.p(shape.bbox_thr)}"
    g = shape.geom
    if isinstance(g, _Circle):
        circle = g
        hit = _cap_sql(q, g, lambda: f"GREATEST({s}, LEAST({n}, {q.p(circle.lat0)}))",
                       lambda: f"GREATEST({w}, LEAST({e}, {q.p(circle.lon0)}))")
    else:
        overlap = (f"{w} <= {q.p(g.maxx)} AND {q.p(g.minx)} <= {e} AND {s} <= {q.p(g.maxy)} "
                   f"AND {q.p(g.miny)} <= {n}")
        tests = []
        for rings in g.parts:
            for ring in rings:
                for xi, yi, xj, yj, dx, dy in ring:
                    tests.append(f"({w} <= {q.p(xi)} AND {q.p(xi)} <= {e} AND {s} <= {q.p(yi)} "
                                 f"AND {q.p(yi)} <= {n})")
                    if dy != 0:
                        for y0 in (s, n):
                            cross = f"({q.p(yi)} > {y0}) <> ({q.p(yj)} > {y0})"
                            xint = [f"{q.p(dx)} * ({y0} - {q.p(yi)}) / {q.p(dy)} + {q.p(xi)}"
                                    for _ in range(2)]
                            tests.append(f"({cross} AND {w} <= {xint[0]} AND {xint[1]} <= {e})")
                    if dx != 0:
                        for x0 in (w, e):
                            cross = f"({q.p(xi)} > {x0}) <> ({q.p(xj)} > {x0})"
                            yint = [f"{q.p(dy)} * ({x0} - {q.p(xi)}) / {q.p(dx)} + {q.p(yi)}"
                                    for _ in range(2)]
                            tests.append(f"({cross} AND {s} <= {yint[0]} AND {yint[1]} <= {n})")
        tests.append(_in_polygons_sql(q, g, w, s))
        hit = f"({overlap} AND ({' OR '.join(tests)}))"
    return (f"({alias}.lat IS NULL AND {alias}.lon IS NULL AND "
            f"jsonb_array_length({alias}.data #> '{{geo,bbox}}') = 4 AND {w} <= {e} AND "
            f"{s} <= {n} AND {small} AND {hit})")


def site_sql(site: Site, dialect: str, alias: str = "p",
             max_km: float | None = None) -> tuple[str, list[Any]]:
    """``(sql, params)``: a boolean SQL expression over ``posts AS alias`` true exactly when
    :func:`site_contains` is. Placeholders: ``?`` for ``sqlite``, ``%s`` for ``postgresql``
    (like :func:`perron.query.sql.compile_sql`). SQLite needs :func:`register_sqlite` on the
    connection; PostgreSQL needs nothing (place boxes are read from ``data->geo->bbox``)."""
    if not alias.isidentifier():
        raise ValueError(f"bad SQL alias {alias!r}")
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    km = max_bbox_km(max_km)
    shape = _cached_shape(site, km)
    q = _Sql(dialect)
    g = shape.geom
    lat, lon = _snap_sql(f"{alias}.lat"), _snap_sql(f"{alias}.lon")
    if isinstance(g, _Circle):
        pre = f"{lat} BETWEEN {q.p(g.lat_lo)} AND {q.p(g.lat_hi)}"
        if g.lon_lo is not None:
            pre += f" AND {lon} BETWEEN {q.p(g.lon_lo)} AND {q.p(g.lon_hi)}"  # type: ignore[arg-type]
    else:
        pre = (f"{lon} BETWEEN {q.p(g.minx)} AND {q.p(g.maxx)} AND {lat} BETWEEN "
               f"{q.p(g.miny)} AND {q.p(g.maxy)}")
    if dialect == "sqlite":
        prefilter = f"({alias}.lat IS NULL OR ({pre}))"
        q.params.append(site_json(site, km))
        return (f"({alias}.has_geo = 1 AND {prefilter} AND {SQLITE_FUNCTION}(?, {lat}, {lon}, "
                f"json_extract({alias}.data, '$.geo.bbox')) = 1)", q.params)
    if isinstance(g, _Circle):
        point = (f"({alias}.lat IS NOT NULL AND {alias}.lon IS NOT NULL AND {pre} AND "
                 f"{_cap_sql(q, g, lambda: lat, lambda: lon)})")
    else:
        point = (f"({alias}.lat IS NOT NULL AND {alias}.lon IS NOT NULL AND {pre} AND "
                 f"{_in_polygons_sql(q, g, lon, lat)})")
    return f"({alias}.has_geo IS TRUE AND ({point} OR {_bbox_sql(q, shape, alias)}))", q.params


# ---- sites in the store -----------------------------------------------------------------------

def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _site_row(row: tuple) -> Site:
    name, lat, lon, radius, polygon, created = row
    return Site(name=name, lat=lat, lon=lon, radius_m=radius,
                polygon=json.loads(polygon) if polygon else None,
                created_at=_parse_time(created))


def add_site(store: Any, site: Site, *, replace: bool = False) -> None:
    with store.transaction():
        exists = store.scalar("SELECT 1 FROM sites WHERE name = ?", [site.name])
        if exists and not replace:
            raise StoreError(f"a site named {site.name!r} already exists",
                             hint="pick another name, or pass --replace")
        if exists:
            store.execute("DELETE FROM sites WHERE name = ?", [site.name])
        store.execute("INSERT INTO sites (name, lat, lon, radius_m, polygon, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      [site.name, site.lat, site.lon, site.radius_m,
                       json.dumps(site.polygon) if site.polygon else None,
                       store.ts(datetime.now(UTC))])


def list_sites(store: Any) -> list[Site]:
    return [_site_row(r) for r in store.query(
        "SELECT name, lat, lon, radius_m, polygon, created_at FROM sites ORDER BY name")]


def get_site(store: Any, name: str) -> Site:
    rows = store.query("SELECT name, lat, lon, radius_m, polygon, created_at FROM sites "
                       "WHERE name = ?", [name])
    if not rows:
        raise NotFound(f"no site named {name!r}", hint="list them with `perron sites list`")
    return _site_row(rows[0])


def resolve_site(sites: Sequence[Site], name: str) -> Site:
    """The site called ``name``: exact name first, else the one name equal once case and accents
    are folded (``near:usine-saint-jerome`` finds « Usine Saint-Jérôme »: hyphens and spaces
    count the same). For the query language's ``near:NAME``."""
    from .text import fold

    for site in sites:
        if site.name == name:
            return site

    def key(text: str) -> str:
        return " ".join(fold(text).replace("-", " ").replace("_", " ").split())

    found = [s for s in sites if key(s.name) == key(name)]
    if len(found) == 1:
        return found[0]
    if found:
        raise ConfigError(f"several sites match {name!r}: " + ", ".join(s.name for s in found),
                          hint="write the site's exact name in quotes")
    raise NotFound(f"no site named {name!r}", hint="list them with `perron sites list`")


def remove_site(store: Any, name: str) -> None:
    with store.transaction():
        get_site(store, name)
        store.execute("DELETE FROM sites WHERE name = ?", [name])


def site_posts_sql(store: Any, site: Site, alias: str = "p",
                   max_km: float | None = None) -> tuple[str, list[Any]]:
    """:func:`site_sql` with ``?`` placeholders for :meth:`Store.query` (which translates them),
    after :func:`prepare`."""
    prepare(store)
    sql, params = site_sql(site, store.dialect, alias, max_km)
    return (sql.replace("%s", "?") if store.dialect == "postgresql" else sql), params


# ---- pulse ------------------------------------------------------------------------------------

PULSE_INTERVALS = ("hour", "day", "week")
PRIVACY_NOTE = {
    "fr": ("Vue agrégée : les intervalles où moins de {k} auteurs ont publié sont masqués. Les "
           "posts individuels d'un lieu sont des données personnelles : ne les affichez qu'à qui "
           "en a besoin."),
    "en": ("Aggregate view: intervals with fewer than {k} distinct authors are masked. "
           "Individual posts at a place are personal data: show them only to those who need "
           "them."),
}


@dataclass
class PulseRow:
    start: datetime
    posts: int | None
    authors: int | None
    labelled: int | None = None
    negative: int | None = None
    neutral: int | None = None
    positive: int | None = None
    masked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "posts": self.posts,
                "authors": self.authors, "labelled": self.labelled, "negative": self.negative,
                "neutral": self.neutral, "positive": self.positive, "masked": self.masked}


def _floor(dt: datetime, interval: str) -> datetime:
    dt = dt.astimezone(UTC)
    if interval == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    return day - timedelta(days=day.weekday())  # ISO weeks start on Monday


def _site_rows(store: Any, site: Site, since: datetime | None, until: datetime | None,
               columns: str, max_km: float | None, limit: int | None = None) -> list[tuple]:
    where, params = site_posts_sql(store, site, "p", max_km)
    clauses = [where, "p.created_at IS NOT NULL"]
    if since is not None:
        clauses.append("p.created_at >= ?")
        params.append(store.ts(since))
    if until is not None:
        clauses.append("p.created_at < ?")
        params.append(store.ts(until))
    sql = (f"SELECT {columns} FROM posts p LEFT JOIN labels l ON l.post_rowid = p.rowid AND "
           "l.task = 'sentiment' LEFT JOIN corrections c ON c.post_id = p.id AND "
           f"c.task = 'sentiment' WHERE {' AND '.join(clauses)} ORDER BY p.created_at, p.rowid")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return store.query(sql, params)


def pulse(store: Any, site: Site, interval: str = "day", since: datetime | None = None,
          until: datetime | None = None, min_authors: int = 3,
          max_km: float | None = None) -> list[PulseRow]:
    """Posts, distinct authors and sentiment per interval at ``site`` (aggregates only).
    Intervals with fewer than ``min_authors`` distinct authors are masked (figures ``None``):
    a count of one or two people at a place says too much about them."""
    if interval not in PULSE_INTERVALS:
        raise ConfigError(f"unknown interval {interval!r}",
                          hint="use " + ", ".join(PULSE_INTERVALS))
    rows = _site_rows(store, site, since, until,
                      "p.created_at, p.author_id, COALESCE(c.label, l.label)", max_km)
    buckets: dict[datetime, list[tuple[Any, Any]]] = {}
    for created, author, label in rows:
        at = _parse_time(created)
        if at is None:
            continue
        buckets.setdefault(_floor(at.replace(tzinfo=at.tzinfo or UTC), interval), []).append(
            (author, label))
    out = []
    for start in sorted(buckets):
        items = buckets[start]
        authors = len({a for a, _ in items if a is not None})
        if authors < min_authors:
            out.append(PulseRow(start, None, None, masked=True))
            continue
        labels = [lab for _, lab in items if lab is not None]
        out.append(PulseRow(start, len(items), authors, len(labels),
                            labels.count("negative"), labels.count("neutral"),
                            labels.count("positive")))
    return out


def site_posts(store: Any, site: Site, since: datetime | None = None,
               until: datetime | None = None, limit: int = 100,
               max_km: float | None = None) -> list[dict[str, Any]]:
    """Individual posts at ``site`` (personal data: the caller decides who may see them)."""
    rows = _site_rows(store, site, since, until,
                      "p.id, p.created_at, p.author_handle, p.text, p.url, p.lat, p.lon, "
                      "COALESCE(c.label, l.label)", max_km, limit)
    return [{"id": r[0], "created_at": _iso(_parse_time(r[1])), "author_handle": r[2],
             "text": r[3], "url": r[4], "lat": r[5], "lon": r[6],
             "sentiment": r[7]} for r in rows]
