"""Evaluate perron's spike detector against a rolling z-score on the NAB Twitter dev series.

Usage (from the repository root)::

    .venv/bin/python eval/eval_spikes.py            # full grid, writes nothing
    .venv/bin/python eval/eval_spikes.py --markdown eval/SPIKES.md

Scoring (per series, then pooled over the series):

- a labelled window with at least one alert inside it is one true positive (several alerts in one
  window still count once);
- every alert outside all windows is a false positive;
- precision = TP / (TP + FP), recall = TP / windows, F1 their harmonic mean;
- delay = time from the window start to the first alert inside it (also from NAB's label).

Both methods get the same alert rules (upward only, same cooldown grid, same warm-up); the z-score
gets a grid over its trailing window and threshold and we report its BEST setting on the dev
series. Tuning is also repeated leave-one-series-out for both methods (choose on four series,
score on the fifth), which is the honest estimate for unseen series.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perron.analyze.spikes import SpikeSettings, detect, read_series_csv, scores  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nab-twitter-volume"
DEV = ["AAPL", "AMZN", "CRM", "CVS", "FB"]

COOLDOWNS_H = [1, 6, 12, 24]
MIN_HISTORY = timedelta(days=2)


@dataclass
class Series:
    name: str
    times: list[datetime]
    values: np.ndarray
    t: np.ndarray  # seconds
    windows: list[tuple[float, float]]
    labels: list[float]


@dataclass
class Track:
    """A method's scores for every point of a series (perron adds its sustained windows')."""

    z: np.ndarray
    warm: np.ndarray
    window_z: np.ndarray | None = None
    window_warm: np.ndarray | None = None
    window_total: np.ndarray | None = None


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    windows: int = 0
    delays_h: tuple[float, ...] = ()
    label_delays_h: tuple[float, ...] = ()

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.windows + other.windows,
                      self.delays_h + other.delays_h, self.label_delays_h + other.label_delays_h)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.windows if self.windows else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def delay(self) -> float:
        return float(np.mean(self.delays_h)) if self.delays_h else math.nan

    @property
    def label_delay(self) -> float:
        return float(np.mean(self.label_delays_h)) if self.label_delays_h else math.nan


def _ts(text: str) -> float:
    return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC).timestamp()


def load(name: str) -> Series:
    labels = json.loads((DATA / "labels.json").read_text())[f"Twitter_volume_{name}.csv"]
    times, values = read_series_csv(DATA / "series" / f"Twitter_volume_{name}.csv")
    return Series(name, times, np.asarray(values), np.array([t.timestamp() for t in times]),
                  [(_ts(a), _ts(b)) for a, b in labels["windows"]],
                  [_ts(x) for x in labels["labels"]])


def score_alerts(series: Series, alert_t: Sequence[float]) -> Counts:
    hit: dict[int, float] = {}
    fp = 0
    for t in alert_t:
        inside = [i for i, (a, b) in enumerate(series.windows) if a <= t <= b]
        if not inside:
            fp += 1
        for i in inside:
            hit.setdefault(i, t)
    delays = tuple((t - series.windows[i][0]) / 3600 for i, t in sorted(hit.items()))
    label_delays = []
    for i, t in sorted(hit.items()):  # from the first NAB label inside the window
        a, b = series.windows[i]
        inside = [x for x in series.labels if a <= x <= b]
        if inside:
            label_delays.append((t - inside[0]) / 3600)
    return Counts(len(hit), fp, len(series.windows), delays, tuple(label_delays))


def select_alerts(t: np.ndarray, values: np.ndarray, track: Track, threshold: float,
                  min_volume: float, cooldown_h: float, sustained: float = math.inf
                  ) -> list[float]:
    """The alert rule shared by both methods (same as SpikeDetector.update): a point whose
    score reaches ``threshold``, or (perron) whose sustained window's score reaches
    ``sustained``; the value (the window's total) at least ``min_volume``; then the cooldown."""
    hit = track.warm & (values >= min_volume) & (track.z >= threshold)
    if track.window_z is not None and sustained < math.inf:
        assert track.window_warm is not None and track.window_total is not None
        hit |= (track.window_warm & (track.window_total >= min_volume)
                & (track.window_z >= sustained))
    candidates = np.flatnonzero(hit)
    out: list[float] = []
    last = -math.inf
    for i in candidates:
        if t[i] - last >= cooldown_h * 3600:
            out.append(float(t[i]))
            last = t[i]
    return out


# --- rolling z-score baseline -----------------------------------------------------------------


def rolling_z(series: Series, window: int) -> Track:
    """z of each point against the mean/std of the ``window`` points before it (causal)."""
    x = series.values.astype(float)
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    idx = np.arange(len(x))
    lo = np.maximum(idx - window, 0)
    n = idx - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[idx] - c1[lo]) / n
        var = (c2[idx] - c2[lo]) / n - mean * mean
        sd = np.sqrt(np.maximum(var, 0.0))
        z = (x - mean) / np.maximum(sd, 1e-9)
    warm = (n >= window) & (series.t - series.t[0] >= MIN_HISTORY.total_seconds())
    return Track(np.nan_to_num(z, nan=0.0), warm)


