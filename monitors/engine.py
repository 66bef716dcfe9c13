"""The evaluator: one tick reads every due rule's series from its source, steps each
series through the state machine, and writes every change (series counters, incidents,
timeline, outbox) in one transaction. The in-memory copy of series states is updated
only after that transaction commits, so a crash at any point leaves the database
consistent and the next tick simply carries on from it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import AUTO_RESOLVER, SYSTEM_NAME
from monitors.announce import CHANGE, Announcer, Journal, format_value, value_style
from monitors.anomaly.model import Judgement
from monitors.anomaly.store import ModelStore
from monitors.baselines import Baselines
from monitors.machine import (
    SOURCE_SERIES,
    Effect,
    Kind,
    Policy,
    Reading,
    SeriesState,
    Step,
    step,
    track_source,
    transition,
)
from monitors.resolution import mark_resolved
from monitors.rules import Rule
from monitors.sources.base import RuleReading, SeriesValue, Source, series_key
from monitors.thresholds import classify
from storage.db import Database
from storage.models import IncidentRow, SeriesStateRow
from storage.repositories import IncidentRepository, SeriesRepository
from storage.repositories.series import SERIES_FIELDS

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (rule name, series key)


def policy_for(rule: Rule) -> Policy:
    return Policy(
        breaches_to_open=rule.breaches_to_open,
        normals_to_resolve=rule.normals_to_resolve,
        cooldown=rule.cooldown,
        no_data=rule.no_data,
        on_error=rule.on_error,
        source_errors_to_alert=rule.source_errors_to_alert,
        lowest_level=rule.levels[0],
    )


def series_row(
    key: Key, labels: dict[str, str], state: SeriesState, now: float
) -> dict[str, object]:
    """The database row for a series state (see SeriesRepository.insert_many)."""
    row: dict[str, object] = {name: getattr(state, name) for name in SERIES_FIELDS}
    row.update(rule=key[0], series_key=key[1], labels=labels, updated_at=now)
    return row


def state_from_row(row: SeriesStateRow) -> SeriesState:
    return SeriesState(**{name: getattr(row, name) for name in SERIES_FIELDS})


@dataclass
class SeriesCache:
    """Series states as last committed. ``lock`` serialises ticks with the manual actions
    that change series state (resolve, rule edits), so neither overwrites the other."""

    states: dict[Key, SeriesState] = field(default_factory=dict)
    labels: dict[Key, dict[str, str]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaded: bool = False

    async def load(self, db: Database) -> None:
        async with db.transaction() as session:
            rows = await SeriesRepository(session).all()
        self.states = {(r.rule, r.series_key): state_from_row(r) for r in rows}
        self.labels = {(r.rule, r.series_key): dict(r.labels) for r in rows}
        self.loaded = True

    def series_of(self, rule: str) -> list[Key]:
        return [key for key in self.states if key[0] == rule and key[1] != SOURCE_SERIES]

    def forget_rule(self, rule: str) -> None:
        for key in [k for k in self.states if k[0] == rule]:
            self.states.pop(key, None)
            self.labels.pop(key, None)


@dataclass(frozen=True)
class Change:
    rule: Rule
    key: Key
    labels: dict[str, str]
    before: SeriesState
    step: Step
    reading: Reading


class ChangeSink(Protocol):
    """Where a tick's changes go. The service writes them to the database with their
    timeline and notifications (``DatabaseSink``); a backtest keeps the incidents in
    memory. Either way the changes come from the same machine and the series states
    returned are what the engine caches."""

    async def write(
        self, changes: list[Change], now: float, known: Container[Key]
    ) -> list[SeriesState]:
        """Apply ``changes``; return each series' final state (ids of incidents opened
        filled in). ``known`` holds the series that have a stored state already."""
        ...


@dataclass
class TickStats:
    ticks: int = 0
    rules_evaluated: int = 0
    last_duration: float = 0.0
    incidents_opened: int = 0
    errors: int = 0


class Engine:
    def __init__(
        self,
        db: Database,
        sources: dict[str, Source],
        announcer: Announcer,
        cache: SeriesCache | None = None,
        baselines: Baselines | None = None,
        clock: Callable[[], float] = time.time,
        on_tick: Callable[[float, int], None] | None = None,
        anomalies: ModelStore | None = None,
        sink: ChangeSink | None = None,
    ) -> None:
        self.db = db
        self.sources = sources
        self.announcer = announcer
        self.cache = cache or SeriesCache()
        self.baselines = baselines or Baselines(db)
        self.anomalies = anomalies or ModelStore(db)
        self.sink = sink or DatabaseSink(db, announcer)
        self.clock = clock
        self.on_tick = on_tick
        self.stats = TickStats()
        self._policies: dict[str, tuple[Rule, Policy]] = {}

    async def tick(self, rules: Sequence[Rule], now: float | None = None) -> list[Change]:
        """Evaluate ``rules`` once; returns the changes written."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        rules = [rule for rule in rules if rule.enabled]
        readings = await self._fetch(rules, now)
        async with self.cache.lock:
            if not self.cache.loaded:
                await self.cache.load(self.db)
            changes = await self._evaluate(rules, readings, now)
            if changes:
                finals = await self.sink.write(changes, now, self.cache.states)
                for change, state in zip(changes, finals, strict=True):
                    self.cache.states[change.key] = state
                    self.cache.labels[change.key] = change.labels
                self.stats.incidents_opened += sum(Effect.OPEN in c.step.effects for c in changes)
        elapsed = time.perf_counter() - started
        self.stats.ticks += 1
        self.stats.rules_evaluated += len(rules)
        self.stats.last_duration = elapsed
        if self.on_tick:
            self.on_tick(elapsed, len(rules))
        return changes

    async def _fetch(self, rules: Sequence[Rule], now: float) -> dict[str, RuleReading]:
        readings: dict[str, RuleReading] = {}
        by_source: dict[str, list[Rule]] = {}
        for rule in rules:
            by_source.setdefault(rule.source, []).append(rule)
        for name, batch in by_source.items():
            source = self.sources.get(name)
            try:
                if source is None:
                    raise LookupError(f"no source named '{name}' is configured")
                readings.update(await source.fetch(batch, now))
            except Exception as exc:  # a failing source is a reading, not a crash
                log.warning("source %s failed: %s", name, exc)
                self.stats.errors += 1
                readings.update(
                    {r.name: RuleReading(error=f"{type(exc).__name__}: {exc}") for r in batch}
                )
        return readings

    async def _evaluate(
        self, rules: Sequence[Rule], readings: dict[str, RuleReading], now: float
    ) -> list[Change]:
        changes: list[Change] = []
        known: dict[str, list[Key]] = {}  # each rule's series, indexed once per tick
        for key in self.cache.states:
            if key[1] != SOURCE_SERIES:
                known.setdefault(key[0], []).append(key)
        for rule in rules:
            reading = readings.get(rule.name, RuleReading(error="source returned nothing"))
            policy = self._policy(rule)
            source_key = (rule.name, SOURCE_SERIES)
            before = self.cache.states.get(source_key, SeriesState())
            health = track_source(before, reading.error is not None, policy)
            if health.state != before or health.effects:
                error_reading = Reading(Kind.ERROR, error=reading.error)
                changes.append(Change(rule, source_key, {}, before, health, error_reading))
            series_readings = await self._series_readings(
                rule, reading, now, known.get(rule.name, [])
            )
            for key, labels, series_reading in series_readings:
                before = self.cache.states.get(key, SeriesState())
                result = step(before, series_reading, policy, now)
                if result.state != before or result.effects:
                    changes.append(Change(rule, key, labels, before, result, series_reading))
        return changes

    def _policy(self, rule: Rule) -> Policy:
        """``policy_for(rule)``, kept while the rule object stays the same."""
        cached = self._policies.get(rule.name)
        if cached is None or cached[0] is not rule:
            cached = self._policies[rule.name] = (rule, policy_for(rule))
        return cached[1]

    async def _series_readings(
        self, rule: Rule, reading: RuleReading, now: float, known: Sequence[Key]
    ) -> list[tuple[Key, dict[str, str], Reading]]:
        if reading.error is not None:  # every known series of the rule sees the error
            return [
                (key, self.cache.labels.get(key, {}), Reading(Kind.ERROR, error=reading.error))
                for key in known
            ]
        out = []
        for series in reading.series:
            key = (rule.name, series_key(series.labels))
            baseline = await self._baseline(rule, key[1], series, now)
            judgement = self._judge(rule, key, series, now)
            out.append((key, dict(series.labels), classify(rule, series, baseline, judgement)))
        if known:  # a known series the source no longer lists (after a restart, or
            seen = {key for key, _, _ in out}  # pruned from the store) reads no data
            out.extend(
                (key, self.cache.labels.get(key, {}), Reading(Kind.NO_DATA))
                for key in known
                if key not in seen
            )
        return out

    def _judge(self, rule: Rule, key: Key, series: SeriesValue, now: float) -> Judgement | None:
        if rule.threshold_type != "anomaly" or series.value is None:
            return None
        return self.anomalies.observe(rule, key, now, series.value)

    async def _baseline(
        self, rule: Rule, key: str, series: SeriesValue, now: float
    ) -> float | None:
        if rule.threshold_type != "dynamic":
            return None
        if series.value is not None:
            self.baselines.record(rule.name, key, series.value, now)
        return await self.baselines.baseline(rule, key, now)


