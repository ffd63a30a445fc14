"""Spike detection on a time series of counts: volume, or the share of negative posts.

The model is online (an alert at time ``t`` uses only points at or before ``t``), so the same code
runs on history and live (:class:`SpikeDetector` takes one point at a time; :func:`detect` is a loop
over it).

How a point is scored (all on the variance-stabilised scale ``y = 2·sqrt(x + 3/8)``, the Anscombe
transform, where Poisson noise has unit variance and a multiplicative weekly pattern becomes nearly
additive):

1. **seasonal part** — median of ``y`` in the same *hour-of-week* slot over the trailing
   ``season_length`` (default 4 weeks); a slot is trusted once it holds a value from the previous
   week (and ``min_slot_points`` values); until then the *hour-of-day* slot is used (trusted once it
   holds yesterday's values), then the plain trailing median;
2. **short-term level** — median of the recent residuals ``y - seasonal`` over ``level_window``
   (absorbs slow drifts: a product launch that doubles the baseline for a week);
3. **scale** — 1.4826 × MAD of the recent one-step-ahead errors over ``scale_window``, floored by
   ``min_scale`` (a robust standard deviation);
4. **score** — the robust z ``(y - seasonal - level) / scale``, averaged over the last ``smooth``
   points (a short sustained burst beats one noisy point).

Values entering the histories are winsorised at ``± clip`` robust units, so a spike does not raise
the baseline that judges the next points. An alert needs ``score >= sensitivity``, a value of at
least ``min_volume``, at least ``min_history`` of data before it, and ``cooldown`` since the last
alert.

**Sustained rises.** Talk can grow for hours without any single point standing out. On series
finer than ``sustained`` (default six hours, aligned on the UTC clock: 00–06, 06–12, 12–18,
18–24), the totals of each ``sustained`` window are scored the same way by a second detector, as a
series of their own, and a window whose score reaches ``sustained_sensitivity`` is an alert too
(same minimum volume, on the window's total, and the same cooldown). It is scored when its last
point arrives, so it is known online; the alert's ``span`` says how long a time its figures
cover.

The share of negative posts (:func:`detect_ratio`) uses a pooled rate over a trailing window and a
binomial z with a robust over-dispersion factor, so a 2-of-3 hour never looks like a crisis.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from statistics import NormalDist, median
from typing import IO

from perron.errors import SourceError

_MAD_TO_SD = 1.4826
_HOUR = 3600.0
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY


@dataclass
class SpikeSettings:
    """Settings of the spike detector (defaults tuned on NAB Twitter dev series: eval/SPIKES.md).

    - ``sensitivity``: alert threshold in robust z units (lower = more alerts).
    - ``min_volume``: points whose value (or, for a share, whose denominator) is below it never
      alert.
    - ``cooldown``: no new alert within this time after an alert.
    - ``min_history``: no alert before this much data has been seen (warm-up).
    - ``season``: ``"week"`` (hour-of-week slots), ``"day"`` (hour-of-day) or ``"none"``.
    - ``season_length``: how far back the seasonal slots look.
    - ``min_slot_points``: values a slot needs before it is trusted (it also needs a value from
      one period back: last week for hour-of-week, yesterday for hour-of-day).
    - ``level_window``: trailing window of the short-term level.
    - ``scale_window``: trailing window of the robust scale.
    - ``min_scale``: floor of the robust scale (Anscombe units; Poisson noise is 1).
    - ``smooth``: number of points whose scores are averaged.
    - ``clip``: winsorisation of what enters the histories, in robust units.
    - ``sustained``: the window whose totals are also scored (``None``: off); only on series whose
      points are closer together than it.
    - ``sustained_sensitivity``: alert threshold of those totals, in robust z units.
    """

    sensitivity: float = 12.0
    min_volume: float = 5.0
    cooldown: timedelta = timedelta(hours=24)
    min_history: timedelta = timedelta(days=2)
    season: str = "week"
    season_length: timedelta = timedelta(days=28)
    min_slot_points: int = 1
    level_window: timedelta = timedelta(hours=6)
    scale_window: timedelta = timedelta(days=7)
    min_scale: float = 1.0
    smooth: int = 1
    clip: float = 3.0
    transform: str = "sqrt"
    tail_quantile: float | None = 0.99
    sustained: timedelta | None = timedelta(hours=6)
    sustained_sensitivity: float = 5.0

    def __post_init__(self) -> None:
        if self.season not in ("week", "day", "none"):
            raise ValueError(f"season must be 'week', 'day' or 'none', not {self.season!r}")
        if self.transform not in ("sqrt", "log"):
            raise ValueError(f"transform must be 'sqrt' or 'log', not {self.transform!r}")
        if self.smooth < 1:
            raise ValueError("smooth must be at least 1")
        if self.min_scale <= 0:
            raise ValueError("min_scale must be positive")
        if self.sustained is not None and self.sustained.total_seconds() <= 0:
            raise ValueError("sustained must be a positive duration (or None)")


@dataclass
class SpikePoint:
    """One detected spike point. ``score`` is the robust z; ``expected`` is on the value's scale.
    ``span`` (seconds) is set for a sustained rise: ``value`` and ``expected`` are then the totals
    of the window of that length that ends with the point at ``at``."""

    at: datetime
    value: float
    expected: float
    score: float
    numerator: float | None = None
    denominator: float | None = None
    span: float | None = None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return {k: v for k, v in out.items() if v is not None}


def _anscombe(x: float) -> float:
    return 2.0 * math.sqrt(max(x, 0.0) + 0.375)


def _inverse_anscombe(y: float) -> float:
    return max((y / 2.0) ** 2 - 0.375, 0.0)


def _forward(transform: str, x: float) -> float:
    return _anscombe(x) if transform == "sqrt" else math.log1p(max(x, 0.0))


def _backward(transform: str, y: float) -> float:
    return _inverse_anscombe(y) if transform == "sqrt" else max(math.expm1(y), 0.0)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class _Trailing:
    """Values with their times, dropping those older than ``span`` seconds."""

    def __init__(self, span: float) -> None:
        self.span = span
        self.items: deque[tuple[float, float]] = deque()

    def add(self, t: float, v: float) -> None:
        self.items.append((t, v))

    def trim(self, now: float) -> None:
        while self.items and self.items[0][0] <= now - self.span:
            self.items.popleft()

    def values(self) -> list[float]:
        return [v for _, v in self.items]

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class _Score:
    expected: float
    score: float
    warm: bool
    # the sustained window that ended with this point: its score and total
    window: tuple[_Score, float] | None = None


@dataclass
class SpikeDetector:
    """Online detector: feed points in time order with :meth:`update`."""

    settings: SpikeSettings = field(default_factory=SpikeSettings)

    def __post_init__(self) -> None:
        s = self.settings
        season = s.season_length.total_seconds()
        self._week: dict[int, _Trailing] = {}
        self._day: dict[int, _Trailing] = {}
        self._all = _Trailing(min(season, 3 * _DAY))
        self._season_span = season
        self._level = _Trailing(s.level_window.total_seconds())
        self._errors = _Trailing(s.scale_window.total_seconds())
        self._recent: deque[float] = deque(maxlen=s.smooth)
        self._first: float | None = None
        self._last: float | None = None
        self._last_alert: float | None = None
        # sustained rises: a second detector over the totals of aligned windows
        self._windows = (SpikeDetector(replace(s, sustained=None))
                         if s.sustained is not None else None)
        self._window_start: float | None = None
        self._window_total = 0.0
        self._window_open = False  # the current window is being summed (not yet scored)

    def _seasonal(self, t: float, week_slot: int, day_slot: int) -> tuple[float | None, bool]:
        """The seasonal part, and whether it comes from the configured slot (else a fallback)."""
        s = self.settings
        candidates: list[tuple[_Trailing, float]] = []
        if s.season == "week":
            candidates.append((self._week.setdefault(week_slot, _Trailing(self._season_span)),
                               _WEEK - _HOUR))
        if s.season in ("week", "day"):
            candidates.append((self._day.setdefault(day_slot, _Trailing(self._season_span)),
                               _DAY - _HOUR))
        candidates.append((self._all, 0.0))
        for rank, (hist, reach) in enumerate(candidates):
            hist.trim(t)
            if len(hist) >= s.min_slot_points and t - hist.items[0][0] >= reach:
                return median(hist.values()), rank == 0
        return None, False

    def score(self, at: datetime, value: float) -> _Score:
        """Score one point and learn from it (no alert logic)."""
        s = self.settings
        at = _utc(at)
        t = at.timestamp()
        if self._last is not None and t <= self._last:
            raise ValueError(f"points must be in increasing time order ({at.isoformat()})")
        if self._first is None:
            self._first = t
        step = None if self._last is None else t - self._last
        self._last = t
        y = _forward(s.transform, value)
        week_slot = at.weekday() * 24 + at.hour
        day_slot = at.hour
        seasonal, trusted = self._seasonal(t, week_slot, day_slot)
        self._level.trim(t)
        self._errors.trim(t)
        level = median(self._level.values()) if len(self._level) else 0.0
        if len(self._errors) >= 3:
            errs = self._errors.values()
            centre = median(errs)
            dev = sorted(abs(e - centre) for e in errs)
            scale = _MAD_TO_SD * dev[len(dev) // 2]
            if s.tail_quantile is not None:
                q = dev[min(int(s.tail_quantile * len(dev)), len(dev) - 1)]
                scale = max(scale, q / NormalDist().inv_cdf((1 + s.tail_quantile) / 2))
        else:
            scale = 0.0
        scale = max(scale, s.min_scale)
        warm = seasonal is not None and len(self._errors) >= 3
        if seasonal is None:
            seasonal = y
        predicted = seasonal + level
        z = (y - predicted) / scale
        self._recent.append(z)
        smooth_z = sum(self._recent) / len(self._recent)
        # learn, winsorised so that a spike does not lift the baseline that judges what follows;
        # while the seasonal slot is a fallback, the raw value is kept so the slots learn the
        # true pattern (a first Monday-noon peak must not be remembered clipped)
        err = max(-s.clip * scale, min(s.clip * scale, y - predicted))
        y_clean = predicted + err if trusted else y
        self._errors.add(t, err)
        self._level.add(t, y_clean - seasonal)
        self._week.setdefault(week_slot, _Trailing(self._season_span)).add(t, y_clean)
        self._day.setdefault(day_slot, _Trailing(self._season_span)).add(t, y_clean)
        self._all.add(t, y_clean)
        warm = warm and (t - self._first) >= s.min_history.total_seconds()
        return _Score(expected=_backward(s.transform, predicted), score=smooth_z, warm=warm,
                      window=self._window(t, step, value))

    def _window(self, t: float, step: float | None, value: float) -> tuple[_Score, float] | None:
        """Add the point to its sustained window; the window's score when this point ends it."""
        if self._windows is None or self.settings.sustained is None:
            return None
        span = self.settings.sustained.total_seconds()
        if step is not None and step >= span:  # points as coarse as the window: nothing to add
            self._window_open = False
            return None
        start = t - t % span
        out = None
        if start != self._window_start:
            if self._window_open:  # the last point of the previous window was missing
                out = self._score_window()
            self._window_start, self._window_total = start, 0.0
            # a series that starts inside a window would give it a partial total: skipped
            self._window_open = step is not None or t == start
        if not self._window_open:
            return out
        self._window_total += value
        if step is not None and t + step >= start + span:  # the next point is in the next window
            out = self._score_window()
        return out

    def _score_window(self) -> tuple[_Score, float]:
        assert self._windows is not None and self._window_start is not None
        self._window_open = False
        at = datetime.fromtimestamp(self._window_start, UTC)
        return self._windows.score(at, self._window_total), self._window_total

    def update(self, at: datetime, value: float) -> SpikePoint | None:
        """Score one point; return it as a :class:`SpikePoint` when it is an alert."""
        result = self.score(at, value)
        t = _utc(at).timestamp()
        if self._alert(t, result, value, value):
            return SpikePoint(at=_utc(at), value=float(value), expected=result.expected,
                              score=result.score)
        if result.window is not None:
            window, total = result.window
            if self._alert(t, window, total, total, self.settings.sustained_sensitivity):
                assert self.settings.sustained is not None
                return SpikePoint(at=_utc(at), value=float(total), expected=window.expected,
                                  score=window.score,
                                  span=self.settings.sustained.total_seconds())
        return None

    def _alert(self, t: float, result: _Score, value: float, volume: float,
               sensitivity: float | None = None) -> bool:
        s = self.settings
        threshold = s.sensitivity if sensitivity is None else sensitivity
        if not result.warm or volume < s.min_volume or result.score < threshold:
            return False
        if self._last_alert is not None and t - self._last_alert < s.cooldown.total_seconds():
            return False
        self._last_alert = t
        return True


