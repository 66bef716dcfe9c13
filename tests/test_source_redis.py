"""The Redis source against the Redis server on 127.0.0.1 (keys of its own, deleted after),
and against a private redis-server with ``maxmemory`` set for the memory ratio."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from private_redis import private_redis

from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.sources.redis import RedisSource

pytestmark = pytest.mark.redis
NOW = 1_800_000_000.0


@pytest.fixture
def keys(redis_url: str) -> Iterator[list[str]]:
    """Names for this test's keys on the shared server; deleted afterwards."""
    names = [f"tocsin-test-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
    yield names
    client = redis.Redis.from_url(redis_url)
    client.delete(*names)
    client.close()


@pytest.fixture
async def source() -> AsyncIterator[RedisSource]:
    reader = RedisSource()
    yield reader
    await reader.close()


def rule(url: str, metric: str, **fields: Any) -> Rule:
    spec = {
        "name": fields.pop("name", metric.replace("_", "-")),
        "source": "redis",
        "url": url,
        "metric": metric,
        "interval": "10s",
        "thresholds": {"warning": 1000},
        **fields,
    }
    return Rule.model_validate(spec)


def value(reading: RuleReading) -> float | None:
    assert reading.error is None, reading.error
    (series,) = reading.series
    return series.value


async def test_list_length_and_a_missing_list_reads_zero(redis_url, keys, source):
    redis.Redis.from_url(redis_url).rpush(keys[0], "a", "b", "c")
    readings = await source.fetch(
        [
            rule(redis_url, "list_length", key=keys[0], name="queued"),
            rule(redis_url, "list_length", key=keys[1], name="deleted"),
        ],
        NOW,
    )
    assert (value(readings["queued"]), value(readings["deleted"])) == (3, 0)
    assert source.queries == 1  # both lengths in one pipeline


async def test_a_key_that_is_not_a_list_is_a_source_error(redis_url, keys, source):
    redis.Redis.from_url(redis_url).set(keys[0], "x")
    (reading,) = (await source.fetch([rule(redis_url, "list_length", key=keys[0])], NOW)).values()
    assert reading.error == f"key '{keys[0]}' holds something other than a list"


async def test_server_gauges(redis_url, source):
    rules = [rule(redis_url, m) for m in ("clients", "ops_per_sec", "latency_ms")]
    readings = await source.fetch(rules, NOW)
    assert value(readings["clients"]) >= 1
    assert value(readings["ops-per-sec"]) >= 0
    assert 0 < value(readings["latency-ms"]) < 1000


async def test_memory_ratio_without_maxmemory_says_why(redis_url, source):
    client = redis.Redis.from_url(redis_url)
    if int(client.config_get("maxmemory")["maxmemory"]) != 0:
        pytest.skip("this Redis has maxmemory set; the private server test covers the ratio")
    (reading,) = (await source.fetch([rule(redis_url, "memory_used_ratio")], NOW)).values()
    assert (reading.error or "").startswith("maxmemory is not set on this server")


async def test_list_growth_in_items_per_minute_over_the_window(redis_url, keys, source):
    client = redis.Redis.from_url(redis_url)
    growth = rule(redis_url, "list_growth", key=keys[0], window="2m", thresholds={"warning": 10})
    readings = []
    for minute, length in enumerate((10, 40, 70)):
        client.delete(keys[0])
        if length:
            client.rpush(keys[0], *range(length))
        readings.append(await source.fetch([growth], NOW + 60 * minute))
    values = [value(r[growth.name]) for r in readings]
    assert values[:2] == [None, None]  # not watched for a window yet
    assert values[2] == pytest.approx(30.0)  # 60 more items in 2 minutes


async def test_a_dead_server_is_a_source_error(source):
    (reading,) = (
        await source.fetch([rule("redis://:secret@127.0.0.1:1/0", "list_length", key="q")], NOW)
    ).values()
    assert (reading.error or "").startswith("cannot read Redis at redis://:***@127.0.0.1:1/0")


@pytest.fixture
def large_redis(tmp_path: Path) -> Iterator[str]:
    with private_redis(tmp_path, "64mb") as url:
        yield url


@pytest.mark.slow
async def test_memory_used_ratio_against_maxmemory(large_redis, source):
    (reading,) = (await source.fetch([rule(large_redis, "memory_used_ratio")], NOW)).values()
    ratio = value(reading)
    assert ratio is not None and 0 < ratio < 0.1  # an empty server: about 1 MB of 64 MB
