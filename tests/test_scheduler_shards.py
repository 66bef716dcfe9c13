"""Many rules on one interval are split into staggered shards, each rule in exactly one."""

from __future__ import annotations

from monitors.core import Core
from monitors.rules import Rule
from monitors.scheduler import shard_of


def rules(count: int, interval: str) -> list[Rule]:
    return [
        Rule.model_validate(
            {"name": f"r{i}", "metric": "m", "interval": interval, "thresholds": {"warning": 1}}
        )
        for i in range(count)
    ]


async def test_2500_rules_on_one_interval_tick_in_three_staggered_shards(tmp_path):
    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", rules(2500, "30s"))
    scheduler = core.scheduler()
    scheduler.start()
    try:
        jobs = scheduler.planned()
        assert sorted(jobs) == ["rules@30.0#0/3", "rules@30.0#1/3", "rules@30.0#2/3"]
        starts = sorted(jobs.values())
        assert (starts[1] - starts[0]).total_seconds() >= 9  # spread over the 30 s
        sizes = [sum(shard_of(r.name, 3) == k for r in core.rulebook.all()) for k in range(3)]
        assert sum(sizes) == 2500 and min(sizes) > 600  # every rule once, roughly even
    finally:
        await scheduler.stop()
        await core.close()


async def test_a_few_rules_share_one_job(tmp_path):
    core = await Core.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", rules(5, "1m"))
    scheduler = core.scheduler()
    scheduler.start()
    try:
        ids = list(scheduler.planned())
        assert ids == ["rules@60.0#0/1"]
    finally:
        await scheduler.stop()
        await core.close()
