"""WindowStore: aggregates, windows, grouping, filters and its memory bounds."""

from __future__ import annotations

import math
import random

import pytest
from ddsketch import DDSketch

from monitors.windows.store import RAW_CAP, Sample, WindowStore

NOW = 1_800_000_000.0
HTTP = "http.duration"


def exact_quantile(values: list[float], q: float) -> float:
    """The value DDSketch's rank rule points at, computed exactly."""
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def one(store: WindowStore, aggregate: str, **kw: object) -> tuple[float | None, int]:
    kw.setdefault("window", 300.0)
    kw.setdefault("now", NOW)
    result = store.query(HTTP, aggregate=aggregate, **kw)  # type: ignore[arg-type]
    assert list(result) == [()]
    return result[()]


@pytest.fixture
def hundred() -> WindowStore:
    """Values 1..100, one a second over the last 100 s, half of them 5xx."""
    store = WindowStore()
    for i in range(1, 101):
        status = "500" if i % 2 else "200"
        store.add(HTTP, float(i), {"route": "/a", "status": status}, NOW - 100 + i, NOW)
    return store


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("count", 100.0),
        ("rate", 100 / 300),
        ("sum", 5050.0),
        ("avg", 50.5),
        ("min", 1.0),
        ("max", 100.0),
        ("percent_where", 50.0),
    ],
)
def test_exact_aggregates(hundred: WindowStore, aggregate: str, expected: float) -> None:
    value, count = one(hundred, aggregate, where={"status": "5.."})
    assert value == pytest.approx(expected)
    assert count == 100


@pytest.mark.parametrize("aggregate", ["p50", "p90", "p95", "p99"])
def test_percentiles_within_one_percent(hundred: WindowStore, aggregate: str) -> None:
    q = int(aggregate[1:]) / 100
    value, _ = one(hundred, aggregate)
    assert value == pytest.approx(exact_quantile([float(i) for i in range(1, 101)], q), rel=0.01)


def test_percentiles_on_skewed_data_across_series_and_full_buckets() -> None:
    rng = random.Random(5)
    store = WindowStore()
    values = []
    for second in range(300):
        per_second = RAW_CAP * 3 if second == 150 else 20  # one bucket past the raw cap
        for _ in range(per_second):
            v = rng.lognormvariate(3, 1.5)
            values.append(v)
            store.add(HTTP, v, {"status": rng.choice("12345")}, NOW - 299.5 + second, NOW)
    for aggregate, q in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)]:
        value, count = one(store, aggregate)
        assert count == len(values)
        assert value == pytest.approx(exact_quantile(values, q), rel=0.01)
    assert one(store, "sum")[0] == pytest.approx(math.fsum(values))
    assert one(store, "max")[0] == max(values)
    assert one(store, "min")[0] == min(values)


def test_negative_and_zero_values_match_ddsketch() -> None:
    store = WindowStore()
    sketch = DDSketch(0.01)
    for i, v in enumerate([*range(-50, 50), 0, 0, 0]):
        store.add("temp", float(v), {}, NOW - 10 + i * 0.05, NOW)
        sketch.add(float(v))
    for aggregate, q in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]:
        got = store.query("temp", aggregate=aggregate, window=60, now=NOW)[()][0]
        assert got == pytest.approx(sketch.get_quantile_value(q), rel=1e-9, abs=1e-12)
    got = store.query("temp", aggregate="p50", window=60, now=NOW, match={})[()][0]
    assert got is not None and abs(got) <= 1.01


def test_window_bounds_are_open_at_the_start_and_closed_at_now() -> None:
    store = WindowStore()
    store.add(HTTP, 1.0, {}, NOW - 300, NOW)  # exactly window ago: out
    store.add(HTTP, 2.0, {}, NOW - 299.5, NOW)  # just inside
    store.add(HTTP, 4.0, {}, NOW, NOW)  # now: in
    assert one(store, "sum") == (6.0, 2)
    assert one(store, "count", window=60) == (1.0, 1)


