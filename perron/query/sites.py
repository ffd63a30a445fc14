"""``near:SITE``: the named sites a query may test, resolved the same way by both evaluators.

A site name is resolved like :func:`perron.places.resolve_site` (exact name first, else the one
name equal once case, accents, hyphens and spaces are folded). At match time an unknown or
ambiguous name never matches; :func:`validate_sites` turns it into a :class:`QueryError` where
a query is saved (``Store.monitor_add``) or searched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from ..errors import ConfigError, NotFound, QueryError
from ..places import Site, max_bbox_km, resolve_site
from .ast import And, Field, Node, Not, Or

SitesArg = Mapping[str, Site] | Iterable[Site] | None
"""Sites for ``near:``: a mapping name → :class:`Site` (the key is the name) or an iterable of
sites; None means no site (every ``near:`` is unknown)."""


def as_sites(sites: SitesArg) -> tuple[Site, ...]:
    if sites is None:
        return ()
    if isinstance(sites, Mapping):
        return tuple(s if s.name == k else replace(s, name=k) for k, s in sites.items())
    return tuple(sites)


class SiteTable:
    """The sites a compiled query resolves ``near:NAME`` against, and the place-box setting
    (``places.max_bbox_km``, read once)."""

    def __init__(self, sites: SitesArg = None, max_km: float | None = None) -> None:
        self.sites = as_sites(sites)
        self.max_km = max_bbox_km(max_km)

    def find(self, name: str) -> Site | None:
        """The site ``name`` designates; None when unknown or ambiguous."""
        try:
            return resolve_site(self.sites, name)
        except (NotFound, ConfigError):
            return None


def near_names(node: Node) -> Iterator[str]:
    """The site names of every ``near:`` in ``node``, in query order."""
    if isinstance(node, Field):
        if node.name == "near":
            yield node.value
    elif isinstance(node, Not):
        yield from near_names(node.child)
    elif isinstance(node, (And, Or)):
        for child in node.children:
            yield from near_names(child)


@dataclass(frozen=True)
class _Named:
    name: str


def _shell(name: str) -> str:
    return name if re.fullmatch(r"[\w.\-]+", name) else '"' + name.replace('"', '\\"') + '"'


def _column(query: str | None, name: str) -> int | None:
    if not query:
        return None
    pattern = r'near:(?:"\s*' + re.escape(name) + r'\s*"|' + re.escape(name) + r"(?![^\s()]))"
    found = re.search(pattern, query, re.IGNORECASE)
    return found.start() + 1 if found else None


def validate_sites(node: Node, known: Iterable[str] | SitesArg, query: str | None = None) -> None:
    """Raise :class:`QueryError` when a ``near:`` of ``node`` names no known site, or several.

    ``known``: site names, or sites (as for :class:`SiteTable`). ``query`` (the text ``node``
    was parsed from) lets the error point at the column."""
    names = list(near_names(node))
    if not names:
        return
    if isinstance(known, Mapping):
        pool = [_Named(k) for k in known]
    else:
        pool = [_Named(k if isinstance(k, str) else k.name) for k in known or ()]
    for name in names:
        try:
            resolve_site(pool, name)  # type: ignore[arg-type]  # only .name is read
        except NotFound:
            listed = ", ".join(sorted(p.name for p in pool)[:10])
            raise QueryError(
                f"unknown site near:{_shell(name)}",
                hint=f"add it with `perron sites add {_shell(name)} --lat … --lon … "
                     f"--radius 2km`" + (f"; known sites: {listed}" if listed else ""),
                column=_column(query, name), query=query) from None
        except ConfigError as exc:
            raise QueryError(exc.message, hint="write the site's exact name in quotes, e.g. "
                             'near:"Usine Saint-Jérôme"', column=_column(query, name),
                             query=query) from None
