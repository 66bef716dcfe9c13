"""The sample history and backtests over it: minute buckets answer every aggregate as
the live store does, survive a restart, and a proposed rule change is compared with
today's rule over the same samples, through the core and the API, saving nothing."""

from __future__ import annotations

import random

import pytest
from http_harness import serve
from sqlalchemy import func, select

from monitors.backtest.compare import Matched, match
from monitors.backtest.history import KEEP, STEP, SampleHistory, decode_block, encode_block
from monitors.backtest.history_source import HistorySource
from monitors.backtest.memory import ReplayedIncident
from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.sources.ingest import IngestSource
from monitors.windows.store import Sample, WindowStore
from storage.db import Database
from storage.models import AuditRow, SampleHistoryRow

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600  # on the hour
ROUTES = ("/orders", "/cart", "/health")


def traffic(start: float, seconds: int, every: float = 5.0, slow: tuple[float, float] = (0, 0)):
    """Latencies per route every ``every`` seconds; 5xx now and then; ``slow`` is a
    (from, to) period when /orders takes four times as long."""
    rng = random.Random(int(start))
    out = []
    t = start
    while t < start + seconds:
        for route in ROUTES:
            value = rng.lognormvariate(5, 0.4)
            if route == "/orders" and slow[0] <= t < slow[1]:
                value *= 4
            status = "500" if rng.random() < 0.03 else "200"
            out.append(Sample("latency", value, {"route": route, "status": status}, t))
        t += every
    return out


RULES = [
    Rule.model_validate(
        {
            "name": f"r-{agg}",
            "metric": "latency",
            "aggregate": agg,
            "thresholds": {"warning": 1e9},
            **extra,
        }
    )
    for agg, extra in [
        ("p95", {"group_by": ["route"], "window": "5m"}),
        ("p50", {"window": "2m"}),
        ("avg", {"group_by": ["route"], "match": {"status": "200"}}),
        ("max", {"window": "10m"}),
        ("count", {"group_by": ["status"]}),
        ("rate", {}),
        ("percent_where", {"where": {"status": "5.."}, "group_by": ["route"]}),
        ("avg", {"threshold_type": "percent_change", "name": "r-change", "window": "3m"}),
    ]
]


async def test_minute_buckets_answer_every_aggregate_as_the_live_store_does():
    samples = traffic(T0, 1800)
    store, history = WindowStore(max_window=7200), SampleHistory(None)
    now = T0 + 1800
    store.add_many(samples, now=now)
    history.add_many(samples, now)
    live = IngestSource(store)
    replayed = HistorySource(await history.load({"latency"}, T0 - 60, now), RULES)
    for at in (T0 + 900, T0 + 1500, now):  # on whole minutes
        expected = await live.fetch(RULES, at)
        got = await replayed.fetch(RULES, at)
        for rule in RULES:
            want = {s.labels: (s.value, s.count, s.previous) for s in expected[rule.name].series}
            have = {s.labels: (s.value, s.count, s.previous) for s in got[rule.name].series}
            assert have.keys() == want.keys(), rule.name
            for labels, (value, count, previous) in want.items():
                assert have[labels][1] == count
                assert have[labels][0] == pytest.approx(value, rel=1e-9), (rule.name, labels)
                assert have[labels][2] == pytest.approx(previous, rel=1e-9)


def test_an_hour_of_buckets_is_stored_compactly_and_read_back_exactly():
    history = SampleHistory(None)
    for sample in traffic(T0, 3600):
        history.add(sample.metric, sample.value, sample.labels, sample.ts, T0 + 3600)
    key = ("latency", (("route", "/orders"), ("status", "200")))
    buckets = history._open[key]
    block = min(buckets)
    data = encode_block(buckets, block)
    decoded = decode_block(data, block)
    assert decoded.keys() == buckets.keys()
    for index, bucket in buckets.items():
        other = decoded[index]
        assert (other.count, other.total, other.lo, other.hi, other.bins) == (
            bucket.count,
            bucket.total,
            bucket.lo,
            bucket.hi,
            bucket.bins,
        )
    assert len(data) < 60 * 200  # 11 samples a minute on ~10 bins: well under 200 B/min


async def test_history_is_saved_hour_by_hour_merged_when_late_and_pruned_after_a_week(db):
    history = SampleHistory(db)
    history.add_many(traffic(T0 + 5, 3590), T0 + 3600)  # all in the hour (T0, T0 + 1h]
    assert await history.flush(T0 + 3600) == 0  # the hour is not over GRACE ago yet
    assert await history.flush(T0 + 3600 + 400) == 6  # 3 routes x 2 statuses
    late = Sample("latency", 10_000.0, {"route": "/orders", "status": "200"}, T0 + 30)
    history.add_many([late], T0 + 4000)
    await history.flush(T0 + 4000)
    reloaded = await SampleHistory(db).load({"latency"}, T0 - 60, T0 + 3600)
    orders = reloaded.buckets["latency"][(("route", "/orders"), ("status", "200"))]
    assert max(bucket.hi for bucket in orders.values()) == 10_000.0  # merged, not lost
    assert reloaded.sample_count() == len(traffic(T0 + 5, 3590)) + 1
    history.add_many(traffic(T0 + KEEP + 7200, 60), T0 + KEEP + 7200)
    await history.flush(T0 + KEEP + 7200, everything=True)
    async with db.read() as session:
        oldest = await session.scalar(select(func.min(SampleHistoryRow.block)))
    assert oldest * STEP > T0 + 3600  # the first hour is gone


