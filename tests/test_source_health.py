"""Source health: one "source down" incident per endpoint when all its rules fail
together, a slow source holding back only its own rules, per-source figures in
/metrics, and "Tocsin is behind" when ticks start late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web
from engine_helpers import incidents
from http_harness import serve

from bot.http.app import build_app
from bot.http.server import start_server, stop_server
from bot.metrics import Metrics
from monitors.core import Core
from monitors.health.self_monitor import BEHIND_RULE, Lag
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.windows.store import Sample


@dataclass
class FakePrometheus:
    """A server answering PromQL as Prometheus does, until ``broken``; ``delay`` slows it."""

    url: str = ""
    broken: bool = False
    delay: float = 0.0


@pytest.fixture
async def prometheus() -> AsyncIterator[FakePrometheus]:
    fake = FakePrometheus()

    async def query(request: web.Request) -> web.Response:
        await asyncio.sleep(fake.delay)
        form = await request.post()
        if fake.broken:
            return web.Response(status=502, text="<html>Bad gateway</html>")
        if form["query"] == "broken(":
            return web.json_response(
                {"status": "error", "errorType": "bad_data", "error": "parse error"}, status=400
            )
        result = [{"metric": {}, "value": [time.time(), "5"]}]
        return web.json_response({"status": "success", "data": {"resultType": "vector",
                                                                 "result": result}})  # fmt: skip

    app = web.Application()
    app.router.add_post("/api/v1/query", query)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    await runner.cleanup()


def prom_rule(url: str, name: str, query: str = "up", **fields: Any) -> Rule:
    return Rule.model_validate(
        {"name": name, "source": "prometheus", "url": url, "query": query, "interval": "10s",
         "thresholds": {"warning": 100}, **fields}
    )  # fmt: skip


async def tick(core: Core, clock: Any, times: int = 1) -> None:
    for _ in range(times):
        clock.advance(10)
        await core.engine.tick(core.rulebook.enabled())


async def test_an_endpoint_down_for_all_its_rules_is_one_incident(prometheus, sqlite_url, clock):
    rules = [prom_rule(prometheus.url, f"rule-{i}") for i in range(4)]
    core = await Core.open(sqlite_url, rules, clock=clock)
    try:
        await tick(core, clock)
        prometheus.broken = True
        await tick(core, clock, 5)
        (down,) = await incidents(core)
        assert (down.kind, down.rule, down.status) == ("source_down", "source:prometheus", "open")
        assert down.labels == {"source": "prometheus", "endpoint": f"prometheus {prometheus.url}"}
        assert down.summary.startswith(
            f"prometheus {prometheus.url}: all 4 rules reading it failed 3 times in a row "
            "(rule-0, rule-1, rule-2, rule-3): "
        )
        assert "did not answer as Prometheus does (HTTP 502, not JSON)" in down.summary
        prometheus.broken = False
        await tick(core, clock)
        (back,) = await incidents(core)
        assert back.status == "resolved"
    finally:
        await core.close()


async def test_one_rule_failing_alone_gets_its_own_incident(prometheus, sqlite_url, clock):
    rules = [prom_rule(prometheus.url, "good"), prom_rule(prometheus.url, "bad", "broken(")]
    core = await Core.open(sqlite_url, rules, clock=clock)
    try:
        await tick(core, clock, 4)
        (down,) = await incidents(core)
        assert (down.kind, down.rule) == ("source_down", "bad")
        assert "Prometheus refused the query (bad_data): parse error" in down.summary
    finally:
        await core.close()


async def test_an_endpoint_incident_resolved_by_hand_stays_resolved_until_recovery(
    prometheus, sqlite_url, clock
):
    from engine_helpers import ALICE

    rules = [prom_rule(prometheus.url, f"rule-{i}") for i in range(2)]
    core = await Core.open(sqlite_url, rules, clock=clock)
    try:
        prometheus.broken = True
        await tick(core, clock, 3)
        (down,) = await incidents(core)
        await core.incidents.resolve(down.id, ALICE, "known")
        await tick(core, clock, 5)
        assert [i.status for i in await incidents(core)] == ["resolved"]
        prometheus.broken = False
        await tick(core, clock)
        prometheus.broken = True
        await tick(core, clock, 3)
        assert [i.status for i in await incidents(core)] == ["resolved", "open"]
    finally:
        await core.close()


@pytest.mark.slow
async def test_a_slow_source_holds_back_only_its_own_rules(prometheus, sqlite_url, clock):
    prometheus.delay = 3.0
    slow = prom_rule(prometheus.url, "slow", timeout="5s")
    fast = Rule.model_validate(
        {"name": "fast", "metric": "latency", "window": "1m", "interval": "10s",
         "breaches_to_open": 1, "thresholds": {"warning": 100}}
    )  # fmt: skip
    core = await Core.open(sqlite_url, [slow, fast], clock=clock)
    try:
        core.store.add_many([Sample("latency", 900.0, {}, clock.now)], now=clock.now)
        started = time.monotonic()
        ticking = asyncio.create_task(core.engine.tick(core.rulebook.enabled()))
        while not await incidents(core):
            assert not ticking.done(), "the fast rule waited for the slow source"
            await asyncio.sleep(0.05)
        assert time.monotonic() - started < 2.5  # written while Prometheus still sleeps
        await ticking
        assert core.engine.stats.sources["prometheus"].last_seconds >= 3
    finally:
        await core.close()


async def test_per_source_errors_durations_and_queries_in_metrics(prometheus, sqlite_url, clock):
    rules = [prom_rule(prometheus.url, "good"), prom_rule(prometheus.url, "bad", "broken(")]
    async with serve(sqlite_url, clock, rules=rules) as api:
        await api.tick()
        await api.tick()
        text = (await api.client.get("/metrics")).text
    assert 'tocsin_source_errors_total{source="prometheus"} 2.0' in text
    assert 'tocsin_source_fetch_duration_seconds_count{source="prometheus"} 2.0' in text
    assert 'tocsin_source_queries_total{source="prometheus"} 4.0' in text
    assert 'tocsin_source_last_fetch_seconds{source="prometheus"}' in text


# ------------------------------------------------------------- Tocsin is behind


def test_lag_is_how_overdue_the_latest_job_is():
    now = [100.0]
    lag = Lag(clock=lambda: now[0])
    lag.planned("rules@10#0/1", 0)
    lag.planned("rules@60#0/1", 30)
    assert lag.seconds() == 0
    now[0] = 105
    assert lag.seconds() == 5  # the 10 s job was due at 100
    lag.started("rules@10#0/1", 10)
    assert lag.seconds() == 0
    now[0] = 150  # a tick that ran 45 s: the next start is 35 s overdue
    assert lag.seconds() == 35
    lag.removed("rules@10#0/1")
    assert lag.seconds() == 20  # the 60 s job, due at 130


async def test_being_behind_opens_one_incident_and_healthz_says_so(sqlite_url, clock):
    async with serve(sqlite_url, clock, behind_after=30) as api:
        await api.core.health.check(12)
        assert (await api.client.get("/healthz")).json()["schedule"] == {
            "behind": False, "lag_seconds": 12, "behind_after_seconds": 30
        }  # fmt: skip
        for lag in (45, 60, 90):
            await api.core.health.check(lag)
        health = (await api.client.get("/healthz")).json()
        assert (health["status"], health["schedule"]["behind"]) == ("behind", True)
        (behind,) = (await api.client.get("/v1/alerts")).json()["alerts"]
        assert (behind["rule"], behind["kind"]) == (BEHIND_RULE, "behind")
        assert behind["summary"].startswith("Tocsin is behind: rule ticks start 45s late")
        await api.core.health.check(0.5)
        assert (await api.client.get("/healthz")).json()["status"] == "ok"
        shown = (await api.client.get(f"/v1/alerts/{behind['id']}")).json()
        assert (shown["status"], shown["resolved_by"]) == ("resolved", "auto")


class BlockingSource:
    """Evaluation that hogs the event loop (as a huge CPU-bound tick would)."""

    name = "ingest"

    async def fetch(self, rules: list[Rule], now: float) -> dict[str, RuleReading]:
        time.sleep(2.5)  # noqa: ASYNC251 (blocking on purpose: the loop is what is late)
        return {rule.name: RuleReading([]) for rule in rules}


@pytest.mark.slow
async def test_the_running_scheduler_notices_it_is_behind(sqlite_url):
    every_second = Rule.model_validate(
        {"name": "tight", "metric": "m", "interval": "1s", "thresholds": {"warning": 1}}
    )
    core = await Core.open(sqlite_url, [every_second], behind_after=1.0)
    metrics = Metrics(core)
    runner, port = await start_server(build_app(core, api_token=None, metrics=metrics),
                                      "127.0.0.1", 0, None)  # fmt: skip
    core.engine.sources["ingest"] = BlockingSource()
    scheduler = core.scheduler(timer_interval=0.5)
    scheduler.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 20
            while (await client.get("/healthz")).json()["status"] != "behind":
                assert time.monotonic() < deadline, "never noticed"
                await asyncio.sleep(0.2)
        while not await incidents(core):  # written just after the lag is seen
            assert time.monotonic() < deadline, "no incident"
            await asyncio.sleep(0.2)
        assert [i.rule for i in await incidents(core)] == [BEHIND_RULE]
    finally:
        await scheduler.stop()
        await stop_server(runner)
        await core.close()
