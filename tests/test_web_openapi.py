"""Property-based run of the OpenAPI document with schemathesis, in process against the ASGI app
(bounded examples, deterministic): no 5xx, and every 4xx is the one error envelope.

Schemathesis' pytest plugin does not run under this pytest, so each operation's strategy is
driven with hypothesis directly; that is the same generation, minus the plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from perron.web import create_app

from .test_web_api import build_world

EXAMPLES = 25


def test_api_has_no_server_errors(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    token = world.tokens["admin"]
    app = create_app(world.control_url, api_rate=(1_000_000, 60))
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    calls = {"n": 0}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            if "slug" in (case.path_parameters or {}):
                case.path_parameters["slug"] = "acme"  # reach the handlers, not only the 404
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls["n"] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} → "
                                f"{response.status_code}: {response.text[:300]}")
            elif response.status_code >= 400:
                body = response.json()
                if set(body) != {"error"} or not {"code", "message", "hint"} <= set(
                        body["error"]):
                    failures.append(f"{case.method} {case.formatted_path}: not the envelope")

        check()
    assert operations >= 30
    assert calls["n"] > operations * 5
    assert failures == []
