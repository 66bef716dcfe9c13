"""The ingest source: samples pushed over HTTP, held in a :class:`WindowStore`.

:func:`parse_samples` validates a request body (all or nothing, every problem named);
:class:`IngestSource` answers the engine's rules from the store.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import orjson

from monitors.rules import Rule
from monitors.sources.base import LabelSet, RuleReading, SeriesValue
from monitors.timestamps import parse_timestamp
from monitors.window import EXTREMES, QUANTILES, GroupStats, Sample, WindowStore

MAX_NAME = 200
MAX_LABELS = 32
MAX_FUTURE = 86400.0
"""A timestamp further ahead than this is a unit mistake (milliseconds), not clock skew."""
MAX_REPORTED = 50
_FIELDS = frozenset({"metric", "value", "labels", "ts"})
_Pairs = tuple[tuple[str, str], ...]
_Batch = tuple[str, float, _Pairs, tuple[str, ...], _Pairs]
"""Rules sharing (metric, window, match, group_by, where) are answered by one pass."""


class IngestError(ValueError):
    """The body was refused; ``errors`` names each problem (``samples[3].value: ...``)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _is_number(v: Any) -> bool:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float range (json.loads keeps 10**400 exact)
        return False


def _parse_ts(raw: Any, now: float) -> float | str:
    """Epoch seconds, or the reason ``raw`` is not an acceptable timestamp."""
    try:
        ts = parse_timestamp(raw)
    except ValueError as exc:
        return str(exc)
    if ts > now + MAX_FUTURE:
        return "is more than a day in the future; send epoch seconds, not milliseconds"
    return ts


def _check_item(i: int, item: Any, now: float, errors: list[str]) -> Sample | None:
    where = f"samples[{i}]"
    if not isinstance(item, dict):
        errors.append(f"{where}: must be an object")
        return None
    before = len(errors)
    errors.extend(f"{where}: unknown field {k!r}" for k in item if k not in _FIELDS)
    metric = item.get("metric")
    if not isinstance(metric, str) or not metric:
        errors.append(f"{where}.metric: must be a non-empty string")
    elif len(metric) > MAX_NAME:
        errors.append(f"{where}.metric: must be at most {MAX_NAME} characters")
    value = item.get("value")
    if not _is_number(value):
        errors.append(f"{where}.value: must be a finite number")
    labels = item.get("labels", {})
    if not isinstance(labels, dict):
        errors.append(f"{where}.labels: must be an object of string values")
        labels = {}
    elif len(labels) > MAX_LABELS:
        errors.append(f"{where}.labels: at most {MAX_LABELS} labels, got {len(labels)}")
    for k, v in labels.items():
        if not k or len(k) > MAX_NAME:
            errors.append(f"{where}.labels: name {k[:40]!r} must be 1 to {MAX_NAME} characters")
        if not isinstance(v, str):
            errors.append(f"{where}.labels.{k[:40]}: must be a string")
        elif len(v) > MAX_NAME:
            errors.append(f"{where}.labels.{k[:40]}: must be at most {MAX_NAME} characters")
    ts: float | None = None
    if item.get("ts") is not None:
        parsed = _parse_ts(item["ts"], now)
        if isinstance(parsed, str):
            errors.append(f"{where}.ts: {parsed}")
        else:
            ts = parsed
    if len(errors) > before:
        return None
    return Sample(metric, float(value), labels, ts)


def parse_samples(body: bytes, now: float, max_items: int = 10_000) -> list[Sample]:
    """Validate an ingest body; raise :class:`IngestError` (and keep nothing) if any item is bad."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        refused = IngestError([f"body: not valid JSON ({exc})"])
        named = _name_non_finite(body, now, max_items)
        raise (named or refused) from None
    return _parse_doc(doc, now, max_items)


def _name_non_finite(body: bytes, now: float, max_items: int) -> IngestError | None:
    """``NaN``, ``Infinity`` and ``1e400`` are not JSON, but Python's ``json.dumps`` and
    JavaScript clients send them: name the items that hold them, as for any bad value,
    rather than "not valid JSON" at some column. Never accepts what orjson refused."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        _parse_doc(doc, now, max_items)
    except IngestError as exc:
        return exc
    return None


