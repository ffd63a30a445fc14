"""Alerts and rules in the store: the dashboard's source of truth.

Deduplication: ``UNIQUE (rule, dedupe_key)`` — a re-run never records the same alert twice.
Cooldown: a candidate is dropped when the same rule already alerted on the same *scope*
(monitor, author, source…) for an event less than ``cooldown`` away in time. Both checks use the
event time kept in the explanation (``at``), so running the rules twice, or late, gives the same
alerts as running them once on time.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, NotFound, StoreError
from ..store import Store
from .rules import Rule, rule_from_row, rule_to_json

STATUSES = ("open", "acknowledged", "closed")


@dataclass
class Alert:
    """What a rule's evaluation returns, before it is recorded.

    ``at`` is the event time (a spike window's start, a post's time…); ``scope`` is what the
    cooldown is counted per; ``explanation`` is JSON a person can check."""

    rule: str
    kind: str
    dedupe_key: str
    at: datetime
    title: str
    explanation: dict[str, Any]
    scope: str | None = None
    monitor: str | None = None


@dataclass
class StoredAlert:
    id: int
    rule: str
    dedupe_key: str
    monitor: str | None
    fired_at: datetime
    title: str
    explanation: dict[str, Any]
    status: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.explanation.get("kind", ""))

    @property
    def is_test(self) -> bool:
        return bool(self.explanation.get("test"))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "kind": self.kind,
                "dedupe_key": self.dedupe_key, "monitor": self.monitor,
                "fired_at": iso(self.fired_at), "title": self.title, "status": self.status,
                "explanation": self.explanation,
                **({"deliveries": self.deliveries} if self.deliveries else {})}


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A timestamp as either store returns it (SQLite text, PostgreSQL datetime)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = str(value).strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# ---- rules ------------------------------------------------------------------------------------

def add_rule(store: Store, rule: Rule, *, replace: bool = False) -> None:
    with store.transaction():
        exists = store.scalar("SELECT 1 FROM alert_rules WHERE name = ?", [rule.name])
        if exists and not replace:
            raise StoreError(f"an alert rule named {rule.name!r} already exists",
                             hint="pick another name, or pass --replace")
        if exists:
            store.execute("UPDATE alert_rules SET kind = ?, config = ? WHERE name = ?",
                          [rule.kind, rule_to_json(rule), rule.name])
        else:
            store.execute("INSERT INTO alert_rules (name, kind, config, created_at) "
                          "VALUES (?, ?, ?, ?)",
                          [rule.name, rule.kind, rule_to_json(rule), store.ts(datetime.now(UTC))])


def list_rules(store: Store) -> list[Rule]:
    return [rule_from_row(n, k, c) for n, k, c in
            store.query("SELECT name, kind, config FROM alert_rules ORDER BY name")]


def get_rule(store: Store, name: str) -> Rule:
    rows = store.query("SELECT name, kind, config FROM alert_rules WHERE name = ?", [name])
    if not rows:
        raise NotFound(f"no alert rule named {name!r}",
                       hint="list them with `perron alerts rules list`")
    return rule_from_row(*rows[0])


def remove_rule(store: Store, name: str) -> None:
    """Remove a rule; the alerts it fired stay (history)."""
    with store.transaction():
        get_rule(store, name)
        store.execute("DELETE FROM alert_rules WHERE name = ?", [name])


# ---- alerts -----------------------------------------------------------------------------------

@dataclass
class Recorded:
    new: list[StoredAlert] = field(default_factory=list)
    duplicates: int = 0  # already in the store (same rule and dedupe key)
    cooled: int = 0  # dropped by the cooldown


def _earlier_events(store: Store, rule: str) -> list[tuple[str | None, datetime]]:
    out = []
    for (expl,) in store.query("SELECT explanation FROM alerts WHERE rule = ? ORDER BY id DESC "
                               "LIMIT 1000", [rule]):
        data = json.loads(expl)
        if data.get("test"):
            continue
        at = parse_time(data.get("at"))
        if at is not None:
            out.append((data.get("scope"), at))
    return out


def record(store: Store, rule: Rule, candidates: list[Alert], now: datetime,
           dry_run: bool = False) -> Recorded:
    """Record new alerts (oldest event first), applying dedupe and cooldown."""
    result = Recorded()
    cooldown = rule.cooldown_td
    with store.transaction():
        events = _earlier_events(store, rule.name)
        for cand in sorted(candidates, key=lambda a: (a.at, a.dedupe_key)):
            if store.scalar("SELECT 1 FROM alerts WHERE rule = ? AND dedupe_key = ?",
                            [cand.rule, cand.dedupe_key]):
                result.duplicates += 1
                continue
            if cooldown.total_seconds() > 0 and any(
                    scope == cand.scope and abs(cand.at - at) < cooldown for scope, at in events):
                result.cooled += 1
                continue
            expl = {**cand.explanation, "kind": cand.kind, "at": iso(cand.at),
                    "scope": cand.scope}
            events.append((cand.scope, cand.at))
            if dry_run:
                result.new.append(StoredAlert(0, cand.rule, cand.dedupe_key, cand.monitor, now,
                                              cand.title, expl, "open"))
                continue
            row = store.execute(
                "INSERT INTO alerts (rule, dedupe_key, monitor, fired_at, title, explanation, "
                "status) VALUES (?, ?, ?, ?, ?, ?, 'open') ON CONFLICT (rule, dedupe_key) "
                "DO NOTHING RETURNING id",
                [cand.rule, cand.dedupe_key, cand.monitor, store.ts(now), cand.title,
                 json.dumps(expl, ensure_ascii=False, default=str)]).fetchone()
            if row is None:
                result.duplicates += 1
                continue
            result.new.append(StoredAlert(int(row[0]), cand.rule, cand.dedupe_key, cand.monitor,
                                          now, cand.title, expl, "open"))
    return result


def record_test(store: Store, rule: Rule, alert: Alert | None, now: datetime) -> StoredAlert:
    """A closed alert marked ``test``, so that test deliveries have something to point at."""
    if alert is None:
        alert = Alert(rule=rule.name, kind=rule.kind, dedupe_key="", at=now,
                      title=f"Test of rule {rule.name}", explanation={"note": "no alert right now; "
                                                                      "this is a test delivery"})
    key = f"test:{iso(now)}:{uuid.uuid4().hex[:12]}"
    expl = {**alert.explanation, "kind": alert.kind, "at": iso(alert.at), "scope": alert.scope,
            "test": True}
    title = "[TEST] " + alert.title
    row = store.execute(
        "INSERT INTO alerts (rule, dedupe_key, monitor, fired_at, title, explanation, status) "
        "VALUES (?, ?, ?, ?, ?, ?, 'closed') RETURNING id",
        [rule.name, key, alert.monitor, store.ts(now), title,
         json.dumps(expl, ensure_ascii=False, default=str)]).fetchone()
    return StoredAlert(int(row[0]), rule.name, key, alert.monitor, now, title, expl, "closed")


_COLS = "id, rule, dedupe_key, monitor, fired_at, title, explanation, status"


def _stored(row: tuple) -> StoredAlert:
    return StoredAlert(int(row[0]), row[1], row[2], row[3], parse_time(row[4]),  # type: ignore[arg-type]
                       row[5], json.loads(row[6]), row[7])


def list_alerts(store: Store, status: str | None = None, rule: str | None = None,
                limit: int | None = None) -> list[StoredAlert]:
    """Newest first."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"unknown status {status!r}", hint="use " + ", ".join(STATUSES))
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if rule:
        clauses.append("rule = ?")
        params.append(rule)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = f"SELECT {_COLS} FROM alerts{where} ORDER BY fired_at DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_stored(r) for r in store.query(sql, params)]


