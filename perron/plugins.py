"""Plugin registry. Built-ins register through the same door as third parties.

Built-in modules are listed here and imported explicitly (no discovery by importing files on
disk, no import-time side effects). Third-party packages add formats through the
``perron.sources`` entry-point group: each entry point names a module or object exposing
``FORMATS`` (a list of :class:`perron.sources.base.Format` instances).
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from .errors import ConfigError
from .sources.base import Format

DEFAULT_SOURCES = (
    "perron.sources.twitter_v2",
    "perron.sources.twitter_v1",
    "perron.sources.twitter_archive",
    "perron.sources.mastodon",
    "perron.sources.bluesky",
    "perron.sources.reddit",
    "perron.sources.feeds",
    "perron.sources.tables",
)


def _formats_of(obj: object) -> list[Format]:
    fmts = getattr(obj, "FORMATS", None)
    if fmts is None:
        raise ConfigError(f"plugin {obj!r} has no FORMATS list")
    return list(fmts)


@cache
def formats() -> dict[str, Format]:
    """Every known import format by name, built-ins first."""
    out: dict[str, Format] = {}
    for modname in DEFAULT_SOURCES:
        for fmt in _formats_of(importlib.import_module(modname)):
            out[fmt.name] = fmt
    for ep in entry_points(group="perron.sources"):
        for fmt in _formats_of(ep.load()):
            out.setdefault(fmt.name, fmt)
    return out
