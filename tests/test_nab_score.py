"""The NAB scorer in benchmarks/ on hand-made files: a perfect detector scores 100, the
null detector 0, and a mixed case matches the value worked out by hand from NAB's
formulas."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from benchmarks.nab_score import (
    Profile,
    load_profiles,
    normalise,
    null_score,
    probation_rows,
    scaled_sigmoid,
    score_file,
)

STANDARD = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0)
START = datetime(2014, 4, 1)


def rows(count: int) -> list[datetime]:
    return [START + timedelta(minutes=5 * i) for i in range(count)]


def window(ts: list[datetime], first: int, last: int) -> tuple[datetime, datetime]:
    return ts[first], ts[last]


def test_the_reward_curve_is_nabs():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_probation_is_15_percent_capped_at_750_rows():
    assert probation_rows(100) == 15
    assert probation_rows(4032) == 604
    assert probation_rows(15902) == 750


@pytest.mark.parametrize("profile", [STANDARD, LOW_FN])
def test_perfect_detector_scores_100_and_null_scores_0(profile):
    files = [(rows(200), [(40, 59), (120, 139)]), (rows(100), [(50, 60)]), (rows(80), [])]
    raw = null = 0.0
    count = 0
    for ts, spans in files:
        windows = [window(ts, a, b) for a, b in spans]
        perfect = {a for a, _ in spans}
        raw += score_file(ts, perfect, windows, profile).score
        null += null_score(ts, windows, profile)
        count += len(windows)
    assert null == -profile.fn_weight * count
    assert normalise(raw, null, count, profile) == pytest.approx(100.0)
    assert normalise(null, null, count, profile) == 0.0


def test_a_mixed_case_matches_the_hand_computed_value():
    """100 rows, probation 15, one window over rows 40..49 (width 10).
    Row 5 is in probation (ignored); row 20 precedes every window (-0.11); row 44 is the
    first detection in the window: position -(49 - 44 + 1) / 10 = -0.6, reward
    S(-0.6) / S(-1) = 0.905148 / 0.986614 = 0.917429; row 46 is a second one in the same
    window (ignored); row 60 is 11 rows past the window's end, 11 / 9 = 1.2222 widths:
    0.11 * S(1.2222) = -0.109513. Total 0.697916; normalised with null -1 and perfect 1:
    100 * 1.697916 / 2 = 84.8958."""
    ts = rows(100)
    windows = [window(ts, 40, 49)]
    result = score_file(ts, {5, 20, 44, 46, 60}, windows, STANDARD)
    assert result.score == pytest.approx(0.697916, abs=1e-6)
    assert (result.windows, result.detected, result.false_positives) == (1, 1, 2)
    assert normalise(result.score, -1.0, 1, STANDARD) == pytest.approx(84.8958, abs=1e-4)


def test_a_late_detection_earns_less_than_an_early_one():
    ts = rows(100)
    windows = [window(ts, 40, 59)]
    early = score_file(ts, {40}, windows, STANDARD).score
    middle = score_file(ts, {50}, windows, STANDARD).score
    last = score_file(ts, {59}, windows, STANDARD).score
    assert early == pytest.approx(1.0)
    assert early > middle > last > 0


def test_a_false_positive_right_after_a_window_costs_less_than_a_far_one():
    ts = rows(200)
    windows = [window(ts, 40, 59)]
    near = score_file(ts, {62}, windows, STANDARD).score
    far = score_file(ts, {150}, windows, STANDARD).score
    assert -1.0 - 0.11 <= far < near < -1.0


def test_a_window_inside_probation_is_not_scored():
    ts = rows(200)  # probation: 30 rows
    windows = [window(ts, 5, 20)]
    result = score_file(ts, {5}, windows, STANDARD)
    assert (result.score, result.windows) == (0.0, 0)


def test_profiles_are_read_from_nabs_file(tmp_path):
    path = tmp_path / "profiles.json"
    path.write_text(
        '{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11,'
        ' "tnWeight": 1.0}}}'
    )
    assert load_profiles(path) == [STANDARD]