class DatabaseSink:
    """The service's sink: every change of a tick in one transaction, with the incidents'
    timeline lines and outbox rows."""

    def __init__(self, db: Database, announcer: Announcer) -> None:
        self.db = db
        self.announcer = announcer

    async def write(
        self, changes: list[Change], now: float, known: Container[Key]
    ) -> list[SeriesState]:
        async with self.db.transaction() as session:
            journal = await Journal.open(session, self.announcer, now)
            writer = _ChangeWriter(session, journal, now)
            await writer.prepare(changes)
            finals = [await writer.apply(change) for change in changes]
            await journal.flush()
            new_rows, changed_rows = [], []
            for change, state in zip(changes, finals, strict=True):
                row = series_row(change.key, change.labels, state, now)
                (changed_rows if change.key in known else new_rows).append(row)
            series = SeriesRepository(session)
            await series.insert_many(new_rows)
            await series.update_many(changed_rows)
        return finals


class _ChangeWriter:
    """Applies the incident effects of one change inside the tick's transaction."""

    def __init__(self, session: AsyncSession, journal: Journal, now: float) -> None:
        self.session = session
        self.incidents = IncidentRepository(session)
        self.journal = journal
        self.now = now
        self._known: dict[int, IncidentRow] = {}
        self._new: dict[Key, IncidentRow] = {}

    async def prepare(self, changes: Sequence[Change]) -> None:
        """Batch the tick's I/O: insert every incident it opens in one statement, then
        load (and on PostgreSQL lock) every incident it touches in one query."""
        opening = {}
        for change in changes:
            if Effect.OPEN in change.step.effects:
                opening[change.key] = self._metric_incident(change)
            elif Effect.SOURCE_DOWN in change.step.effects:
                opening[change.key] = self._source_incident(change)
        new_ids = await self.incidents.create_many(list(opening.values()))
        wanted = set(new_ids.values()) | {
            incident_id
            for change in changes
            if change.step.effects
            for incident_id in (
                change.step.state.incident_id,
                change.step.state.last_incident_id,
                change.before.incident_id,
            )
            if incident_id is not None
        }
        self._known = await self.incidents.get_many(sorted(wanted), for_update=True)
        self._new = {key: self._known[new_ids[key]] for key in opening}

    def _incident(self, incident_id: int | None) -> IncidentRow | None:
        return self._known.get(incident_id) if incident_id is not None else None

    async def apply(self, change: Change) -> SeriesState:
        state = change.step.state
        for effect in change.step.effects:
            handler = getattr(self, f"_{effect.value}")
            state = await handler(change, state)
        return state

    def _announce(self, incident: IncidentRow, event: str, line: str, notify: bool) -> None:
        self.journal.record(incident, event, SYSTEM_NAME, line, notify=notify)

    @staticmethod
    def _describe(change: Change) -> str:
        reading, rule = change.reading, change.rule
        if reading.kind is Kind.NO_DATA:  # counted as a breach by the rule's no_data policy
            return f"no data ({rule.aggregate} of {rule.metric}; no_data: {rule.no_data})"
        if reading.kind is Kind.ERROR:
            return f"source error: {reading.error} (on_error: {rule.on_error})"
        style = value_style(rule.threshold_type, rule.aggregate)
        if rule.threshold_type == "anomaly":
            return _describe_anomaly(rule, reading, style)
        compared = f"{format_value(reading.value, style)} {rule.op} "
        compared += format_value(reading.threshold, style)
        if style == CHANGE:
            change_in = f"change in {rule.aggregate} of {rule.metric}"
            return f"{compared} ({change_in} against the previous window)"
        return f"{compared} ({rule.aggregate} of {rule.metric})"

    def _metric_incident(self, change: Change) -> dict[str, object]:
        rule, reading = change.rule, change.reading
        return dict(
            rule=rule.name,
            series_key=change.key[1],
            labels=change.labels,
            kind="metric",
            status="open",
            severity=change.step.level or rule.levels[0],
            value=reading.value,
            threshold=reading.threshold,
            summary=self._describe(change),
            opened_at=self.now,
            rule_snapshot=rule.to_json(),
            suppressed=False,
            test=False,
            reopen_count=0,
        )

    def _source_incident(self, change: Change) -> dict[str, object]:
        rule = change.rule
        return dict(
            rule=rule.name,
            series_key=SOURCE_SERIES,
            labels={},
            kind="source_down",
            status="open",
            severity="error",
            value=None,
            threshold=None,
            summary=f"source '{rule.source}' failed {rule.source_errors_to_alert} times in a "
            f"row: {change.reading.error}",
            opened_at=self.now,
            rule_snapshot=rule.to_json(),
            suppressed=False,
            test=False,
            reopen_count=0,
        )

    async def _open(self, change: Change, state: SeriesState) -> SeriesState:
        rule = change.rule
        incident = self._new.pop(change.key, None)
        if incident is None:  # a reopen that fell back to a fresh incident
            ids = await self.incidents.create_many([self._metric_incident(change)])
            incident = await self.incidents.get(ids[change.key])
            assert incident is not None
        self._announce(
            incident,
            "opened",
            f"Opened after {rule.breaches_to_open} consecutive breaches: {self._describe(change)}",
            notify=True,
        )
        return replace(state, incident_id=incident.id)

    async def _reopen(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._incident(state.incident_id)
        if incident is None or incident.status != "resolved":
            # The incident it points at is gone or already live: open a fresh one.
            return await self._open(change, replace(state, incident_id=None))
        incident.status = transition(incident.status, "reopen")
        incident.reopen_count += 1
        incident.severity = change.step.level or incident.severity
        incident.value, incident.threshold = change.reading.value, change.reading.threshold
        incident.summary = self._describe(change)
        incident.resolved_at = incident.resolved_by = incident.resolve_note = None
        incident.acknowledged_at = incident.acknowledged_by = None
        incident.firing_since, incident.escalated_at = self.now, None  # a new episode
        self._announce(
            incident,
            "reopened",
            f"Breaching again within the cooldown, reopened "
            f"(#{incident.reopen_count}): {self._describe(change)}",
            notify=False,
        )
        return state

    async def _level_change(self, change: Change, state: SeriesState, up: bool) -> SeriesState:
        incident = self._incident(state.incident_id)
        if incident is None:
            return state
        incident.severity = change.step.level or incident.severity
        incident.value, incident.threshold = change.reading.value, change.reading.threshold
        incident.summary = self._describe(change)  # value and threshold moved: so does it
        verb = "Escalated" if up else "De-escalated"
        self._announce(
            incident,
            "escalated" if up else "deescalated",
            f"{verb} {change.step.previous_level} -> {incident.severity}: {self._describe(change)}",
            notify=up,
        )
        return state

    async def _escalate(self, change: Change, state: SeriesState) -> SeriesState:
        return await self._level_change(change, state, up=True)

    async def _deescalate(self, change: Change, state: SeriesState) -> SeriesState:
        return await self._level_change(change, state, up=False)

    async def _resolve(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._incident(state.last_incident_id)
        if incident is None or incident.status == "resolved":
            return state
        mark_resolved(incident, AUTO_RESOLVER, self.now)
        incident.value = change.reading.value
        style = value_style(change.rule.threshold_type, change.rule.aggregate)
        self._announce(
            incident,
            "resolved",
            f"Resolved automatically after {change.rule.normals_to_resolve} "
            f"normal readings (now {format_value(change.reading.value, style)})",
            notify=False,
        )
        return state

    async def _source_down(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._new.pop(change.key)
        self._announce(incident, "opened", f"Source down: {incident.summary}", notify=True)
        return replace(state, incident_id=incident.id)

    async def _source_recovered(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._incident(change.before.incident_id)
        if incident is not None and incident.status != "resolved":
            mark_resolved(incident, AUTO_RESOLVER, self.now)
            self._announce(incident, "resolved", "Source answers again", notify=False)
        return replace(state, incident_id=None)


def _describe_anomaly(rule: Rule, reading: Reading, style: str) -> str:
    """``950 above the normal band (edge 420; p95 of latency)``."""
    value, edge = reading.value, reading.threshold
    side = "above" if value is not None and edge is not None and value > edge else "below"
    what = f"{rule.aggregate} of {rule.metric}"
    return (
        f"{format_value(value, style)} {side} the normal band "
        f"(edge {format_value(edge, style)}; {what})"
    )
