"""Noise coaching: for a rule whose incidents mostly resolve by themselves with nobody
acknowledging, a concrete change checked by backtest.

A small set of candidate changes (more breaches before opening, a higher threshold, a
longer window) is replayed over the rule's history next to the rule as it is, and the
one that would have opened the fewest incidents while still opening during every
incident someone acknowledged is proposed: "slow-api opened 14 times, 12 resolved by
themselves within 10m unacknowledged: breaches_to_open 4 would have opened 3 (missing
none of the 2 that were acknowledged)". Acknowledged incidents the replay of today's
rule does not show (history missing, or samples that came late) cannot be checked and
are said to be."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitors.backtest.compare import DAY, match, replay_history
from monitors.backtest.history import SampleHistory
from monitors.backtest.memory import ReplayedIncident
from monitors.durations import format_duration
from monitors.errors import ActionError
from monitors.insight.stats import RuleStats, rule_stats
from monitors.rules.admin import RuleAdmin
from monitors.rules.schema import Rule
from storage.db import Database
from storage.repositories import StatsRepository
from storage.repositories.stats import IncidentTimes
from storage.vocabulary import IncidentKind

NOISY_MIN = 5
"""Incidents in the window before a rule can be called noisy."""
NOISY_SHARE = 0.5
"""...of which at least this share resolved by themselves, unacknowledged."""
MAX_WINDOW = 3600.0
"""Longer windows are not proposed: they slow every alert down too much."""
THRESHOLD_STEPS = (1.25, 1.5)
WINDOW_STEPS = (2, 3)


@dataclass(frozen=True)
class Candidate:
    """A change to try: ``label`` in the rule's own words (``breaches_to_open 4``)."""

    label: str
    patch: dict[str, object]


def _nice(value: float) -> float:
    """Round to two significant digits: 1,250 not 1,247.5."""
    if value == 0:
        return 0.0
    digits = 1 - math.floor(math.log10(abs(value)))
    return round(value, digits)


def candidates(rule: Rule) -> list[Candidate]:
    """The changes coaching tries for ``rule``, smallest first within each kind."""
    found: list[Candidate] = []
    opens = rule.breaches_to_open
    for count in sorted({opens + 1, opens + 2, opens * 2}):
        if count <= 1000:
            found.append(Candidate(f"breaches_to_open {count}", {"breaches_to_open": count}))
    level = rule.levels[0]
    limit = rule.thresholds[level]
    falling = rule.op in ("<", "<=") and rule.threshold_type != "anomaly"
    for step in THRESHOLD_STEPS:
        moved = limit / step if falling == (limit > 0) else limit * step
        value = _nice(moved)
        if value != limit:
            found.append(Candidate(f"{level} {value:g}", {"thresholds": {level: value}}))
    if rule.source == "ingest":
        for times in WINDOW_STEPS:
            window = rule.window * times
            if window <= MAX_WINDOW:
                text = format_duration(window)
                found.append(Candidate(f"window {text}", {"window": text}))
    return found


@dataclass(frozen=True)
class Trial:
    """How one candidate did over the replayed history."""

    candidate: Candidate
    opened: int
    missed: int
    """Acknowledged incidents (of those the replay of today's rule shows) it would not
    have opened during."""
    delay: float | None
    """Median seconds it would have opened after today's rule, over those incidents."""


@dataclass
class Coaching:
    rule: Rule
    days: float
    stats: RuleStats
    self_resolved_within: float | None
    """The longest an unacknowledged incident took to resolve by itself."""
    start: float = 0.0
    end: float = 0.0
    replayed: int = 0
    """What today's rule opens in the replay (it may differ from ``stats.opened``)."""
    acknowledged: int = 0
    """Acknowledged incidents the replay of today's rule shows: the ones checked."""
    unchecked: int = 0
    """Acknowledged incidents the replay does not show, so none can be checked."""
    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    samples: int = 0

    @property
    def noisy(self) -> bool:
        stats = self.stats
        return stats.opened >= NOISY_MIN and stats.self_resolved_share >= NOISY_SHARE


def as_replayed(incident: IncidentTimes) -> ReplayedIncident:
    """A real incident in the replay's terms, to match against replayed ones."""
    resolved = incident.opened_at + incident.to_resolve if incident.to_resolve is not None else None
    return ReplayedIncident(
        incident.id, incident.rule, incident.labels, "", incident.opened_at, resolved_at=resolved
    )


async def rule_incidents(db: Database, rule: str, start: float, end: float) -> list[IncidentTimes]:
    """The rule's incidents (from its readings, not tests or source trouble) opened in
    the window."""
    async with db.read() as session:
        times = await StatsRepository(session).times(start, end)
    return [t for t in times if t.rule == rule and t.kind == IncidentKind.METRIC]


def summarise(rule: str, times: Sequence[IncidentTimes]) -> tuple[RuleStats, float | None]:
    alone = [t.to_resolve for t in times if t.self_resolved and t.to_resolve is not None]
    reopens = sum(t.reopens for t in times)
    return rule_stats(rule, times, reopens), max(alone, default=None)


def best_of(trials: Sequence[Trial], today: int) -> Trial | None:
    """The candidate that opens the fewest (fewer than today's rule) and misses no
    acknowledged incident; ties go to the quicker, then the smaller change."""
    fit = [t for t in trials if t.missed == 0 and t.opened < today]
    if not fit:
        return None
    return min(
        enumerate(fit),
        key=lambda pair: (pair[1].opened, pair[1].delay or 0.0, pair[0]),
    )[1]


async def coach(
    db: Database,
    history: SampleHistory,
    rules: RuleAdmin,
    rule: Rule,
    now: float,
    days: float,
    quick: bool = False,
) -> Coaching:
    """Coach ``rule`` over the last ``days``; with ``quick``, stop after the statistics
    when the rule is not noisy (the weekly report does)."""
    start = now - days * DAY
    times = await rule_incidents(db, rule.name, start, now)
    stats, within = summarise(rule.name, times)
    coaching = Coaching(rule, days, stats, within, start=start, end=now)
    if quick and not coaching.noisy:
        return coaching
    if rule.source != "ingest":
        return coaching  # only pushed samples are kept to replay
    loaded = await history.load({rule.metric or ""}, start, now)
    coaching.samples = loaded.sample_count()
    if loaded.first is None:
        return coaching
    coaching.start = max(start, loaded.first)
    today = await replay_history(rule, loaded, coaching.start, now)
    coaching.replayed = len(today)
    acknowledged = [as_replayed(t) for t in times if t.to_acknowledge is not None]
    shown, unchecked, _ = match(acknowledged, today, now)
    coaching.unchecked = len(unchecked)
    checked = [a for a in acknowledged if a not in unchecked]
    coaching.acknowledged = len(shown)
    for candidate in candidates(rule):
        try:
            _, proposed = rules.propose(rule.name, dict(candidate.patch))
        except ActionError:  # breaks the order of levels, or another limit: not a candidate
            continue
        replayed = await replay_history(proposed, loaded, coaching.start, now)
        kept, missed, _ = match(checked, replayed, now)
        delays = [m.difference for m in kept]
        delay = statistics.median(delays) if delays else None
        coaching.trials.append(Trial(candidate, len(replayed), len(missed), delay))
    coaching.best = best_of(coaching.trials, coaching.replayed)
    return coaching
