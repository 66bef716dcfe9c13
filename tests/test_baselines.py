"""Dynamic-threshold baselines: hourly rollups in the database, cached per rule."""

from __future__ import annotations

from engine_helpers import ALICE

from monitors.core import Core
from monitors.rules.baselines import HOUR
from monitors.rules.schema import Rule

RULE = Rule.model_validate(
    {
        "name": "latency-vs-baseline",
        "metric": "latency",
        "threshold_type": "dynamic",
        "baseline_window": "7d",
        "thresholds": {"warning": 2},
    }
)


async def test_rollups_of_one_hour_add_up_across_flushes(database_url, clock):
    core = await Core.open(database_url, [RULE], clock=clock)
    try:
        now = clock()
        for value in (100.0, 300.0):  # two flushes into the same hour, on two series
            core.baselines.record(RULE.name, "a", value, now - HOUR)
            core.baselines.record(RULE.name, "b", value * 10, now - HOUR)
            await core.baselines.flush()
        core.baselines.record(RULE.name, "a", 500.0, now - 2 * HOUR)
        await core.baselines.flush()
        assert await core.baselines.baseline(RULE, "a", now) == 300.0  # (100 + 300 + 500) / 3
        assert await core.baselines.baseline(RULE, "b", now) == 2000.0
    finally:
        await core.close()


async def test_a_new_baseline_window_applies_at_once(database_url, clock):
    """The means are cached for 15 minutes; a rule change used to wait for that."""
    core = await Core.open(database_url, [RULE], clock=clock)
    try:
        now = clock()
        core.baselines.record(RULE.name, "", 100.0, now - HOUR)
        core.baselines.record(RULE.name, "", 1000.0, now - 30 * HOUR)
        await core.baselines.flush()
        assert await core.baselines.baseline(core.rulebook.get(RULE.name), "", now) == 550.0
        rule = await core.rules.update(RULE.name, {"baseline_window": "2h"}, ALICE)
        assert await core.baselines.baseline(rule, "", now) == 100.0
    finally:
        await core.close()
