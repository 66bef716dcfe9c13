"""Every rule in config/examples/ fires on data that should fire it and stays quiet on
data that should not, read through its real source wherever the data can be made:
pushed request and job events, the analytics tables, Redis, Prometheus, HTTP servers.
The host's disk and CPU cannot be filled on demand, so the system rules read a stand-in
host (the system source itself is tested against the real host in test_source_system)."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from aiohttp import web
from analytics_db import NOW, execute, slow_requests
from conftest import ON_CI
from engine_helpers import incidents
from http_harness import serve
from private_postgres import private_postgres
from private_redis import private_redis
from prometheus_server import SCRAPE_INTERVAL
from tls_helpers import certificate

from bot.settings import read_config
from monitors.core import Core
from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading, SeriesValue
from monitors.sources.env import Environment
from monitors.sources.events import parse_event_types
from monitors.sources.pushed import parse_samples
from storage.models import IncidentRow
from storage.repositories import HistoryRepository

EXAMPLES = Path(__file__).resolve().parent.parent / "config" / "examples"


def example(file: str, name: str, **replace: Any) -> Rule:
    _, rules = read_config(EXAMPLES / file)
    rule = next(r for r in rules if r.name == name)
    return rule.model_copy(update=replace) if replace else rule


Setup = Callable[[Core, float], Awaitable[None]]


async def run(
    url: str,
    clock: Any,
    rule: Rule,
    *,
    before_tick: Setup | None = None,
    before: Setup | None = None,
    ticks: int | None = None,
    environment: dict[str, str] | None = None,
    host: Any = None,
) -> list[IncidentRow]:
    """Open a Core with ``rule`` alone, prepare, tick it ``breaches_to_open`` times (one
    interval apart), and return the incidents it opened."""
    core = await Core.open(url, [rule], clock=clock, environment=Environment(environment or {}))
    if host is not None:
        core.engine.sources["system"] = host
    try:
        if before is not None:
            await before(core, clock.now)
        for _ in range(ticks or rule.breaches_to_open):
            if before_tick is not None:
                await before_tick(core, clock.now)
            await core.engine.tick([rule], now=clock.now)
            clock.advance(rule.interval)
        return await incidents(core)
    finally:
        await core.close()


def levels(found: Sequence[IncidentRow]) -> list[tuple[dict[str, str], str]]:
    return [(dict(i.labels), i.severity) for i in found if i.kind == "metric"]


# ----------------------------------------------------------- pushed events


def push(*items: dict[str, Any], spread: float = 120.0) -> Setup:
    """Push ``items`` (samples, request or job events) spread over the last ``spread`` s."""

    async def setup(core: Core, now: float) -> None:
        stamped = [
            {**item, "ts": now - spread * (i + 1) / (len(items) + 1)}
            for i, item in enumerate(items)
        ]
        samples = parse_samples(orjson.dumps({"samples": stamped}), now)
        core.store.add_many(samples, now=now)

    return setup


def requests(n: int, duration_ms: float = 100, status: int | str = 200, **fields: Any):
    return [
        {"kind": "request", "route": "/checkout", "method": "GET", "status": status,
         "duration_ms": duration_ms, **fields}
    ] * n  # fmt: skip


def jobs(n: int, status: str = "success", duration_s: float = 10, wait_s: float = 1):
    return [
        {"kind": "job", "queue": "images", "job_type": "text", "status": status,
         "duration_s": duration_s, "wait_s": wait_s}
    ] * n  # fmt: skip


API = {"labels": {"service": "api"}}


@pytest.mark.parametrize(
    ("file", "name", "firing", "quiet", "expected"),
    [
        ("slow-endpoint.yaml", "slow-endpoint", requests(20, 1500), requests(20, 300),
         ({"route": "/checkout"}, "warning")),
        ("slow-endpoint.yaml", "slow-endpoint", requests(20, 1500), requests(9, 9000),
         ({"route": "/checkout"}, "warning")),  # 9 requests: fewer than min_samples
        ("slow-endpoint.yaml", "slow-endpoint-critical", requests(20, 6000), requests(20, 3000),
         ({"route": "/checkout"}, "critical")),
        ("error-rate.yaml", "error-rate-spike",
         requests(85, **API) + requests(15, status=500, **API),
         requests(95, **API) + requests(5, status=503, **API), ({"service": "api"}, "warning")),
        ("timeouts.yaml", "timeout-frequency",
         requests(90, **API) + requests(10, status=504, **API),
         requests(98, **API) + requests(2, status="timeout", **API),
         ({"service": "api"}, "warning")),
        ("job-failure-rate.yaml", "job-failure-rate", jobs(15) + jobs(5, "failure"),
         jobs(19) + jobs(1, "failure"), ({"queue": "images"}, "warning")),
        ("job-failure-rate.yaml", "job-failure-rate", jobs(15) + jobs(5, "failure"),
         jobs(8, "failure"), ({"queue": "images"}, "warning")),  # 8 jobs: too few to judge
        ("queue-backlog.yaml", "queue-backlog", jobs(20, wait_s=300), jobs(20, wait_s=20),
         ({"queue": "images"}, "warning")),
        ("throughput-drop.yaml", "throughput-drop", jobs(50), jobs(150),
         ({}, "warning")),
        ("throughput-drop.yaml", "throughput-drop", [], jobs(150),
         ({}, "critical")),  # nothing completed at all
        ("redis-operations.yaml", "redis-command-latency",
         [{"metric": "redis.command.duration_ms", "value": 250}] * 60,
         [{"metric": "redis.command.duration_ms", "value": 2}] * 60, ({}, "warning")),
        ("redis-operations.yaml", "redis-command-failures",
         [{"metric": "redis.command.duration_ms", "value": 2, "labels": {"status": "ok"}}] * 57
         + [{"metric": "redis.command.duration_ms", "value": 2, "labels": {"status": "error"}}] * 3,
         [{"metric": "redis.command.duration_ms", "value": 2, "labels": {"status": "ok"}}] * 60,
         ({}, "warning")),
    ],
)  # fmt: skip
async def test_pushed_event_rules(tmp_path, clock, file, name, firing, quiet, expected):
    rule = example(file, name)
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule, before=push(*firing))
    assert levels(fired) == [expected]
    calm = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule, before=push(*quiet))
    assert levels(calm) == []


def baseline(rule: Rule, key: str, mean: float) -> Setup:
    """A day of hourly history with ``mean`` for the series ``key``."""

    async def setup(core: Core, now: float) -> None:
        hour = int(now // 3600)
        async with core.db.transaction() as session:
            await HistoryRepository(session).add_hours(
                [(rule.name, key, hour - h, mean * 60, 60) for h in range(1, 25)]
            )

    return setup


def both(*setups: Setup) -> Setup:
    async def setup(core: Core, now: float) -> None:
        for step in setups:
            await step(core, now)

    return setup


@pytest.mark.parametrize(
    ("file", "name", "key", "usual", "firing", "quiet"),
    [
        # 1 request/s usually; 2,400 in 10 minutes is 4/s (4x), 900 is 1.5/s
        ("traffic-surge.yaml", "traffic-surge", "service=api", 1.0,
         requests(2400, **API), requests(900, **API)),
        # jobs usually take 10 s; 25 s is 2.5x, 12 s is 1.2x
        ("slow-jobs.yaml", "slow-generation-jobs", "job_type=text", 10.0,
         jobs(10, duration_s=25), jobs(10, duration_s=12)),
    ],
)  # fmt: skip
async def test_baseline_rules(tmp_path, clock, file, name, key, usual, firing, quiet):
    rule = example(file, name)
    labels = dict(pair.split("=") for pair in key.split(","))
    for data, expected in ((firing, [(labels, "warning")]), (quiet, [])):
        found = await run(
            f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}",
            clock,
            rule,
            before=both(baseline(rule, key, usual), push(*data, spread=590)),
        )
        assert levels(found) == expected


# ----------------------------------------------------------- SQL


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("name", "firing_sql", "expected"),
    [
        ("checkout-p95", None, ({"route": "/checkout"}, "warning")),
        ("generation-failure-rate",
         "INSERT INTO generation_jobs (created_at, finished_at, queue, job_type, status) "
         "SELECT to_timestamp($1) - interval '50 seconds' * i - interval '20 seconds', "
         "to_timestamp($1) - interval '50 seconds' * i, 'video', 'text', 'failed' "
         "FROM generate_series(1, 15) AS i", ({"queue": "video"}, "warning")),
    ],
)  # fmt: skip
async def test_sql_rules(analytics, tmp_path, clock, name, firing_sql, expected):
    rule = example("sql-analytics.yaml", name)
    env = {"ANALYTICS_DATABASE_URL": analytics.replace("postgresql://", "postgresql+asyncpg://")}
    clock.now = NOW + 1
    calm = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule, environment=env)
    assert levels(calm) == []  # the seeded week is healthy
    if firing_sql is None:
        await slow_requests(analytics, "/checkout", minutes=4, duration_ms=2500, n=100)
    else:
        await execute(analytics, firing_sql, NOW)
    clock.now = NOW + 1
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule, environment=env)
    assert levels(fired) == [expected]


@pytest.fixture
def stats_postgres() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="tocsin-pg-"))
    try:
        with private_postgres(folder, "shared_preload_libraries=pg_stat_statements") as dsn:
            yield dsn
    except (FileNotFoundError, RuntimeError) as exc:
        message = f"cannot run a private PostgreSQL for pg_stat_statements: {exc}"
        if ON_CI:
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
async def test_slow_database_queries(stats_postgres, tmp_path, clock):
    import asyncpg

    rule = example("slow-database-queries.yaml", "slow-database-queries")
    env = {
        "ANALYTICS_DATABASE_URL": stats_postgres.replace("postgresql://", "postgresql+asyncpg://")
    }
    connection = await asyncpg.connect(stats_postgres)
    try:
        await connection.execute("CREATE EXTENSION pg_stat_statements")
        for _ in range(25):
            await connection.fetch("SELECT count(*) FROM generate_series(1, 1000)")
        calm = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule, environment=env)
        assert levels(calm) == []
        for _ in range(20):
            await connection.fetch("SELECT pg_sleep(0.6)")
    finally:
        await connection.close()
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule, environment=env)
    ((labels, severity),) = levels(fired)
    assert labels["statement"] == "SELECT pg_sleep($1)" and severity == "warning"


# ----------------------------------------------------------- Redis


@pytest.fixture
def celery_redis(redis_url: str) -> Iterator[str]:
    """Database 15 of the shared Redis, for the examples' fixed key `celery`."""
    url = redis_url.rsplit("/", 1)[0] + "/15"
    client = redis.Redis.from_url(url)
    client.delete("celery")
    yield url
    client.delete("celery")
    client.close()


