"""Many rules on one interval are split into staggered shards, each rule in exactly one."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.windows.store import Sample
from storage.models import SeriesStateRow


def rules(count: int, interval: str) -> list[Rule]:
    return [
        Rule.model_validate(
            {"name": f"r{i}", "metric": "m", "interval": interval, "thresholds": {"warning": 1}}
        )
        for i in range(count)
    ]


async def test_2500_rules_on_one_interval_tick_in_three_staggered_shards(database_url):
    core = await Core.open(database_url, rules(2500, "30s"))
    scheduler = core.scheduler()
    scheduler.start()
    try:
        jobs = scheduler.planned()
        assert sorted(jobs) == ["rules@30.0#0/3", "rules@30.0#1/3", "rules@30.0#2/3"]
        starts = sorted(jobs.values())
        assert (starts[1] - starts[0]).total_seconds() >= 9  # spread over the 30 s
        assert (starts[2] - starts[1]).total_seconds() >= 9
    finally:
        await scheduler.stop()
        await core.close()


async def test_one_round_of_the_shards_evaluates_every_rule_exactly_once(database_url):
    """Counted from what the ticks wrote, not with the function that assigns shards: each
    rule breaches on the one sample there is, so a rule evaluated once has one series
    with one breach, and one evaluated twice (or never) does not."""
    core = await Core.open(database_url, rules(2500, "6s"))
    now = core.clock()
    core.store.add_many([Sample("m", 5.0, {}, now)], now=now)
    ticks: list[int] = []
    round_done = asyncio.Event()

    def counted(elapsed: float, evaluated: int) -> None:
        ticks.append(evaluated)
        if len(ticks) == 3:
            round_done.set()

    core.engine.on_tick = counted
    scheduler = core.scheduler()
    assert len(scheduler.rulebook.enabled()) == 2500
    scheduler.start()
    try:
        await asyncio.wait_for(round_done.wait(), 30)  # shards start 2 s apart
    finally:
        await scheduler.stop()
    try:
        async with core.db.read() as session:
            states = (await session.scalars(select(SeriesStateRow))).all()
        breaches = {state.rule: state.breaches for state in states}
        assert len(ticks) == 3, ticks
        assert sum(ticks) == 2500 and min(ticks) > 600, ticks  # every rule once, roughly even
        assert sorted(breaches) == sorted(f"r{i}" for i in range(2500))
        assert set(breaches.values()) == {1}
    finally:
        await core.close()


async def test_a_few_rules_share_one_job(database_url):
    core = await Core.open(database_url, rules(5, "1m"))
    scheduler = core.scheduler()
    scheduler.start()
    try:
        ids = list(scheduler.planned())
        assert ids == ["rules@60.0#0/1"]
    finally:
        await scheduler.stop()
        await core.close()
