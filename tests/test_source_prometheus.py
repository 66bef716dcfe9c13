"""The Prometheus source against a real Prometheus scraping a target the test serves, and
against HTTP servers that answer the way broken or protected ones do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from clocks import OffsetClock
from engine_helpers import incidents
from prometheus_server import SCRAPE_INTERVAL

from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.sources.env import Environment
from monitors.sources.prometheus import PrometheusSource


def rule(url: str, query: str = "sum by (queue) (celery_queue_length)", **fields: Any) -> Rule:
    spec = {
        "name": "email-queue",
        "source": "prometheus",
        "url": url,
        "query": query,
        "interval": "10s",
        "thresholds": {"warning": 100},
        **fields,
    }
    return Rule.model_validate(spec)


@pytest.fixture
async def source():
    source = PrometheusSource(Environment({"PROM_TOKEN": "t0ken", "PROM_PASSWORD": "pw"}))
    yield source
    await source.close()


async def read(source: PrometheusSource, *rules: Rule) -> dict[str, RuleReading]:
    return await source.fetch(rules, time.time())


def by_queue(reading: RuleReading) -> dict[str, float | None]:
    return {dict(s.labels).get("queue", ""): s.value for s in reading.series}


@pytest.mark.slow
async def test_each_series_of_the_result_is_a_series_of_the_rule(prometheus, source):
    (reading,) = (await read(source, rule(prometheus.url))).values()
    assert reading.error is None
    assert by_queue(reading) == {"email": 150.0, "reports": 20.0}


@pytest.mark.slow
async def test_the_queue_over_its_limit_opens_an_incident(prometheus, sqlite_url):
    clock = OffsetClock()
    core = await Core.open(sqlite_url, [rule(prometheus.url)], clock=clock)
    try:
        for _ in range(2):
            await core.engine.tick(core.rulebook.enabled())
            clock.advance(core.rulebook.enabled()[0].interval)  # each reading counts
        (incident,) = await incidents(core)
        assert incident.labels == {"queue": "email"} and incident.value == 150
        assert "PromQL sum by (queue) (celery_queue_length)" in incident.summary
    finally:
        await core.close()


@pytest.mark.slow
async def test_rules_with_the_same_query_share_one_request(prometheus, source):
    rules = [
        rule(prometheus.url, name=f"r{i}", thresholds={"warning": 10 * i + 1}) for i in range(5)
    ]
    readings = await read(source, *rules)
    assert all(r.error is None for r in readings.values()) and source.queries == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("sum by (queue) (celery_queue_length", "Prometheus refused the query (bad_data): "),
        ("celery_queue_length[1m]", "the query returns a range vector; alert on an instant"),
        ('"text"', "the query returns a string, not a number per series"),
    ],
)
async def test_an_error_answer_is_a_source_error(prometheus, source, query, error):
    (reading,) = (await read(source, rule(prometheus.url, query))).values()
    assert reading.series == () and (reading.error or "").startswith(error), reading.error


@pytest.mark.slow
async def test_duplicate_label_sets_after_group_by_are_a_source_error(prometheus, source):
    grouped = rule(prometheus.url, "celery_queue_length", group_by=["job"])
    (reading,) = (await read(source, grouped)).values()
    assert reading.error == (
        "two series for job=app: aggregate the query by its group_by labels (sum by (job) (...))"
    )


@pytest.mark.slow
async def test_nan_reads_as_no_data_and_a_scalar_as_one_series(prometheus, source):
    nan = rule(prometheus.url, "sum(celery_queue_length) * 0 / 0", name="nan")
    scalar = rule(prometheus.url, "scalar(sum(celery_queue_length))", name="scalar")
    readings = await read(source, nan, scalar)
    assert [s.value for s in readings["nan"].series] == [None]
    assert [(s.labels, s.value) for s in readings["scalar"].series] == [((), 170.0)]


@pytest.mark.slow
async def test_a_range_query_gives_the_points_of_a_chart(prometheus, source):
    await asyncio.sleep(2 * SCRAPE_INTERVAL)
    now = time.time()
    points = await source.query_range(rule(prometheus.url), now - 10, now, 1)
    assert set(points) == {(("queue", "email"),), (("queue", "reports"),)}
    assert all(value == 150.0 for _, value in points[(("queue", "email"),)])


async def test_a_dead_server_is_a_source_error(source):
    (reading,) = (await read(source, rule("http://user:secret@127.0.0.1:1"))).values()
    assert (reading.error or "").startswith(
        "cannot reach Prometheus at http://user:***@127.0.0.1:1"
    )


# ------------------------------------------------------ servers the test plays


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_a_slow_server_times_out(source):
    answered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await answered.wait()  # until the test is over: longer than any timeout
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/api/v1/query", slow)
    runner, url = await start(app)
    try:
        (reading,) = (await read(source, rule(url, timeout="1s"))).values()
        assert reading.error == f"Prometheus at {url} did not answer within 1s"
    finally:
        answered.set()
        await runner.cleanup()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (web.Response(text="<html>login</html>", status=200), "did not answer as Prometheus does"),
        (
            web.json_response(
                {"status": "error", "errorType": "timeout", "error": "too slow"}, status=503
            ),
            "Prometheus refused the query (timeout): too slow",
        ),
        (
            web.json_response({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"queue": "a"}, "value": [1, "many"]}]}}),
            "value for queue=a is 'many', not a number",
        ),
        (
            web.json_response({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"queue": "a"}, "value": [1, "+Inf"]}]}}),
            "value for queue=a is +Inf, not a finite number",
        ),
    ],
)  # fmt: skip
async def test_garbage_answers_are_source_errors(source, answer, error):
    async def handler(request: web.Request) -> web.Response:
        return answer

    app = web.Application()
    app.router.add_post("/api/v1/query", handler)
    runner, url = await start(app)
    try:
        (reading,) = (await read(source, rule(url))).values()
        assert reading.series == () and error in (reading.error or ""), reading.error
    finally:
        await runner.cleanup()


async def test_basic_auth_from_the_url_and_a_bearer_token_from_headers(source):
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )

    app = web.Application()
    app.router.add_post("/api/v1/query", handler)
    runner, url = await start(app)
    try:
        basic = rule(url.replace("//", "//tocsin:${PROM_PASSWORD}@"), name="basic")
        bearer = rule(url, name="bearer", headers={"Authorization": "Bearer ${PROM_TOKEN}"})
        readings = await read(source, basic, bearer)
        assert all(r.error is None for r in readings.values())
        assert sorted(seen) == ["Basic dG9jc2luOnB3", "Bearer t0ken"]  # tocsin:pw
        assert bearer.to_json()["headers"] == {"Authorization": "Bearer ${PROM_TOKEN}"}
    finally:
        await runner.cleanup()
