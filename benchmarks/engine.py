"""Time per tick of the engine for 10,000 rules (target: under 1 s on a 2-core machine).

    .venv/bin/python benchmarks/engine.py [--rules 10000] [--database-url URL]

With a PostgreSQL ``--database-url`` (postgresql+asyncpg://postgres@127.0.0.1/test) the
run creates a scratch database on that server and drops it afterwards.

Each rule watches one service's pushed latencies (a mix of p95, avg and rate over a 1m
window) through the real ingest source, window store, state machine and database.
It prints the first tick (every series is new: 10,000 rows inserted), steady ticks
(nothing changes: no writes), and the tick on which 10% of the services regress and
1,000 incidents open with their timeline and outbox rows, all in one transaction."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.core import Core
from monitors.rules import Rule
from monitors.window import Sample
from storage.repositories import IncidentRepository, OutboxRepository

AGGREGATES = ("p95", "avg", "rate")
SAMPLES_PER_SERVICE = 20


def make_rules(count: int) -> list[Rule]:
    return [
        Rule.model_validate(
            {
                "name": f"svc-{i:05d}",
                "metric": "http.request.duration_ms",
                "match": {"service": f"s{i}"},
                "aggregate": AGGREGATES[i % len(AGGREGATES)],
                "window": "1m",
                "interval": "10s",
                "thresholds": {
                    "warning": 500 if i % 3 != 2 else 10_000,
                    "critical": 2000 if i % 3 != 2 else 50_000,
                },
            }
        )
        for i in range(count)
    ]


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


async def main(count: int, server_url: str | None) -> None:
    async with scratch_database(server_url) as url:
        await run(count, url)


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
    args = parser.parse_args()
    asyncio.run(main(args.rules, args.database_url))
