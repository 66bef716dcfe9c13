"""The SQL source against the analytics tables on the real PostgreSQL server: series per
label column, shared executions, the window bound as UTC times, and every way a query can
fail reads as a source error on the rule, never as a breach or a recovery."""

from __future__ import annotations

from typing import Any

import pytest
from analytics_db import NOW, execute, slow_requests
from engine_helpers import incidents

from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading
from monitors.sources.env import Environment
from monitors.sources.sql import SqlSource

pytestmark = pytest.mark.postgres

P95_BY_ROUTE = """
SELECT route, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS value,
       count(*) AS count
FROM request_logs WHERE ts >= :window_start AND ts < :window_end GROUP BY route
"""


def sql_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def rule(url: str, query: str = P95_BY_ROUTE, **fields: Any) -> Rule:
    spec = {
        "name": "checkout-p95",
        "source": "sql",
        "url": url,
        "query": query,
        "group_by": ["route"],
        "window": "5m",
        "interval": "30s",
        "thresholds": {"warning": 1000},
        **fields,
    }
    return Rule.model_validate(spec)


async def read(source: SqlSource, *rules: Rule, now: float = NOW) -> dict[str, RuleReading]:
    return await source.fetch(rules, now)


@pytest.fixture
async def source():
    source = SqlSource()
    yield source
    await source.close()


async def test_a_value_per_label_set_with_counts(analytics, source):
    (reading,) = (await read(source, rule(sql_url(analytics)))).values()
    assert reading.error is None
    by_route = {dict(s.labels)["route"]: s for s in reading.series}
    assert set(by_route) == {
        "/checkout", "/search", "/home", "/api/items", "/login", "/cart", "/orders", "/help"
    }  # fmt: skip
    assert all(300 < s.value < 450 and s.count > 10 for s in by_route.values())


async def test_only_the_slow_route_opens_an_incident(analytics, clock, sqlite_url):
    await slow_requests(analytics, "/checkout", minutes=5, duration_ms=2500, n=200)
    clock.now = NOW
    core = await Core.open(sqlite_url, [rule(sql_url(analytics))], clock=clock)
    try:
        for _ in range(2):
            await core.engine.tick(core.rulebook.enabled())
            clock.advance(30)  # the rule's interval: each reading counts
        (incident,) = await incidents(core)
        assert incident.labels == {"route": "/checkout"}
        assert incident.status == "open" and incident.value > 2000
        assert "the SQL query on postgresql+asyncpg://" in incident.summary
    finally:
        await core.close()


async def test_rules_reading_the_same_query_share_one_execution(analytics, source):
    url = sql_url(analytics)
    rules = [
        rule(url, name="a", thresholds={"warning": 1000}),
        rule(url, name="b", thresholds={"warning": 2000}),
        rule(url, name="c", group_by=[], query="SELECT count(*) AS value FROM request_logs"),
        rule(url, name="d", group_by=[], window="1h",
             query="SELECT count(*) AS value FROM request_logs"),
    ]  # fmt: skip
    readings = await read(source, *rules)
    assert all(r.error is None for r in readings.values())
    # a and b share one; c and d share another (the query does not read the window)
    assert source.queries == 2
    assert readings["c"].series[0].value == 300_000


async def test_the_window_is_bound_as_utc_times_ending_at_the_tick(analytics, source):
    query = (
        "SELECT extract(epoch FROM :window_end) AS value, "
        "extract(epoch FROM :window_end - :window_start) AS count"
    )
    (reading,) = (await read(source, rule(sql_url(analytics), query, group_by=[]))).values()
    (series,) = reading.series
    assert (series.value, series.count) == (NOW, 300)


async def test_percent_change_reads_the_previous_window_too(analytics, source):
    await slow_requests(analytics, "/search", minutes=5, duration_ms=100, n=300)
    query = (
        "SELECT route, count(*) AS value FROM request_logs "
        "WHERE ts >= :window_start AND ts < :window_end GROUP BY route"
    )
    changed = rule(
        sql_url(analytics), query, threshold_type="percent_change", thresholds={"warning": 50}
    )
    (reading,) = (await read(source, changed)).values()
    search = next(s for s in reading.series if dict(s.labels)["route"] == "/search")
    assert search.previous and search.value > 2 * search.previous
    assert source.queries == 2


async def test_min_samples_reads_the_count_column(analytics, source):
    few = rule(sql_url(analytics), min_samples=100)  # about 19 requests a route in 5m
    (reading,) = (await read(source, few)).values()
    assert reading.error is None and all(s.value is None for s in reading.series)


