"""The ingest source: samples pushed over HTTP (see monitors/sources/pushed.py), held in
a :class:`WindowStore`; :class:`IngestSource` answers the engine's rules from the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from monitors.rules.schema import Rule
from monitors.sources.base import LabelSet, RuleReading, SeriesValue
from monitors.windows.store import EXTREMES, QUANTILES, GroupStats, WindowStore

_Pairs = tuple[tuple[str, str], ...]
_Batch = tuple[str, float, _Pairs, tuple[str, ...], _Pairs]
"""Rules sharing (metric, window, match, group_by, where) are answered by one pass."""

ZERO_WHEN_EMPTY = frozenset({"count", "rate", "sum"})
"""Aggregates that are themselves a measure of traffic: their value over no samples is
0 and ``min_samples`` does not apply, so a rule can alert on traffic falling or stopping."""


def series_values(
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
                    series_values(rule, current, previous if change else None)
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
