"""The seed rules against injected regressions: time to alert, false positives, misses.

    .venv/bin/python benchmarks/regressions.py [--hours 200] [--seed 1]

Targets: an alert within 5 minutes of a real regression, false positives under 10% of
the incidents, missed regressions under 1%.

Synthetic traffic of service ``api`` (5 routes, 1 request a second each, log-normal
latencies with medians 80..250 ms, 0.5% of answers 5xx) is replayed through the real
engine (``monitors.backtest.replay``, as ``run.py backtest`` does) with the seed rules
``slow-api`` (p95 per route over 5m > 800 ms, two breaches) and ``api-errors`` (5xx
share over 5m > 2%) from config/tocsin.yaml. Every hour one real regression starts at a
random minute and lasts 10 to 20 minutes, alternately:

* a slow endpoint: one route slows down until its p95 is 1 to 3 seconds;
* an error rate: 6% to 15% of the service's answers are 5xx.

Blips that are not regressions are mixed in: a route 10 times slower for 5 seconds,
bursts of 5 errors within a second. A regression counts as caught by the first incident
of its rule (and route) opened between its start and 5 minutes after its end; an
incident that catches none is a false positive.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.settings import read_config
from monitors.backtest.replay import replay
from monitors.backtest.samples import SampleSet

ROOT = Path(__file__).resolve().parent.parent
METRIC = "http.request.duration_ms"
ROUTES = {"/orders": 250.0, "/cart": 180.0, "/search": 120.0, "/login": 90.0, "/health": 80.0}
START = 1_800_000_000.0 - 1_800_000_000.0 % 3600
SEED_RULES = ("slow-api", "api-errors")
LATE = 300.0
SPREAD = 0.4
P95_OF_MEDIAN = 2.718281828 ** (1.645 * SPREAD)


@dataclass(frozen=True)
class Regression:
    kind: str  # "slow" or "errors"
    start: float
    end: float
    route: str | None = None
    factor: float = 1.0


def schedule(hours: int, rng: random.Random) -> list[Regression]:
    out = []
    for hour in range(hours):
        start = START + hour * 3600 + rng.uniform(15, 35) * 60
        end = start + rng.uniform(10, 20) * 60
        if hour % 2 == 0:  # the route's p95 goes to 1 to 3 s (the rule: over 800 ms)
            route = rng.choice(list(ROUTES))
            factor = rng.uniform(1000, 3000) / (ROUTES[route] * P95_OF_MEDIAN)
            out.append(Regression("slow", start, end, route, factor))
        else:
            out.append(Regression("errors", start, end, None, rng.uniform(0.06, 0.15)))
    return out


def traffic(hours: int, regressions: list[Regression], rng: random.Random) -> SampleSet:
    samples = SampleSet(METRIC)
    labels = {
        (route, status): {"service": "api", "route": route, "status": status}
        for route in ROUTES
        for status in ("200", "500")
    }
    by_second: dict[int, Regression] = {}
    for regression in regressions:
        for second in range(int(regression.start), int(regression.end)):
            by_second[second] = regression
    blips: dict[int, str] = {}  # second -> the route 10 times slower for 5 seconds
    for _ in range(hours * 3):
        first, route = int(START + rng.uniform(0, hours * 3600)), rng.choice(list(ROUTES))
        blips.update({second: route for second in range(first, first + 5)})
    bursts = {int(START + rng.uniform(0, hours * 3600)) for _ in range(hours * 3)}
    gauss, rand = rng.gauss, rng.random
    for second in range(int(START), int(START + hours * 3600)):
        now = float(second)
        regression = by_second.get(second)
        error_rate = regression.factor if regression and regression.kind == "errors" else 0.005
        for route, median in ROUTES.items():
            value = median * 2.718281828 ** gauss(0, SPREAD)
            if regression and regression.kind == "slow" and regression.route == route:
                value *= regression.factor
            if blips.get(second) == route:
                value *= 10
            status = "500" if rand() < error_rate else "200"
            samples.add(now + rand() * 0.9, value, labels[(route, status)])
        if second in bursts:
            for _ in range(5):
                samples.add(now + 0.95, 50.0, labels[("/orders", "500")])
    return samples.sorted()


def evaluate(regressions: list[Regression], incidents: list) -> None:
    caught: dict[int, float] = {}
    false_positives = []
    for incident in incidents:
        kind = "slow" if incident.rule == "slow-api" else "errors"
        route = incident.labels.get("route")
        match = next(
            (
                i
                for i, r in enumerate(regressions)
                if i not in caught
                and r.kind == kind
                and (kind == "errors" or r.route == route)
                and r.start <= incident.opened_at <= r.end + LATE
            ),
            None,
        )
        if match is None:
            false_positives.append(incident)
        else:
            caught[match] = incident.opened_at - regressions[match].start
    missed = [r for i, r in enumerate(regressions) if i not in caught]
    for kind, name in (("slow", "slow endpoint (p95)"), ("errors", "error rate (5xx share)")):
        delays = [d for i, d in caught.items() if regressions[i].kind == kind]
        total = sum(1 for r in regressions if r.kind == kind)
        p95 = sorted(delays)[int(0.95 * (len(delays) - 1))]
        print(
            f"  {name:24s} {len(delays)}/{total} caught; time to alert median "
            f"{statistics.median(delays):4.0f} s, p95 {p95:4.0f} s, max {max(delays):4.0f} s"
        )
    share_fp = len(false_positives) / max(1, len(incidents))
    share_missed = len(missed) / len(regressions)
    worst = max(caught.values())
    print(f"  incidents {len(incidents)}, false positives {len(false_positives)} ({share_fp:.1%})")
    print(f"  regressions {len(regressions)}, missed {len(missed)} ({share_missed:.1%})")
    print("targets:")
    for target, figure, met in (
        ("alert within 5 minutes", f"max {worst:.0f} s", worst <= 300),
        ("false positives under 10%", f"{share_fp:.1%}", share_fp < 0.10),
        ("missed under 1%", f"{share_missed:.1%}", share_missed < 0.01),
    ):
        print(f"  {target:28s} {figure:10s} {'MET' if met else 'NOT MET'}")


async def main(hours: int, seed: int, config: Path) -> None:
    rng = random.Random(seed)
    _, rules = read_config(config)
    chosen = [rule for rule in rules if rule.name in SEED_RULES]
    regressions = schedule(hours, rng)
    started = time.perf_counter()
    samples = traffic(hours, regressions, rng)
    generated = time.perf_counter() - started
    result = await replay(chosen, samples)
    replayed = time.perf_counter() - started - generated
    print(
        f"{hours} h of traffic, {len(samples):,} samples ({generated:.0f} s to generate), "
        f"replayed through {', '.join(r.name for r in chosen)} in {replayed:.0f} s "
        f"({result.ticks:,} ticks)"
    )
    evaluate(regressions, result.incidents)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tocsin.yaml")
    args = parser.parse_args()
    asyncio.run(main(args.hours, args.seed, args.config))
