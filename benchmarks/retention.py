"""Retention under load: pruning a large backlog while rules tick.

    .venv/bin/python benchmarks/retention.py [--incidents 20000] [--database-url URL]

Seeds ``--incidents`` resolved incidents older than the retention period (each with
four timeline lines, an outbox row and a message) and as many old events, then prunes
them with the service's ``Retention`` (500 rows a transaction, 50 ms apart) while an
engine ticks 1,000 rules every 100 ms whose series change state on every tick (so every
tick writes). Prints the batches, how long each held the database, and tick durations
with and without the prune running beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import scratch_database

from monitors.core import Core
from monitors.incidents.lifecycle import new_incident
from monitors.rules.schema import Rule
from monitors.windows.store import Sample
from storage.repositories import (
    EventRepository,
    IncidentRepository,
    MessageRepository,
    OutboxRepository,
)
from storage.vocabulary import IncidentStatus

DAY = 86400.0
RULES = 1000
TICK_EVERY = 0.1


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def seed(core: Core, count: int, at: float) -> None:
    for start in range(0, count, 2000):
        n = min(2000, count - start)
        rows = [
            {
                **new_incident(
                    rule="old",
                    series_key=f"s{start + i}",
                    labels={"route": f"/{start + i}"},
                    severity="warning",
                    summary="slow",
                    now=at,
                    rule_snapshot={},
                ),
                "status": IncidentStatus.RESOLVED,
                "resolved_at": at,
                "resolved_by": "auto",
            }
            for i in range(n)
        ]
        async with core.db.transaction() as session:
            repo = IncidentRepository(session)
            ids = list((await repo.create_many(rows)).values())
            await repo.add_events(
                [
                    {"incident_id": i, "at": at, "kind": k, "actor": "tocsin", "detail": k * 8}
                    for i in ids
                    for k in ("opened", "escalated", "acknowledged", "resolved")
                ]
            )
            await OutboxRepository(session).add_many(
                [
                    {
                        "created_at": at,
                        "incident_id": i,
                        "event": "opened",
                        "channel": "console",
                        "notify": True,
                        "payload": {"line": "x" * 200},
                        "attempts": 1,
                        "available_at": at,
                        "delivered_at": at,
                    }
                    for i in ids
                ]
            )
            messages = MessageRepository(session)
            for i in ids:
                await messages.place(i, "console", f"m{i}", None, at)
            events = EventRepository(session)
            for _ in range(n):
                await events.add(
                    received_at=at, type="deploy", severity=None, labels={"service": "api"},
                    message="", context={}, action="recorded", incident_id=None,
                )  # fmt: skip


async def ticking(core: Core, clock: Clock, stop: asyncio.Event, durations: list[float]) -> None:
    """Tick every TICK_EVERY; the values flip around the threshold, so every tick writes."""
    flip = 0
    while not stop.is_set():
        flip += 1
        value = 900.0 if flip % 2 else 100.0
        clock.now += 60
        core.store.add_many(
            [Sample("latency", value, {"rule": str(n)}) for n in range(RULES)], now=clock.now
        )
        started = time.perf_counter()
        await core.engine.tick(core.rulebook.enabled(), now=clock.now)
        durations.append(time.perf_counter() - started)
        await asyncio.sleep(TICK_EVERY)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms ({len(ordered)} ticks)"
    )


async def run(url: str, count: int) -> None:
    clock = Clock()
    rules = [
        Rule.model_validate(
            {
                "name": f"r{n}",
                "metric": "latency",
                "match": {"rule": str(n)},
                "aggregate": "max",
                "window": "1m",
                "interval": "1m",
                "thresholds": {"warning": 500},
                "breaches_to_open": 1000,
                "normals_to_resolve": 1000,
            }
        )
        for n in range(RULES)
    ]
    core = await Core.open(url, rules, clock=clock)
    try:
        started = time.perf_counter()
        await seed(core, count, clock() - 100 * DAY)
        print(f"seeded {count:,} old incidents and events in {time.perf_counter() - started:.1f} s")
        stop = asyncio.Event()
        alone: list[float] = []
        ticker = asyncio.ensure_future(ticking(core, clock, stop, alone))
        await asyncio.sleep(5)
        stop.set()
        await ticker
        stop = asyncio.Event()
        beside: list[float] = []
        ticker = asyncio.ensure_future(ticking(core, clock, stop, beside))
        started = time.perf_counter()
        core.retention.clock = clock
        pruned = await core.retention.prune()
        took = time.perf_counter() - started
        stop.set()
        await ticker
        batch = sorted(pruned.batch_seconds)
        deleted = (
            pruned.incidents
            + pruned.incident_rows
            + pruned.outbox
            + pruned.events
            + pruned.message_groups
        )
        print(
            f"pruned {pruned.incidents:,} incidents, {deleted:,} rows in all, in "
            f"{pruned.batches} batches over {took:.1f} s"
        )
        print(
            f"a batch held the database: median {statistics.median(batch) * 1000:.0f} ms, "
            f"max {batch[-1] * 1000:.0f} ms"
        )
        print(f"ticks alone:            {summary(alone)}")
        print(f"ticks beside the prune: {summary(beside)}")
    finally:
        await core.close()


async def main(count: int, server_url: str | None) -> None:
    async with scratch_database(server_url) as url:
        await run(url, count)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.incidents, args.database_url))
