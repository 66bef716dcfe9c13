"""Ingest: request body validation and the source that answers rules from the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from monitors.rules.schema import Rule
from monitors.sources.base import SeriesValue
from monitors.sources.ingest import IngestSource
from monitors.sources.pushed import IngestError, parse_samples
from monitors.windows.store import Sample, WindowStore

NOW = 1_800_000_000.0
GOOD = {"metric": "http.duration", "value": 12.5, "labels": {"route": "/a"}}


def body(*items: Any) -> bytes:
    return orjson.dumps({"samples": list(items)})


def errors_of(raw: bytes, **kw: Any) -> list[str]:
    with pytest.raises(IngestError) as caught:
        parse_samples(raw, NOW, **kw)
    return caught.value.errors


def epoch(*args: int, microsecond: int = 0) -> float:
    return datetime(*args, microsecond=microsecond, tzinfo=UTC).timestamp()


def test_parses_numbers_strings_and_missing_timestamps() -> None:
    samples = parse_samples(
        body(
            GOOD,
            {"metric": "m", "value": 3, "ts": NOW - 5},
            {"metric": "m", "value": -1.5, "ts": "2027-01-15T08:00:00Z"},
            {"metric": "m", "value": 0, "ts": "2027-01-15t09:00:00.5+01:00"},
            {"metric": "m", "value": 1, "labels": {}, "ts": None},
        ),
        NOW,
    )
    assert samples == [
        Sample("http.duration", 12.5, {"route": "/a"}, None),
        Sample("m", 3.0, {}, NOW - 5),
        Sample("m", -1.5, {}, epoch(2027, 1, 15, 8)),
        Sample("m", 0.0, {}, epoch(2027, 1, 15, 8, microsecond=500_000)),
        Sample("m", 1.0, {}, None),
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b'{"items": []}', "samples: required, a list"),
        (b'{"samples": {"metric": "m"}}', "samples: required, a list"),
        (b'{"samples": [1e400}', "body: not valid JSON"),
        (b'{"samples": [1e400]}', "samples[0]: must be an object"),  # named, not "not JSON"
    ],
)
def test_body_shape_errors(raw: bytes, message: str) -> None:
    assert errors_of(raw)[0].startswith(message)


def test_too_many_items() -> None:
    assert errors_of(body(GOOD, GOOD, GOOD), max_items=2) == [
        "samples: 3 items, at most 2 per request"
    ]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("text", "samples[1]: must be an object"),
        ({"value": 1}, "samples[1].metric: must be a non-empty string"),
        ({"metric": "", "value": 1}, "samples[1].metric: must be a non-empty string"),
        ({"metric": 5, "value": 1}, "samples[1].metric: must be a non-empty string"),
        ({"metric": "m" * 201, "value": 1}, "samples[1].metric: must be at most 200 characters"),
        ({"metric": "m"}, "samples[1].value: must be a finite number"),
        ({"metric": "m", "value": "12"}, "samples[1].value: must be a finite number"),
        ({"metric": "m", "value": True}, "samples[1].value: must be a finite number"),
        ({"metric": "m", "value": None}, "samples[1].value: must be a finite number"),
        ({"metric": "m", "value": 1, "labels": ["a"]}, "samples[1].labels: must be an object"),
        (
            {"metric": "m", "value": 1, "labels": {f"k{i}": "v" for i in range(33)}},
            "samples[1].labels: at most 32 labels, got 33",
        ),
        ({"metric": "m", "value": 1, "labels": {"a": 1}}, "samples[1].labels.a: must be a string"),
        (
            {"metric": "m", "value": 1, "labels": {"a": "v" * 201}},
            "samples[1].labels.a: must be at most 200 characters",
        ),
        (
            {"metric": "m", "value": 1, "labels": {"": "v"}},
            "samples[1].labels: name '' must be 1 to 200 characters",
        ),
        (
            {"metric": "m", "value": 1, "labels": {"k" * 201: "v"}},
            "samples[1].labels: name '" + "k" * 40 + "' must be 1 to 200 characters",
        ),
        ({"metric": "m", "value": 1, "ts": "yesterday"}, "samples[1].ts: 'yesterday' is not"),
        (
            {"metric": "m", "value": 1, "ts": "2027-01-15T08:00:00"},
            "samples[1].ts: '2027-01-15T08:00:00' needs a UTC offset",
        ),
        ({"metric": "m", "value": 1, "ts": True}, "samples[1].ts: must be epoch seconds"),
        ({"metric": "m", "value": 1, "ts": [1]}, "samples[1].ts: must be epoch seconds"),
        (
            {"metric": "m", "value": 1, "ts": NOW * 1000},
            "samples[1].ts: is more than a day in the future; send epoch seconds",
        ),
        ({"metric": "m", "value": 1, "unit": "ms"}, "samples[1]: unknown field 'unit'"),
    ],
)
def test_item_errors_name_the_item_and_reject_the_whole_batch(item: Any, message: str) -> None:
    errors = errors_of(body(GOOD, item, GOOD))
    assert len(errors) == 1
    assert errors[0].startswith(message), errors


def test_every_bad_item_is_reported() -> None:
    errors = errors_of(body({"metric": "", "value": "x"}, GOOD, {"value": 2}))
    assert errors == [
        "samples[0].metric: must be a non-empty string",
        "samples[0].value: must be a finite number",
        "samples[2].metric: must be a non-empty string",
    ]
    assert str(IngestError(errors)).startswith("samples[0].metric")


def test_long_error_lists_are_capped() -> None:
    errors = errors_of(body(*[{"metric": "m"}] * 80))
    assert len(errors) == 51
    assert errors[-1] == "... and 30 more"


# --- IngestSource ---------------------------------------------------------------------


def rule(name: str, **kw: Any) -> Rule:
    kw.setdefault("metric", "http.duration")
    kw.setdefault("thresholds", {"warning": 1})
    return Rule(name=name, **kw)


@pytest.fixture
def store() -> WindowStore:
    store = WindowStore(max_window=1800)
    for i in range(60):  # last 5 min: /a 10 ms x60, /b 50 ms x2; before: /a 20 ms x30
        store.add("http.duration", 10.0, {"route": "/a", "status": "200"}, NOW - i * 5, NOW)
        if i < 30:
            store.add(
                "http.duration", 20.0, {"route": "/a", "status": "500"}, NOW - 300 - i * 10, NOW
            )
    for ts in (NOW - 1, NOW - 2):
        store.add("http.duration", 50.0, {"route": "/b", "status": "200"}, ts, NOW)
    return store


async def test_static_rule_reads_one_series(store: WindowStore) -> None:
    readings = await IngestSource(store).fetch(
        [rule("avg", window="5m"), rule("count", aggregate="count", window="15m")], NOW
    )
    assert readings["avg"].series == [SeriesValue((), (60 * 10 + 2 * 50) / 62, 62)]
    assert readings["count"].series == [SeriesValue((), 92.0, 92)]
    assert readings["avg"].error is None


async def test_groups_below_min_samples_are_listed_as_no_data(store: WindowStore) -> None:
    readings = await IngestSource(store).fetch(
        [rule("p95", aggregate="p95", group_by=["route"], min_samples=5)], NOW
    )
    a, b = readings["p95"].series
    assert a.labels == (("route", "/a"),) and a.count == 60
    assert a.value == pytest.approx(10.0, rel=0.01)
    assert b == SeriesValue((("route", "/b"),), None, 2)


async def test_no_samples_at_all(store: WindowStore) -> None:
    readings = await IngestSource(store).fetch(
        [
            rule("missing", metric="queue.depth"),
            rule("missing-grouped", metric="queue.depth", group_by=["queue"]),
            rule("quiet", match={"route": "/a", "status": "500"}, window="1m"),
        ],
        NOW,
    )
    assert readings["missing"].series == [SeriesValue((), None, 0)]
    assert readings["missing-grouped"].series == []
    assert readings["quiet"].series == [SeriesValue((), None, 0)]


async def test_percent_change_reads_the_previous_window(store: WindowStore) -> None:
    readings = await IngestSource(store).fetch(
        [
            rule(
                "rate-change",
                aggregate="rate",
                window="5m",
                threshold_type="percent_change",
                match={"route": "/a"},
                percent=50,
            ),
            rule("rate", aggregate="rate", window="5m", match={"route": "/a"}),
        ],
        NOW,
    )
    assert readings["rate-change"].series == [SeriesValue((), 60 / 300, 60, 30 / 300)]
    assert readings["rate"].series == [SeriesValue((), 60 / 300, 60, None)]


async def test_rules_over_the_same_data_each_get_their_aggregate(store: WindowStore) -> None:
    rules = [
        rule("err", aggregate="percent_where", where={"status": "5.."}, window="15m"),
        rule("ok", aggregate="percent_where", where={"status": "2.."}, window="15m"),
        rule("max", aggregate="max", window="15m"),
        rule("min", aggregate="min", window="15m"),
        rule("p50", aggregate="p50", window="15m"),
        rule("sum", aggregate="sum", window="15m"),
    ]
    readings = await IngestSource(store).fetch(rules, NOW)
    values = {name: r.series[0].value for name, r in readings.items()}
    assert values["err"] == pytest.approx(100 * 30 / 92)
    assert values["ok"] == pytest.approx(100 * 62 / 92)
    assert (values["max"], values["min"], values["sum"]) == (50.0, 10.0, 600 + 100 + 600)
    assert values["p50"] == pytest.approx(10.0, rel=0.01)


async def test_a_window_the_store_does_not_keep_is_a_source_error(store: WindowStore) -> None:
    readings = await IngestSource(store).fetch(
        [rule("long", window="20m", threshold_type="percent_change", percent=10), rule("ok")], NOW
    )
    assert readings["long"].series == ()
    assert "max_window" in (readings["long"].error or "")
    assert readings["ok"].error is None


async def test_fetch_follows_new_samples(store: WindowStore) -> None:
    source = IngestSource(store)
    rules = [rule("count", aggregate="count", window="1m")]
    first = await source.fetch(rules, NOW)
    store.add("http.duration", 1.0, {"route": "/c"}, NOW + 1, NOW + 1)
    second = await source.fetch(rules, NOW + 1)
    assert first["count"].series == [SeriesValue((), 14.0, 14)]  # /a every 5 s, /b twice
    assert second["count"].series == [SeriesValue((), 15.0, 15)]


async def test_traffic_stopping_reads_zero_so_a_throughput_floor_can_fire():
    store = WindowStore()
    rule = Rule.model_validate(
        {
            "name": "checkout-traffic",
            "metric": "req",
            "aggregate": "rate",
            "window": "10s",
            "op": "<",
            "thresholds": {"warning": 1},
            "min_samples": 50,
        }
    )
    store.add_many([Sample("req", 1.0, {}, 1000.0 - k * 0.1) for k in range(50)], now=1000.0)
    busy = (await IngestSource(store).fetch([rule], 1000.0))[rule.name].series
    assert busy[0].value == pytest.approx(5.0)  # 50 samples over 10 s, min_samples ignored
    quiet = (await IngestSource(store).fetch([rule], 1100.0))[rule.name].series
    assert [(s.labels, s.value) for s in quiet] == [((), 0.0)]  # not "no data"


async def test_a_rule_added_while_running_gets_the_window_it_needs(tmp_path):
    from monitors.actors import ADMIN, Actor
    from monitors.core import Core

    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    try:
        admin = Actor("a", "a", "api", frozenset({ADMIN}))
        await core.rules.create(
            {
                "name": "daily",
                "metric": "m",
                "window": "6h",
                "threshold_type": "percent_change",
                "percent": 50,
            },
            admin,
        )
        assert core.store.max_window >= 12 * 3600  # 6 h now and 6 h before it
        now = 1_800_000_000.0
        core.store.add_many([Sample("m", 1.0, {}, now - 7 * 3600)], now=now)
        reading = (await core.engine.sources["ingest"].fetch(core.rulebook.all(), now))["daily"]
        assert reading.error is None
    finally:
        await core.close()
