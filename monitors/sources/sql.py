"""The SQL source: a read-only query against any SQLAlchemy URL, per tick.

The query returns one row per series: the rule's ``group_by`` columns, a ``value``
column and optionally a ``count`` column (fewer than ``min_samples`` reads as no data).
``:window_start`` and ``:window_end`` are bound as timezone-aware UTC times, the window
ending at the tick. Rules reading the same query on the same URL (and window, when the
query reads it) share one execution per tick; there is one connection pool per URL.

Reads are read-only (PostgreSQL: ``default_transaction_read_only``; SQLite:
``query_only``) and bounded by the rule's ``timeout`` (PostgreSQL: ``statement_timeout``,
so the server stops the query too). Whatever goes wrong, a dead server, a timeout, a
text or NULL value, two rows for one series, is an error on the rule's reading, never
a value."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, bindparam, event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from monitors.rules.schema import Rule
from monitors.sources.base import (
    LabelSet,
    RuleReading,
    SeriesValue,
    SourceError,
    as_number,
)
from monitors.sources.env import Environment, MissingVariable, display_url
from storage.db import normalise_url

POOL_SIZE = 4
"""Connections per URL: queries of one tick run side by side up to this many."""
MAX_ROWS = 10_000
"""A query returning more rows than this is refused: it is not one row per series."""
TIMEOUT_MARGIN = 1.0
"""Seconds past the statement timeout before Tocsin gives up on the server itself."""


@dataclass(frozen=True, slots=True)
class _Execution:
    """One execution of a query in a tick, shared by every rule that reads it."""

    url: str  # as written (``${NAME}`` unexpanded): names the pool in messages
    query: str
    window: float | None  # None when the query does not read :window_start
    offset: float  # 0, or the window for the previous window of percent_change


@dataclass(frozen=True, slots=True)
class _Result:
    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]


@lru_cache(maxsize=1024)
def _statement(query: str) -> TextClause:
    """The query with its window parameters typed, so every driver binds UTC times."""
    clause = text(query)
    bound = set(clause.compile().params)
    typed = [bindparam(n, type_=DateTime(timezone=True)) for n in sorted(bound)]
    return clause.bindparams(*typed) if typed else clause


@lru_cache(maxsize=1024)
def _parameters(query: str) -> frozenset[str]:
    return frozenset(text(query).compile().params)


def _innermost(exc: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers."""
    inner: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    return inner


def _failure(exc: BaseException, timeout: float) -> str:
    inner = _innermost(exc)
    message = str(inner).strip() or type(inner).__name__
    if type(inner).__name__ == "QueryCanceledError" and "timeout" in message:
        return f"query timed out after {timeout:g}s (statement timeout)"
    return f"query failed: {message}"


class SqlSource:
    """Answers sql rules; one pool per URL, one execution per shared query per tick."""

    name = "sql"

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment()
        self._pools: dict[str, AsyncEngine] = {}
        self.queries = 0
        """Executions so far (the benchmark and /metrics read it)."""

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        readings: dict[str, RuleReading] = {}
        wanted: dict[_Execution, tuple[str, float]] = {}  # execution -> (expanded url, timeout)
        plans: dict[str, tuple[_Execution, _Execution | None]] = {}
        for rule in rules:
            assert rule.url is not None and rule.query is not None  # the schema requires them
            try:
                url = self.environment.expand(rule.url)
            except MissingVariable as exc:
                readings[rule.name] = RuleReading(error=f"url: {exc}")
                continue
            window = rule.window if "window_start" in _parameters(rule.query) else None
            current = _Execution(rule.url, rule.query, window, 0.0)
            previous = None
            if rule.threshold_type == "percent_change":
                previous = _Execution(rule.url, rule.query, window, rule.window)
            for execution in (current, previous):
                if execution is not None:
                    _, longest = wanted.get(execution, (url, 0.0))
                    wanted[execution] = (url, max(longest, rule.read_timeout))
            plans[rule.name] = (current, previous)
        executions = list(wanted)
        outcomes = await asyncio.gather(
            *(self._run(e, *wanted[e], now) for e in executions), return_exceptions=True
        )
        results = dict(zip(executions, outcomes, strict=True))
        for rule in rules:
            if rule.name in plans:
                current, previous = plans[rule.name]
                readings[rule.name] = _reading(
                    rule, results[current], results[previous] if previous else None
                )
        return readings

    async def _run(self, execution: _Execution, url: str, limit: float, now: float) -> _Result:
        end = datetime.fromtimestamp(now - execution.offset, UTC)
        params: dict[str, Any] = {}
        if execution.window is not None:
            params["window_start"] = end - timedelta(seconds=execution.window)
        if "window_end" in _parameters(execution.query):
            params["window_end"] = end
        self.queries += 1
        try:
            pool = self._pool(url)
            async with asyncio.timeout(limit + TIMEOUT_MARGIN), pool.connect() as connection:
                if pool.dialect.name == "postgresql":
                    milliseconds = str(max(1, math.ceil(limit * 1000)))
                    await connection.execute(
                        text("SELECT set_config('statement_timeout', :ms, true)"),
                        {"ms": milliseconds},
                    )
                result = await connection.execute(_statement(execution.query), params)
                columns = tuple(result.keys())
                rows = result.fetchmany(MAX_ROWS + 1)
                await connection.rollback()  # a read: nothing to keep
        except TimeoutError:
            raise SourceError(f"query timed out after {limit:g}s") from None
        except (OSError, SQLAlchemyError) as exc:
            never_reached = isinstance(_innermost(exc), OSError) or not isinstance(exc, DBAPIError)
            if never_reached:
                where = display_url(execution.url)
                raise SourceError(f"cannot query {where}: {_innermost(exc)}") from None
            raise SourceError(_failure(exc, limit)) from None
        if len(rows) > MAX_ROWS:
            raise SourceError(
                f"the query returned more than {MAX_ROWS:,} rows; it should return one row "
                "per series (GROUP BY the label columns)"
            )
        return _Result(columns, [tuple(row) for row in rows])

    def _pool(self, url: str) -> AsyncEngine:
        pool = self._pools.get(url)
        if pool is None:
            pool = _create_pool(url)
            self._pools[url] = pool
        return pool

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.dispose()


