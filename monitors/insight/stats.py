"""``/alerts stats`` and ``GET /v1/stats``: over the incidents opened in a window, per
rule and in all: how many, how often they reopened (flapping), time to acknowledge and
to resolve (median and p90), the share that resolved by themselves with nobody
acknowledging, the hours of the day (UTC) they opened in, the noisiest rules, and the
rules that opened nothing.

Time to acknowledge (MTTA) is from opening to the first acknowledgement, time to
resolve (MTTR) from opening to the first resolution, each over the incidents that have
one. Percentiles interpolate between the nearest ranks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from monitors.formatting import iso
from storage.db import Database
from storage.repositories.stats import IncidentTimes, StatsRepository

DAY = 86400.0
MAX_DAYS = 365
TOP = 5
"""The noisiest rules listed, and peak hours shown (at most 3)."""
PEAK_HOURS = 3


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100) of ``values``, linear between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, their median and 90th percentile."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, durations: Iterable[float | None]) -> Spread:
        values = [d for d in durations if d is not None]
        return cls(len(values), percentile(values, 50), percentile(values, 90))

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "median_seconds": self.median, "p90_seconds": self.p90}


@dataclass(frozen=True)
class RuleStats:
    rule: str
    opened: int
    reopens: int
    acknowledged: int
    resolved: int
    self_resolved: int
    mtta: Spread
    mttr: Spread

    @property
    def self_resolved_share(self) -> float:
        return self.self_resolved / self.opened if self.opened else 0.0

    @property
    def noise(self) -> int:
        """Pages and flaps: incidents opened plus reopens."""
        return self.opened + self.reopens

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "opened": self.opened,
            "reopens": self.reopens,
            "acknowledged": self.acknowledged,
            "resolved": self.resolved,
            "self_resolved": self.self_resolved,
            "self_resolved_share": round(self.self_resolved_share, 4),
            "mtta": self.mtta.to_json(),
            "mttr": self.mttr.to_json(),
        }


def rule_stats(rule: str, times: Sequence[IncidentTimes], reopens: int) -> RuleStats:
    return RuleStats(
        rule=rule,
        opened=len(times),
        reopens=reopens,
        acknowledged=sum(t.to_acknowledge is not None for t in times),
        resolved=sum(t.to_resolve is not None for t in times),
        self_resolved=sum(t.self_resolved for t in times),
        mtta=Spread.of(t.to_acknowledge for t in times),
        mttr=Spread.of(t.to_resolve for t in times),
    )


@dataclass(frozen=True)
class IncidentStats:
    start: float
    end: float
    total: RuleStats
    """Every incident of the window as one (``rule`` is ``*``)."""
    rules: list[RuleStats]
    """Rules with incidents or reopens in the window, noisiest first."""
    hours: list[int]
    """Incidents opened in each hour of the day (UTC), 0 to 23."""
    quiet: list[tuple[str, float | None]]
    """Rules that opened nothing in the window, with when they last did (None: never)."""

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    @property
    def peak_hours(self) -> list[tuple[int, int]]:
        """(hour, incidents) of the busiest hours, busiest first."""
        busy = sorted(((n, -h) for h, n in enumerate(self.hours) if n), reverse=True)
        return [(-h, n) for n, h in busy[:PEAK_HOURS]]

    @property
    def noisiest(self) -> list[RuleStats]:
        return [r for r in self.rules if r.noise][:TOP]

    def to_json(self) -> dict[str, Any]:
        total = self.total.to_json()
        del total["rule"]
        return {
            "from": iso(self.start),
            "to": iso(self.end),
            "days": round(self.days, 4),
            **total,
            "peak_hours": [{"hour": h, "incidents": n} for h, n in self.peak_hours],
            "hours": self.hours,
            "noisiest": [r.rule for r in self.noisiest],
            "rules": [r.to_json() for r in self.rules],
            "never_fired": [
                {"rule": rule, "last_fired": iso(last) if last is not None else None}
                for rule, last in self.quiet
            ],
        }


async def incident_stats(
    db: Database, rule_names: Sequence[str], now: float, days: float
) -> IncidentStats:
    """The statistics of the last ``days`` before ``now``; ``rule_names`` are the rules
    there are (to say which opened nothing)."""
    start = now - days * DAY
    async with db.read() as session:
        repo = StatsRepository(session)
        times = await repo.times(start, now)
        reopens = await repo.reopens(start, now)
        fired = {t.rule for t in times} | set(reopens)
        quiet_names = [name for name in rule_names if name not in fired]
        last = await repo.last_opened(quiet_names)
    by_rule: dict[str, list[IncidentTimes]] = {}
    for incident in times:
        by_rule.setdefault(incident.rule, []).append(incident)
    for rule in reopens:
        by_rule.setdefault(rule, [])
    rules = sorted(
        (rule_stats(rule, found, reopens.get(rule, 0)) for rule, found in by_rule.items()),
        key=lambda r: (-r.noise, r.rule),
    )
    hours = [0] * 24
    for incident in times:
        hours[int(incident.opened_at % DAY // 3600)] += 1
    return IncidentStats(
        start=start,
        end=now,
        total=rule_stats("*", times, sum(reopens.values())),
        rules=rules,
        hours=hours,
        quiet=[(name, last.get(name)) for name in quiet_names],
    )