def _check_lengths(name: str, a: Sequence[object], b: Sequence[object]) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name}: {len(a)} timestamps but {len(b)} values")


def detect(timestamps: Sequence[datetime], values: Sequence[float],
           settings: SpikeSettings | None = None) -> list[SpikePoint]:
    """Spike points of a series of counts, oldest first. Timestamps must increase."""
    _check_lengths("detect", timestamps, values)
    detector = SpikeDetector(settings or SpikeSettings())
    out: list[SpikePoint] = []
    for at, value in zip(timestamps, values, strict=True):
        point = detector.update(at, float(value))
        if point is not None:
            out.append(point)
    return out


def scores(timestamps: Sequence[datetime], values: Sequence[float],
           settings: SpikeSettings | None = None
           ) -> list[tuple[float, float, bool, tuple[float, bool, float] | None]]:
    """``(expected, score, warm, window)`` for every point (for charts and for the evaluation);
    ``window`` is ``(score, warm, total)`` of the sustained window that ends with the point, or
    ``None``."""
    _check_lengths("scores", timestamps, values)
    detector = SpikeDetector(settings or SpikeSettings())
    out = []
    for at, value in zip(timestamps, values, strict=True):
        r = detector.score(at, float(value))
        window = None if r.window is None else (r.window[0].score, r.window[0].warm,
                                                r.window[1])
        out.append((r.expected, r.score, r.warm, window))
    return out


