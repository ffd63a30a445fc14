"""Spike detection: synthetic series with known spikes, the CSV reader, and a real NAB slice."""

from __future__ import annotations

import io
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perron.analyze.spikes import (
    SpikeDetector,
    SpikePoint,
    SpikeSettings,
    detect,
    detect_ratio,
    read_series_csv,
    read_series_text,
)
from perron.errors import SourceError

FIXTURE = (Path(__file__).parent / "fixtures" / "series"
           / "twitter_volume_fb_2015-03-06_2015-03-18.csv")
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth for small means, normal approximation above
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def weekly_series(weeks: int = 5, seed: int = 1) -> tuple[list[datetime], list[float]]:
    """Hourly counts: quiet nights, a strong daily peak at 12:00 on weekdays, quiet weekends."""
    rng = random.Random(seed)
    times, values = [], []
    for i in range(weeks * 7 * 24):
        at = START + i * HOUR
        lam = 20.0
        if 9 <= at.hour <= 18:
            lam = 60.0
        if at.hour == 12:
            lam = 400.0  # the daily peak: 7× the day level, every weekday
        if at.weekday() >= 5:
            lam = 15.0
        times.append(at)
        values.append(float(_poisson(rng, lam)))
    return times, values


def test_daily_peak_of_a_weekly_pattern_does_not_alert() -> None:
    times, values = weekly_series()
    assert detect(times, values) == []


def test_injected_spikes_are_found_at_their_time() -> None:
    times, values = weekly_series()
    spikes = [START + timedelta(days=16, hours=3), START + timedelta(days=26, hours=15)]
    for at in spikes:
        values[times.index(at)] += 600  # 3 a.m. on a Wednesday; 3 p.m. on a Saturday
    found = detect(times, values)
    assert [p.at for p in found] == spikes
    night = found[0]
    assert night.value > 600 and night.expected < 40 and night.score >= SpikeSettings().sensitivity


def test_a_peak_shaped_like_the_daily_peak_but_on_a_sunday_alerts() -> None:
    times, values = weekly_series()
    sunday_noon = START + timedelta(days=27, hours=12)
    assert sunday_noon.weekday() == 6
    values[times.index(sunday_noon)] = 400.0  # ordinary on a weekday, unheard of on a Sunday
    assert [p.at for p in detect(times, values)] == [sunday_noon]


def test_cooldown_suppresses_alerts_after_an_alert() -> None:
    times, values = weekly_series()
    first = START + timedelta(days=16, hours=2)
    for h in (0, 3, 30):
        values[times.index(first + h * HOUR)] += 800
    settings = SpikeSettings(cooldown=timedelta(hours=6))
    assert [p.at for p in detect(times, values, settings)] == [first, first + 30 * HOUR]
    short = SpikeSettings(cooldown=timedelta(0), sustained=None)  # points only
    assert len(detect(times, values, short)) == 3


def test_min_volume_ignores_small_values() -> None:
    times = [START + i * HOUR for i in range(24 * 10)]
    values = [0.0] * len(times)
    at = times[24 * 8]
    values[times.index(at)] = 8.0  # from nothing to 8: a huge z, a tiny volume
    assert [p.at for p in detect(times, values, SpikeSettings(4, min_volume=5))] == [at]
    assert detect(times, values, SpikeSettings(4, min_volume=10)) == []


def test_no_alert_during_warm_up() -> None:
    times, values = weekly_series(weeks=1)
    early = START + timedelta(hours=30)
    values[times.index(early)] += 2000
    assert detect(times, values, SpikeSettings(min_history=timedelta(days=2))) == []
    found = detect(times, values, SpikeSettings(min_history=timedelta(hours=12)))
    assert [p.at for p in found] == [early]


def test_detection_is_causal() -> None:
    """Appending points never changes the alerts already raised: it works live."""
    times, values = weekly_series()
    values[times.index(START + timedelta(days=16, hours=3))] += 600
    cut = 24 * 17
    head = detect(times[:cut], values[:cut])
    values_after = values[:cut] + [v * 3 for v in values[cut:]]  # the future changes a lot
    assert detect(times, values_after)[: len(head)] == head
    detector = SpikeDetector()
    live = [p for p in (detector.update(t, v) for t, v in zip(times, values, strict=True)) if p]
    assert live == detect(times, values)


def test_unsorted_points_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing time order"):
        detect([START + HOUR, START], [1.0, 2.0])


def test_spike_point_to_dict_is_json_ready() -> None:
    point = SpikePoint(at=START, value=10.0, expected=2.0, score=7.5)
    data = point.to_dict()
    assert data == {"at": "2026-01-05T00:00:00+00:00", "value": 10.0, "expected": 2.0,
                    "score": 7.5}
    json.dumps(data)


# --- share of negative posts ------------------------------------------------------------------


def _shares(seed: int = 3) -> tuple[list[datetime], list[float], list[float]]:
    rng = random.Random(seed)
    times, num, den = [], [], []
    for i in range(24 * 14):
        d = float(_poisson(rng, 40 if 8 <= i % 24 <= 22 else 2))
        n = float(sum(rng.random() < 0.1 for _ in range(int(d))))
        times.append(START + i * HOUR)
        num.append(n)
        den.append(d)
    return times, num, den


def five_minute_series(days: int = 10, seed: int = 3) -> tuple[list[datetime], list[float]]:
    """Counts every 5 minutes: 30 a point by day, 10 by night, every day alike."""
    rng = random.Random(seed)
    times, values = [], []
    for i in range(days * 288):
        at = START + i * timedelta(minutes=5)
        times.append(at)
        values.append(float(_poisson(rng, 30.0 if 8 <= at.hour < 20 else 10.0)))
    return times, values


