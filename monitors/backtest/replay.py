"""Replaying rules over past samples through the real engine on a simulated clock.

The samples go into a window store as they would have arrived; every rule ticks at its
interval from the first sample to the last, through ``Engine.tick``: the same source,
thresholds, anomaly models, state machine, counters and cooldowns as the service. Only
where the changes go differs: a ``MemorySink`` keeps the incidents in memory instead of
writing timelines and notifications (benchmarks/backtest.py measures both: the database
path costs a transaction per change, several times the whole tick), and anomaly models
stay in memory. Dynamic rules' baselines use a temporary SQLite database, made
only when one is replayed, flushed every five simulated minutes as the scheduler does.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from monitors.anomaly.store import ModelStore
from monitors.backtest.memory import MemorySink, ReplayedIncident
from monitors.backtest.samples import SampleSet
from monitors.engine import Engine, SeriesCache
from monitors.incidents.announce import Announcer
from monitors.rules.baselines import Baselines
from monitors.rules.schema import Rule
from monitors.sources.ingest import IngestSource
from monitors.windows.store import WindowStore
from storage.db import Database

BASELINE_FLUSH = 300.0
"""Seconds between baseline flushes, as ``Scheduler.baseline_flush_interval``."""


@dataclass(frozen=True)
class ReplayResult:
    incidents: list[ReplayedIncident]
    """In the order they opened."""
    ticks: int
    samples: int
    start: float
    end: float


@asynccontextmanager
async def _baseline_database(needed: bool) -> AsyncIterator[Database | None]:
    if not needed:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="tocsin-backtest-") as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'baselines.db'}")
        await db.migrate()
        try:
            yield db
        finally:
            await db.close()


async def replay(
    rules: Sequence[Rule], samples: SampleSet, *, start: float | None = None
) -> ReplayResult:
    """Tick ``rules`` (all reading ``samples.metric``) from ``start`` (default: the first
    sample) to the last sample; every rule is evaluated, enabled or not."""
    rules = [rule if rule.enabled else rule.model_copy(update={"enabled": True}) for rule in rules]
    first = samples.times[0] if start is None else start
    last = samples.times[-1]
    dynamic = any(rule.threshold_type == "dynamic" for rule in rules)
    longest = max(rule.window for rule in rules)
    store = WindowStore(max_window=max(2 * longest, 60.0))
    async with _baseline_database(dynamic) as db:
        sink = MemorySink()
        engine = Engine(
            db,  # type: ignore[arg-type]  # read only by baselines, and only when dynamic
            {"ingest": IngestSource(store)},
            Announcer(),
            SeriesCache(loaded=True),
            Baselines(db),  # type: ignore[arg-type]
            anomalies=ModelStore(None),
            sink=sink,
        )
        ticks = await run_ticks(engine, rules, samples, store, first, last, dynamic)
    incidents = sorted(sink.incidents.values(), key=lambda i: (i.opened_at, i.id))
    return ReplayResult(incidents, ticks, len(samples), first, last)


async def run_ticks(
    engine: Engine,
    rules: list[Rule],
    samples: SampleSet,
    store: WindowStore,
    first: float,
    last: float,
    dynamic: bool,
) -> int:
    """Feed ``samples`` into ``store`` as the simulated clock passes them and tick each
    rule at its interval from ``first`` to ``last``; returns the number of ticks."""
    by_interval: dict[float, list[Rule]] = {}
    for rule in rules:
        by_interval.setdefault(rule.interval, []).append(rule)
    due = [(first, interval) for interval in sorted(by_interval)]
    heapq.heapify(due)
    times, values, labels, metric = samples.times, samples.values, samples.labels, samples.metric
    fed, count, ticks = 0, len(times), 0
    next_flush = first + BASELINE_FLUSH
    while due and due[0][0] <= last:
        now = due[0][0]
        batch: list[Rule] = []
        while due and due[0][0] == now:
            _, interval = heapq.heappop(due)
            batch.extend(by_interval[interval])
            heapq.heappush(due, (now + interval, interval))
        while fed < count and times[fed] <= now:
            store.add(metric, values[fed], labels[fed], times[fed], now)
            fed += 1
        await engine.tick(batch, now=now)
        ticks += 1
        if dynamic and now >= next_flush:
            await engine.baselines.flush()
            next_flush = now + BASELINE_FLUSH
    return ticks
