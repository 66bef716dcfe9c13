"""Before a rule changes: what the proposed rule would have done over the last days of
Tocsin's own history, next to what today's rule would have done over the same samples.

Both rules are replayed through the real engine (``Engine.tick`` with a ``MemorySink``)
from the sample history. Each ticks at its interval, but at least every ``STEP`` (one
minute: the history's resolution) and on whole minutes. Anomaly rules learn from the
start of the period, as a new rule would. An incident of today's rule is *matched* by
the proposed rule's first incident on the same series that was open at some point while
it was; the time-to-open difference is how much later (positive) or earlier the proposed
one opened."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from monitors.anomaly.store import ModelStore
from monitors.backtest.history import STEP, SampleHistory, SeriesHistory
from monitors.backtest.history_source import HistorySource
from monitors.backtest.memory import MemorySink, ReplayedIncident
from monitors.engine import Engine, SeriesCache
from monitors.incidents.announce import Announcer
from monitors.rules.baselines import Baselines
from monitors.rules.schema import Rule

DAY = 86400.0
MAX_DAYS = 7


@dataclass(frozen=True)
class Matched:
    labels: dict[str, str]
    current_opened_at: float
    proposed_opened_at: float

    @property
    def difference(self) -> float:
        """Seconds the proposed rule opened after today's (negative: before)."""
        return self.proposed_opened_at - self.current_opened_at


@dataclass(frozen=True)
class BacktestReport:
    rule: str
    start: float
    end: float
    step: float
    history_from: float | None
    """When the history starts (None: there is none); the replay starts no earlier."""
    series: int
    samples: int
    current: list[ReplayedIncident]
    proposed: list[ReplayedIncident]
    matched: list[Matched]
    missed: list[ReplayedIncident]
    """Today's incidents the proposed rule would not have opened."""
    added: list[ReplayedIncident]
    """The proposed rule's incidents matching none of today's."""

    @property
    def median_difference(self) -> float | None:
        if not self.matched:
            return None
        return statistics.median(m.difference for m in self.matched)


def _tick_step(rule: Rule) -> float:
    return max(STEP, math.ceil(rule.interval / STEP) * STEP)


async def replay_history(
    rule: Rule, history: SeriesHistory, start: float, end: float
) -> list[ReplayedIncident]:
    """The incidents ``rule`` would have opened between ``start`` and ``end``."""
    rule = rule if rule.enabled else rule.model_copy(update={"enabled": True})
    sink = MemorySink()
    engine = Engine(
        None,  # type: ignore[arg-type]  # nothing here reads the database
        {"ingest": HistorySource(history, [rule])},
        Announcer(),
        SeriesCache(loaded=True),
        Baselines(None),  # type: ignore[arg-type]
        anomalies=ModelStore(None),
        sink=sink,
    )
    step = _tick_step(rule)
    now = math.ceil(start / step) * step
    while now <= end:
        await engine.tick([rule], now=now)
        now += step
    return sorted(sink.incidents.values(), key=lambda i: (i.opened_at, i.id))


def match(
    current: Sequence[ReplayedIncident], proposed: Sequence[ReplayedIncident], end: float
) -> tuple[list[Matched], list[ReplayedIncident], list[ReplayedIncident]]:
    """Pair today's incidents with the proposed rule's (see the module's docstring)."""
    free = list(proposed)
    matched, missed = [], []
    for incident in current:
        until = incident.resolved_at if incident.resolved_at is not None else end
        found = next(
            (
                other
                for other in free
                if other.labels == incident.labels
                and other.opened_at <= until
                and (other.resolved_at is None or other.resolved_at >= incident.opened_at)
            ),
            None,
        )
        if found is None:
            missed.append(incident)
        else:
            free.remove(found)
            matched.append(Matched(incident.labels, incident.opened_at, found.opened_at))
    return matched, missed, free


async def backtest(
    history: SampleHistory, current: Rule, proposed: Rule, now: float, days: float = MAX_DAYS
) -> BacktestReport:
    """Replay both rules over the last ``days`` (at most MAX_DAYS) of history."""
    days = min(max(days, 0.0), MAX_DAYS)
    wanted_from = now - days * DAY
    loaded = await history.load({current.metric, proposed.metric}, wanted_from, now)
    start = max(wanted_from, loaded.first) if loaded.first is not None else now
    today = await replay_history(current, loaded, start, now)
    tomorrow = await replay_history(proposed, loaded, start, now)
    matched, missed, added = match(today, tomorrow, now)
    return BacktestReport(
        rule=current.name,
        start=start,
        end=now,
        step=_tick_step(proposed),
        history_from=loaded.first,
        series=loaded.series_count(),
        samples=loaded.sample_count(),
        current=today,
        proposed=tomorrow,
        matched=matched,
        missed=missed,
        added=added,
    )
