"""Evaluate rules, record what fires, deliver it: the one entry point the CLI, the web and the
workers call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import PerronError
from ..store import Store
from .deliver import DeliveryResult, DeliverySettings, deliver
from .events import (
    evaluate_collector_down,
    evaluate_first_term,
    evaluate_influential_author,
    evaluate_triage_burst,
)
from .records import Alert, StoredAlert, get_rule, list_rules, record, record_test
from .rules import Rule
from .spike import evaluate_spike

EVALUATORS: dict[str, Callable[[Store, Any, datetime], list[Alert]]] = {
    "spike": evaluate_spike,
    "first_term": evaluate_first_term,
    "influential_author": evaluate_influential_author,
    "triage_burst": evaluate_triage_burst,
    "collector_down": evaluate_collector_down,
}


def evaluate(store: Store, rule: Rule, now: datetime | None = None) -> list[Alert]:
    """What ``rule`` finds in the store at ``now`` (pure: reads only). Dedupe and cooldown are
    applied when recording."""
    return EVALUATORS[rule.kind](store, rule, now or datetime.now(UTC))


@dataclass
class RuleRun:
    rule: str
    kind: str
    new: list[StoredAlert] = field(default_factory=list)
    duplicates: int = 0
    cooled: int = 0
    deliveries: list[tuple[int, DeliveryResult]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind, "new": [a.id for a in self.new],
                "titles": [a.title for a in self.new], "duplicates": self.duplicates,
                "cooled": self.cooled, "error": self.error,
                "deliveries": [{"alert": i, **d.to_dict()} for i, d in self.deliveries]}


def run(store: Store, now: datetime | None = None, *, dry_run: bool = False,
        settings: DeliverySettings | None = None, rules: list[Rule] | None = None
        ) -> list[RuleRun]:
    """Evaluate every rule (or ``rules``), record new alerts, deliver them through the rules'
    channels. ``dry_run``: evaluate and report, record and send nothing."""
    now = now or datetime.now(UTC)
    settings = settings or DeliverySettings.resolve()
    out = []
    for rule in rules if rules is not None else list_rules(store):
        rr = RuleRun(rule.name, rule.kind)
        out.append(rr)
        try:
            found = evaluate(store, rule, now)
            rec = record(store, rule, found, now, dry_run=dry_run)
        except PerronError as exc:  # one broken rule (a removed monitor…) never stops the others
            rr.error = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
            continue
        rr.new, rr.duplicates, rr.cooled = rec.new, rec.duplicates, rec.cooled
        if dry_run:
            continue
        for alert in rec.new:
            for channel in rule.channels:
                rr.deliveries.append((alert.id, deliver(store, alert, channel, settings,
                                                        rule.lang)))
    return out


def send_test(store: Store, name: str, now: datetime | None = None,
              settings: DeliverySettings | None = None) -> tuple[StoredAlert, list[DeliveryResult]]:
    """Evaluate one rule and send a *test* delivery through its channels: the newest alert it
    finds now (or a placeholder), stored closed and marked ``test``."""
    now = now or datetime.now(UTC)
    settings = settings or DeliverySettings.resolve()
    rule = get_rule(store, name)
    found = evaluate(store, rule, now)
    latest = max(found, key=lambda a: a.at) if found else None
    with store.transaction():
        stored = record_test(store, rule, latest, now)
    return stored, [deliver(store, stored, c, settings, rule.lang) for c in rule.channels]