def test_offset_reads_the_previous_window() -> None:
    store = WindowStore()
    for ts, v in [(NOW - 450, 10.0), (NOW - 350, 20.0), (NOW - 100, 1.0)]:
        store.add(HTTP, v, {}, ts, NOW)
    assert one(store, "avg", offset=300) == (15.0, 2)
    assert one(store, "avg") == (1.0, 1)


def test_group_by_match_and_missing_labels() -> None:
    store = WindowStore()
    store.add(HTTP, 1.0, {"route": "/a", "env": "prod"}, NOW - 1, NOW)
    store.add(HTTP, 3.0, {"route": "/a", "env": "prod"}, NOW - 2, NOW)
    store.add(HTTP, 5.0, {"route": "/b", "env": "prod"}, NOW - 1, NOW)
    store.add(HTTP, 7.0, {"route": "/b", "env": "dev"}, NOW - 1, NOW)
    store.add(HTTP, 9.0, {"env": "prod"}, NOW - 1, NOW)

    by_route = store.query(
        HTTP, aggregate="avg", window=60, now=NOW, group_by=("route",), match={"env": "prod"}
    )
    assert by_route == {
        (("route", "/a"),): (2.0, 2),
        (("route", "/b"),): (5.0, 1),
        (("route", ""),): (9.0, 1),  # a missing label groups as empty
    }
    both = store.query(HTTP, aggregate="count", window=60, now=NOW, group_by=("env", "route"))
    assert both[(("env", "dev"), ("route", "/b"))] == (1.0, 1)
    assert store.query(HTTP, aggregate="count", window=60, now=NOW, match={"route": ""}) == {
        (): (1.0, 1)
    }
    assert store.query(HTTP, aggregate="count", window=60, now=NOW, match={"env": "qa"}) == {}
    assert store.query("nope", aggregate="count", window=60, now=NOW) == {}


def test_percent_where_needs_every_regex_to_match_the_whole_value() -> None:
    store = WindowStore()
    for status, method in [("500", "GET"), ("503", "POST"), ("5000", "GET"), ("200", "GET")]:
        store.add(HTTP, 1.0, {"status": status, "method": method}, NOW - 1, NOW)
    assert one(store, "percent_where", where={"status": "5.."}) == (50.0, 4)
    assert one(store, "percent_where", where={"status": "5..", "method": "GET"}) == (25.0, 4)
    assert one(store, "percent_where", where={"zone": ".+"}) == (0.0, 4)


def test_series_without_samples_in_the_window_reads_as_no_data() -> None:
    store = WindowStore()
    store.add(HTTP, 5.0, {"route": "/a"}, NOW - 1000, NOW)
    for aggregate in ("count", "avg", "p95", "min", "percent_where"):
        assert one(store, aggregate, where={"route": "/a"}) == (None, 0)


def test_sliding_forward_with_late_samples_matches_brute_force() -> None:
    """Running windows (add entering buckets, subtract leaving ones) stay exact."""
    rng = random.Random(11)
    store = WindowStore(max_window=900)
    samples: list[tuple[float, float, str]] = []
    now = NOW
    for step in range(240):
        now += rng.choice([0.5, 1.0, 1.0, 3.0, 61.0]) if step % 7 else 1.0
        for _ in range(rng.randrange(0, 12)):
            ts = now - rng.choice([0.0, 0.2, 5.0, 40.0, 299.0])  # some land in old buckets
            v = rng.lognormvariate(2, 1) * rng.choice([1, 1, 1, -1])
            route = rng.choice("ab")
            if store.add(HTTP, v, {"route": route}, ts, now):
                samples.append((ts, v, route))
        window, offset = rng.choice([(60, 0), (300, 0), (300, 300), (10, 0)])
        aggregate = rng.choice(["count", "sum", "min", "max", "p50", "p95", "percent_where"])
        got = store.query(
            HTTP,
            aggregate=aggregate,
            window=window,
            now=now,
            offset=offset,
            where={"route": "a"},
        )
        end = math.ceil(now - offset)
        inside = [(v, r) for ts, v, r in samples if end - window < math.ceil(ts) <= end]
        values = [v for v, _ in inside]
        if not values:
            assert got in ({}, {(): (None, 0)})
            continue
        value, count = got[()]
        assert count == len(values)
        expected = {
            "count": float(len(values)),
            "sum": math.fsum(values),
            "min": min(values),
            "max": max(values),
            "percent_where": 100 * sum(r == "a" for _, r in inside) / len(values),
        }.get(aggregate)
        if expected is None:
            want = exact_quantile(values, 0.5 if aggregate == "p50" else 0.95)
            assert value == pytest.approx(want, rel=0.0101), (step, aggregate)
        else:
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-9), (step, aggregate)


