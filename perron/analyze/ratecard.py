"""The rate card: what one sponsored post costs, as a price range per follower tier.

Tiers are by followers, for cost only (see :func:`perron.analyze.graph.tier`): nano < 10k ≤
micro < 100k ≤ mid < 500k ≤ macro < 1M ≤ mega. The card shipped with perron
(``perron/analyze/ratecard.json``) holds **placeholder** prices: every agency has its own market,
so users replace it with ``perron ratecard set FILE`` (JSON or TOML). The card in use lives in
the store's ``settings`` table under the key ``rate_card``, as JSON.

A card file looks like this (TOML)::

    currency = "EUR"
    note = "our 2025 prices for Québec lifestyle creators"
    [tiers]
    nano = [50, 250]      # low and high price of one post
    micro = [250, 1500]
    mid = [1500, 6000]
    macro = [6000, 15000]
    mega = [15000, 60000]
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store.base import Store

TIERS = ("nano", "micro", "mid", "macro", "mega")
SETTING_KEY = "rate_card"


@dataclass(frozen=True)
class Cost:
    """Estimated price of one post: a range in ``currency``."""

    low: float
    high: float
    currency: str

    def text(self) -> str:
        return f"{_money(self.low)}–{_money(self.high)} {self.currency}"

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "currency": self.currency}


def _money(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


@dataclass(frozen=True)
class RateCard:
    currency: str
    tiers: dict[str, tuple[float, float]]
    note: str | None = None
    unit: str = "post"
    extra: dict[str, Any] = field(default_factory=dict)

    def cost(self, tier: str | None) -> Cost | None:
        """The price range for a tier; None when the tier is unknown or not priced."""
        if tier is None or tier not in self.tiers:
            return None
        low, high = self.tiers[tier]
        return Cost(low, high, self.currency)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.note:
            out["note"] = self.note
        out.update({"currency": self.currency, "unit": self.unit,
                    "tiers": {t: list(self.tiers[t]) for t in TIERS if t in self.tiers}})
        return out

    def to_markdown(self) -> str:
        lines = [f"Rate card ({self.currency} per {self.unit})"]
        if self.note:
            lines.append(f"note: {self.note}")
        lines += ["", "| tier | followers | low | high |", "|---|---|---:|---:|"]
        ranges = {"nano": "< 10k", "micro": "10k–100k", "mid": "100k–500k",
                  "macro": "500k–1M", "mega": "≥ 1M"}
        for t in TIERS:
            if t in self.tiers:
                low, high = self.tiers[t]
                lines.append(f"| {t} | {ranges[t]} | {_money(low)} | {_money(high)} |")
        return "\n".join(lines) + "\n"


def from_dict(data: object, where: str = "rate card") -> RateCard:
    """Validate a rate card read from JSON/TOML; errors name the faulty field."""
    hint = ("a rate card has `currency` (e.g. \"EUR\") and `tiers` with [low, high] prices for "
            "nano, micro, mid, macro, mega; see `perron ratecard show --json`")
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table/object at the top level", hint=hint)
    currency = data.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise ConfigError(f"{where}: `currency` is missing or empty", hint=hint)
    tiers_in = data.get("tiers")
    if not isinstance(tiers_in, dict) or not tiers_in:
        raise ConfigError(f"{where}: `tiers` is missing or empty", hint=hint)
    tiers: dict[str, tuple[float, float]] = {}
    for name, value in tiers_in.items():
        if name not in TIERS:
            raise ConfigError(f"{where}: unknown tier {name!r}",
                              hint=f"tiers are {', '.join(TIERS)}")
        if isinstance(value, dict):
            value = [value.get("low"), value.get("high")]
        if (not isinstance(value, list | tuple) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise ConfigError(f"{where}: tier {name!r} must be [low, high] numbers, got {value!r}",
                              hint=hint)
        low, high = float(value[0]), float(value[1])
        if low < 0 or high < low:
            raise ConfigError(f"{where}: tier {name!r} needs 0 ≤ low ≤ high, got {low}, {high}",
                              hint=hint)
        tiers[name] = (low, high)
    note = data.get("note")
    unit = data.get("unit", "post")
    extra = {k: v for k, v in data.items() if k not in ("currency", "tiers", "note", "unit")}
    return RateCard(currency.strip(), tiers, str(note) if note else None, str(unit), extra)


def default_card() -> RateCard:
    """The card shipped with perron (placeholder prices)."""
    text = resources.files("perron.analyze").joinpath("ratecard.json").read_text("utf-8")
    return from_dict(json.loads(text), "default rate card")


def read_card_file(path: str | Path) -> RateCard:
    """A rate card from a ``.toml`` or ``.json`` file (decided by the content, not the name)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read rate card {path}: {exc.strerror}",
                          hint="check the path") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as json_exc:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as toml_exc:
            why = json_exc if text.lstrip().startswith("{") else toml_exc
            raise ConfigError(f"{path} is neither valid JSON nor valid TOML: {why}",
                              hint="fix the file") from None
    return from_dict(data, str(path))


def load_card(store: Store) -> tuple[RateCard, bool]:
    """The card in use: (card, is_default). The store's ``rate_card`` setting, else the default."""
    raw = store.scalar("SELECT value FROM settings WHERE key = ?", [SETTING_KEY])
    if raw is None:
        return default_card(), True
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the stored rate card is not valid JSON: {exc}",
                          hint="replace it with `perron ratecard set FILE`") from None
    return from_dict(data, "stored rate card"), False


def save_card(store: Store, card: RateCard) -> None:
    """Store ``card`` as the one in use (replaces the previous one)."""
    value = json.dumps(card.to_dict(), ensure_ascii=False)
    with store.transaction():
        store.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                      "DO UPDATE SET value = excluded.value", [SETTING_KEY, value])