# --- share of negative posts -----------------------------------------------------------------


@dataclass
class RatioDetector:
    """Online detector for a share ``numerator / denominator`` (e.g. negative posts / posts).

    The expected share is the pooled rate ``Σn / Σd`` over ``settings.season_length`` capped to
    ``settings.scale_window`` (robust to tiny denominators: an hour with 2 posts weighs 2 posts).
    The observed share is first shrunk towards ``p`` by ``prior_posts`` pseudo-posts (empirical
    Bayes: 2 negative posts out of 2 read as ``(2 + 10·p) / 12``), then scored as a binomial z,
    ``(shrunk - p) / sqrt(φ·p·(1-p)/d)``, where ``φ ≥ 1`` is a robust over-dispersion factor
    (median squared Pearson residual / 0.455, the χ²₁ median). ``p`` is kept away from 0 and 1
    by a half-count, so a first negative post after a quiet week is not infinite. Alerts need
    ``denominator >= min_volume``.
    """

    settings: SpikeSettings = field(default_factory=SpikeSettings)
    prior_posts: float = 10.0

    def __post_init__(self) -> None:
        span = self.settings.scale_window.total_seconds()
        self._hist = _Trailing(span)  # (t, n) and denominators kept in parallel
        self._den = _Trailing(span)
        self._pearson = _Trailing(span)
        self._first: float | None = None
        self._last: float | None = None
        self._last_alert: float | None = None
        self._recent: deque[float] = deque(maxlen=self.settings.smooth)

    def update(self, at: datetime, numerator: float, denominator: float) -> SpikePoint | None:
        s = self.settings
        at = _utc(at)
        t = at.timestamp()
        if self._last is not None and t <= self._last:
            raise ValueError(f"points must be in increasing time order ({at.isoformat()})")
        if numerator < 0 or denominator < 0 or numerator > denominator:
            raise ValueError(f"bad share {numerator}/{denominator} at {at.isoformat()}")
        if self._first is None:
            self._first = t
        self._last = t
        for h in (self._hist, self._den, self._pearson):
            h.trim(t)
        total_n = sum(self._hist.values())
        total_d = sum(self._den.values())
        p = (total_n + 0.5) / (total_d + 1.0)
        phi = 1.0
        if len(self._pearson) >= 10:
            phi = max(1.0, median(self._pearson.values()) / 0.455)
        n, d = float(numerator), float(denominator)
        if d > 0:
            # the observed share shrunk towards the expected one by `prior_posts` posts
            shrunk = (n + self.prior_posts * p) / (d + self.prior_posts)
            z = (shrunk - p) / math.sqrt(phi * p * (1 - p) / d)
        else:
            z = 0.0
        self._recent.append(z)
        smooth_z = sum(self._recent) / len(self._recent)
        if d > 0:
            # learn, winsorised like the volume detector
            raw = (n - d * p) / math.sqrt(d * p * (1 - p))
            self._pearson.add(t, raw * raw)
            limit = s.clip * math.sqrt(phi * d * p * (1 - p))
            n_clean = min(max(n, d * p - limit), d * p + limit)
            self._hist.add(t, n_clean)
            self._den.add(t, d)
        warm = total_d > 0 and (t - self._first) >= s.min_history.total_seconds()
        if not warm or d < s.min_volume or smooth_z < s.sensitivity:
            return None
        if self._last_alert is not None and t - self._last_alert < s.cooldown.total_seconds():
            return None
        self._last_alert = t
        return SpikePoint(at=at, value=n / d, expected=p, score=smooth_z, numerator=n,
                          denominator=d)


