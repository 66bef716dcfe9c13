"""Shared fixtures: a migrated database on SQLite and, where the server is there, on
PostgreSQL (a database of its own per test), and a controllable clock."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import analytics_db
import asyncpg
import command_helpers
import pytest
import redis
from command_helpers import open_core
from fake_discord import FakeDiscord
from http_harness import Api, serve
from prometheus_server import Prometheus, Target, run_prometheus, serve_target

from monitors.core import Core
from storage.db import Database

PG_DSN = os.environ.get("TOCSIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TOCSIN_TEST_REDIS", "redis://127.0.0.1:6379/0")
ON_CI = os.environ.get("CI", "").lower() == "true"

# Charts off unless a test turns them on (Settings(charts=True), as tests/test_charts.py
# does): drawing one costs a worker thread a tenth of a second, and the first one about
# a second more to import matplotlib. Processes the tests start inherit it.
os.environ.setdefault("TOCSIN_CHARTS", "false")


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


_pg_template: str | None = None
"""A database migrated once per test run; each test's database is a copy of it."""


async def _postgres_database() -> str:
    """Create a fresh, migrated database; skip (or fail under CI) when PostgreSQL is
    not there."""
    global _pg_template
    try:
        connection = await asyncpg.connect(PG_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        _missing(f"PostgreSQL not reachable at {PG_DSN}: {exc}")
    name = f"tocsin_t_{uuid.uuid4().hex[:12]}"
    try:
        if _pg_template is None:  # migrating takes longer than copying a database
            template = f"tocsin_template_{uuid.uuid4().hex[:12]}"
            await connection.execute(f"CREATE DATABASE {template}")
            database = Database(postgres_url(template))
            await database.migrate()
            await database.close()
            _pg_template = template
        await connection.execute(f"CREATE DATABASE {name} TEMPLATE {_pg_template}")
    finally:
        await connection.close()
    return name


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_template is not None:
        asyncio.run(_drop_database(_pg_template))


async def _drop_database(name: str) -> None:
    connection = await asyncpg.connect(PG_DSN, timeout=3)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()


def postgres_url(name: str) -> str:
    base = PG_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)
    return base.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A database URL for a database of its own, on each backend: an empty file on
    SQLite, a freshly migrated database on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}"
        return
    name = await _postgres_database()
    try:
        yield postgres_url(name)
    finally:
        await _drop_database(name)


@pytest.fixture
async def postgres_database_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database, for what only PostgreSQL does (several processes
    writing at once); mark such tests ``postgres``."""
    name = await _postgres_database()
    try:
        yield postgres_url(name)
    finally:
        await _drop_database(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def core(tmp_path, clock: Clock) -> AsyncIterator[Core]:
    """A Core with the command tests' rules, on SQLite (see command_helpers)."""
    core = await open_core(await command_helpers.sqlite_url(tmp_path), clock)
    yield core
    await core.close()


@pytest.fixture
async def core_each_db(database_url: str, clock: Clock) -> AsyncIterator[Core]:
    """The same on SQLite and on PostgreSQL, for tests that change what is stored."""
    core = await open_core(database_url, clock)
    yield core
    await core.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite database file's URL, for tests that restart on the same database."""
    return f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}"


@pytest.fixture
async def api(database_url: str, clock: Clock) -> AsyncIterator[Api]:
    """The HTTP API on loopback, over a fresh database on each backend (see
    http_harness)."""
    async with serve(database_url, clock) as running:
        yield running


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """The fake Discord (REST and gateway) on a loopback port; see tests/fake_discord.py."""
    server = await FakeDiscord().start()
    try:
        yield server
    finally:
        await server.close()


def _missing(message: str) -> None:
    """Skip with the reason, or fail under CI=true, where every server must be there."""
    if ON_CI:
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def analytics_template() -> Iterator[str]:
    """The seeded analytics database (see analytics_db), once per run."""

    async def create() -> str:
        try:
            admin = await asyncpg.connect(PG_DSN, timeout=3)
        except (OSError, asyncpg.PostgresError) as exc:
            _missing(f"PostgreSQL not reachable at {PG_DSN}: {exc}")
        return await analytics_db.create_template(PG_DSN, admin)

    name = asyncio.run(create())
    yield name
    asyncio.run(analytics_db.drop_database(PG_DSN, name))


@pytest.fixture
async def analytics(analytics_template: str) -> AsyncIterator[str]:
    """A copy of the analytics database for one test; its asyncpg DSN."""
    name = await analytics_db.copy_database(PG_DSN, analytics_template)
    try:
        yield analytics_db.dsn(PG_DSN, name)
    finally:
        await analytics_db.drop_database(PG_DSN, name)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis server on 127.0.0.1 (database 0); keys the test makes are its to delete."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _missing(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    yield REDIS_URL


QUEUES = """\
# TYPE celery_queue_length gauge
celery_queue_length{queue="email"} 150
celery_queue_length{queue="reports"} 20
"""


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """A metrics page for Prometheus to scrape (QUEUES until a test changes it)."""
    with serve_target(QUEUES) as served:
        yield served


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, target: Target) -> Iterator[Prometheus]:
    """A real Prometheus scraping ``target`` every second (see prometheus_server)."""
    try:
        with run_prometheus(tmp_path_factory.mktemp("prometheus"), target.port) as running:
            yield running
    except FileNotFoundError:
        _missing("prometheus is not installed (apt-get install prometheus)")