def fill_celery(url: str, length: int) -> None:
    client = redis.Redis.from_url(url)
    client.delete("celery")
    if length:
        client.rpush("celery", *(["task"] * length))
    client.close()


@pytest.mark.redis
async def test_celery_queue_depth(celery_redis, tmp_path, clock):
    rule = example("celery-queue-depth.yaml", "celery-queue-depth")
    env = {"REDIS_URL": celery_redis}
    db = tmp_path / "x.db"
    for length, expected in ((1500, [({}, "warning")]), (20, []), (0, [])):
        fill_celery(celery_redis, length)
        db.unlink(missing_ok=True)
        assert levels(await run(f"sqlite+aiosqlite:///{db}", clock, rule, environment=env)) == (
            expected
        )


@pytest.mark.redis
async def test_queue_growth(celery_redis, tmp_path, clock):
    rule = example("queue-backlog.yaml", "queue-growth")
    for per_tick, expected in ((40, [({}, "warning")]), (5, [])):  # 80/min, 10/min

        async def grow(core: Core, now: float, per_tick: int = per_tick) -> None:
            client = redis.Redis.from_url(celery_redis)
            client.rpush("celery", *(["task"] * per_tick))
            client.close()

        fill_celery(celery_redis, 0)
        found = await run(
            f"sqlite+aiosqlite:///{tmp_path / f'{per_tick}.db'}", clock, rule,
            before_tick=grow, ticks=24, environment={"REDIS_URL": celery_redis},
        )  # fmt: skip
        assert levels(found) == expected