# --- perron -----------------------------------------------------------------------------------


def perron_z(series: Series, settings: SpikeSettings) -> Track:
    rows = scores(series.times, list(series.values), settings)
    windows = [r[3] or (-math.inf, False, 0.0) for r in rows]
    return Track(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                 np.array([w[0] for w in windows]), np.array([w[1] for w in windows]),
                 np.array([w[2] for w in windows]))


@dataclass(frozen=True)
class Config:
    model: object  # window (z-score) or SpikeSettings key
    threshold: float
    cooldown_h: float
    min_volume: float
    sustained: float = math.inf  # perron's sustained_sensitivity (inf: off)

    def label(self) -> str:
        sustained = ("" if self.sustained == math.inf
                     else f", sustained threshold {self.sustained:g}")
        return (f"{self.model}, threshold {self.threshold:g}{sustained}, cooldown "
                f"{self.cooldown_h:g} h, min_volume {self.min_volume:g}")


Scorer = Callable[[Series, object], Track]


def _perron_job(args: tuple[str, str]) -> Track:
    name, key = args
    return perron_z(load(name), PERRON_MODELS[key])


def grid_counts(series: list[Series], models: list[object], scorer: Scorer,
                thresholds: list[float], min_volumes: list[float],
                precomputed: dict[tuple[object, str], Track] | None = None,
                sustained: Sequence[float] = (math.inf,)) -> dict[Config, list[Counts]]:
    out: dict[Config, list[Counts]] = {}
    for model in models:
        for s in series:
            track = precomputed[(model, s.name)] if precomputed is not None else scorer(s, model)
            for thr, cd, mv, sus in itertools.product(thresholds, COOLDOWNS_H, min_volumes,
                                                       sustained):
                alerts = select_alerts(s.t, s.values, track, thr, mv, cd, sus)
                out.setdefault(Config(model, thr, cd, mv, sus), []).append(
                    score_alerts(s, alerts))
    return out


def pooled(counts: list[Counts]) -> Counts:
    total = Counts()
    for c in counts:
        total = total + c
    return total


def best(table: dict[Config, list[Counts]], keep: list[int]) -> Config:
    def key(cfg: Config) -> tuple[float, float, float, float, float]:
        # ties: fewer false alarms, then the quieter setting (longer cooldown, higher thresholds)
        c = pooled([table[cfg][i] for i in keep])
        return (c.f1, -c.fp, cfg.cooldown_h, cfg.threshold, cfg.sustained)
    return max(table, key=key)


def loso(table: dict[Config, list[Counts]], n: int) -> tuple[Counts, list[Config]]:
    total, chosen = Counts(), []
    for held in range(n):
        cfg = best(table, [i for i in range(n) if i != held])
        chosen.append(cfg)
        total = total + table[cfg][held]
    return total, chosen


# --- models searched --------------------------------------------------------------------------

PERRON_MODELS = {
    f"{season}/tail{tq}/clip{clip:g}/sustained{hours}h": SpikeSettings(
        season=season, tail_quantile=tq, clip=clip, min_history=MIN_HISTORY,
        sustained=timedelta(hours=hours))
    for season in ("week", "day")
    for tq in (None, 0.99)
    for clip in (3.0, 5.0)
    for hours in (1, 3, 6, 12)
}
PERRON_THRESHOLDS = [6.0, 8.0, 10.0, 11.0, 12.0, 13.0, 15.0, 20.0, 25.0]
PERRON_SUSTAINED = [3.0, 4.0, 5.0, 6.0, 8.0, math.inf]  # sustained_sensitivity; inf: off
Z_WINDOWS = [12, 36, 72, 144, 288, 576, 1152, 2016]  # 1 h … 1 week of 5-minute points
Z_THRESHOLDS = [2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0]
MIN_VOLUMES = [0.0, 5.0]
DEFAULT = SpikeSettings()


