"""Dynamic-threshold baselines: hourly rollups of each series' evaluated value, kept in
the database, and a per-rule cache of their means refreshed every ``refresh`` seconds
rather than recomputed on every tick."""

from __future__ import annotations

from collections import defaultdict

from monitors.rules.schema import Rule
from storage.db import Database
from storage.repositories import HistoryRepository

HOUR = 3600


class Baselines:
    def __init__(self, db: Database, refresh: float = 900.0) -> None:
        self.db = db
        self.refresh = refresh
        self._pending: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0.0, 0])
        self._cache: dict[str, tuple[float, dict[str, float]]] = {}

    def record(self, rule: str, series_key: str, value: float, now: float) -> None:
        """Add one evaluated value to the current hour's rollup (flushed by ``flush``)."""
        bucket = self._pending[(rule, series_key, int(now // HOUR))]
        bucket[0] += value
        bucket[1] += 1

    async def flush(self) -> None:
        if not self._pending:
            return
        rows = [(r, k, h, total, int(count)) for (r, k, h), (total, count) in self._pending.items()]
        self._pending.clear()
        async with self.db.transaction() as session:
            await HistoryRepository(session).add_hours(rows)

    async def baseline(self, rule: Rule, series_key: str, now: float) -> float | None:
        """Mean of the series over the last ``baseline_window``, excluding the current hour."""
        cached = self._cache.get(rule.name)
        if cached is None or now - cached[0] >= self.refresh:
            current_hour = int(now // HOUR)
            since = current_hour - max(1, int(rule.baseline_window // HOUR))
            async with self.db.read() as session:
                means = await HistoryRepository(session).means(rule.name, since, current_hour)
            cached = (now, means)
            self._cache[rule.name] = cached
        return cached[1].get(series_key)

    def forget(self, rule: str) -> None:
        """Drop the cached means of ``rule`` (its ``baseline_window`` may have changed)."""
        self._cache.pop(rule, None)
