"""An application's analytics database on the PostgreSQL server: ``request_logs`` (300,000
requests over a week) and ``generation_jobs`` (100,000 jobs), filled in one statement
each with generate_series, and helpers that write the rows a regression would.

Seeded once per run as a template database; each test gets a copy of its own
(``CREATE DATABASE ... TEMPLATE``: a file copy, far quicker than seeding again)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC).timestamp()
"""The moment the data leads up to: tests tick at (or just after) it."""
REQUESTS = 300_000
JOBS = 100_000
ROUTES = ("/checkout", "/search", "/home", "/api/items", "/login", "/cart", "/orders", "/help")

SCHEMA = """
CREATE TABLE request_logs (
    id bigserial PRIMARY KEY,
    ts timestamptz NOT NULL,
    route text NOT NULL,
    method text NOT NULL,
    status integer NOT NULL,
    duration_ms double precision NOT NULL,
    user_id bigint
);
CREATE TABLE generation_jobs (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL,
    finished_at timestamptz,
    queue text NOT NULL,
    job_type text NOT NULL,
    status text NOT NULL,
    duration_s double precision,
    wait_s double precision
);
"""
SEED = """
INSERT INTO request_logs (ts, route, method, status, duration_ms, user_id)
SELECT to_timestamp($1::double precision) - make_interval(secs => i * 2),
       ($3::text[])[1 + i % 8],
       CASE WHEN i % 5 = 0 THEN 'POST' ELSE 'GET' END,
       CASE WHEN i % 211 = 0 THEN 504 WHEN i % 97 = 0 THEN 500 ELSE 200 END,
       40 + (i::bigint * 7919) % 400,
       i % 5000
FROM generate_series(1, $2::integer) AS i;
"""
SEED_JOBS = """
INSERT INTO generation_jobs (created_at, finished_at, queue, job_type, status, duration_s, wait_s)
SELECT to_timestamp($1::double precision) - make_interval(secs => i * 6 + 20),
       to_timestamp($1::double precision) - make_interval(secs => i * 6),
       (ARRAY['default', 'images', 'video'])[1 + i % 3],
       (ARRAY['text', 'image', 'summary'])[1 + i % 3],
       CASE WHEN i % 41 = 0 THEN 'failed' ELSE 'success' END,
       5 + (i * 31) % 20,
       (i * 13) % 10
FROM generate_series(1, $2::integer) AS i;
"""
INDEXES = """
CREATE INDEX request_logs_ts ON request_logs (ts);
CREATE INDEX generation_jobs_finished ON generation_jobs (finished_at);
ANALYZE;
"""


def dsn(base: str, name: str) -> str:
    return base.rsplit("/", 1)[0] + f"/{name}"


async def create_template(base_dsn: str, admin: asyncpg.Connection) -> str:
    """Create and seed the template database on ``admin``'s server; returns its name."""
    name = f"tocsin_analytics_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    connection = await asyncpg.connect(dsn(base_dsn, name), timeout=5)
    try:
        await connection.execute(SCHEMA)
        await connection.execute(SEED, NOW, REQUESTS, list(ROUTES))
        await connection.execute(SEED_JOBS, NOW, JOBS)
        await connection.execute(INDEXES)
    finally:
        await connection.close()
    return name


async def copy_database(base_dsn: str, template: str) -> str:
    name = f"tocsin_analytics_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base_dsn, timeout=5)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await admin.close()
    return name


async def drop_database(base_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(base_dsn, timeout=5)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


async def slow_requests(url: str, route: str, minutes: float, duration_ms: float, n: int) -> None:
    """``n`` requests to ``route`` taking ``duration_ms``, spread over the last ``minutes``."""
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(
            """
            INSERT INTO request_logs (ts, route, method, status, duration_ms)
            SELECT to_timestamp($1::double precision) - make_interval(secs => i * $2), $3,
                   'GET', 200, $4
            FROM generate_series(0, $5 - 1) AS i
            """,
            NOW,
            minutes * 60 / n,
            route,
            duration_ms,
            n,
        )
    finally:
        await connection.close()


async def execute(url: str, statement: str, *args: object) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()
