"""The sample history behind rule backtests: its size, its accuracy and a 7-day replay.

    .venv/bin/python benchmarks/history.py

* recording: samples/s into the minute buckets (on top of the window store);
* storage: bytes an hour and a week of one series take in sample_history at 1, 10 and
  100 samples a second (the size grows with the number of distinct 1% bins a minute
  holds, not with the number of samples), and what 1,000 series at 1/s weigh for 7 days;
* accuracy: p50/p95/p99 over 5-minute windows read from the history against the exact
  values of the raw samples (the bound is the sketch's: 1% relative);
* a 7-day backtest: a p95 rule grouped by route over 10 routes, today's and a proposed
  threshold, replayed through the engine at 1-minute steps.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.backtest.compare import backtest
from monitors.backtest.history import STEP, SampleHistory, encode_block
from monitors.backtest.history_source import HistorySource
from monitors.rules.schema import Rule
from storage.db import Database

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
WEEK = 7 * 86400


def latencies(rng: random.Random, count: int) -> list[float]:
    return [rng.lognormvariate(5, 0.5) for _ in range(count)]


def hour_bytes(per_second: float, rng: random.Random) -> int:
    """Stored bytes of one series' hour at ``per_second`` samples a second."""
    history = SampleHistory(None)
    n = int(3600 * per_second)
    for i, value in enumerate(latencies(rng, n)):
        history.add("latency", value, {}, T0 + 1 + i / per_second, T0 + 3600)
    buckets = history._open[("latency", ())]
    return len(encode_block(buckets, min(buckets)))


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]  # DDSketch's rank rule: floor(q * (n - 1))


async def accuracy(rng: random.Random) -> tuple[float, int]:
    """Largest relative error of p50/p95/p99 over 5m windows, history vs raw."""
    raw: list[tuple[float, float]] = []
    history = SampleHistory(None)
    for i in range(3 * 3600 * 5):  # 3 hours at 5 samples a second
        ts = T0 + 1 + i / 5
        value = rng.lognormvariate(5, 0.6)
        raw.append((ts, value))
        history.add("latency", value, {}, ts, T0 + 3 * 3600)
    loaded = await history.load({"latency"}, T0, T0 + 3 * 3600)
    worst, checked = 0.0, 0
    for q in ("p50", "p95", "p99"):
        spec = {"name": "q", "metric": "latency", "aggregate": q, "window": "5m"}
        rule = Rule.model_validate({**spec, "thresholds": {"warning": 1}})
        source = HistorySource(loaded, [rule])
        for now in range(int(T0 + 600), int(T0 + 3 * 3600) + 1, 60):
            got = (await source.fetch([rule], now))["q"].series[0].value
            window = [v for ts, v in raw if now - 300 < ts <= now]
            want = exact_quantile(window, {"p50": 0.5, "p95": 0.95, "p99": 0.99}[q])
            worst = max(worst, abs(got - want) / want)
            checked += 1
    return worst, checked


async def seven_days(folder: Path, rng: random.Random) -> None:
    history = SampleHistory(Database(f"sqlite+aiosqlite:///{folder / 'history.db'}"))
    await history.db.migrate()
    routes = [f"/route-{i}" for i in range(10)]
    started = time.perf_counter()
    count = 0
    for minute in range(int(WEEK / 60)):
        slow = (minute // 60) % 24 == 13 and minute % 60 < 20  # 20 slow minutes a day
        for route in routes:
            for k in range(6):  # a sample every 10 s per route
                value = rng.lognormvariate(5, 0.4) * (4 if slow and route == routes[0] else 1)
                ts = T0 + minute * 60 + 10 * k + 1
                history.add("latency", value, {"route": route}, ts, ts)
                count += 1
        if minute % 60 == 59:
            await history.flush(T0 + (minute + 1) * 60 + 600)
    await history.flush(T0 + WEEK, everything=True)
    recorded = time.perf_counter() - started
    size = (folder / "history.db").stat().st_size
    print(
        f"7 days x 10 routes, a sample every 10 s ({count:,} samples): recorded and saved in "
        f"{recorded:.1f} s; database file {size / 1024 / 1024:.1f} MiB"
    )
    rule = Rule.model_validate(
        {
            "name": "slow-route",
            "metric": "latency",
            "aggregate": "p95",
            "window": "5m",
            "interval": "1m",
            "group_by": ["route"],
            "thresholds": {"warning": 600},
        }
    )
    proposed = rule.model_copy(update={"breaches_to_open": 5})
    started = time.perf_counter()
    report = await backtest(history, rule, proposed, T0 + WEEK, days=7)
    took = time.perf_counter() - started
    print(
        f"7-day backtest of a p95 rule by route (10 series, {int(WEEK / STEP):,} ticks per rule, "
        f"two rules): {took:.1f} s; today's rule {len(report.current)} incidents, "
        f"breaches_to_open 5: {len(report.proposed)}, time to open "
        f"{report.median_difference:+.0f} s"
    )
    await history.db.close()


async def main() -> None:
    rng = random.Random(7)
    history = SampleHistory(None)
    values = latencies(rng, 1_000_000)
    started = time.perf_counter()
    for i, value in enumerate(values):
        history.add("latency", value, {"route": f"/r{i % 100}"}, T0 + i / 100, T0 + 10_000)
    rate = len(values) / (time.perf_counter() - started)
    print(f"recording: {rate:,.0f} samples/s (100 series)")
    for per_second in (1, 10, 100):
        size = hour_bytes(per_second, rng)
        print(
            f"storage at {per_second:>3}/s: {size:>7,} B an hour, "
            f"{size * 168 / 1024 / 1024:6.2f} MiB a week per series"
        )
    week = hour_bytes(1, rng) * 168 * 1000
    print(f"1,000 series at 1/s for 7 days: {week / 1024 / 1024 / 1024:.2f} GiB")
    worst, checked = await accuracy(rng)
    print(
        f"accuracy: p50/p95/p99 over 5m windows, {checked} windows: max relative error "
        f"{worst * 100:.3f}% (bound 1%) {'MET' if worst <= 0.01 + 1e-12 else 'NOT MET'}"
    )
    with tempfile.TemporaryDirectory(prefix="tocsin-history-bench-") as folder:
        await seven_days(Path(folder), rng)


if __name__ == "__main__":
    asyncio.run(main())
