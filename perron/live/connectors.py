"""The built-in live connectors by kind (imported on use, never at import time)."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigError
from .base import KINDS, Connector, SourceSpec

_MODULES = {kind: f"perron.live.{kind}" for kind in KINDS}


def make_connector(spec: SourceSpec, token: str | None = None, *, check_only: bool = False,
                   **kw: Any) -> Connector:
    """A connector for ``spec``. ``check_only`` validates the configuration without asking for
    credentials (used by ``perron sources add``)."""
    if spec.kind not in _MODULES:
        raise ConfigError(f"unknown source kind {spec.kind!r}",
                          hint="use one of: " + ", ".join(KINDS))
    module = importlib.import_module(_MODULES[spec.kind])
    return module.connector(spec, token, check_only=check_only, **kw)
