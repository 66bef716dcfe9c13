"""The system source reads the host it runs on: checked against what the standard
library reads of the same host."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.sources.system import GB, SystemSource

NOW = 1_800_000_000.0


def rule(metric: str, **fields: Any) -> Rule:
    spec = {
        "name": fields.pop("name", metric.replace("_", "-")),
        "source": "system",
        "metric": metric,
        "thresholds": {"warning": 85},
        **fields,
    }
    return Rule.model_validate(spec)


def value(reading: RuleReading) -> float | None:
    assert reading.error is None, reading.error
    (series,) = reading.series
    return series.value


async def test_cpu_is_no_data_first_then_a_share_since_the_last_tick():
    source = SystemSource()
    (first,) = (await source.fetch([rule("cpu_percent")], NOW)).values()
    sum(i * i for i in range(300_000))  # some CPU time between the two readings
    (second,) = (await source.fetch([rule("cpu_percent")], NOW + 1)).values()
    assert value(first) is None
    assert 0 < value(second) <= 100


async def test_memory_load_and_disk_match_the_host():
    source = SystemSource()
    rules = [
        rule("memory_percent"),
        rule("load1"),
        rule("disk_used_percent", path="/"),
        rule("disk_free_gb", path="/"),
    ]
    readings = await source.fetch(rules, NOW)
    assert 0 < value(readings["memory-percent"]) < 100
    assert value(readings["load1"]) == pytest.approx(os.getloadavg()[0], abs=2)
    usage = shutil.disk_usage("/")
    assert value(readings["disk-free-gb"]) == pytest.approx(usage.free / GB, rel=0.05)
    used = 100 * usage.used / (usage.used + usage.free)  # as df and psutil count it
    assert value(readings["disk-used-percent"]) == pytest.approx(used, abs=1)


async def test_rules_asking_the_same_share_one_reading():
    source = SystemSource()
    rules = [rule("disk_used_percent", path="/", name=f"disk-{i}") for i in range(3)]
    readings = await source.fetch(rules, NOW)
    assert len({value(r) for r in readings.values()}) == 1 and source.queries == 1


async def test_a_missing_mount_is_a_source_error():
    (reading,) = (
        await SystemSource().fetch([rule("disk_used_percent", path="/no/such/mount")], NOW)
    ).values()
    assert "No such file or directory" in (reading.error or "")