def fmt(c: Counts) -> str:
    delay = "–" if math.isnan(c.delay) else f"{c.delay:.1f} h"
    label = "–" if math.isnan(c.label_delay) else f"{c.label_delay:+.1f} h"
    return (f"{c.precision:.2f} | {c.recall:.2f} | {c.f1:.2f} | {c.tp}/{c.windows} | {c.fp} | "
            f"{delay} | {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="write the results table here")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")
    args = parser.parse_args(argv)
    started = time.time()
    series = [load(n) for n in DEV]
    n = len(series)

    z_table = grid_counts(series, list(Z_WINDOWS), lambda s, w: rolling_z(s, int(w)),
                          Z_THRESHOLDS, MIN_VOLUMES)
    jobs = [(s.name, key) for key in PERRON_MODELS for s in series]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        done = dict(zip([(key, name) for name, key in jobs], pool.map(_perron_job, jobs),
                        strict=True))
    p_table = grid_counts(series, list(PERRON_MODELS),
                          lambda s, k: perron_z(s, PERRON_MODELS[str(k)]),
                          PERRON_THRESHOLDS, MIN_VOLUMES, precomputed=done,
                          sustained=PERRON_SUSTAINED)
    z_best = best(z_table, list(range(n)))
    p_best = best(p_table, list(range(n)))
    default_cfg = Config(_default_key(), DEFAULT.sensitivity, DEFAULT.cooldown.total_seconds()
                         / 3600, DEFAULT.min_volume, DEFAULT.sustained_sensitivity)
    p_default = p_table.get(default_cfg)
    z_loso, z_chosen = loso(z_table, n)
    p_loso, p_chosen = loso(p_table, n)

    # the shipped defaults, run through the public API, must give the table's figures
    if p_default is not None:
        for s, c in zip(series, p_default, strict=True):
            api = score_alerts(s, [p.at.timestamp() for p in detect(s.times, list(s.values))])
            assert (api.tp, api.fp) == (c.tp, c.fp), (s.name, api, c)

    head = ("| series | method | P | R | F1 | windows hit | false alarms | delay from window "
            "start | delay from label |\n|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    rows = [("z-score, best dev setting", z_table[z_best]), ("perron, best dev setting",
                                                            p_table[p_best])]
    if p_default is not None:
        rows.append(("perron, shipped defaults", p_default))
    for i, s in enumerate(series):
        for label, counts in rows:
            lines.append(f"| {s.name} | {label} | {fmt(counts[i])} |")
    for label, counts in rows:
        lines.append(f"| **all** | {label} | {fmt(pooled(counts))} |")
    lines.append(f"| **all, leave-one-series-out** | z-score | {fmt(z_loso)} |")
    lines.append(f"| **all, leave-one-series-out** | perron | {fmt(p_loso)} |")
    table = "\n".join(lines)
    ratio = pooled(p_table[p_best]).f1 / max(pooled(z_table[z_best]).f1, 1e-9)
    ratio_loso = p_loso.f1 / max(z_loso.f1, 1e-9)
    notes = [
        f"z-score best setting: window {z_best.model} points, {z_best.label().split(', ', 1)[1]}",
        f"perron best setting: {p_best.label()}",
        f"F1 ratio perron / z-score (best dev settings): {ratio:.2f}",
        f"F1 ratio, leave-one-series-out: {ratio_loso:.2f}",
        "leave-one-series-out choices, z-score: "
        + "; ".join(f"{s.name}: {c.label()}" for s, c in zip(series, z_chosen, strict=True)),
        "leave-one-series-out choices, perron: "
        + "; ".join(f"{s.name}: {c.label()}" for s, c in zip(series, p_chosen, strict=True)),
        f"grid: z-score {len(z_table)} settings, perron {len(p_table)} settings; "
        f"{time.time() - started:.0f} s",
    ]
    print(table)
    print("\n".join(notes))
    if args.markdown:
        _write_markdown(args.markdown, table, notes)
    return 0


def _default_key() -> str:
    assert DEFAULT.sustained is not None
    return (f"{DEFAULT.season}/tail{DEFAULT.tail_quantile}/clip{DEFAULT.clip:g}/"
            f"sustained{DEFAULT.sustained.total_seconds() / 3600:g}h")


def _write_markdown(path: Path, table: str, notes: list[str]) -> None:
    template = path.read_text() if path.exists() else ""
    start, end = "<!-- results -->", "<!-- /results -->"
    block = f"{start}\n{table}\n\n" + "\n".join(f"- {n}" for n in notes) + f"\n{end}"
    if start in template and end in template:
        before, rest = template.split(start, 1)
        after = rest.split(end, 1)[1]
        path.write_text(before + block + after)
    else:
        path.write_text(template + "\n" + block + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
