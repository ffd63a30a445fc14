"""Alerts (job 6): rules evaluated over the store, explained, deduplicated, delivered.

- :mod:`.rules` — typed rules per kind, stored as JSON in ``alert_rules``;
- :mod:`.spike`, :mod:`.events` — ``evaluate(store, rule, now) -> list[Alert]``, pure reads;
- :mod:`.records` — the ``alerts`` table (dedupe, cooldown, status) and the deliveries log;
- :mod:`.deliver`, :mod:`.render` — e-mail and webhooks, in French or English;
- :mod:`.engine` — :func:`run` (evaluate all, record, deliver) and :func:`test_rule`.
"""

from .deliver import DeliveryResult, DeliverySettings, deliver, redact
from .engine import RuleRun, evaluate, run, send_test
from .records import (
    STATUSES,
    Alert,
    StoredAlert,
    add_rule,
    deliveries,
    get_alert,
    get_rule,
    list_alerts,
    list_rules,
    record,
    remove_rule,
    set_status,
)
from .rules import (
    KINDS,
    Channel,
    CollectorDownRule,
    FirstTermRule,
    InfluentialAuthorRule,
    Rule,
    SpikeRule,
    TriageBurstRule,
    make_rule,
    parse_duration,
)

__all__ = [
    "KINDS", "STATUSES", "Alert", "Channel", "CollectorDownRule", "DeliveryResult",
    "DeliverySettings", "FirstTermRule", "InfluentialAuthorRule", "Rule", "RuleRun", "SpikeRule",
    "StoredAlert", "TriageBurstRule", "add_rule", "deliver", "deliveries", "evaluate", "get_alert",
    "get_rule", "list_alerts", "list_rules", "make_rule", "parse_duration", "record", "redact",
    "remove_rule", "run", "send_test", "set_status",
]