def detect_ratio(timestamps: Sequence[datetime], numerators: Sequence[float],
                 denominators: Sequence[float],
                 settings: SpikeSettings | None = None,
                 prior_posts: float = 10.0) -> list[SpikePoint]:
    """Spike points of a share (e.g. negative posts / all posts), oldest first.

    Without settings: ``SpikeSettings(sensitivity=4, min_volume=10)`` (the share's z is a
    binomial one, with no heavy-tail scale, so its threshold is lower than the volume's).
    """
    _check_lengths("detect_ratio", timestamps, numerators)
    _check_lengths("detect_ratio", timestamps, denominators)
    detector = RatioDetector(settings or SpikeSettings(sensitivity=4.0, min_volume=10.0),
                             prior_posts=prior_posts)
    out: list[SpikePoint] = []
    for at, n, d in zip(timestamps, numerators, denominators, strict=True):
        point = detector.update(at, float(n), float(d))
        if point is not None:
            out.append(point)
    return out


# --- reading a series ------------------------------------------------------------------------

_FORMAT_HINT = ("expected rows `timestamp,value` after a header line, with an ISO 8601 timestamp "
                "(2015-03-03T21:07:53Z) or `YYYY-MM-DD HH:MM:SS` (UTC when no offset) and a "
                "number")


