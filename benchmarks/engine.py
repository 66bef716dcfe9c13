"""Time per tick of the engine for 10,000 rules (target: under 1 s on a 2-core machine).

    .venv/bin/python benchmarks/engine.py [--rules 10000] [--database-url URL] [--anomaly]

With a PostgreSQL ``--database-url`` (postgresql+asyncpg://postgres@127.0.0.1/test) the
run creates a scratch database on that server and drops it afterwards.

Each rule watches one service's pushed latencies (a mix of p95, avg and rate over a 1m
window) through the real ingest source, window store, state machine and database.
It prints the first tick (every series is new: 10,000 rows inserted), steady ticks
(nothing changes: no writes), and the tick on which 10% of the services regress and
1,000 incidents open with their timeline and outbox rows, all in one transaction.
With ``--anomaly`` the rules are anomaly rules whose models have learned: it prints the
steady tick, and how long saving and loading every model takes and how much they weigh."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.anomaly.model import LEARNING
from monitors.anomaly.store import ModelStore
from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.windows.store import Sample
from storage.db import Database
from storage.models import AnomalyModelRow
from storage.repositories import IncidentRepository, OutboxRepository

AGGREGATES = ("p95", "avg", "rate")
SAMPLES_PER_SERVICE = 20


def make_rules(count: int, anomaly: bool = False) -> list[Rule]:
    rules = []
    for i in range(count):
        spec = {
            "name": f"svc-{i:05d}",
            "metric": "http.request.duration_ms",
            "match": {"service": f"s{i}"},
            "aggregate": AGGREGATES[i % len(AGGREGATES)],
            "window": "1m",
            "interval": "10s",
        }
        if anomaly:
            spec["threshold_type"] = "anomaly"
        else:
            rising = i % 3 != 2
            spec["thresholds"] = {
                "warning": 500 if rising else 10_000,
                "critical": 2000 if rising else 50_000,
            }
        rules.append(Rule.model_validate(spec))
    return rules


def push(core: Core, services: range, latency: float, now: float) -> None:
    samples = [
        Sample("http.request.duration_ms", latency + (k % 7), {"service": f"s{i}"}, now - k)
        for i in services
        for k in range(SAMPLES_PER_SERVICE)
    ]
    core.store.add_many(samples, now=now)


async def timed_tick(core: Core, now: float) -> float:
    started = time.perf_counter()
    await core.engine.tick(core.rulebook.enabled(), now=now)
    return time.perf_counter() - started


@asynccontextmanager
async def scratch_database(server_url: str | None) -> AsyncIterator[str]:
    """A new, empty database for one run, dropped afterwards: a temporary SQLite file,
    or on the PostgreSQL server of ``server_url`` a database of its own, so a run never
    starts from (or leaves behind) another run's series and incidents."""
    if server_url is None:
        folder = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    server = make_url(server_url).set(drivername="postgresql")
    name = f"tocsin_bench_{uuid.uuid4().hex[:12]}"
    admin = server.render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f"CREATE DATABASE {name}")
    await connection.close()
    try:
        yield server.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await connection.close()


async def main(count: int, server_url: str | None, anomaly: bool) -> None:
    async with scratch_database(server_url) as url:
        await (run_anomaly(count, url) if anomaly else run(count, url))


async def run_anomaly(count: int, url: str) -> None:
    """The same rules as anomaly rules whose models have learned: the tick's extra cost
    (a model update per series), saving every model, and loading them at start-up."""
    now = time.time()
    core = await Core.open(url, make_rules(count, anomaly=True), clock=lambda: now)
    rng = random.Random(1)
    try:
        for ago in (50, 40, 30, 20, 10, 0):  # a full window of steady traffic
            push(core, range(count), 100.0, now - ago)
        rules = core.rulebook.enabled()
        readings = await core.engine.sources["ingest"].fetch(rules, now)
        started = time.perf_counter()
        for rule in rules:  # as if they had read these values, give or take 5%, for a while
            usual = readings[rule.name].series[0].value
            for k in range(LEARNING + 20, 0, -1):
                value = rng.gauss(usual, usual / 20)
                core.anomalies.observe(rule, (rule.name, "-"), now - 10 * k, value)
        train = time.perf_counter() - started
        steady = []
        for _ in range(5):
            now += 10
            push(core, range(count), 100.0, now)
            steady.append(await timed_tick(core, now))
        started = time.perf_counter()
        saved = await core.anomalies.flush()
        flush = time.perf_counter() - started
        async with core.db.read() as session:
            size = await session.scalar(select(func.sum(func.length(AnomalyModelRow.model))))
    finally:
        await core.close()
    started = time.perf_counter()
    store = ModelStore(Database(url))
    loaded = await store.load()
    load = time.perf_counter() - started
    await store.db.close()
    backend = url.split(":", 1)[0]
    print(f"anomaly rules, {count:,} rules x 1 series, {backend}")
    print(f"  {LEARNING + 20} readings per model to learn   {train:8.1f} s (outside the ticks)")
    print(
        f"  steady tick, median of 5        {statistics.median(steady) * 1000:8.1f} ms"
        f"   (max {max(steady) * 1000:.1f} ms)"
    )
    print(f"  save {saved:,} models                {flush * 1000:8.1f} ms")
    mib = size / 1024 / 1024
    print(f"  stored                          {mib:8.1f} MiB ({size // saved} B each)")
    print(f"  load {loaded:,} models at start-up     {load * 1000:8.1f} ms")


async def run(count: int, url: str) -> None:
    now = time.time()
    core = await Core.open(url, make_rules(count), clock=lambda: now)
    try:
        push(core, range(count), 100.0, now)
        cold = await timed_tick(core, now)
        steady = []
        for _ in range(5):
            now += 10
            push(core, range(count), 100.0, now)
            steady.append(await timed_tick(core, now))
        regressing = range(0, count, 10)
        first_breach = []
        for _ in range(2):  # the 2nd breaching tick opens the incidents
            now += 10
            push(core, range(count), 100.0, now)
            push(core, regressing, 3000.0, now)
            first_breach.append(await timed_tick(core, now))
        async with core.db.transaction() as session:
            opened = len(await IncidentRepository(session).unresolved())
            pending = await OutboxRepository(session).pending_count()
    finally:
        await core.close()
    backend = url.split(":", 1)[0]
    print(f"engine tick, {count:,} rules x 1 series, {backend}")
    print(f"  first tick (all series new)     {cold * 1000:8.1f} ms")
    print(
        f"  steady tick, median of 5        {statistics.median(steady) * 1000:8.1f} ms"
        f"   (max {max(steady) * 1000:.1f} ms)"
    )
    print(f"  1st breaching tick (10%)        {first_breach[0] * 1000:8.1f} ms")
    print(
        f"  2nd breaching tick: {opened:,} opened {first_breach[1] * 1000:8.1f} ms"
        f"   ({pending:,} outbox rows queued)"
    )
    print(
        f"  target: under 1000 ms per tick  "
        f"{'MET' if max(cold, *steady, *first_breach) < 1.0 else 'NOT MET'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--anomaly", action="store_true", help="anomaly rules (threshold_type: anomaly)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rules, args.database_url, args.anomaly))
