"""Tick time and queries per tick for the SQL and Prometheus sources (target: one
execution per shared query, tick under 1 s on a 2-core machine).

    .venv/bin/python benchmarks/sources.py [--postgres postgresql://postgres@127.0.0.1/test]

* SQL: 1,000 rules over 20 shared queries (p50..p99 and the error share per route, over
  windows of 5 to 30 minutes) against the analytics tables of tests/analytics_db.py
  (300,000 request_logs, seeded with generate_series into a scratch database that is
  dropped afterwards).
* Prometheus: the Debian ``prometheus`` binary on 127.0.0.1:0 scraping 200 series; 1,000
  rules over 20 shared queries, then 1,000 rules with a query each.

Each tick is the whole engine: fetch, classify, state machine, and the write of what
changed, on a SQLite database of Tocsin's own."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from analytics_db import NOW, create_template, drop_database, dsn
from prometheus_server import run_prometheus, serve_target

from monitors.core import Core
from monitors.rules.schema import Rule

RULES = 1000
SHARED = 20
STEADY_TICKS = 5


def sql_queries() -> list[tuple[str, str]]:
    """20 (query, window): percentiles and error shares per route over several windows."""
    queries = []
    for window in ("5m", "10m", "15m", "30m"):
        for quantile in (0.5, 0.9, 0.95, 0.99):
            queries.append(
                (
                    "SELECT route, percentile_cont("
                    f"{quantile}) WITHIN GROUP (ORDER BY duration_ms) AS value, count(*) AS count "
                    "FROM request_logs WHERE ts >= :window_start AND ts < :window_end "
                    "GROUP BY route",
                    window,
                )
            )
        queries.append(
            (
                "SELECT route, 100.0 * count(*) FILTER (WHERE status >= 500) / count(*) AS value,"
                " count(*) AS count FROM request_logs "
                "WHERE ts >= :window_start AND ts < :window_end GROUP BY route",
                window,
            )
        )
    return queries


def sql_rules(url: str) -> list[Rule]:
    queries = sql_queries()
    assert len(queries) == SHARED
    return [
        Rule.model_validate(
            {
                "name": f"sql-{i:04d}",
                "source": "sql",
                "url": url,
                "query": queries[i % SHARED][0],
                "window": queries[i % SHARED][1],
                "group_by": ["route"],
                "interval": "30s",
                "thresholds": {"warning": 100_000 + i},  # reads, not incidents, are measured
            }
        )
        for i in range(RULES)
    ]


def prometheus_rules(url: str, distinct: bool) -> list[Rule]:
    shared = [
        f"sum by (route) (bench_requests{{shard=\"{i}\"}})" for i in range(SHARED)
    ]  # fmt: skip
    return [
        Rule.model_validate(
            {
                "name": f"prom-{i:04d}",
                "source": "prometheus",
                "url": url,
                "query": f'bench_requests{{route="r{i % 200}"}} * {1 + i // 200}'
                if distinct
                else shared[i % SHARED],
                "interval": "30s",
                "thresholds": {"warning": 1_000_000},
            }
        )
        for i in range(RULES)
    ]


async def measure(core: Core, rules: list[Rule], clock: Callable[[int], float]) -> dict[str, float]:
    source = core.engine.sources[rules[0].source]
    figures: dict[str, float] = {}
    before = source.queries  # type: ignore[attr-defined]
    started = time.perf_counter()
    await core.engine.tick(rules, now=clock(0))
    figures["first tick (every series new) ms"] = (time.perf_counter() - started) * 1000
    figures["queries in the first tick"] = source.queries - before  # type: ignore[attr-defined]
    steady = []
    for k in range(1, STEADY_TICKS + 1):
        before = source.queries  # type: ignore[attr-defined]
        started = time.perf_counter()
        await core.engine.tick(rules, now=clock(k))
        steady.append((time.perf_counter() - started) * 1000)
        figures["queries per steady tick"] = source.queries - before  # type: ignore[attr-defined]
    figures[f"steady tick, median of {STEADY_TICKS} ms"] = statistics.median(steady)
    figures["steady tick, max ms"] = max(steady)
    errors = core.engine.stats.sources[rules[0].source].errors
    figures["rule readings that were errors"] = errors
    return figures


def report(title: str, figures: dict[str, float]) -> None:
    print(f"\n{title}")
    for name, value in figures.items():
        print(f"  {name:<40} {value:>10,.1f}" if "ms" in name else f"  {name:<40} {value:>10,.0f}")


async def bench_sql(base_dsn: str, folder: Path) -> None:
    admin = await asyncpg.connect(base_dsn, timeout=5)
    seeded = time.perf_counter()
    name = await create_template(base_dsn, admin)
    await admin.close()
    print(f"seeded 300,000 request_logs and 100,000 jobs in {time.perf_counter() - seeded:.1f} s")
    try:
        url = dsn(base_dsn, name).replace("postgresql://", "postgresql+asyncpg://", 1)
        rules = sql_rules(url)
        core = await Core.open(f"sqlite+aiosqlite:///{folder / 'sql.db'}", rules)
        try:
            figures = await measure(core, rules, lambda k: NOW + 1 + 30 * k)
        finally:
            await core.close()
        report(f"SQL: {RULES:,} rules over {SHARED} shared queries (PostgreSQL)", figures)
    finally:
        await drop_database(base_dsn, name)


def exposition() -> str:
    lines = ["# TYPE bench_requests gauge"]
    for i in range(200):
        lines.append(f'bench_requests{{route="r{i}",shard="{i % SHARED}"}} {i * 10}')
    return "\n".join(lines) + "\n"


async def bench_prometheus(folder: Path) -> None:
    with serve_target(exposition()) as target, run_prometheus(folder, target.port) as prom:
        for distinct in (False, True):
            rules = prometheus_rules(prom.url, distinct)
            db = folder / f"prom-{distinct}.db"
            core = await Core.open(f"sqlite+aiosqlite:///{db}", rules)
            try:
                figures = await measure(core, rules, lambda k: time.time())
            finally:
                await core.close()
            what = f"{RULES:,} distinct queries" if distinct else f"{SHARED} shared queries"
            report(f"Prometheus: {RULES:,} rules over {what} (200 series scraped)", figures)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        folder = Path(tmp)
        await bench_sql(args.postgres, folder)
        (folder / "prometheus").mkdir()
        await bench_prometheus(folder / "prometheus")


if __name__ == "__main__":
    asyncio.run(main())
