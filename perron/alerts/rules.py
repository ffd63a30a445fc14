"""Alert rules: typed settings per kind, stored as JSON in ``alert_rules``.

A rule has a ``name`` (primary key), a ``kind`` and a config. Recipients are part of the config:
``channels = [{"type": "email", "to": "a@b"}, {"type": "webhook", "url": "https://…"}]``.
Every alert is also kept in the store (the dashboard), whatever the channels.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from typing import Any, ClassVar, Literal

from ..errors import ConfigError

Kind = Literal["spike", "first_term", "influential_author", "triage_burst", "collector_down"]
KINDS: tuple[str, ...] = ("spike", "first_term", "influential_author", "triage_burst",
                          "collector_down")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|j|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "j": 86400, "w": 604800}
INTERVALS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """``"90s"``, ``"15m"``, ``"6h"``, ``"2d"`` (``"2j"`` in French), ``"1w"``; a bare number is
    seconds; also ``minute``/``hour``/``day``/``week``."""
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    if text.strip().lower() in INTERVALS:
        return timedelta(seconds=INTERVALS[text.strip().lower()])
    m = _DURATION.match(text)
    if not m:
        raise ConfigError(f"bad duration {text!r}",
                          hint="write a number and a unit: 90s, 15m, 6h, 2d (or 2j), 1w")
    return timedelta(seconds=float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()])


def format_duration(td: timedelta) -> str:
    s = int(td.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


@dataclass
class Channel:
    """Where an alert goes besides the store: ``email`` (``to``) or ``webhook`` (``url``)."""

    type: Literal["email", "webhook"]
    to: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.type == "email":
            if not self.to or "@" not in self.to:
                raise ConfigError(f"bad e-mail recipient {self.to!r}",
                                  hint="write --email name@example.org")
        elif self.type == "webhook":
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ConfigError(f"bad webhook URL {self.url!r}",
                                  hint="write --webhook https://hooks.example.org/…")
        else:
            raise ConfigError(f"unknown channel type {self.type!r}",
                              hint="channels are 'email' or 'webhook'")

    @property
    def recipient(self) -> str:
        return (self.to if self.type == "email" else self.url) or ""

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, **({"to": self.to} if self.to else {}),
                **({"url": self.url} if self.url else {})}


@dataclass
class Rule:
    """Fields shared by every kind. ``cooldown``: no second alert for the same subject (monitor,
    author, source…) whose event lies within this time of an earlier one. ``lang``: language of
    e-mails and webhook texts (``fr`` or ``en``)."""

    name: str
    channels: list[Channel] = field(default_factory=list)
    cooldown: str = "6h"
    lang: str = "fr"
    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ConfigError("a rule needs a name", hint="perron alerts rules add NAME …")
        parse_duration(self.cooldown)
        if self.lang not in ("fr", "en"):
            raise ConfigError(f"unknown language {self.lang!r}", hint="use --lang fr or --lang en")
        self.channels = [c if isinstance(c, Channel) else Channel(**c) for c in self.channels]

    @property
    def cooldown_td(self) -> timedelta:
        return parse_duration(self.cooldown)

    def config(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("name")
        out["channels"] = [c.to_dict() for c in self.channels]
        return out


@dataclass
class SpikeRule(Rule):
    """Volume (``on="volume"``) or share of negative posts (``on="negative"``) of a monitor,
    bucketed by ``interval``; spikes found by :mod:`perron.analyze.spikes`. ``sensitivity`` and
    ``min_volume`` default to the detector's (12 and 5 for volume, 4 and 10 for the share).
    Spikes older than ``recent`` are not reported; ``lookback`` is the history the detector sees;
    the explanation compares the spike window with the ``baseline`` period before it."""

    monitor: str = ""
    on: Literal["volume", "negative"] = "volume"
    interval: str = "1h"
    sensitivity: float | None = None
    min_volume: float | None = None
    recent: str = "1d"
    lookback: str = "28d"
    baseline: str = "7d"
    kind: ClassVar[str] = "spike"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.monitor:
            raise ConfigError("a spike rule needs a monitor", hint="add --monitor NAME")
        if self.on not in ("volume", "negative"):
            raise ConfigError(f"--on must be volume or negative, not {self.on!r}",
                              hint="--on volume (all posts) or --on negative (share of negative)")
        for d in (self.interval, self.recent, self.lookback, self.baseline):
            parse_duration(d)


@dataclass
class FirstTermRule(Rule):
    """First appearance of a term or hashtag in a monitor. With ``terms``, each listed term;
    without, any hashtag seen in at least ``min_posts`` posts of the last ``window`` and never in
    the monitor before."""

    monitor: str = ""
    terms: list[str] = field(default_factory=list)
    window: str = "1d"
    min_posts: int = 3
    cooldown: str = "0s"
    kind: ClassVar[str] = "first_term"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.monitor:
            raise ConfigError("a first_term rule needs a monitor", hint="add --monitor NAME")
        parse_duration(self.window)
        from ..query import parse

        for term in self.terms:
            if not term.strip():
                raise ConfigError("empty --term", hint="write a word, a phrase or a #hashtag")
            parse(term_query(term))  # a QueryError points at the problem


@dataclass
class InfluentialAuthorRule(Rule):
    """A post in the last ``window`` (of ``monitor``, or of the whole store) by an author with at
    least ``min_followers`` followers. The cooldown is per author."""

    monitor: str | None = None
    min_followers: int = 10_000
    window: str = "1d"
    kind: ClassVar[str] = "influential_author"

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_duration(self.window)


@dataclass
class TriageBurstRule(Rule):
    """A burst of triage outcomes (default ``monitor_only`` and ``restoration``): an ``interval``
    bucket holding at least ``min_count`` such posts and ``ratio`` times the average bucket of the
    ``baseline`` period before it."""

    monitor: str | None = None
    outcomes: list[str] = field(default_factory=lambda: ["monitor_only", "restoration"])
    interval: str = "1h"
    min_count: int = 5
    ratio: float = 3.0
    recent: str = "1d"
    baseline: str = "7d"
    kind: ClassVar[str] = "triage_burst"

    def __post_init__(self) -> None:
        super().__post_init__()
        for d in (self.interval, self.recent, self.baseline):
            parse_duration(d)


@dataclass
class CollectorDownRule(Rule):
    """A live collector (``source_state`` row) whose status is not in ``ok_statuses``, or that has
    received nothing for ``silent`` (since ``last_event_at``). ``sources``: names to watch
    (default: all)."""

    sources: list[str] = field(default_factory=list)
    ok_statuses: list[str] = field(default_factory=lambda: ["connected"])
    silent: str = "30m"
    cooldown: str = "1h"
    kind: ClassVar[str] = "collector_down"

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_duration(self.silent)


def term_query(term: str) -> str:
    """The monitor query matching ``term``: a phrase when it has several words."""
    from ..text import tokens

    term = term.strip()
    if len(tokens(term)) > 1:
        return '"' + term.replace('"', " ") + '"'
    return term


RULE_TYPES: dict[str, type[Rule]] = {
    "spike": SpikeRule, "first_term": FirstTermRule, "influential_author": InfluentialAuthorRule,
    "triage_burst": TriageBurstRule, "collector_down": CollectorDownRule,
}


def make_rule(kind: str, name: str, config: dict[str, Any]) -> Rule:
    """Build a typed rule; unknown kinds and unknown options are errors with a hint."""
    cls = RULE_TYPES.get(kind)
    if cls is None:
        raise ConfigError(f"unknown rule kind {kind!r}", hint="kinds: " + ", ".join(KINDS))
    known = {f.name for f in fields(cls)} - {"name"}
    extra = sorted(set(config) - known)
    if extra:
        raise ConfigError(f"unknown option(s) for a {kind} rule: {', '.join(extra)}",
                          hint="known options: " + ", ".join(sorted(known)))
    return cls(name=name, **config)


def rule_from_row(name: str, kind: str, config: str | dict[str, Any]) -> Rule:
    data = json.loads(config) if isinstance(config, str) else dict(config)
    return make_rule(kind, name, data)


def rule_to_json(rule: Rule) -> str:
    return json.dumps(rule.config(), ensure_ascii=False, sort_keys=True)
