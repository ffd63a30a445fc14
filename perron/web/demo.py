"""Demo workspace and users for `make demo`. The passwords are public: demo only, never in
production."""

from __future__ import annotations

from .control import ROLES, Control

DEMO_PASSWORDS = {role: f"demo-{role}-perron" for role in ROLES}


def seed_demo(control_url: str, workspace_store_url: str) -> list[tuple[str, str, str]]:
    """Create workspace ``demo`` over ``workspace_store_url`` and one user per role
    (``<role>@demo.perron``). Idempotent. Returns ``[(email, password, role)]``."""
    control = Control.open(control_url)
    try:
        if control.workspace("demo", missing_ok=True) is None:
            control.workspace_add("Démo", workspace_store_url, slug="demo")
        out = []
        for role in ROLES:
            email = f"{role}@demo.perron"
            control.user_add(email, DEMO_PASSWORDS[role], lang="fr")
            control.grant(email, "demo", role)
            out.append((email, DEMO_PASSWORDS[role], role))
        return out
    finally:
        control.close()