def test_a_sustained_rise_alerts_when_its_window_ends_though_no_point_stands_out() -> None:
    times, values = five_minute_series()
    rise = START + timedelta(days=8, hours=12)  # 12:00–18:00 UTC: +50 % at every point
    inside = [i for i, at in enumerate(times) if rise <= at < rise + 6 * HOUR]
    for i in inside:
        values[i] = round(values[i] * 1.5)
    assert detect(times, values, SpikeSettings(sustained=None)) == []  # no point is a spike
    found = detect(times, values)
    assert [p.at for p in found] == [times[inside[-1]]]  # known online, at the window's end
    (point,) = found
    assert point.span == 6 * 3600 == SpikeSettings().sustained.total_seconds()
    assert point.value == sum(values[i] for i in inside)
    assert 2000 < point.expected < 2400 and point.score >= SpikeSettings().sustained_sensitivity
    assert point.to_dict()["span"] == 6 * 3600
    # the same series without the rise does not alert
    times, values = five_minute_series()
    assert detect(times, values) == []


def test_a_sustained_window_missing_its_last_point_is_scored_by_the_next_one() -> None:
    times, values = five_minute_series()
    rise = START + timedelta(days=8, hours=12)
    for i, at in enumerate(times):
        if rise <= at < rise + 6 * HOUR:
            values[i] = round(values[i] * 1.5)
    last = times.index(rise + 6 * HOUR - timedelta(minutes=5))
    del times[last], values[last]  # 17:55 never came: the window ends when 18:00 arrives
    (point,) = detect(times, values)
    assert point.at == rise + 6 * HOUR and point.span == 6 * 3600


def test_series_as_coarse_as_the_sustained_window_are_judged_point_by_point() -> None:
    times, values = weekly_series()  # hourly
    values[times.index(START + timedelta(days=16, hours=3))] += 600
    hourly = SpikeSettings(sustained=HOUR)
    assert detect(times, values, hourly) == detect(times, values, SpikeSettings(sustained=None))
    assert all(p.span is None for p in detect(times, values, hourly))


def test_ratio_ignores_small_denominators() -> None:
    times, num, den = _shares()
    night = times.index(START + timedelta(days=10, hours=3))
    num[night], den[night] = 2.0, 2.0  # 100 % negative, out of two posts
    assert detect_ratio(times, num, den) == []
    # even with no min_volume, two posts out of two is no crisis for the binomial z
    loose = SpikeSettings(sensitivity=4.0, min_volume=0)
    assert all(p.at != times[night] for p in detect_ratio(times, num, den, loose))


def test_ratio_finds_a_surge_of_negative_share() -> None:
    times, num, den = _shares()
    at = START + timedelta(days=11, hours=14)
    i = times.index(at)
    den[i] = 45.0
    num[i] = 25.0  # 56 % negative against about 10 %
    found = detect_ratio(times, num, den)
    assert [p.at for p in found] == [at]
    assert found[0].numerator == 25 and found[0].denominator == 45
    assert 0.05 < found[0].expected < 0.15 and math.isclose(found[0].value, 25 / 45)


def test_ratio_rejects_a_numerator_above_the_denominator() -> None:
    with pytest.raises(ValueError, match="bad share"):
        detect_ratio([START], [3.0], [2.0])


# --- CSV reader -------------------------------------------------------------------------------


def test_reader_accepts_iso_and_space_formats_naive_is_utc() -> None:
    times, values = read_series_text(
        "timestamp,value\n"
        "2015-03-03 21:07:53,3\n"
        "2015-03-03T21:12:53Z,4.5\n"
        "2015-03-03T23:17:53+02:00,5\n"
        "\n")
    assert values == [3.0, 4.5, 5.0]
    assert times[0] == datetime(2015, 3, 3, 21, 7, 53, tzinfo=UTC)
    assert times[2] == datetime(2015, 3, 3, 21, 17, 53, tzinfo=UTC)


@pytest.mark.parametrize(("text", "line", "what"), [
    ("timestamp,value\n2015-03-03 21:07:53,3\nyesterday,4\n", 3, "bad timestamp"),
    ("timestamp,value\n2015-03-03 21:07:53,3\n2015-03-03 21:12:53,many\n", 3, "bad value"),
    ("timestamp,value\n2015-03-03 21:07:53,3,7\n", 2, "3 columns"),
    ("timestamp,value\n2015-03-03 21:07:53,3\n2015-03-03 21:02:53,4\n", 3, "is not after"),
    ("timestamp,value\n2015-03-03 21:07:53,-3\n", 2, "negative value"),
    ("timestamp,value\n2015-03-03 21:07:53,nan\n", 2, "bad value"),
])
def test_reader_errors_name_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(SourceError) as info:
        read_series_csv(io.StringIO(text))
    assert f"line {line}:" in info.value.message and what in info.value.message
    assert info.value.hint


def test_reader_refuses_an_empty_file_and_a_missing_one(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no data rows"):
        read_series_text("timestamp,value\n")
    with pytest.raises(SourceError, match="cannot read"):
        read_series_csv(tmp_path / "missing.csv")


# --- a real series ----------------------------------------------------------------------------


def test_real_nab_slice_alerts_inside_its_labelled_window() -> None:
    times, values = read_series_csv(FIXTURE)
    assert len(times) == 3744
    found = detect(times, values)
    window = (datetime(2015, 3, 14, 22, 12, 53, tzinfo=UTC),
              datetime(2015, 3, 17, 16, 2, 53, tzinfo=UTC))
    assert found, "no alert on the real slice"
    assert all(window[0] <= p.at <= window[1] for p in found)
    assert found[0].at == datetime(2015, 3, 16, 7, 7, 53, tzinfo=UTC)  # NAB's label
