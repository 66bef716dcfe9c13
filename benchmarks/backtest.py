"""How fast ``run.py backtest`` replays a million samples (target: under 60 s).

    .venv/bin/python benchmarks/backtest.py [--samples 1000000]

Two CSV files of synthetic latencies with a regression now and then, each replayed
end to end as the command does (read and check the CSV, tick the rules through the
engine, collect the incidents):

* dense: one sample a second (11.6 days), a static p95 rule and an anomaly rule over a
  5m window, ticking every minute: most of the work is ingesting samples;
* one sample a tick: one sample every 5 minutes (9.5 years) and the anomaly rule of
  config/examples/anomaly.yaml ticking every 5 minutes: a million ticks, the worst case.

Then 5,000 samples one a tick, replayed in memory (as the command does) and through the
service's DatabaseSink on SQLite, with a calm rule and with a flapping one (a change of
series state nearly every tick): why the backtest keeps its incidents in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.backtest.replay import replay, run_ticks
from monitors.backtest.samples import read_samples
from monitors.core import Core
from monitors.formatting import iso
from monitors.rules.schema import Rule

START = 1_800_000_000.0


def write_csv(path: Path, count: int, step: float, seed: int) -> None:
    """Latencies around 200 ms with a daily swing and a 3x regression every ~2,000
    samples lasting 50 samples."""
    rng = random.Random(seed)
    with path.open("w") as out:
        out.write("timestamp,value\n")
        regression = 0
        for i in range(count):
            ts = START + i * step
            if regression == 0 and rng.random() < 1 / 2000:
                regression = 50
            base = 200 + 40 * ((ts % 86400) / 86400)
            value = rng.gauss(base, 20) * (3 if regression else 1)
            regression = max(0, regression - 1)
            out.write(f"{iso(ts)},{value:.2f}\n")


RULES = {
    "dense": [
        {
            "name": "slow-p95",
            "metric": "value",
            "aggregate": "p95",
            "window": "5m",
            "interval": "1m",
            "thresholds": {"warning": 500, "critical": 800},
        },
        {
            "name": "odd-avg",
            "metric": "value",
            "aggregate": "avg",
            "window": "5m",
            "interval": "1m",
            "threshold_type": "anomaly",
        },
    ],
    "one sample a tick": [
        {
            "name": "value-anomaly",
            "metric": "value",
            "aggregate": "avg",
            "window": "5m",
            "interval": "5m",
            "threshold_type": "anomaly",
            "breaches_to_open": 1,
            "cooldown": "12h",
        }
    ],
}


FLAPPING = {
    "name": "flappy",
    "metric": "value",
    "aggregate": "avg",
    "window": "5m",
    "interval": "5m",
    "thresholds": {"warning": 215},
    "breaches_to_open": 2,
    "normals_to_resolve": 2,
    "cooldown": 0,
}
"""A threshold in the middle of the values: a series state change nearly every tick."""


async def measure(name: str, path: Path, rules: list[Rule]) -> None:
    started = time.perf_counter()
    samples = read_samples(path, "value")
    read = time.perf_counter() - started
    result = await replay(rules, samples)
    total = time.perf_counter() - started
    print(
        f"{name:18s} {result.samples:>9,} samples, {result.ticks:>9,} ticks, "
        f"{len(result.incidents):>5,} incidents: read {read:5.1f} s, total {total:5.1f} s "
        f"({result.samples / total:,.0f} samples/s)  {'MET' if total < 60 else 'NOT MET'}"
    )


async def through_database(folder: Path, path: Path, rules: list[Rule]) -> None:
    """The same replay with the service's DatabaseSink on SQLite (a transaction, timeline
    and outbox rows per tick that changes something): why the backtest keeps its
    incidents in memory."""
    samples = read_samples(path, "value")
    core = await Core.open(f"sqlite+aiosqlite:///{folder / 'replay.db'}", rules)
    started = time.perf_counter()
    try:
        first, last = samples.times[0], samples.times[-1]
        ticks = await run_ticks(core.engine, rules, samples, core.store, first, last, False)
    finally:
        await core.close()
    took = time.perf_counter() - started
    print(
        f"{'  via the database':18s} {len(samples):>9,} samples, {ticks:>9,} ticks: "
        f"{took:5.1f} s ({len(samples) / took:,.0f} samples/s)"
    )


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tocsin-backtest-bench-") as folder:
        for name, step in (("dense", 1.0), ("one sample a tick", 300.0)):
            path = Path(folder) / "samples.csv"
            write_csv(path, count, step, seed=1)
            rules = [Rule.model_validate(spec) for spec in RULES[name]]
            await measure(name, path, rules)
        path = Path(folder) / "small.csv"
        write_csv(path, 5000, 300.0, seed=1)
        for name, spec in (("calm", RULES["one sample a tick"][0]), ("flapping", FLAPPING)):
            rules = [Rule.model_validate(spec)]
            print(f"one sample a tick, 5,000 samples, {name} rule: in memory vs the database")
            await measure("  in memory", path, rules)
            await through_database(Path(folder), path, rules)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(main(args.samples))
