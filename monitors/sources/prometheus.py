"""The Prometheus source: PromQL instant queries over the HTTP API (httpx).

Each series of the result becomes a series of the rule, labelled with the result's
labels (or only the rule's ``group_by`` labels, when it names some). Rules with the same
query on the same URL share one request per tick. Basic auth comes from the URL
(``http://${PROM_USER}:${PROM_PASSWORD}@prometheus:9090``), a bearer token from
``headers: {Authorization: "Bearer ${PROM_TOKEN}"}``. An error answer, a range vector,
a string, or a value that is not a number is an error on the rule's reading; ``NaN``
(what ``0/0`` gives, e.g. an error rate with no requests) reads as no data."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from monitors.rules.schema import Rule
from monitors.sources.base import LabelSet, RuleReading, SeriesValue, SourceError
from monitors.sources.env import Environment, MissingVariable, display_url

CONCURRENCY = 4
"""Requests in flight per Prometheus server: Prometheus answers an instant query in well
under a millisecond, so more only adds to httpx's pool bookkeeping (benchmarks/sources.py:
4 connections beat 16 and 100)."""
MAX_SERIES = 10_000


@dataclass(frozen=True, slots=True)
class _Request:
    url: str  # as written; names the server in messages
    query: str
    headers: tuple[tuple[str, str], ...]  # as written


Vector = list[tuple[dict[str, str], str]]
"""(labels, value as Prometheus wrote it) per series."""


class PrometheusSource:
    name = "prometheus"

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self.queries = 0

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        readings: dict[str, RuleReading] = {}
        wanted: dict[_Request, tuple[str, dict[str, str], float]] = {}
        asks: dict[str, _Request] = {}
        for rule in rules:
            assert rule.url is not None and rule.query is not None  # the schema requires them
            try:
                url, headers = self.environment.expand_request(rule.url, rule.headers)
            except MissingVariable as exc:
                readings[rule.name] = RuleReading(error=str(exc))
                continue
            request = _Request(rule.url, rule.query, tuple(sorted(rule.headers.items())))
            longest = wanted[request][2] if request in wanted else 0.0
            wanted[request] = (url, headers, max(longest, rule.read_timeout))
            asks[rule.name] = request
        requests = list(wanted)
        outcomes = await asyncio.gather(
            *(self._query(r, *wanted[r], now) for r in requests), return_exceptions=True
        )
        answers = dict(zip(requests, outcomes, strict=True))
        for rule in rules:
            if rule.name in asks:
                readings[rule.name] = _reading(rule, answers[asks[rule.name]])
        return readings

    async def _query(
        self, request: _Request, url: str, headers: dict[str, str], limit: float, now: float
    ) -> Vector:
        form = {"query": request.query, "time": f"{now:.3f}", "timeout": f"{limit:g}s"}
        data = await self._call(request.url, url, "/api/v1/query", form, headers, limit)
        return _vector(data)

    async def query_range(
        self, rule: Rule, start: float, end: float, step: float
    ) -> dict[LabelSet, list[tuple[float, float]]]:
        """The rule's query over ``[start, end]`` every ``step`` seconds, per series: the
        points a chart of the incident draws."""
        assert rule.url is not None and rule.query is not None
        url, headers = self.environment.expand_request(rule.url, rule.headers)
        form = {"query": rule.query, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        form["step"] = f"{step:g}s"
        data = await self._call(
            rule.url, url, "/api/v1/query_range", form, headers, rule.read_timeout
        )
        if data.get("resultType") != "matrix":
            raise SourceError(f"expected a matrix from query_range, got {data.get('resultType')}")
        out: dict[LabelSet, list[tuple[float, float]]] = {}
        for item in data.get("result") or []:
            labels = _series_labels(item.get("metric") or {}, rule.group_by)
            points = [(float(ts), float(value)) for ts, value in item.get("values") or []]
            out[labels] = points
        return out

    async def _call(
        self,
        written: str,
        url: str,
        path: str,
        form: dict[str, str],
        headers: dict[str, str],
        limit: float,
    ) -> dict[str, Any]:
        client, gate = self._client(url)
        where = display_url(written)
        self.queries += 1
        try:
            async with gate:
                response = await client.post(
                    path, data=form, headers=headers, timeout=httpx.Timeout(limit)
                )
        except httpx.TimeoutException:
            raise SourceError(f"Prometheus at {where} did not answer within {limit:g}s") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise SourceError(f"cannot reach Prometheus at {where}: {reason}") from None
        return _answer(response, where)

    def _client(self, url: str) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        client = self._clients.get(url)
        if client is None:
            limits = httpx.Limits(max_connections=CONCURRENCY)
            client = httpx.AsyncClient(base_url=url.rstrip("/"), limits=limits)
            self._clients[url] = client
            self._limits[url] = asyncio.Semaphore(CONCURRENCY)
        return client, self._limits[url]

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def _answer(response: httpx.Response, where: str) -> dict[str, Any]:
    """The ``data`` of a Prometheus API answer, or SourceError with Prometheus's reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        status = f"HTTP {response.status_code}"
        raise SourceError(f"{where} did not answer as Prometheus does ({status}, not JSON)")
    if body["status"] != "success":
        kind = body.get("errorType") or f"HTTP {response.status_code}"
        raise SourceError(f"Prometheus refused the query ({kind}): {body.get('error', '')}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise SourceError("Prometheus answered success without data")
    return data


def _vector(data: Mapping[str, Any]) -> Vector:
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [({}, result[1])]
    if kind == "vector" and isinstance(result, list):
        if len(result) > MAX_SERIES:
            raise SourceError(f"the query returned {len(result):,} series; at most {MAX_SERIES:,}")
        return [(item.get("metric") or {}, item.get("value", [None, None])[1]) for item in result]
    if kind == "matrix":
        raise SourceError(
            "the query returns a range vector; alert on an instant vector, "
            "e.g. rate(x[5m]) rather than x[5m]"
        )
    raise SourceError(f"the query returns a {kind}, not a number per series")


def _series_labels(metric: Mapping[str, str], group_by: Sequence[str]) -> LabelSet:
    if group_by:
        return tuple(sorted((k, metric.get(k, "")) for k in group_by))
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def _value(raw: Any, where: str) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SourceError(f"value {where} is {raw!r}, not a number") from None
    if math.isnan(value):
        return None  # 0/0: nothing to measure, as an error rate with no requests
    if math.isinf(value):
        raise SourceError(f"value {where} is {raw}, not a finite number")
    return value


def _reading(rule: Rule, answer: Vector | BaseException) -> RuleReading:
    if isinstance(answer, SourceError):
        return RuleReading(error=str(answer))
    if isinstance(answer, BaseException):
        return RuleReading(error=f"Prometheus query failed: {type(answer).__name__}: {answer}")
    series: dict[LabelSet, SeriesValue] = {}
    try:
        for metric, raw in answer:
            labels = _series_labels(metric, rule.group_by)
            where = "for " + ", ".join(f"{k}={v}" for k, v in labels) if labels else ""
            if labels in series:
                by = ", ".join(rule.group_by)
                raise SourceError(
                    f"two series {where}: aggregate the query by its group_by labels "
                    f"(sum by ({by}) (...))"
                )
            value = _value(raw, where or "of the result")
            series[labels] = SeriesValue(labels, value, 0 if value is None else 1)
    except SourceError as exc:
        return RuleReading(error=str(exc))
    return RuleReading(list(series.values()))  # an empty vector: no series match right now
