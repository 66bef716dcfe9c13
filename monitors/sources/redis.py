"""The Redis source (redis.asyncio): the server's health and the depth of its queues.

Metrics (the rule's ``metric``):

* ``memory_used_ratio``: ``used_memory / maxmemory`` (0 to 1); a server without
  ``maxmemory`` has no ratio, which is a source error saying so.
* ``clients``: connected clients; ``ops_per_sec``: the server's instantaneous ops/s.
* ``latency_ms``: round trip of a ``PING`` from Tocsin.
* ``list_length``: ``LLEN key``; a list that does not exist reads 0 (Celery deletes
  empty queues).
* ``list_growth``: how fast ``key`` grows, in items per minute over the rule's
  ``window`` (backpressure: consumers falling behind); no data until Tocsin has watched
  the list for a window.

Per URL and tick: one ``INFO`` when any rule needs it, one ``PING``, and one pipeline
of ``LLEN`` for every list asked about."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading, SeriesValue, SourceError, as_number
from monitors.sources.env import Environment, MissingVariable, display_url

INFO_METRICS = frozenset({"memory_used_ratio", "clients", "ops_per_sec"})
LIST_METRICS = frozenset({"list_length", "list_growth"})
MAX_HISTORY = 90 * 86400.0
"""Longest a list's lengths are remembered for ``list_growth`` (its longest window)."""


@dataclass
class _Wants:
    """What one tick asks of one Redis server."""

    written: str
    info: bool = False
    ping: bool = False
    keys: set[str] = field(default_factory=set)
    limit: float = 0.0


@dataclass
class _State:
    """What one tick read from one Redis server, or why it could not."""

    info: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    lengths: dict[str, int | SourceError] = field(default_factory=dict)
    error: SourceError | None = None


class RedisSource:
    name = "redis"

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment()
        self._clients: dict[str, Redis] = {}
        self._history: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self.queries = 0

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        readings: dict[str, RuleReading] = {}
        servers: dict[str, _Wants] = {}
        urls: dict[str, str] = {}
        for rule in rules:
            assert rule.url is not None and rule.metric is not None  # the schema says so
            try:
                url = self.environment.expand(rule.url)
            except MissingVariable as exc:
                readings[rule.name] = RuleReading(error=str(exc))
                continue
            wants = servers.setdefault(url, _Wants(rule.url))
            wants.limit = max(wants.limit, rule.read_timeout)
            if rule.metric in INFO_METRICS:
                wants.info = True
            elif rule.metric in LIST_METRICS:
                assert rule.key is not None
                wants.keys.add(rule.key)
            else:
                wants.ping = True
            urls[rule.name] = url
        states = await asyncio.gather(*(self._read(url, w) for url, w in servers.items()))
        by_url = dict(zip(servers, states, strict=True))
        for url, state in by_url.items():
            self._remember(url, state, now)
        for rule in rules:
            if rule.name in urls:
                readings[rule.name] = self._reading(rule, urls[rule.name], by_url, now)
        return readings

    async def _read(self, url: str, wants: _Wants) -> _State:
        state = _State()
        where = display_url(wants.written)
        try:
            async with asyncio.timeout(wants.limit):
                client = self._client(url)
                if wants.info:
                    self.queries += 1
                    state.info = await client.info()
                if wants.ping:
                    self.queries += 1
                    started = time.perf_counter()
                    await client.ping()
                    state.latency_ms = (time.perf_counter() - started) * 1000.0
                if wants.keys:
                    state.lengths = await self._lengths(client, sorted(wants.keys))
        except TimeoutError:
            state.error = SourceError(f"Redis at {where} did not answer within {wants.limit:g}s")
        except (RedisError, OSError, ValueError) as exc:
            state.error = SourceError(f"cannot read Redis at {where}: {exc}")
        return state

    async def _lengths(self, client: Redis, keys: list[str]) -> dict[str, int | SourceError]:
        self.queries += 1
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        answers = await pipe.execute(raise_on_error=False)
        lengths: dict[str, int | SourceError] = {}
        for key, answer in zip(keys, answers, strict=True):
            if isinstance(answer, ResponseError) and "WRONGTYPE" in str(answer):
                lengths[key] = SourceError(f"key '{key}' holds something other than a list")
            elif isinstance(answer, Exception):
                lengths[key] = SourceError(f"LLEN {key} failed: {answer}")
            else:
                lengths[key] = int(answer)  # 0 for a list that does not exist
        return lengths

    def _remember(self, url: str, state: _State, now: float) -> None:
        for key, length in state.lengths.items():
            if isinstance(length, int):
                history = self._history.setdefault((url, key), deque())
                history.append((now, length))
                while history and history[0][0] < now - MAX_HISTORY:
                    history.popleft()

    def _reading(self, rule: Rule, url: str, states: dict[str, _State], now: float) -> RuleReading:
        state = states[url]
        if state.error is not None:
            return RuleReading(error=str(state.error))
        try:
            value = self._value(rule, url, state, now)
        except SourceError as exc:
            return RuleReading(error=str(exc))
        return RuleReading([SeriesValue((), value, 0 if value is None else 1)])

    def _value(self, rule: Rule, url: str, state: _State, now: float) -> float | None:
        metric = rule.metric
        if metric == "latency_ms":
            return state.latency_ms
        if metric == "clients":
            return as_number(state.info.get("connected_clients"), "connected_clients")
        if metric == "ops_per_sec":
            return as_number(state.info.get("instantaneous_ops_per_sec"), "ops per second")
        if metric == "memory_used_ratio":
            used = as_number(state.info.get("used_memory"), "used_memory")
            limit = as_number(state.info.get("maxmemory", 0), "maxmemory")
            if limit <= 0:
                raise SourceError(
                    "maxmemory is not set on this server, so memory use has no limit to be "
                    "a ratio of; set maxmemory, or watch the host with system memory_percent"
                )
            return used / limit
        assert rule.key is not None
        length = state.lengths[rule.key]
        if isinstance(length, SourceError):
            raise length
        if metric == "list_length":
            return float(length)
        return self._growth(url, rule.key, rule.window, now)

    def _growth(self, url: str, key: str, window: float, now: float) -> float | None:
        """Items per minute between the oldest length within ``window`` and now."""
        history = self._history.get((url, key)) or deque()
        start = next(((t, n) for t, n in history if t >= now - window), None)
        if start is None or not history:
            return None
        since, first = start
        if now - since < window * 0.9:  # not watched for a window yet
            return None
        return (history[-1][1] - first) / (now - since) * 60.0

    def _client(self, url: str) -> Redis:
        client = self._clients.get(url)
        if client is None:
            client = Redis.from_url(url, socket_connect_timeout=5)
            self._clients[url] = client
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
