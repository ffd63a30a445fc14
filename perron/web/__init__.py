"""The web layer: dashboard pages, responder inbox and HTTP API over the store.

Thin like the CLI: it opens stores, reads tables with parameterised SQL, checks who may do what
(``permissions.py``, the one matrix) and renders. ``create_app(control_url)`` builds the ASGI app.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
