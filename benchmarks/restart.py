"""How long after a restart the rules read correctly again, and what the window journal
costs (monitors/windows/journal.py).

Run: ``.venv/bin/python benchmarks/restart.py`` (about a minute; add
``--database-url postgresql+asyncpg://user@host/db`` for PostgreSQL: the script works
in a scratch database of its own and drops it). Time is simulated; the figures in
milliseconds are wall-clock.

Ten minutes of request timings (2,000 samples/s over 1,000 series: 200 routes x 5
statuses) are pushed into a real Core while its journal is flushed every (simulated)
second, as the scheduler does. Then
the service restarts three ways, and pushing carries on: "before" (the window starts
empty, as it did without the journal), a clean stop (a final flush), and kill -9 (no
final flush; the samples since the last flush are lost). Each simulated second after
the restart, every rule's every series is compared with a store that never restarted;
the first second at which all of them agree (within 1%, or a histogram bin for a
percentile) is when the first correct reading comes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import T0, traffic  # the ingest benchmark's traffic

from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.sources.ingest import IngestSource
from monitors.windows.store import WindowStore
from storage.db import Database
from storage.repositories import WindowJournalRepository

RATE = 2000
HISTORY = 600  # seconds pushed before the restart: twice the longest window
AFTER = 330  # seconds compared after it
RULES = [
    Rule.model_validate(
        {
            "name": "p95-by-route",
            "metric": "http.server.duration",
            "aggregate": "p95",
            "window": "5m",
            "group_by": ["route"],
            "thresholds": {"warning": 500},
        }
    ),
    Rule.model_validate(
        {
            "name": "requests",
            "metric": "http.server.duration",
            "aggregate": "count",
            "window": "5m",
            "op": "<",
            "thresholds": {"warning": 10},
        }
    ),
    Rule.model_validate(
        {
            "name": "avg-1m",
            "metric": "http.server.duration",
            "aggregate": "avg",
            "window": "1m",
            "thresholds": {"warning": 300},
        }
    ),
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def readings(store: WindowStore, now: float) -> dict[tuple[str, object], float | None]:
    fetched = await IngestSource(store).fetch(RULES, now)
    return {
        (name, series.labels): series.value
        for name, reading in fetched.items()
        for series in reading.series
    }


def compare(got: dict, want: dict) -> tuple[int, float, bool]:
    """(series reading no data or missing where the uninterrupted store has a value,
    worst relative difference among the others, whether every series agrees: within 1%,
    or for a percentile within one histogram bin, 2%)."""
    missing, worst, agree = 0, 0.0, True
    for key, value in want.items():
        other = got.get(key)
        if value is None:
            agree = agree and other is None
            continue
        if not other:  # no data, or a count of nothing
            missing += 1
            agree = False
            continue
        difference = abs(other - value) / abs(value)
        worst = max(worst, difference)
        agree = agree and difference <= (0.02 if key[0].startswith("p95") else 0.01)
    return missing, worst, agree


@dataclass
class Outcome:
    opened_ms: float
    first: tuple[int, float]  # the first reading: series without data, worst difference
    series: int
    agrees_at: int | None  # seconds after the restart when every series agrees


async def run(url: str, mode: str) -> tuple[Outcome, dict[str, float]]:
    clock = Clock(T0)
    reference = WindowStore(max_window=7200)
    core = await Core.open(url, RULES, clock=clock)
    flush_times, loop_times, sizes = [], [], []
    for second in range(HISTORY):
        clock.now = T0 + second + 1
        batch = traffic(T0 + second, RATE)
        reference.add_many(batch, clock.now)
        core.store.add_many(batch, clock.now)
        started = time.perf_counter()
        sizes.append(await core.journal.flush())
        flush_times.append(time.perf_counter() - started)
        loop_times.append(core.journal.stats.last_loop_seconds)
    async with core.db.read() as session:
        rows, held = await WindowJournalRepository(session).size()
    costs = {
        "flush_ms": statistics.median(flush_times) * 1000,
        "flush_p99_ms": sorted(flush_times)[int(0.99 * len(flush_times))] * 1000,
        "loop_ms": statistics.median(loop_times) * 1000,
        "flush_kib": statistics.median(sizes) / 1024,
        "rows": rows,
        "held_mib": held / 2**20,
    }
    if mode == "kill -9":  # half of the next second arrives, then the process dies
        half = traffic(T0 + HISTORY, RATE)[: RATE // 2]
        reference.add_many(half, clock.now)
        core.store.add_many(half, clock.now)
        await core.db.close()
    else:
        await core.close()  # a snapshot of the window
    if mode == "before":  # what the service had before the journal: nothing
        db = Database(url)
        async with db.transaction() as session:
            await WindowJournalRepository(session).forget_before(float("inf"))
        await db.close()
    started = time.perf_counter()
    core = await Core.open(url, RULES, clock=clock)
    opened = (time.perf_counter() - started) * 1000
    try:
        first: tuple[int, float] | None = None
        for after in range(AFTER):
            want = await readings(reference, clock.now)
            missing, worst, agree = compare(await readings(core.store, clock.now), want)
            first = first or (missing, worst)
            if agree:
                return Outcome(opened, first, len(want), after), costs
            clock.now += 1
            batch = traffic(clock.now - 1, RATE)
            reference.add_many(batch, clock.now)
            core.store.add_many(batch, clock.now)
        assert first is not None
        return Outcome(opened, first, len(want), None), costs
    finally:
        await core.close()


async def fast_flush(url: str, rate: int = 300_000) -> tuple[float, float, float, int]:
    """A flush (take, encode, write) of one second at ``rate`` samples/s over 5 services
    (1,000 of whose series pass RAW_CAP each second): (median ms, ms on the event loop,
    KiB, series)."""
    clock = Clock(T0)
    core = await Core.open(url, RULES, clock=clock)
    try:
        times, on_loop, sizes = [], [], []
        for second in range(5):
            clock.now = T0 + second + 1
            core.store.add_many(traffic(T0 + second, rate, services=5), clock.now)
            started = time.perf_counter()
            sizes.append(await core.journal.flush())
            times.append(time.perf_counter() - started)
            on_loop.append(core.journal.stats.last_loop_seconds)
        median = statistics.median
        series = core.store.stats()["series"]
        return median(times) * 1000, median(on_loop) * 1000, median(sizes) / 1024, series
    finally:
        await core.close()


async def scratch_postgres(base: str) -> tuple[str, str]:
    name = f"tocsin_restart_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(base.replace("+asyncpg", ""))
    try:
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    return base.rsplit("/", 1)[0] + f"/{name}", name


async def drop_postgres(base: str, name: str) -> None:
    connection = await asyncpg.connect(base.replace("+asyncpg", ""))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    for mode in ("before", "clean stop", "kill -9"):
        with tempfile.TemporaryDirectory() as folder:
            url, scratch = f"sqlite+aiosqlite:///{folder}/restart.db", None
            if args.database_url:
                url, scratch = await scratch_postgres(args.database_url)
            try:
                outcome, costs = await run(url, mode)
                if mode == "before":
                    fast = await fast_flush(url)
            finally:
                if scratch:
                    await drop_postgres(args.database_url, scratch)
        missing, worst = outcome.first
        first = (
            f"{missing} of {outcome.series} series read no data"
            if missing
            else f"every series has data, worst difference {worst:.2%}"
        )
        agrees = f"+{outcome.agrees_at} s" if outcome.agrees_at is not None else "never"
        print(
            f"{mode}: the core opened in {outcome.opened_ms:,.0f} ms; first reading: {first}; "
            f"every series agrees from {agrees} (simulated) with an uninterrupted store"
        )
    print(
        f"journal at {RATE:,} samples/s over 1,000 series: a flush {costs['flush_ms']:.1f} ms "
        f"(p99 {costs['flush_p99_ms']:.1f} ms, of which {costs['loop_ms']:.1f} ms on the event "
        f"loop), {costs['flush_kib']:.0f} KiB; the table holds {costs['rows']} "
        f"flushes, {costs['held_mib']:.1f} MiB (10 minutes: twice the 5m window)"
    )
    print(
        f"journal at 300,000 samples/s over {fast[3]:,} series: a flush {fast[0]:.1f} ms "
        f"(of which {fast[1]:.1f} ms on the event loop), {fast[2]:.0f} KiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
