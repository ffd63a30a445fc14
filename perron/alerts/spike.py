"""The ``spike`` rule: volume, or share of negative posts, of a monitor; with its explanation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..analyze.explain import explain
from ..analyze.spikes import SpikePoint, SpikeSettings, detect, detect_ratio
from ..store import Store
from .posts import posts_between
from .records import Alert, iso
from .rules import SpikeRule, format_duration, parse_duration
from .series import bucket_of, bucket_start, sentiment_counts

MAX_WINDOW_POSTS = 5000
MAX_BASELINE_POSTS = 20000
MIN_NEGATIVE_BASELINE = 20


def detector_settings(rule: SpikeRule, measure: str) -> SpikeSettings:
    base = SpikeSettings() if measure == "volume" else SpikeSettings(sensitivity=4.0,
                                                                     min_volume=10.0)
    return replace(base, cooldown=rule.cooldown_td,
                   sensitivity=base.sensitivity if rule.sensitivity is None else rule.sensitivity,
                   min_volume=base.min_volume if rule.min_volume is None else rule.min_volume)


def evaluate_spike(store: Store, rule: SpikeRule, now: datetime) -> list[Alert]:
    store.monitor_query(rule.monitor)  # NotFound with a hint when the monitor was removed
    step = int(parse_duration(rule.interval).total_seconds())
    end_b = bucket_of(now, step)  # the current bucket is incomplete: judged next time
    first_b = bucket_of(now - parse_duration(rule.lookback), step)
    counts = sentiment_counts(store, rule.monitor, step, bucket_start(first_b, step),
                              bucket_start(end_b, step))
    if not counts:
        return []
    idx = range(min(counts), end_b)
    times = [bucket_start(i, step) for i in idx]
    totals = [counts.get(i, (0, 0, 0))[0] for i in idx]
    labelled = [counts.get(i, (0, 0, 0))[1] for i in idx]
    negative = [counts.get(i, (0, 0, 0))[2] for i in idx]
    measure, notes = rule.on, []
    if rule.on == "negative" and sum(labelled) == 0:
        measure = "volume"
        notes.append("no sentiment labels for this monitor yet (run the enrichment): this alert "
                     "watches volume only / aucune étiquette de sentiment pour cette veille "
                     "(lancez l'enrichissement) : cette alerte ne surveille que le volume")
    settings = detector_settings(rule, measure)
    if measure == "volume":
        points = detect(times, totals, settings)
    else:
        points = detect_ratio(times, negative, labelled, settings)
    since = now - parse_duration(rule.recent)
    out = []
    for point in points:
        if point.at < since:
            continue
        last = bucket_of(point.at, step)
        first = last - (int(point.span) // step - 1 if point.span else 0)  # a sustained rise
        in_window = [counts.get(i, (0, 0, 0)) for i in range(first, last + 1)]
        figures = (sum(c[0] for c in in_window), sum(c[1] for c in in_window),
                   sum(c[2] for c in in_window))
        out.append(_alert(store, rule, measure, point, step, figures, settings, notes))
    return out


def _alert(store: Store, rule: SpikeRule, measure: str, point: SpikePoint, step: int,
           figures: tuple[int, int, int], settings: SpikeSettings, notes: list[str]) -> Alert:
    end = point.at + timedelta(seconds=step)
    start = end - timedelta(seconds=point.span or step)
    base_start = start - parse_duration(rule.baseline)
    negative_only = measure == "negative"
    label_args: dict[str, Any] = {"label_task": "sentiment"}
    window = posts_between(store, rule.monitor, start, end, limit=MAX_WINDOW_POSTS,
                           **label_args, labels=["negative"] if negative_only else None)
    baseline = posts_between(store, rule.monitor, base_start, start, limit=MAX_BASELINE_POSTS,
                             newest_first=True, **label_args,
                             labels=["negative"] if negative_only else None)
    baseline_negative_only = negative_only
    if negative_only and len(baseline) < MIN_NEGATIVE_BASELINE:
        baseline = posts_between(store, rule.monitor, base_start, start,
                                 limit=MAX_BASELINE_POSTS, newest_first=True, **label_args)
        baseline_negative_only = False
    ex = explain([p.explain_post() for p in window], [p.explain_post() for p in baseline])
    by_id = {p.id: p for p in window}
    total, lab, neg = figures
    expl: dict[str, Any] = {
        "monitor": rule.monitor, "measure": measure, "requested": rule.on,
        "interval": format_duration(timedelta(seconds=step)),
        "window": {"start": iso(start), "end": iso(end)},
        "observed": point.value, "expected": round(point.expected, 4),
        "score": round(point.score, 2), "sensitivity": settings.sensitivity,
        "min_volume": settings.min_volume, "posts_in_window": total,
    }
    if point.span:  # a sustained rise: the figures are the window's totals
        expl["sustained"] = format_duration(timedelta(seconds=point.span))
        expl["sensitivity"] = settings.sustained_sensitivity
    if measure == "negative":
        expl.update({"negative_posts": neg, "labelled_posts": lab,
                     "share": round(neg / lab, 4) if lab else None,
                     "expected_share": round(point.expected, 4),
                     "label_coverage": round(lab / total, 4) if total else None})
    expl["baseline"] = {"start": iso(base_start), "end": iso(start), "posts": len(baseline),
                        "sampled": len(baseline) >= MAX_BASELINE_POSTS,
                        "negative_only": baseline_negative_only}
    expl["over_represented"] = {k: v for k, v in ex.to_dict().items()
                                if k in ("terms", "hashtags", "mentions", "authors", "sources")}
    expl["top_posts"] = [by_id[i].brief() for i in ex.top_posts if i in by_id]
    expl["summary"] = {"fr": ex.summary("fr"), "en": ex.summary("en")}
    if notes:
        expl["notes"] = list(notes)
    return Alert(rule=rule.name, kind="spike", at=start, scope=rule.monitor, monitor=rule.monitor,
                 dedupe_key=f"{rule.monitor}|{measure}|{iso(start)}",
                 title=spike_title(rule.lang, rule.monitor, measure, point, start, end, figures),
                 explanation=expl)


def _num(x: float, lang: str) -> str:
    text = f"{x:,.1f}" if x != int(x) else f"{int(x):,}"
    return text.replace(",", "\u202f").replace(".", ",") if lang == "fr" else text


def spike_title(lang: str, monitor: str, measure: str, point: SpikePoint, start: datetime,
                end: datetime, figures: tuple[int, int, int]) -> str:
    span = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    if measure == "volume":
        if lang == "fr":
            return (f"Pic de volume sur « {monitor} » : {_num(point.value, lang)} posts, "
                    f"{span} (attendu ≈ {_num(round(point.expected, 1), lang)})")
        return (f"Volume spike on “{monitor}”: {_num(point.value, lang)} posts, {span} "
                f"(expected ≈ {_num(round(point.expected, 1), lang)})")
    share, exp = round(100 * point.value), round(100 * point.expected)
    if lang == "fr":
        return (f"Pic de posts négatifs sur « {monitor} » : {share} % ({figures[2]} sur "
                f"{figures[1]}), {span} (d'habitude ≈ {exp} %)")
    return (f"Spike of negative posts on “{monitor}”: {share}% ({figures[2]} of {figures[1]}), "
            f"{span} (usually ≈ {exp}%)")