async def test_url_may_name_an_environment_variable(analytics):
    source = SqlSource(Environment({"ANALYTICS_URL": sql_url(analytics)}))
    named = rule("${ANALYTICS_URL}")
    assert named.to_json()["url"] == "${ANALYTICS_URL}"  # the secret is never in the rule
    try:
        (reading,) = (await read(source, named)).values()
        assert reading.error is None and len(reading.series) == 8
        (missing,) = (await read(SqlSource(), named)).values()
        assert missing.error == (
            "url: environment variable ANALYTICS_URL is not set (named as ${ANALYTICS_URL})"
        )
    finally:
        await source.close()


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("SELECT route, 'slow' AS value FROM request_logs GROUP BY route",
         "value for route=/api/items is 'slow' (text), not a number"),
        ("SELECT route, NULL::float AS value FROM request_logs GROUP BY route",
         "value for route=/api/items is NULL; return a number"),
        ("SELECT method AS route, 1 AS value FROM request_logs LIMIT 5",
         "two rows for route=GET: the query must return one row per series (GROUP BY route)"),
        ("SELECT route, avg(duration_ms) AS p95 FROM request_logs GROUP BY route",
         "the result has no 'value' column (columns: route, p95)"),
        ("SELECT 1 AS value", "group_by names route, which the result does not have"),
        ("SELECT route, avg(duration_ms) AS value FROM request_log GROUP BY route",
         'query failed: relation "request_log" does not exist'),
        ("SELECT route, 'NaN'::float AS value FROM request_logs GROUP BY route",
         "value for route=/api/items is nan, not a finite number"),
        ("WITH gone AS (DELETE FROM request_logs RETURNING 1) SELECT '/a' AS route, "
         "count(*) AS value FROM gone", "read-only transaction"),
    ],
)  # fmt: skip
async def test_garbage_is_a_source_error_naming_the_problem(analytics, source, query, error):
    (reading,) = (await read(source, rule(sql_url(analytics), query))).values()
    assert reading.series == () and error in (reading.error or ""), reading.error


async def test_a_null_value_with_a_zero_count_is_no_data(analytics, source):
    query = "SELECT NULL::float AS value, 0 AS count"
    (reading,) = (await read(source, rule(sql_url(analytics), query, group_by=[]))).values()
    assert reading.error is None and reading.series[0].value is None


async def test_a_slow_query_is_stopped_by_the_statement_timeout(analytics, source):
    slow = rule(sql_url(analytics), "SELECT pg_sleep(5), 1 AS value", group_by=[], timeout="1s")
    (reading,) = (await read(source, slow)).values()
    assert reading.error == "query timed out after 1s (statement timeout)"


async def test_a_dead_server_is_a_source_error(source):
    dead = rule("postgresql+asyncpg://reader:secret@127.0.0.1:1/analytics")
    (reading,) = (await read(source, dead)).values()
    assert reading.error is not None
    assert reading.error.startswith("cannot query postgresql+asyncpg://reader:***@127.0.0.1:1")
    assert "secret" not in reading.error


async def test_garbage_never_breaches_nor_resolves(analytics, clock, sqlite_url):
    """A rule reading a view: while the view is broken the incident it opened stays open
    and the other series open nothing, however many ticks pass."""
    await execute(
        analytics,
        "CREATE VIEW latency AS SELECT route, avg(duration_ms) AS value FROM request_logs "
        "WHERE ts > now() - interval '100 years' GROUP BY route",
    )
    watched = rule(
        sql_url(analytics),
        "SELECT route, value FROM latency",
        thresholds={"warning": 200},
        source_errors_to_alert=100,
    )
    clock.now = NOW
    core = await Core.open(sqlite_url, [watched], clock=clock)
    try:
        await execute(analytics, "UPDATE request_logs SET duration_ms = 10 WHERE route <> '/home'")
        await execute(analytics, "UPDATE request_logs SET duration_ms = 900 WHERE route = '/home'")
        for _ in range(2):
            await core.engine.tick(core.rulebook.enabled())
            clock.advance(30)  # the rule's interval: each reading counts
        (home,) = await incidents(core)
        assert home.labels == {"route": "/home"} and home.status == "open"
        for garbage in (
            "SELECT route, 'n/a' AS value FROM request_logs GROUP BY route",
            "SELECT route, NULL::float AS value FROM request_logs GROUP BY route",
            "SELECT 'x' AS route, 5000 AS value FROM request_logs LIMIT 2",
        ):
            await execute(analytics, f"DROP VIEW latency; CREATE VIEW latency AS {garbage}")
            for _ in range(4):
                await core.engine.tick(core.rulebook.enabled())
        (still,) = await incidents(core)
        assert still.status == "open"  # no false resolve, and no false breach elsewhere
        states = {k: v for k, v in core.cache.states.items() if k[1] != "__source__"}
        assert all(s.breaches in (0, 2) for s in states.values())
    finally:
        await core.close()