def _parse_time(text: str) -> datetime:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return _utc(datetime.fromisoformat(text))


def _parse_value(text: str) -> float:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _rows(fp: IO[str], name: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(fp)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise SourceError(f"{name}, line {reader.line_num}: {exc}", hint=_FORMAT_HINT) from exc


def read_series_csv(path_or_fp: str | os.PathLike[str] | IO[str]
                    ) -> tuple[list[datetime], list[float]]:
    """Read a ``timestamp,value`` CSV (header first). Datetimes come back timezone-aware UTC.

    Raises :class:`SourceError` naming the line of the first bad row.
    """
    if isinstance(path_or_fp, str | os.PathLike):
        name = os.fspath(path_or_fp)
        try:
            with open(path_or_fp, encoding="utf-8-sig", newline="") as fp:
                return _read(fp, name)
        except OSError as exc:
            raise SourceError(f"cannot read {name}: {exc.strerror}",
                              hint="check the path and the file's permissions") from exc
        except UnicodeDecodeError as exc:
            raise SourceError(f"{name} is not UTF-8 text", hint=_FORMAT_HINT) from exc
    name = getattr(path_or_fp, "name", "<series>")
    return _read(path_or_fp, str(name))


def _read(fp: IO[str], name: str) -> tuple[list[datetime], list[float]]:
    times: list[datetime] = []
    values: list[float] = []
    seen_header = False
    for line, row in _rows(fp, name):
        if not row or all(not cell.strip() for cell in row):
            continue
        if not seen_header:
            seen_header = True
            try:  # a header is expected; a first row that parses as data is data
                _parse_time(row[0]), _parse_value(row[1])
            except (ValueError, IndexError):
                if len(row) != 2:
                    raise SourceError(f"{name}, line {line}: the header has {len(row)} columns, "
                                      "expected 2", hint=_FORMAT_HINT) from None
                continue
        if len(row) != 2:
            raise SourceError(f"{name}, line {line}: {len(row)} columns, expected 2",
                              hint=_FORMAT_HINT)
        try:
            at = _parse_time(row[0])
        except ValueError:
            raise SourceError(f"{name}, line {line}: bad timestamp {row[0]!r}",
                              hint=_FORMAT_HINT) from None
        try:
            value = _parse_value(row[1])
        except ValueError:
            raise SourceError(f"{name}, line {line}: bad value {row[1]!r}",
                              hint=_FORMAT_HINT) from None
        if value < 0:
            raise SourceError(f"{name}, line {line}: negative value {value:g}",
                              hint="the series holds counts of posts, which cannot be negative")
        if times and at <= times[-1]:
            raise SourceError(f"{name}, line {line}: timestamp {row[0]!r} is not after the "
                              f"previous one ({times[-1].isoformat()})",
                              hint="sort the rows by time and merge duplicate timestamps")
        times.append(at)
        values.append(value)
    if not times:
        raise SourceError(f"{name}: no data rows", hint=_FORMAT_HINT)
    return times, values


def read_series_text(text: str) -> tuple[list[datetime], list[float]]:
    """Like :func:`read_series_csv` on a string (handy in tests and for stdin)."""
    return _read(io.StringIO(text), "<series>")