def test_old_samples_are_refused_and_old_buckets_dropped() -> None:
    store = WindowStore(max_window=600)
    assert not store.add(HTTP, 1.0, {}, NOW - 600, NOW)
    assert store.add(HTTP, 1.0, {"route": "/old"}, NOW - 599, NOW)
    for i in range(100):
        assert store.add(HTTP, 2.0, {"route": "/new"}, NOW - i, NOW)
    assert store.stats()["buckets"] == 101
    assert store.stats()["dropped_too_old"] == 1

    later = NOW + 60
    store.prune(later)
    stats = store.stats()
    assert stats["series"] == 1  # /old had nothing left and went
    assert stats["buckets"] == 100
    assert store.query(HTTP, aggregate="count", window=600, now=later) == {(): (100.0, 100)}

    store.prune(NOW + 1000)
    assert store.stats()["series"] == store.stats()["buckets"] == 0


def test_buckets_are_dropped_while_adding_as_time_moves_on() -> None:
    store = WindowStore(max_window=120)
    for second in range(1200):
        store.add(HTTP, 1.0, {}, NOW + second, NOW + second)
    assert store.stats()["buckets"] <= 120 + 2  # pruned every max_window/120 seconds


def test_future_timestamps_are_clamped_to_now() -> None:
    store = WindowStore()
    assert store.add(HTTP, 7.0, {}, NOW + 3600, NOW)
    assert one(store, "sum", window=1) == (7.0, 1)
    assert one(store, "count", now=NOW + 10, window=5) == (None, 0)  # it stayed at NOW


def test_series_limit() -> None:
    store = WindowStore(max_window=60, max_series=2)
    assert store.add(HTTP, 1.0, {"route": "/a"}, NOW, NOW)
    assert store.add("other", 1.0, {}, NOW, NOW)
    assert not store.add(HTTP, 1.0, {"route": "/c"}, NOW, NOW)
    assert store.add(HTTP, 2.0, {"route": "/a"}, NOW, NOW)  # known series still accepted
    assert store.stats()["dropped_series_limit"] == 1
    later = NOW + 120
    assert store.add(HTTP, 1.0, {"route": "/c"}, later, later)  # room again once pruned
    assert store.stats()["series"] == 1


def test_non_finite_values_are_dropped() -> None:
    store = WindowStore()
    assert not store.add(HTTP, math.nan, {}, NOW, NOW)
    assert not store.add(HTTP, math.inf, {}, NOW, NOW)
    assert store.stats()["dropped_not_finite"] == 2


def test_add_many_counts_what_it_kept_and_defaults_ts_to_now() -> None:
    store = WindowStore(max_window=60)
    kept = store.add_many(
        [Sample(HTTP, 1.0, {}, None), Sample(HTTP, 2.0, {}, NOW - 3600), Sample(HTTP, 3.0)], NOW
    )
    assert kept == 2
    assert store.query(HTTP, aggregate="sum", window=1, now=NOW) == {(): (4.0, 2)}


def test_queries_longer_than_the_store_keeps_are_refused() -> None:
    store = WindowStore(max_window=600)
    with pytest.raises(ValueError, match="max_window"):
        store.query(HTTP, aggregate="avg", window=400, offset=400, now=NOW)
    with pytest.raises(ValueError, match="aggregate"):
        store.query(HTTP, aggregate="median", window=60, now=NOW)
    assert store.query(HTTP, aggregate="avg", window=300, offset=300, now=NOW) == {}


def test_stats_names() -> None:
    assert set(WindowStore().stats()) == {
        "metrics",
        "series",
        "buckets",
        "samples_stored",
        "dropped_too_old",
        "dropped_series_limit",
        "dropped_not_finite",
    }