def get_alert(store: Store, alert_id: int) -> StoredAlert:
    rows = store.query(f"SELECT {_COLS} FROM alerts WHERE id = ?", [alert_id])
    if not rows:
        raise NotFound(f"no alert {alert_id}", hint="list them with `perron alerts list`")
    alert = _stored(rows[0])
    alert.deliveries = deliveries(store, alert_id)
    return alert


def set_status(store: Store, alert_id: int, status: str) -> None:
    if status not in STATUSES:
        raise ConfigError(f"unknown status {status!r}", hint="use " + ", ".join(STATUSES))
    get_alert(store, alert_id)
    store.execute("UPDATE alerts SET status = ? WHERE id = ?", [status, alert_id])


# ---- deliveries log ---------------------------------------------------------------------------

def log_delivery(store: Store, alert_id: int, channel: str, recipient: str, status: str,
                 attempts: int, last_error: str | None, sent_at: datetime | None) -> int:
    row = store.execute(
        "INSERT INTO deliveries (alert_id, channel, recipient, status, attempts, last_error, "
        "sent_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [alert_id, channel, recipient, status, attempts, last_error, store.ts(sent_at)]).fetchone()
    return int(row[0])


def deliveries(store: Store, alert_id: int | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE alert_id = ?", [alert_id]) if alert_id is not None else ("", [])
    rows = store.query("SELECT id, alert_id, channel, recipient, status, attempts, last_error, "
                       f"sent_at FROM deliveries {where} ORDER BY id", params)
    return [{"id": int(r[0]), "alert_id": int(r[1]), "channel": r[2], "recipient": r[3],
             "status": r[4], "attempts": int(r[5]), "last_error": r[6],
             "sent_at": iso(parse_time(r[7]))} for r in rows]
