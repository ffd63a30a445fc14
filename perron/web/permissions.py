"""Who may do what: the one permission matrix. Every route names one action (``RULES`` in
``routes.py`` via ``rule()``); a route without an action is refused, and a test walks them all.

- admin: everything in the workspace, users and settings included;
- analyst: reads everything; edits monitors, alert rules, the fact sheet and the rate card;
- responder: the inbox (assign, drafts, responded / resolved, label overrides, notes);
- viewer: read-only dashboards; never individual geotagged posts (aggregates only).
"""

from __future__ import annotations

ALL = frozenset({"admin", "analyst", "responder", "viewer"})
STAFF = frozenset({"admin", "analyst", "responder"})
EDITORS = frozenset({"admin", "analyst"})
INBOX = frozenset({"admin", "responder"})
ADMIN = frozenset({"admin"})

MATRIX: dict[str, frozenset[str]] = {
    "dashboard.read": ALL,  # overview, alerts, influencers, audience, site pulses (aggregates)
    "posts.read": ALL,  # archive search and exports; viewers never see geotagged posts
    "posts.geo": STAFF,  # individual posts around a site
    "monitors.read": ALL,
    "monitors.write": EDITORS,
    "alerts.write": EDITORS,  # acknowledge / close alerts, edit alert rules
    "inbox.read": STAFF,
    "inbox.write": INBOX,
    "settings.read": EDITORS,  # sources health, fact sheet, rate card, alert rules
    "settings.write": EDITORS,  # fact sheet and rate card
    "users.read": ADMIN,
    "users.write": ADMIN,
    "audit.read": ADMIN,
}


def allowed(role: str | None, action: str) -> bool:
    return role is not None and role in MATRIX.get(action, frozenset())


def can_see_geotagged(role: str | None) -> bool:
    return allowed(role, "posts.geo")
