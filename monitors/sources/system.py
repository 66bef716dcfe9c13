"""The system source: the host Tocsin runs on, through psutil.

Metrics: ``cpu_percent`` (busy share of all CPUs since the previous tick; no data on
the first), ``memory_percent``, ``load1``/``load5``/``load15``, and per mount (``path``)
``disk_used_percent`` and ``disk_free_gb``. One reading of each per tick, however many
rules ask; psutil runs in a thread, so a hung mount cannot stall the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import psutil

from monitors.rules.schema import Rule
from monitors.sources.base import RuleReading, SeriesValue, SourceError

GB = 1024.0**3
READ_TIMEOUT = 10.0


class SystemSource:
    name = "system"

    def __init__(self) -> None:
        self._cpu_before: tuple[float, float] | None = None  # (busy, total) seconds
        self.queries = 0

    async def fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        wanted: dict[tuple[str, str | None], Callable[[], float | None]] = {}
        for rule in rules:
            assert rule.metric is not None
            wanted.setdefault((rule.metric, rule.path), self._reader(rule.metric, rule.path))
        keys = list(wanted)
        outcomes = await asyncio.gather(*(self._read(wanted[k]) for k in keys))
        values = dict(zip(keys, outcomes, strict=True))
        readings = {}
        for rule in rules:
            value = values[(rule.metric or "", rule.path)]
            if isinstance(value, SourceError):
                readings[rule.name] = RuleReading(error=str(value))
            else:
                readings[rule.name] = RuleReading([SeriesValue((), value, 1)])
        return readings

    async def _read(self, reader: Callable[[], float | None]) -> float | SourceError | None:
        self.queries += 1
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                return await asyncio.to_thread(reader)
        except TimeoutError:
            return SourceError(f"the host did not answer within {READ_TIMEOUT:g}s")
        except OSError as exc:
            return SourceError(str(exc))

    def _reader(self, metric: str, path: str | None) -> Callable[[], float | None]:
        if metric == "cpu_percent":
            return self._cpu_percent
        if metric == "memory_percent":
            return lambda: float(psutil.virtual_memory().percent)
        if metric in ("load1", "load5", "load15"):
            index = ("load1", "load5", "load15").index(metric)
            return lambda: float(psutil.getloadavg()[index])
        assert path is not None  # the schema requires a path for disk metrics
        if metric == "disk_used_percent":
            return lambda: float(psutil.disk_usage(path).percent)
        return lambda: psutil.disk_usage(path).free / GB

    def _cpu_percent(self) -> float | None:
        """Busy share of CPU time since the last call (psutil's own cpu_percent keeps
        one global "last call", which any other caller would move)."""
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        total = sum(times)
        before, self._cpu_before = self._cpu_before, (total - idle, total)
        if before is None or total <= before[1]:
            return None
        return 100.0 * ((total - idle) - before[0]) / (total - before[1])