async def test_the_hour_in_progress_is_saved_at_shutdown(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}"
    core = await Core.open(url, [RULES[0]], clock=lambda: T0 + 600)
    core.ingest(traffic(T0, 600), T0 + 600)
    await core.close()
    db = Database(url)
    try:
        loaded = await SampleHistory(db).load({"latency"}, T0 - 60, T0 + 600)
    finally:
        await db.close()
    assert loaded.sample_count() == len(traffic(T0, 600))


def incident(opened: float, resolved: float | None, labels=None) -> ReplayedIncident:
    return ReplayedIncident(1, "r", labels or {}, "warning", opened, resolved_at=resolved)


def test_incidents_are_matched_on_their_series_while_both_were_open():
    current = [incident(100, 200), incident(500, 600), incident(900, None, {"route": "/a"})]
    proposed = [incident(160, 300), incident(950, 990, {"route": "/b"}), incident(2000, None)]
    matched, missed, added = match(current, proposed, end=3000)
    assert matched == [Matched({}, 100, 160)] and matched[0].difference == 60
    assert missed == current[1:]
    assert added == proposed[1:]


SLOW_ORDERS = {
    "name": "slow-orders",
    "metric": "latency",
    "match": {"route": "/orders"},
    "aggregate": "p95",
    "window": "5m",
    "interval": "1m",
    "thresholds": {"warning": 700},
    "cooldown": "5m",
}


async def test_a_proposed_change_is_compared_with_todays_rule_and_nothing_is_saved(sqlite_url):
    now = T0 + 6 * 3600
    core = await Core.open(sqlite_url, [Rule.model_validate(SLOW_ORDERS)], clock=lambda: now)
    try:
        for hour in range(6):  # a 20-minute slowdown in each hour
            start = T0 + hour * 3600
            core.ingest(traffic(start, 3600, slow=(start + 600, start + 1800)), now)
        report = await core.backtest("slow-orders", {"breaches_to_open": 5})
        assert (report.start, report.end) == (T0, now)  # from the first bucket
        assert len(report.current) == len(report.proposed) == 6
        assert len(report.matched) == 6 and not report.missed and not report.added
        assert report.median_difference == 3 * 60  # five breaches instead of two
        same = await core.backtest("slow-orders")
        assert same.median_difference == 0 and len(same.current) == 6
        fewer = await core.backtest("slow-orders", {"thresholds": {"warning": 100_000}})
        assert (len(fewer.proposed), len(fewer.missed)) == (0, 6)
        assert core.rulebook.get("slow-orders") == Rule.model_validate(SLOW_ORDERS)
    finally:
        await core.close()


async def test_the_backtest_api_answers_what_would_have_opened(sqlite_url, clock):
    clock.now = T0 + 3 * 3600
    async with serve(sqlite_url, clock, rules=[Rule.model_validate(SLOW_ORDERS)]) as api:
        core = api.core
        for hour in range(3):
            start = T0 + hour * 3600
            core.ingest(traffic(start, 3600, slow=(start + 600, start + 1800)), clock.now)
        answer = await api.client.post(
            "/v1/rules/slow-orders/backtest?days=1", json={"breaches_to_open": 5}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["current"]["opened"] == body["proposed"]["opened"] == 3
        assert body["proposed"]["rule"]["breaches_to_open"] == 5
        assert body["time_to_open"]["median_seconds"] == 180
        assert body["step"] == "1m" and body["history"]["series"] == 6
        first = body["current"]["incidents"][0]
        assert set(first) == {"rule", "labels", "severity", "opened_at", "resolved_at", "reopened"}
        async with core.db.read() as session:
            audited = await session.scalar(select(func.count()).select_from(AuditRow))
        assert audited == 0  # the backtest saved nothing


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (
            "/v1/rules/slow-orders/backtest",
            {"thresholds": {"warning": "high"}},
            400,
            "not a number",
        ),
        ("/v1/rules/slow-orders/backtest", {"name": "other"}, 400, "cannot be renamed"),
        ("/v1/rules/slow-orders/backtest", {"windw": "5m"}, 400, "did you mean 'window'"),
        ("/v1/rules/slow-orders/backtest?days=30", {}, 400, "days: give 1 to 7"),
        ("/v1/rules/slow-orders/backtest?days=x", {}, 400, "days: give 1 to 7"),
        ("/v1/rules/nope/backtest", {}, 404, "no rule named 'nope'"),
    ],
)
async def test_a_bad_backtest_request_is_refused_as_patch_refuses_it(
    sqlite_url, clock, path, body, status, words
):
    async with serve(sqlite_url, clock, rules=[Rule.model_validate(SLOW_ORDERS)]) as api:
        answer = await api.client.post(path, json=body)
        assert answer.status_code == status and words in answer.json()["error"]
        patch = await api.client.patch("/v1/rules/slow-orders", json=body)
        if "days" not in path and "nope" not in path:
            assert patch.status_code == 400 and patch.json()["error"] == answer.json()["error"]


async def test_samples_pushed_over_http_are_kept_for_backtests(sqlite_url, clock):
    async with serve(sqlite_url, clock) as api:
        pushed = await api.push(
            {"metric": "latency", "value": 120, "labels": {"route": "/a"}},
            {"metric": "latency", "value": 80, "labels": {"route": "/b"}},
        )
        assert pushed.status_code == 202
        loaded = await api.core.history.load({"latency"}, clock.now - 60, clock.now)
        assert (loaded.series_count(), loaded.sample_count()) == (2, 2)