async def slow_pings(delay: float) -> tuple[asyncio.Server, str]:
    """A server speaking Redis's protocol whose PING answers take ``delay`` seconds."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            words = []
            for _ in range(int(line[1:])):
                size = int((await reader.readline())[1:])
                words.append((await reader.readexactly(size + 2))[:-2])
            if words[0].upper() == b"PING":
                await asyncio.sleep(delay)
                writer.write(b"+PONG\r\n")
            else:
                writer.write(b"+OK\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"


@pytest.mark.redis
async def test_redis_latency(redis_url, tmp_path, clock):
    rule = example("redis-operations.yaml", "redis-latency")
    calm = await run(
        f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule,
        environment={"REDIS_URL": redis_url},
    )  # fmt: skip
    assert levels(calm) == []
    server, slow_url = await slow_pings(0.08)
    try:
        fired = await run(
            f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule,
            environment={"REDIS_URL": slow_url},
        )  # fmt: skip
    finally:
        server.close()
    assert levels(fired) == [({}, "warning")]


@pytest.fixture
def small_redis(tmp_path: Path) -> Iterator[str]:
    with private_redis(tmp_path, "4mb") as url:
        yield url


@pytest.mark.slow
async def test_redis_memory(small_redis, tmp_path, clock):
    rule = example("redis-memory.yaml", "redis-memory")
    env = {"REDIS_URL": small_redis}
    calm = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule, environment=env)
    assert levels(calm) == []  # an empty server uses about a quarter of 4 MB
    client = redis.Redis.from_url(small_redis)
    for i in range(1000):  # to about 87% of maxmemory, in steps a full server still takes
        memory = client.info("memory")
        if memory["used_memory"] > 0.87 * memory["maxmemory"]:
            break
        client.set(f"ballast-{i}", b"x" * 20_000)
    client.close()
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule, environment=env)
    assert levels(fired) == [({}, "warning")]


# ----------------------------------------------------------- Prometheus


@pytest.mark.slow
async def test_celery_queue_depth_from_prometheus(prometheus, target, tmp_path):
    rule = example("celery-queue-depth.yaml", "celery-queue-depth-prometheus")
    env = {"PROMETHEUS_URL": prometheus.url}
    target.text = 'celery_queue_length{queue="email"} 150\ncelery_queue_length{queue="pdf"} 3\n'
    await asyncio.sleep(2.5 * SCRAPE_INTERVAL)
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", time_clock(), rule,
                      environment=env)  # fmt: skip
    assert levels(fired) == [({"queue": "email"}, "warning")]
    target.text = 'celery_queue_length{queue="email"} 40\ncelery_queue_length{queue="pdf"} 3\n'
    await asyncio.sleep(2.5 * SCRAPE_INTERVAL)
    calm = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", time_clock(), rule,
                     environment=env)  # fmt: skip
    assert levels(calm) == []


def time_clock() -> Any:
    """The wall clock, advanced by hand a rule interval at a time (so each reading counts;
    Prometheus answers a time a little ahead with its latest sample)."""

    class WallClock:
        def __init__(self) -> None:
            self.now = time.time()

        def __call__(self) -> float:
            return self.now

        def advance(self, seconds: float) -> None:
            self.now = max(time.time(), self.now + seconds)

    return WallClock()


# ----------------------------------------------------------- host


class Host:
    """A stand-in for the host: the value of each metric, as the system source reads it."""

    name = "system"

    def __init__(self, **values: float) -> None:
        self.values = values

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        return {
            r.name: RuleReading([SeriesValue((), self.values[r.metric or ""], 1)]) for r in rules
        }


@pytest.mark.parametrize(
    ("file", "name", "firing", "quiet", "severity"),
    [
        ("disk-space.yaml", "disk-used", {"disk_used_percent": 91}, {"disk_used_percent": 60},
         "warning"),
        ("disk-space.yaml", "disk-used", {"disk_used_percent": 97}, {"disk_used_percent": 84},
         "critical"),
        ("disk-space.yaml", "disk-free", {"disk_free_gb": 0.5}, {"disk_free_gb": 40}, "critical"),
        ("cpu-high.yaml", "cpu-high", {"cpu_percent": 95}, {"cpu_percent": 70}, "warning"),
    ],
)  # fmt: skip
async def test_host_rules(tmp_path, clock, file, name, firing, quiet, severity):
    rule = example(file, name)
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule, host=Host(**firing))
    assert levels(fired) == [({}, severity)]
    calm = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule, host=Host(**quiet))
    assert levels(calm) == []


async def test_cpu_high_needs_five_minutes(tmp_path, clock):
    rule = example("cpu-high.yaml", "cpu-high")
    brief = await run(
        f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule, ticks=4,
        host=Host(cpu_percent=99),
    )  # fmt: skip
    assert levels(brief) == []


# ----------------------------------------------------------- HTTP


@pytest.fixture
async def endpoint() -> AsyncIterator[dict[str, Any]]:
    """/health answering as ``state`` says: {"status": 200, "body": "ok", "delay": 0}."""
    state: dict[str, Any] = {"status": 200, "body": "ok", "delay": 0.0}

    async def health(request: web.Request) -> web.Response:
        await asyncio.sleep(state["delay"])
        return web.Response(status=state["status"], text=state["body"])

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/health"
    yield state
    await runner.cleanup()


async def test_api_down(endpoint, tmp_path, clock):
    rule = example("http-endpoint.yaml", "api-down", url=endpoint["url"])
    assert levels(await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule)) == []
    endpoint["status"] = 503
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule)
    assert levels(fired) == [({}, "critical")]
    endpoint.update(status=200, body="degraded")  # answers, but not "ok"
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", clock, rule)
    assert levels(fired) == [({}, "critical")]
    dead = rule.model_copy(update={"url": "http://127.0.0.1:1/health"})
    assert levels(await run(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", clock, dead)) == [
        ({}, "critical")
    ]


@pytest.mark.slow
async def test_api_slow(endpoint, tmp_path, clock):
    rule = example("http-endpoint.yaml", "api-slow", url=endpoint["url"])
    assert levels(await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, rule)) == []
    endpoint["delay"] = 2.1
    fired = await run(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", clock, rule)
    assert levels(fired) == [({}, "warning")]


@pytest.mark.parametrize(("days", "expected"), [(10, "warning"), (2, "critical"), (60, None)])
async def test_tls_expiry(tmp_path, days, expected):
    context = certificate(tmp_path, dt.datetime.now(dt.UTC) + dt.timedelta(days=days))
    runner = web.AppRunner(web.Application())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    try:
        url = f"https://127.0.0.1:{runner.addresses[0][1]}/"
        rule = example("tls-expiry.yaml", "tls-expiry", url=url)
        found = await run(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", time_clock(), rule)
        assert levels(found) == ([({}, expected)] if expected else [])
    finally:
        await runner.cleanup()


# ----------------------------------------------------------- events


async def test_every_event_type_in_the_catalogue(sqlite_url, clock):
    doc = read_config(EXAMPLES / "events.yaml")[0].event_types
    types = parse_event_types(doc)
    assert set(doc or {}) == set(types)  # the file lists every shipped type
    async with serve(sqlite_url, clock, event_types=types) as api:
        for name, kind in types.items():
            labels = {"provider": name}
            if kind.resolves is not None:  # quiet: nothing of its pair is open
                body = (await api.client.post("/v1/events", json={"type": name})).json()
                assert body["action"] == "nothing_open"
                continue
            if kind.record_only:  # a deploy: kept, opens nothing
                body = (await api.client.post("/v1/events", json={"type": name})).json()
                assert (body["action"], body["incident"]) == ("recorded", None)
                continue
            body = (
                await api.client.post("/v1/events", json={"type": name, "labels": labels})
            ).json()
            assert body["action"] == "opened", name
            shown = (await api.client.get(f"/v1/alerts/{body['incident']}")).json()
            assert (shown["rule"], shown["severity"]) == (name, kind.severity)
        for name, kind in types.items():
            if kind.resolves is not None:
                labels = {"provider": kind.resolves}
                body = (
                    await api.client.post("/v1/events", json={"type": name, "labels": labels})
                ).json()
                assert body["action"] == "resolved", name
        open_now = (await api.client.get("/v1/alerts")).json()["alerts"]
        assert sorted(a["rule"] for a in open_now) == sorted(
            n for n, k in types.items() if k.opens and n not in
            {k2.resolves for k2 in types.values()}
        )  # fmt: skip
