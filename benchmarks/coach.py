"""How long the chat's backtests take: the ``/rule set`` preview (today's rule and the
change, replayed over 7 days) and ``/rule coach`` (today's rule and each candidate).

    .venv/bin/python benchmarks/coach.py

A week of one sample every 10 s on 10 routes (the history of benchmarks/history.py),
a p95 rule grouped by route ticking every minute.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.windows.store import Sample

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
WEEK = 7 * 86400
RULE = Rule.model_validate(
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


def week_of_samples(rng: random.Random) -> list[Sample]:
    routes = [f"/route-{i}" for i in range(10)]
    samples = []
    for minute in range(int(WEEK / 60)):
        slow = (minute // 60) % 24 == 13 and minute % 60 < 20  # 20 slow minutes a day
        for route in routes:
            for k in range(6):
                value = rng.lognormvariate(5, 0.4) * (4 if slow and route == routes[0] else 1)
                samples.append(
                    Sample("latency", value, {"route": route}, T0 + minute * 60 + 10 * k + 1)
                )
    return samples


async def main() -> None:
    samples = week_of_samples(random.Random(7))
    with tempfile.TemporaryDirectory(prefix="tocsin-coach-bench-") as folder:
        now = T0 + WEEK
        core = await Core.open(f"sqlite+aiosqlite:///{folder}/coach.db", [RULE], clock=lambda: now)
        try:
            core.history.add_many(samples, now)
            started = time.perf_counter()
            report = await core.backtest(RULE.name, {"thresholds": {"warning": 700}}, 7)
            preview = time.perf_counter() - started
            print(
                f"/rule set preview, 7 days, 10 series ({len(samples):,} samples): {preview:.1f} s"
                f" (today's rule {len(report.current)} incidents, warning 700: "
                f"{len(report.proposed)})"
            )
            started = time.perf_counter()
            coaching = await core.coach(RULE.name, 7)
            took = time.perf_counter() - started
            best = coaching.best.candidate.label if coaching.best else "none"
            print(
                f"/rule coach, 7 days, 10 series: {took:.1f} s for today's rule and "
                f"{len(coaching.trials)} candidates (best: {best})"
            )
        finally:
            await core.close()


if __name__ == "__main__":
    asyncio.run(main())
