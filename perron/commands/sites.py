"""``perron sites …``: named places (a radius or a polygon) and their pulse. Thin: open the
store, call :mod:`perron.places`, print. Aggregates by default; posts only with ``--posts``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..store import open_store
from .common import db_option as _db_option
from .common import handle_errors as _handle_errors


def _when(value: str | None) -> datetime | None:
    from ..alerts.records import parse_time
    from ..errors import ConfigError

    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise ConfigError(f"bad date {value!r}", hint="write 2024-05-01 or 2024-05-01T08:00Z") \
            from None


@click.group("sites")
def sites_group() -> None:
    """Named places (a factory, a store, a campus) and the pulse of posts there."""


@sites_group.command("add")
@click.argument("name")
@click.option("--lat", type=float, help="Centre latitude (decimal degrees).")
@click.option("--lon", type=float, help="Centre longitude (decimal degrees).")
@click.option("--radius", help="Radius: 800m, 2km.")
@click.option("--polygon", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="GeoJSON file: Polygon or MultiPolygon (or a Feature / FeatureCollection).")
@click.option("--replace", is_flag=True, help="Replace an existing site of that name.")
@_db_option
@_handle_errors
def sites_add(name: str, lat: float | None, lon: float | None, radius: str | None,
              polygon: Path | None, replace: bool, db: str | None) -> None:
    """Add a site: `--lat 45.5 --lon -73.6 --radius 2km`, or `--polygon site.geojson`."""
    from ..places import Site, add_site, load_polygon, parse_distance

    if polygon is not None:
        site = Site(name=name, polygon=load_polygon(polygon))
        if lat is not None or lon is not None or radius is not None:
            raise click.UsageError("give --polygon, or --lat/--lon/--radius, not both")
    else:
        site = Site(name=name, lat=lat, lon=lon,
                    radius_m=parse_distance(radius) if radius else None)
    with open_store(db) as store:
        add_site(store, site, replace=replace)
    click.echo(f"site {name!r} saved ({_describe(site)})")


def _describe(site: Any) -> str:
    if site.polygon is not None:
        parts = site.polygon["coordinates"]
        n = len(parts) if site.polygon["type"] == "MultiPolygon" else 1
        return f"polygon, {n} part(s)"
    r = site.radius_m
    size = f"{r / 1000:g} km" if r >= 1000 else f"{r:g} m"
    return f"{site.lat:.5f}, {site.lon:.5f}, radius {size}"


@sites_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_db_option
@_handle_errors
def sites_list(as_json: bool, db: str | None) -> None:
    from ..places import list_sites

    with open_store(db, create=False) as store:
        sites = list_sites(store)
    for s in sites:
        if as_json:
            click.echo(json.dumps(s.to_dict(), ensure_ascii=False))
        else:
            click.echo(f"{s.name:24} {_describe(s)}")
    if not sites and not as_json:
        click.echo("no sites yet: `perron sites add NAME --lat … --lon … --radius 2km`", err=True)


@sites_group.command("remove")
@click.argument("name")
@_db_option
@_handle_errors
def sites_remove(name: str, db: str | None) -> None:
    from ..places import remove_site

    with open_store(db, create=False) as store:
        remove_site(store, name)
    click.echo(f"site {name!r} removed")


@sites_group.command("pulse")
@click.argument("name")
@click.option("--interval", type=click.Choice(["hour", "day", "week"]), default="day",
              show_default=True)
@click.option("--since", default=None, help="From this date (UTC).")
@click.option("--until", default=None, help="Up to this date (UTC, excluded).")
@click.option("--min-authors", type=int, default=3, show_default=True,
              help="Mask intervals with fewer distinct authors (privacy).")
@click.option("--posts", "show_posts", is_flag=True,
              help="Also list the individual posts (personal data: restricted in the web UI).")
@click.option("--limit", type=int, default=100, show_default=True, help="With --posts: at most N.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_db_option
@_handle_errors
def sites_pulse(name: str, interval: str, since: str | None, until: str | None,
                min_authors: int, show_posts: bool, limit: int, lang: str, as_json: bool,
                db: str | None) -> None:
    """Volume and sentiment of the posts at a site, per interval (aggregates)."""
    from ..places import PRIVACY_NOTE, get_site, pulse, site_posts

    with open_store(db, create=False) as store:
        site = get_site(store, name)
        rows = pulse(store, site, interval, _when(since), _when(until), min_authors)
        posts = site_posts(store, site, _when(since), _when(until), limit) if show_posts else []
    click.echo(PRIVACY_NOTE[lang].format(k=min_authors), err=True)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r.to_dict()))
        elif r.masked:
            click.echo(f"{r.to_dict()['start'][:16]}  " + ("(masqué)" if lang == "fr"
                                                            else "(masked)"))
        else:
            neg = f"{r.negative}/{r.labelled} negative" if r.labelled else "no sentiment labels"
            click.echo(f"{r.to_dict()['start'][:16]}  {r.posts:6} posts  {r.authors:5} authors"
                       f"  {neg}")
    if not rows and not as_json:
        click.echo("no geotagged post at this site", err=True)
    for p in posts:
        if as_json:
            click.echo(json.dumps({"post": p}, ensure_ascii=False))
        else:
            text = " ".join((p["text"] or "").split())
            click.echo(f"  {p['created_at'][:16]}  @{p['author_handle'] or '?'}: {text[:100]}")
