"""A metric source answering from the sample history instead of the live window store,
so a replay reads what the rule would have read: the same aggregates over the same
groups (``match``, ``group_by``, ``where``), computed from minute buckets.

Windows cover whole minutes: ``(now - window, now]`` with ``now`` on a minute. A series
is listed while it had a sample within the live store's retention (two of the longest
window, at least two hours), as the live store lists it."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from monitors.backtest.history import STEP, Bucket, SeriesHistory
from monitors.rules.schema import Rule
from monitors.sources.base import LabelSet, RuleReading, SeriesValue, label_set
from monitors.sources.ingest import series_values  # the live source's own rule
from monitors.windows.histogram import Histogram
from monitors.windows.store import EXTREMES, QUANTILES, GroupStats

STORE_RETENTION = 7200.0
"""As ``monitors.core.MIN_STORE_WINDOW``: how long the live store keeps a quiet series."""


class HistorySource:
    name = "ingest"

    def __init__(self, history: SeriesHistory, rules: Sequence[Rule]) -> None:
        self.history = history
        longest = max((rule.window for rule in rules), default=0.0)
        self.retention = max(2 * longest, STORE_RETENTION)
        self._hists: dict[int, Histogram] = {}  # id(bucket) -> its histogram, built once

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        return {rule.name: RuleReading(self.values(rule, now)) for rule in rules}

    def values(self, rule: Rule, now: float) -> list[SeriesValue]:
        """What ``rule`` reads at ``now``, series by series (no awaiting: charts call it
        from a worker thread)."""
        current = self._collect(rule, now, 0.0)
        previous = None
        if rule.threshold_type == "percent_change":
            previous = self._collect(rule, now, rule.window)
        return series_values(rule, current, previous)

    def _collect(self, rule: Rule, now: float, offset: float) -> dict[LabelSet, GroupStats]:
        end = math.ceil((now - offset) / STEP)
        first = end - max(1, round(rule.window / STEP)) + 1
        listed_from = math.ceil((now - self.retention) / STEP) + 1
        quantiles = rule.aggregate in QUANTILES
        extremes = rule.aggregate in EXTREMES
        wheres = [(k, re.compile(p)) for k, p in rule.where.items()]
        groups: dict[LabelSet, GroupStats] = {}
        for labels, buckets in self.history.buckets.get(rule.metric, {}).items():
            named = dict(labels)
            if any(named.get(k, "") != v for k, v in rule.match.items()):
                continue
            if not any(i in buckets for i in range(listed_from, end + 1)):
                continue  # quiet for longer than the live store keeps a series
            group = groups.setdefault(label_set(named, rule.group_by), GroupStats())
            matched = rule.aggregate == "percent_where" and all(
                pattern.fullmatch(named.get(k, "")) for k, pattern in wheres
            )
            for index in range(first, end + 1):
                bucket = buckets.get(index)
                if bucket is None:
                    continue
                group.count += bucket.count
                group.total += bucket.total
                if matched:
                    group.matched += bucket.count
                if extremes:
                    group.lo, group.hi = min(group.lo, bucket.lo), max(group.hi, bucket.hi)
                if quantiles:
                    group.hists.append(self._hist(bucket))
        return groups

    def _hist(self, bucket: Bucket) -> Histogram:
        hist = self._hists.get(id(bucket))
        if hist is None:
            hist = self._hists[id(bucket)] = Histogram.from_counts(bucket.bins)
        return hist
