"""Live listening: connectors that follow a network as it happens and feed the store.

sources (live connectors) → normalize (the import formats' ``normalize()``) → store, with the
checkpoint of each source written in the same transaction as its posts (see
:mod:`perron.live.runner`). One module per network: :mod:`~perron.live.jetstream` (Bluesky),
:mod:`~perron.live.mastodon`, :mod:`~perron.live.rss`, :mod:`~perron.live.reddit`.
Configured sources live in the ``source_state`` table (:mod:`perron.live.state`).
"""

from __future__ import annotations

from .base import LIVE_SETTINGS, Item, SourceSpec
from .runner import run_listen
from .state import add_source, list_sources, remove_source, source_status

__all__ = ["LIVE_SETTINGS", "Item", "SourceSpec", "add_source", "list_sources", "remove_source",
           "run_listen", "source_status"]
