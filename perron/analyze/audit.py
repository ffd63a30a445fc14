"""Audience audit: which accounts of a follower list are real, bought, or follow-back inflation.

The classifier follows Cresci et al. 2015 ("Fame for sale"): cheap profile features (counts,
ratios, account age, default profile/avatar) separate bought followers from people very well.
It is a logistic regression shipped as JSON (``models/audit.json``, see ``models/AUDIT_CARD.md``)
and evaluated here with numpy: no pickle, same answer on every version of every library.

Around the model, rules that need no training and say what they saw:

- **follow-back account**: an account that follows back whoever follows it, to inflate both
  counts. Recognised by (a) a follow-back marker in its name or bio (``#TeamFollowBack``,
  ``#F4F``, ``#FollowBack``, ``#TFB``, ``follow back``, ``je follow back``, ``100% follow back``,
  ``follow4follow``, ``#IFollowBack``…), (b) near-total reciprocity in follow edges, when given
  (it follows back ≥ 90 % of at least 20 followers seen in the edges), or (c) near-identical large
  counts (both ≥ 2,000 and within 5 % of each other), the signature of mutual-follow schemes.
- **mass inviter**: an account that follows en masse to be followed back — it follows very many
  accounts (≥ 1,000), at least twice as many as follow it, and either publishes little (fewer
  posts than one per ten accounts it follows) or advertises follow-back. Post content is not in a
  follower list, so "publishes little" is measured by its post count.
- **creation burst**: many accounts of the *same list* created within a short window (default:
  ≥ 5 accounts within 10 minutes, and far more than the local sign-up rate of the list explains:
  Poisson tail probability < 1e-6 against the rate of the surrounding ±1 day). Bought
  followers are made in batches; people are not.

The quality score of an audience is the share (0–100) of its accounts that are labelled real and
are neither follow-back accounts nor mass inviters. Accounts whose followers or following count
is not given are labelled ``unknown`` and left out of the score (counted in the summary).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np
from scipy.stats import poisson

from ..text import fold
from .profiles import AccountProfile

__all__ = ["AuditRow", "AuditSummary", "AuditModel", "audit", "features", "FEATURES",
           "creation_bursts", "follow_back_marker", "load_model"]

# --------------------------------------------------------------------------- markers

_FOLLOW_BACK = re.compile(
    r"#?team ?follow ?back|#?tfb\b|#f4f\b|\bf4f\b|follow ?4 ?follow|follow ?for ?follow"
    r"|#?i ?follow ?back|#?follow ?back|(?:100 ?%|je|i) ?follow ?back|#?autofollow"
    r"|#?siguemeytesigo|#?followtrain|#?teamautofollow|#?instantfollowback",
    re.IGNORECASE)


def follow_back_marker(*texts: str | None) -> str | None:
    """The first follow-back marker found in the texts, as written there (case and accents are
    ignored when matching)."""
    for text in texts:
        if text:
            m = _FOLLOW_BACK.search(text) or _FOLLOW_BACK.search(fold(text))
            if m:
                return m.group(0).strip()
    return None


_TRAILING_DIGITS = re.compile(r"\d{3,}$|\d{2,}[^\d]*\d{2,}")

# --------------------------------------------------------------------------- features

#: model features, in the order of the JSON model; all may be NaN (unknown)
FEATURES = ("log_followers", "log_following", "log_following_per_follower", "log_posts",
            "log_favourites", "log_listed", "log_age_days", "log_posts_per_day",
            "default_profile", "default_avatar", "has_url", "has_bio", "follow_back_marker",
            "handle_digits")


def _log1p(v: int | None) -> float:
    return math.log1p(v) if v is not None else math.nan


def _flag(v: bool | None) -> float:
    return math.nan if v is None else float(v)


def age_days(p: AccountProfile, now: datetime) -> float | None:
    if p.created_at is None:
        return None
    ref = p.observed_at or now
    return max((ref - p.created_at).total_seconds() / 86400.0, 1.0)


def features(p: AccountProfile, now: datetime) -> np.ndarray:
    """One row of :data:`FEATURES` (NaN = unknown) for one profile."""
    age = age_days(p, now)
    ratio = (math.log((p.following + 1) / (p.followers + 1))
             if p.following is not None and p.followers is not None else math.nan)
    ppd = math.log1p(p.posts / age) if p.posts is not None and age is not None else math.nan
    handle = p.screen_name.split("@")[0].split(".")[0] if p.screen_name else None
    return np.array([
        _log1p(p.followers), _log1p(p.following), ratio, _log1p(p.posts),
        _log1p(p.favourites), _log1p(p.listed),
        math.log1p(age) if age is not None else math.nan, ppd,
        _flag(p.default_profile), _flag(p.default_avatar),
        math.nan if p.url is None and p.source != "twitter" else float(p.url is not None),
        float(p.bio is not None),
        float(follow_back_marker(p.name, p.bio) is not None),
        math.nan if handle is None else float(bool(_TRAILING_DIGITS.search(handle))),
    ])


# --------------------------------------------------------------------------- model

@dataclass(frozen=True)
class AuditModel:
    """Logistic regression on standardized features. Unknown features are imputed with the
    training mean, i.e. they add nothing to the score (z = 0). Standardized values are clipped
    to ±``clip`` so that an account far outside the training data (a 2-day-old Bluesky account
    when training saw 2007–2013 accounts) cannot get a confident verdict from one feature."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    clip: float = 3.0
    meta: dict[str, Any] = field(default_factory=dict)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contribution to the log-odds of *suspicious* (rows × features)."""
        z = (np.atleast_2d(x) - self.mean) / self.scale
        z = np.clip(np.where(np.isnan(z), 0.0, z), -self.clip, self.clip)
        return z * self.coef

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        logit = self.contributions(x).sum(axis=1) + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def to_json(self) -> dict[str, Any]:
        return {"kind": "logistic_regression", "version": 1, "threshold": self.threshold,
                "clip": self.clip, "intercept": self.intercept,
                "features": [{"name": n, "mean": float(m), "scale": float(s), "coef": float(c)}
                             for n, m, s, c in zip(self.features, self.mean, self.scale,
                                                   self.coef, strict=True)],
                **self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditModel:
        feats = data["features"]
        names = tuple(f["name"] for f in feats)
        if names != FEATURES:
            raise ValueError(f"model features {names} do not match this code's {FEATURES}")
        meta = {k: v for k, v in data.items()
                if k not in ("kind", "version", "threshold", "clip", "intercept", "features")}
        return cls(names, np.array([f["mean"] for f in feats]),
                   np.array([f["scale"] for f in feats]), np.array([f["coef"] for f in feats]),
                   float(data["intercept"]), float(data["threshold"]),
                   float(data.get("clip", 3.0)), meta)


_MODEL: AuditModel | None = None


def load_model() -> AuditModel:
    """The shipped model (``perron/analyze/models/audit.json``), loaded once."""
    global _MODEL
    if _MODEL is None:
        text = resources.files("perron.analyze").joinpath("models/audit.json").read_text("utf-8")
        _MODEL = AuditModel.from_json(json.loads(text))
    return _MODEL


# --------------------------------------------------------------------------- bursts

def creation_bursts(created: Sequence[datetime | None], window: timedelta = timedelta(minutes=10),
                    min_size: int = 5, max_p: float = 1e-6,
                    context: timedelta = timedelta(days=1)) -> list[int]:
    """For each account, the size of the creation burst it belongs to (0 when none).

    A burst is a run of ≥ ``min_size`` accounts of the list created within ``window`` whose count
    is implausible under the list's local sign-up rate: Poisson tail probability < ``max_p``, the
    rate being measured over the ±``context`` around the window (the window itself excluded,
    clipped to the span of the list) and never taken below the list-wide rate. So a surge of
    ordinary sign-ups (a list of *recent* followers) is not a burst; a batch made by a script is.
    """
    n = len(created)
    out = np.zeros(n, dtype=np.int64)
    known = [i for i, c in enumerate(created) if c is not None]
    if len(known) < min_size:
        return out.tolist()
    t = np.array([created[i].timestamp() for i in known])  # type: ignore[union-attr]
    order = np.argsort(t, kind="stable")
    ts = t[order]
    w, c = window.total_seconds(), context.total_seconds()
    idx = np.arange(len(ts))
    count = np.searchsorted(ts, ts + w, side="left") - idx  # window [t_i, t_i + w)
    span = max(ts[-1] - ts[0], w)
    global_rate = len(ts) * w / span
    lo, hi = np.maximum(ts - c, ts[0]), np.minimum(ts + w + c, ts[-1] + 1e-9)
    around = (np.searchsorted(ts, hi, side="left") - np.searchsorted(ts, lo, side="left")
              - count)
    local_rate = around * w / np.maximum(hi - lo - w, w)
    lam = np.maximum(local_rate, global_rate)
    candidates = np.nonzero(count >= min_size)[0]
    if len(candidates):
        p = poisson.sf(count[candidates] - 1, lam[candidates])
        burst = np.zeros(len(ts), dtype=np.int64)
        for i in candidates[p < max_p]:
            seg = slice(i, i + count[i])
            burst[seg] = np.maximum(burst[seg], count[i])
        out[np.array(known)[order]] = burst
    return out.tolist()


# --------------------------------------------------------------------------- reciprocity

def reciprocity(follows: Iterable[tuple[str, str]], min_followers: int = 20,
                ) -> dict[str, tuple[float, int]]:
    """From follow edges (follower id, followed id): for each account with ≥ ``min_followers``
    followers in the edges, (share of those followers it follows back, followers)."""
    followers: dict[str, set[str]] = defaultdict(set)
    following: dict[str, set[str]] = defaultdict(set)
    for a, b in follows:
        if a != b:
            followers[b].add(a)
            following[a].add(b)
    return {acc: (len(fs & following.get(acc, set())) / len(fs), len(fs))
            for acc, fs in followers.items() if len(fs) >= min_followers}


# --------------------------------------------------------------------------- output

@dataclass
class AuditRow:
    id: str
    screen_name: str | None
    label: str  # "real" | "suspicious" | "unknown" (followers or following count not given)
    score: float | None  # probability of "suspicious" (0–1); None when the label is "unknown"
    follow_back: bool
    mass_inviter: bool
    reasons: list[str]


_TEXT = {
    "en": {
        "title": "Audience audit: {n} accounts",
        "real": "real", "suspicious": "suspicious (bought/fake profile)",
        "fb": "follow-back accounts", "mi": "mass inviters", "q": "quarantined (unreadable)",
        "score": "Audience quality score: {q}/100 (share of real accounts that are neither "
                 "follow-back accounts nor mass inviters)",
        "none": "No account to audit.",
        "unknown": "not judged (followers/following counts missing)",
        "noscore": "No audience quality score: no account could be judged.",
    },
    "fr": {
        "title": "Audit d'audience : {n} comptes",
        "real": "réels", "suspicious": "suspects (profils achetés/faux)",
        "fb": "comptes « follow back »", "mi": "inviteurs de masse",
        "q": "mis en quarantaine (illisibles)",
        "score": "Score de qualité de l'audience : {q}/100 (part des comptes réels qui ne sont ni "
                 "des comptes « follow back » ni des inviteurs de masse)",
        "none": "Aucun compte à auditer.",
        "unknown": "non évalués (nombres d'abonnés/abonnements absents)",
        "noscore": "Pas de score de qualité : aucun compte n'a pu être évalué.",
    },
}


def _num(v: float, lang: str) -> str:
    text = f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 10 else f"{v:,.1f}"
    return text.replace(",", "\u202f").replace(".", ",") if lang == "fr" else text


def _pct(v: float, lang: str) -> str:
    text = f"{100 * v:.1f}"
    return f"{text.replace('.', ',')}\u00a0%" if lang == "fr" else f"{text}%"


@dataclass
class AuditSummary:
    accounts: int
    real_share: float
    suspicious_share: float
    follow_back_share: float
    mass_inviters: int
    quality_score: float  # 0–100, over the accounts that could be judged
    quarantined: int = 0
    unknown: int = 0  # accounts without followers/following counts: not judged

    def text(self, lang: str = "fr") -> str:
        t = _TEXT["fr" if lang == "fr" else "en"]
        lang = "fr" if lang == "fr" else "en"
        if not self.accounts:
            out = t["none"]
            return out + (f"\n{self.quarantined} {t['q']}." if self.quarantined else "")
        lines = [t["title"].format(n=_num(self.accounts, lang)),
                 f"- {_pct(self.real_share, lang)} {t['real']}",
                 f"- {_pct(self.suspicious_share, lang)} {t['suspicious']}",
                 f"- {_pct(self.follow_back_share, lang)} {t['fb']}",
                 f"- {_num(self.mass_inviters, lang)} {t['mi']}"]
        if self.unknown:
            lines.append(f"- {_num(self.unknown, lang)} {t['unknown']}")
        if self.quarantined:
            lines.append(f"- {_num(self.quarantined, lang)} {t['q']}")
        if self.unknown == self.accounts:
            lines.append(t["noscore"])
        else:
            lines.append(t["score"].format(q=f"{self.quality_score:.0f}"))
        return "\n".join(lines)


# --------------------------------------------------------------------------- reasons

def _reason(name: str, p: AccountProfile, age: float | None, lang: str) -> str | None:
    fr = lang == "fr"

    def n(v: float) -> str:
        return _num(v, lang)

    if name in ("log_following_per_follower", "log_following") and p.following is not None:
        if p.followers is None:
            return f"suit {n(p.following)} comptes" if fr else f"follows {n(p.following)}"
        return (f"suit {n(p.following)} comptes, suivi par {n(p.followers)}" if fr
                else f"follows {n(p.following)}, followed by {n(p.followers)}")
    if name == "log_followers" and p.followers is not None:
        if p.followers == 0:
            return "aucun abonné" if fr else "no followers"
        return f"{n(p.followers)} abonnés seulement" if fr else f"only {n(p.followers)} followers"
    if name == "log_posts" and p.posts is not None:
        if p.posts == 0:
            return "aucune publication" if fr else "no posts"
        return f"{n(p.posts)} publications seulement" if fr else f"only {n(p.posts)} posts"
    if name == "log_favourites" and p.favourites is not None:
        return (f"{n(p.favourites)} « j'aime » donnés" if fr else f"{n(p.favourites)} likes given")
    if name == "log_listed" and p.listed is not None:
        return (f"présent dans {n(p.listed)} listes" if fr else f"on {n(p.listed)} lists")
    if name == "log_age_days" and age is not None:
        return (f"compte créé il y a {n(round(age))} jours" if fr
                else f"account {n(round(age))} days old")
    if name == "log_posts_per_day" and p.posts is not None and age is not None:
        return (f"{_num(p.posts / age, lang)} publications par jour" if fr
                else f"{_num(p.posts / age, lang)} posts per day")
    if name == "default_profile" and p.default_profile:
        return ("profil par défaut (jamais personnalisé)" if fr
                else "default profile (never customised)")
    if name == "default_avatar" and p.default_avatar:
        return "avatar par défaut" if fr else "default avatar"
    if name == "has_url" and p.url is None:
        return "aucun lien dans le profil" if fr else "no link in profile"
    if name == "has_bio" and p.bio is None:
        return "pas de bio" if fr else "no bio"
    if name == "handle_digits" and p.screen_name:
        return (f"identifiant à chiffres ({p.screen_name})" if fr
                else f"handle with digit runs ({p.screen_name})")
    return None  # follow_back_marker is reported by the rules


def _round_window(window: timedelta, lang: str) -> str:
    minutes = window.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.0f} h"


# --------------------------------------------------------------------------- audit

def audit(profiles: Iterable[AccountProfile], *, follows: Iterable[tuple[str, str]] | None = None,
          now: datetime | None = None, model: AuditModel | None = None, lang: str = "en",
          quarantined: int = 0, burst_window: timedelta = timedelta(minutes=10),
          burst_min_size: int = 5, min_reason_logit: float = 0.5,
          ) -> tuple[list[AuditRow], AuditSummary]:
    """Audit a follower (or following) list.

    ``follows``: optional follow edges (follower id, followed id) using the profiles' ids, for
    reciprocity. ``now``: the reference time for account ages of profiles that do not say when
    they were collected (default: the time of the call; pass it for reproducible output).
    ``lang``: language of the reasons ("en" or "fr"). ``quarantined``: how many input items could
    not be read (reported in the summary). Rows come back in input order.
    """
    model = model or load_model()
    lang = "fr" if lang == "fr" else "en"
    plist = list(profiles)
    now = now or datetime.now(UTC)
    n = len(plist)
    X = np.array([features(p, now) for p in plist]) if n else np.zeros((0, len(FEATURES)))
    proba = model.predict_proba(X) if n else np.zeros(0)
    contrib = model.contributions(X) if n else np.zeros((0, len(FEATURES)))
    bursts = creation_bursts([p.created_at for p in plist], burst_window, burst_min_size)
    recip = reciprocity(follows) if follows is not None else {}
    fr = lang == "fr"

    rows: list[AuditRow] = []
    for i, p in enumerate(plist):
        score: float | None = round(float(proba[i]), 6)
        if p.followers is None or p.following is None:
            label, score = "unknown", None
        else:
            label = "suspicious" if float(proba[i]) >= model.threshold else "real"
        age = age_days(p, now)
        reasons: list[str] = []
        if label == "suspicious":
            seen: set[str] = set()
            for j in np.argsort(-contrib[i], kind="stable"):
                if contrib[i, j] < min_reason_logit:
                    break
                text = _reason(FEATURES[j], p, age, lang)
                if text and text not in seen:
                    seen.add(text)
                    reasons.append(text)
        in_bio = follow_back_marker(p.bio)
        marker = in_bio or follow_back_marker(p.name)
        follow_back = False
        if marker:
            follow_back = True
            where = ("la bio" if in_bio else "le nom") if fr else ("bio" if in_bio else "name")
            reasons.append(f"{marker} dans {where}" if fr else f"{marker} in {where}")
        r = recip.get(p.id)
        if r and r[0] >= 0.9:
            follow_back = True
            reasons.append(
                f"suit en retour {_pct(r[0], lang)} de ses {_num(r[1], lang)} abonnés (arêtes "
                "fournies)" if fr else
                f"follows back {_pct(r[0], lang)} of its {_num(r[1], lang)} followers "
                "(given edges)")
        fo, fe = p.following, p.followers
        if (fo is not None and fe is not None and min(fo, fe) >= 2000
                and abs(fo - fe) <= 0.05 * max(fo, fe)):
            follow_back = True
            reasons.append(
                f"suit {_num(fo, lang)} comptes, suivi par {_num(fe, lang)} (réciprocité "
                "quasi totale)" if fr else
                f"follows {_num(fo, lang)}, followed by {_num(fe, lang)} (near-total "
                "reciprocity)")
        mass_inviter = bool(
            fo is not None and fo >= 1000 and (fe is None or fo >= 2 * fe)
            and ((p.posts is not None and p.posts * 10 < fo) or marker))
        if mass_inviter:
            reasons.append(
                f"inviteur de masse : suit {_num(fo, lang)} comptes, "
                f"{_num(p.posts, lang) if p.posts is not None else '?'} publications" if fr else
                f"mass inviter: follows {_num(fo, lang)}, "
                f"{_num(p.posts, lang) if p.posts is not None else '?'} posts")
        if bursts[i]:
            win = _round_window(burst_window, lang)
            reasons.append(
                f"compte créé en rafale ({bursts[i]} comptes en {win})" if fr else
                f"account created in a burst ({bursts[i]} accounts within {win})")
        rows.append(AuditRow(p.id, p.screen_name, label, score, follow_back,
                             mass_inviter, reasons))

    real = sum(r.label == "real" for r in rows)
    suspicious = sum(r.label == "suspicious" for r in rows)
    good = sum(r.label == "real" and not r.follow_back and not r.mass_inviter for r in rows)
    judged = real + suspicious
    summary = AuditSummary(
        n, real / n if n else 0.0, suspicious / n if n else 0.0,
        sum(r.follow_back for r in rows) / n if n else 0.0, sum(r.mass_inviter for r in rows),
        round(100 * good / judged, 1) if judged else 0.0, quarantined, n - judged)
    return rows, summary
