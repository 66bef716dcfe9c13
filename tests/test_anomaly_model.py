"""The anomaly model on its own: learning, judging both sides, seasonality, robustness
to the outliers it finds, and a saved model that judges exactly as the live one."""

from __future__ import annotations

import random

from monitors.anomaly.model import DAY, LEARNING, WEEK, SeriesModel

START = 1_800_000_000.0 - 1_800_000_000.0 % WEEK  # a Thursday 00:00 UTC, week-aligned


def feed(model: SeriesModel, values, step: float = 300.0, start: float = START):
    """Observe ``values`` every ``step`` seconds; return the judgements."""
    return [model.observe(start + i * step, v) for i, v in enumerate(values)]


def noisy(n: int, mean: float = 100.0, spread: float = 5.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, spread) for _ in range(n)]


def test_it_learns_before_it_judges():
    model = SeriesModel()
    judgements = feed(model, noisy(LEARNING + 50))
    assert all(j is None for j in judgements[: LEARNING - 1])
    assert all(j is not None for j in judgements[LEARNING:])


def test_steady_noise_stays_inside_the_band_and_a_spike_or_a_drop_does_not():
    model = SeriesModel()
    judgements = feed(model, noisy(2000))
    scores = [max(j.score_up, j.score_down) for j in judgements[500:]]
    assert sum(score > 1 for score in scores) <= 3  # a handful of records in 1,500 readings
    spike = model.observe(START + 2000 * 300, 200.0)
    assert spike.score_up > 2 and spike.score_down == 0
    assert spike.low < 100 < spike.high < 200
    drop = model.observe(START + 2001 * 300, 10.0)
    assert drop.score_down > 2 and drop.score_up == 0


def test_the_outliers_it_finds_do_not_drag_the_expected_value():
    model = SeriesModel()
    values = noisy(1500)
    for i in range(700, 1000, 30):
        values[i] = 1000.0  # an outlier ten times the usual level every 30 readings
    judgements = feed(model, values)
    assert all(90 < j.expected < 110 for j in judgements[700:1000])


def test_a_daily_shape_is_learned_so_a_day_time_high_at_night_is_anomalous():
    """Busy from 08:00 to 20:00 (100), quiet at night (10): after a week the busy
    level at 09:00 is normal, and the same level at 03:00 is not."""
    rng = random.Random(2)
    step = 300.0
    values = []
    for i in range(int(7 * DAY / step)):
        hour = (i * step % DAY) / 3600
        values.append(rng.gauss(100 if 8 <= hour < 20 else 10, 2))
    model = SeriesModel()
    feed(model, values, step)
    week = START + 7 * DAY
    morning = model.observe(week + 9 * 3600, 100.0)
    assert max(morning.score_up, morning.score_down) < 1
    night = model.observe(week + 27 * 3600, 100.0)  # 03:00 the next day
    assert night.score_up > 1


def test_the_daily_shape_is_expected_within_days():
    rng = random.Random(4)
    step = 300.0
    model = SeriesModel()
    values = [
        rng.gauss(100 if 8 <= (i * step % DAY) / 3600 < 20 else 10, 2)
        for i in range(int(3 * DAY / step))
    ]
    feed(model, values, step)
    third_day = START + 3 * DAY
    assert abs(model.observe(third_day + 3 * 3600, 10.0).expected - 10) < 5
    assert abs(model.observe(third_day + 12 * 3600, 100.0).expected - 100) < 5


def test_a_weekly_shape_is_learned_so_weekday_traffic_on_a_sunday_is_anomalous():
    """Hourly readings for four weeks: 100 on weekdays, 20 at weekends."""
    rng = random.Random(3)
    step = 3600.0
    weekend = {2, 3}  # START is a Thursday: days 2 and 3 of each week are Sat and Sun
    values = [
        rng.gauss(20 if int(i * step % WEEK // DAY) in weekend else 100, 2)
        for i in range(int(4 * WEEK / step))
    ]
    model = SeriesModel()
    feed(model, values, step)
    month = START + 4 * WEEK
    friday = model.observe(month + 1 * DAY + 12 * 3600, 100.0)
    assert max(friday.score_up, friday.score_down) < 1
    sunday = model.observe(month + 3 * DAY + 12 * 3600, 100.0)
    assert sunday.score_up > 1


def test_sensitivity_narrows_the_band():
    model = SeriesModel()
    feed(model, noisy(1000))
    now = START + 1000 * 300
    saved = model.to_bytes()
    wide = SeriesModel.from_bytes(saved).observe(now, 130.0, sensitivity=0.5)
    narrow = SeriesModel.from_bytes(saved).observe(now, 130.0, sensitivity=4)
    assert narrow.high - narrow.expected < wide.high - wide.expected
    assert narrow.score_up > wide.score_up


def test_a_saved_model_judges_exactly_as_the_live_one_and_its_size_is_bounded():
    live = SeriesModel()
    feed(live, noisy(300))
    size = len(live.to_bytes())
    restored = SeriesModel.from_bytes(live.to_bytes())
    later = noisy(3000, seed=9)
    for i, value in enumerate(later):
        now = START + (300 + i) * 300
        a, b = live.observe(now, value), restored.observe(now, value)
        assert a == b
    assert len(live.to_bytes()) == size < 2048


def test_a_model_saved_by_another_version_or_cut_short_is_not_loaded():
    saved = SeriesModel().to_bytes()
    assert SeriesModel.from_bytes(saved[:-1]) is None
    assert SeriesModel.from_bytes(bytes([99]) + saved[1:]) is None
    assert SeriesModel.from_bytes(b"") is None


def test_a_constant_series_flags_the_first_change_and_not_its_repeats_forever():
    model = SeriesModel()
    feed(model, [5.0] * 300)
    first = model.observe(START + 300 * 300, 50.0)
    assert first.score_up > 1
    back = [model.observe(START + (301 + i) * 300, 5.0) for i in range(3)]
    assert max(back[-1].score_up, back[-1].score_down) <= 1  # calm again at once
    hourly_spike = ([50.0] + [5.0] * 11) * 10
    later = feed(model, hourly_spike, start=START + 304 * 300)
    assert max(max(j.score_up, j.score_down) for j in later[-24:]) <= 1