def _create_pool(url: str) -> AsyncEngine:
    url = normalise_url(url)
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=0,
            pool_pre_ping=True,
            connect_args={
                "timeout": 5,
                "server_settings": {
                    "default_transaction_read_only": "on",
                    "application_name": "tocsin",
                },
            },
        )
    pool = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0, pool_pre_ping=True)
    if url.startswith("sqlite"):
        event.listen(pool.sync_engine, "connect", _sqlite_read_only)
    return pool


def _sqlite_read_only(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def _reading(
    rule: Rule,
    current: _Result | BaseException,
    previous: _Result | BaseException | None,
) -> RuleReading:
    try:
        series = _series(rule, _unwrap(current))
        before = _series(rule, _unwrap(previous)) if previous is not None else None
    except SourceError as exc:
        return RuleReading(error=str(exc))
    if before is not None:
        values = {labels: s.value for labels, s in before.items()}
        series = {
            labels: SeriesValue(labels, s.value, s.count, values.get(labels))
            for labels, s in series.items()
        }
    return RuleReading(list(series.values()))


def _unwrap(outcome: _Result | BaseException) -> _Result:
    if isinstance(outcome, SourceError):
        raise outcome
    if isinstance(outcome, BaseException):  # not a failure _run knows: still only this rule's
        raise SourceError(f"query failed: {type(outcome).__name__}: {outcome}")
    return outcome


def _series(rule: Rule, result: _Result) -> dict[LabelSet, SeriesValue]:
    """One series per row; every problem with the rows is a SourceError naming it."""
    columns = result.columns
    if "value" not in columns:
        raise SourceError(
            f"the result has no 'value' column (columns: {', '.join(columns)}); "
            "name the measured column AS value"
        )
    missing = [label for label in rule.group_by if label not in columns]
    if missing:
        raise SourceError(
            f"group_by names {', '.join(missing)}, which the result does not have "
            f"(columns: {', '.join(columns)})"
        )
    at = {name: index for index, name in enumerate(columns)}
    value_at, count_at = at["value"], at.get("count")
    if count_at is None and rule.min_samples > 1:
        raise SourceError(
            f"min_samples is {rule.min_samples} but the result has no 'count' column; "
            "add count(*) AS count"
        )
    label_at = [(label, at[label]) for label in sorted(rule.group_by)]
    series: dict[LabelSet, SeriesValue] = {}
    for row in result.rows:
        labels = tuple((label, "" if row[i] is None else str(row[i])) for label, i in label_at)
        where = "for " + ", ".join(f"{k}={v}" for k, v in labels) if labels else "in the row"
        if labels in series:
            by = ", ".join(rule.group_by)
            raise SourceError(
                f"two rows {where}: the query must return one row per series (GROUP BY {by})"
                if labels
                else "the query returned several rows; without group_by it must return one"
            )
        count = None
        if count_at is not None:
            count = int(as_number(row[count_at], f"count {where}"))
        if row[value_at] is None:
            if count == 0:  # nothing was measured: no data, not a broken query
                series[labels] = SeriesValue(labels, None, 0)
                continue
            raise SourceError(
                f"value {where} is NULL; return a number, or a count of 0 when nothing was measured"
            )
        value: float | None = as_number(row[value_at], f"value {where}")
        if count is not None and count < rule.min_samples:
            value = None
        series[labels] = SeriesValue(labels, value, count if count is not None else 1)
    if not series and not rule.group_by:
        series[()] = SeriesValue((), None, 0)
    return series