def _parse_doc(doc: Any, now: float, max_items: int) -> list[Sample]:
    if not isinstance(doc, dict):
        raise IngestError(['body: must be a JSON object like {"samples": [...]}'])
    items = doc.get("samples")
    if not isinstance(items, list):
        raise IngestError(['samples: required, a list of {"metric", "value", "labels", "ts"}'])
    if len(items) > max_items:
        raise IngestError([f"samples: {len(items)} items, at most {max_items} per request"])
    errors: list[str] = []
    samples = [_check_item(i, item, now, errors) for i, item in enumerate(items)]
    if errors:
        if len(errors) > MAX_REPORTED:
            errors = [*errors[:MAX_REPORTED], f"... and {len(errors) - MAX_REPORTED} more"]
        raise IngestError(errors)
    return samples  # type: ignore[return-value]  # no None once errors is empty


ZERO_WHEN_EMPTY = frozenset({"count", "rate", "sum"})
"""Aggregates that are themselves a measure of traffic: their value over no samples is
0 and ``min_samples`` does not apply, so a rule can alert on traffic falling or stopping."""


def _series(
    rule: Rule, current: dict[LabelSet, GroupStats], previous: dict[LabelSet, GroupStats] | None
) -> list[SeriesValue]:
    def value(g: GroupStats | None) -> float | None:
        if rule.aggregate in ZERO_WHEN_EMPTY:  # no traffic is a reading, not no data
            return 0.0 if g is None or g.count == 0 else g.value(rule.aggregate, rule.window)
        if g is None or g.count < rule.min_samples:
            return None
        return g.value(rule.aggregate, rule.window)

    keys = set(current) | set(previous or ())
    out = []
    for key in sorted(keys):
        g = current.get(key)
        prev = value(previous.get(key)) if previous is not None else None
        out.append(SeriesValue(key, value(g), g.count if g else 0, prev))
    if not out and not rule.group_by:
        out.append(SeriesValue((), value(None), 0))
    return out


class IngestSource:
    """Answers rules from pushed samples; rules over the same data share one pass."""

    name = "ingest"

    def __init__(self, store: WindowStore, yield_every: float = 0.02) -> None:
        self.store = store
        self.yield_every = yield_every
        """Seconds of work between yields to the event loop, so pushes and chat stay served."""

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        batches: dict[_Batch, list[Rule]] = {}
        for rule in rules:
            where = tuple(sorted(rule.where.items())) if rule.aggregate == "percent_where" else ()
            match = tuple(sorted(rule.match.items()))
            key = (rule.metric, rule.window, match, rule.group_by, where)
            batches.setdefault(key, []).append(rule)
        readings: dict[str, RuleReading] = {}
        started = time.perf_counter()
        for key, batch in batches.items():
            changes = [r for r in batch if r.threshold_type == "percent_change"]
            try:
                current = self._collect(key, batch, now, 0.0)
                previous = self._collect(key, changes, now, key[1]) if changes else None
            except ValueError as exc:
                for rule in batch:
                    readings[rule.name] = RuleReading(error=str(exc))
                continue
            for rule in batch:
                change = rule.threshold_type == "percent_change"
                readings[rule.name] = RuleReading(
                    _series(rule, current, previous if change else None)
                )
            if time.perf_counter() - started > self.yield_every:
                await asyncio.sleep(0)
                started = time.perf_counter()
        return readings

    def _collect(
        self, key: _Batch, rules: list[Rule], now: float, offset: float
    ) -> dict[LabelSet, GroupStats]:
        """One pass over the store for every rule of a batch; costly parts only if asked."""
        metric, window, match, group_by, where = key
        aggregates = {r.aggregate for r in rules}
        return self.store.collect(
            metric,
            window=window,
            now=now,
            group_by=group_by,
            match=dict(match),
            where=dict(where),
            offset=offset,
            quantiles=not aggregates.isdisjoint(QUANTILES),
            extremes=not aggregates.isdisjoint(EXTREMES),
        )
