"""The evaluator: one tick reads every due rule's series from its source, steps each
series through the state machine, and writes every change (series counters, incidents,
timeline, outbox) in one transaction. The in-memory copy of series states is updated
only after that transaction commits, so a crash at any point leaves the database
consistent and the next tick simply carries on from it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import AUTO, SYSTEM_NAME
from monitors.anomaly.model import Judgement
from monitors.anomaly.store import ModelStore
from monitors.formatting import CHANGE, format_value, value_style
from monitors.health.sources import Endpoint, endpoints, incident_values, tracked
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from monitors.incidents.deploys import Deploy, DeployCorrelation
from monitors.incidents.lifecycle import new_incident
from monitors.incidents.machine import (
    SOURCE_SERIES,
    Effect,
    Kind,
    Policy,
    Reading,
    SeriesState,
    Step,
    spacing_for,
    step,
    track_source,
)
from monitors.rules.baselines import Baselines
from monitors.rules.schema import Rule
from monitors.rules.thresholds import classify
from monitors.sources.base import RuleReading, SeriesValue, Source, series_key
from monitors.wording import ordinal
from storage.db import Database
from storage.models import IncidentRow, SeriesStateRow
from storage.repositories import IncidentRepository, SeriesRepository
from storage.repositories.series import SERIES_FIELDS
from storage.vocabulary import EventKind, IncidentKind, IncidentStatus

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
        spacing=spacing_for(rule.interval),
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
    endpoint: Endpoint | None = None
    """Set for the health of an endpoint (all its rules failing together), not a rule."""


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
class SourceStats:
    """One source's fetches, as /metrics shows them."""

    fetches: int = 0
    seconds: float = 0.0
    last_seconds: float = 0.0
    errors: int = 0
    """Rule readings that were errors."""


@dataclass
class TickStats:
    ticks: int = 0
    last_duration: float = 0.0
    errors: int = 0
    sources: dict[str, SourceStats] = field(default_factory=dict)


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
        deploys: DeployCorrelation | None = None,
    ) -> None:
        self.db = db
        self.sources = sources
        self.announcer = announcer
        self.cache = cache or SeriesCache()
        self.baselines = baselines or Baselines(db)
        self.anomalies = anomalies or ModelStore(db)
        self.sink = sink or DatabaseSink(db, announcer, deploys)
        self.clock = clock
        self.on_tick = on_tick
        self.stats = TickStats()
        self._policies: dict[str, tuple[Rule, Policy]] = {}

    async def tick(self, rules: Sequence[Rule], now: float | None = None) -> list[Change]:
        """Evaluate ``rules`` once; returns the changes written.

        Sources are read side by side, and each source's rules are evaluated and written
        (one transaction) as soon as it answers, so a slow source holds back only its
        own rules."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        rules = [rule for rule in rules if rule.enabled]
        batches: dict[str, list[Rule]] = {}
        for rule in rules:
            batches.setdefault(rule.source, []).append(rule)
        fetches = [
            asyncio.ensure_future(self._fetch(name, batch, now)) for name, batch in batches.items()
        ]
        changes: list[Change] = []
        try:
            for fetched in asyncio.as_completed(fetches):
                batch, readings = await fetched
                changes += await self._apply(batch, readings, now)
        finally:
            for fetch in fetches:
                fetch.cancel()
        elapsed = time.perf_counter() - started
        self.stats.ticks += 1
        self.stats.last_duration = elapsed
        if self.on_tick:
            self.on_tick(elapsed, len(rules))
        return changes

    async def _apply(
        self, batch: Sequence[Rule], readings: dict[str, RuleReading], now: float
    ) -> list[Change]:
        async with self.cache.lock:
            if not self.cache.loaded:
                await self.cache.load(self.db)
            changes = await self._evaluate(batch, readings, now)
            if changes:
                finals = await self.sink.write(changes, now, self.cache.states)
                for change, state in zip(changes, finals, strict=True):
                    self.cache.states[change.key] = state
                    self.cache.labels[change.key] = change.labels
        return changes

    async def _fetch(
        self, name: str, batch: list[Rule], now: float
    ) -> tuple[list[Rule], dict[str, RuleReading]]:
        """One source's readings for ``batch``; a failing source is a reading, not a crash.
        A source that has not answered within the rules' interval is given up on."""
        source = self.sources.get(name)
        deadline = max(rule.interval for rule in batch)
        started = time.perf_counter()
        try:
            if source is None:
                raise LookupError(f"no source named '{name}' is configured")
            async with asyncio.timeout(deadline):
                readings = await source.fetch(batch, now)
        except Exception as exc:
            log.warning("source %s failed: %s", name, exc)
            self.stats.errors += 1
            error = (
                f"source {name} did not answer within {deadline:g}s"
                if isinstance(exc, TimeoutError)
                else f"{type(exc).__name__}: {exc}"
            )
            readings = {r.name: RuleReading(error=error) for r in batch}
        elapsed = time.perf_counter() - started
        stats = self.stats.sources.setdefault(name, SourceStats())
        stats.fetches += 1
        stats.seconds += elapsed
        stats.last_seconds = elapsed
        stats.errors += sum(1 for r in batch if r.name in readings and readings[r.name].error)
        return batch, readings

    async def _evaluate(
        self, rules: Sequence[Rule], readings: dict[str, RuleReading], now: float
    ) -> list[Change]:
        changes: list[Change] = []
        known: dict[str, list[Key]] = {}  # each rule's series, indexed once per tick
        for key in self.cache.states:
            if key[1] != SOURCE_SERIES:
                known.setdefault(key[0], []).append(key)
        down_together = self._endpoint_health(rules, readings, changes)
        for rule in rules:
            reading = readings.get(rule.name, RuleReading(error="source returned nothing"))
            policy = self._policy(rule)
            source_key = (rule.name, SOURCE_SERIES)
            before = self.cache.states.get(source_key, SeriesState())
            health = track_source(before, reading.error is not None, policy)
            if rule.name in down_together:  # counted once, for the endpoint
                health = Step(before)
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

    def _endpoint_health(
        self, rules: Sequence[Rule], readings: dict[str, RuleReading], changes: list[Change]
    ) -> set[str]:
        """Track each endpoint's health (see monitors.health.sources), appending its
        changes; returns the rules whose endpoint failed as a whole this tick."""
        down_together: set[str] = set()
        for point in endpoints(rules, readings):
            before = self.cache.states.get(point.key)
            if not tracked(point, before is not None):
                continue
            before = before or SeriesState()
            if point.failed:
                down_together.update(rule.name for rule in point.rules)
            health = track_source(before, point.failed, point.policy)
            if health.state != before or health.effects:
                error = Reading(Kind.ERROR, error=point.errors[0] if point.errors else None)
                rule = point.rules[0]
                changes.append(Change(rule, point.key, point.labels, before, health, error, point))
        return down_together

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
    """The service's sink: every change of a batch in one transaction, with the
    incidents' timeline lines and outbox rows; incidents that open shortly after a
    deploy say so (``deploys``)."""

    def __init__(
        self, db: Database, announcer: Announcer, deploys: DeployCorrelation | None = None
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.deploys = deploys

    async def write(
        self, changes: list[Change], now: float, known: Container[Key]
    ) -> list[SeriesState]:
        async with self.db.transaction() as session:
            journal = await Journal.open(session, self.announcer, now)
            writer = _ChangeWriter(session, journal, now, self.deploys)
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

    def __init__(
        self,
        session: AsyncSession,
        journal: Journal,
        now: float,
        deploys: DeployCorrelation | None = None,
    ) -> None:
        self.session = session
        self.incidents = IncidentRepository(session)
        self.journal = journal
        self.now = now
        self.correlation = deploys
        self._deploys: list[Deploy] = []
        self._known: dict[int, IncidentRow] = {}
        self._new: dict[Key, IncidentRow] = {}
        self._effects: dict[Effect, Callable[[Change, SeriesState], Awaitable[SeriesState]]] = {
            Effect.OPEN: self._open,
            Effect.REOPEN: self._reopen,
            Effect.ESCALATE: self._escalate,
            Effect.DEESCALATE: self._deescalate,
            Effect.RESOLVE: self._resolve,
            Effect.SOURCE_DOWN: self._source_down,
            Effect.SOURCE_RECOVERED: self._source_recovered,
        }

    async def prepare(self, changes: Sequence[Change]) -> None:
        """Batch the tick's I/O: insert every incident it opens in one statement, then
        load (and on PostgreSQL lock) every incident it touches in one query."""
        opening = {}
        for change in changes:
            if Effect.OPEN in change.step.effects:
                opening[change.key] = self._metric_incident(change)
            elif Effect.SOURCE_DOWN in change.step.effects and change.endpoint is not None:
                opening[change.key] = incident_values(change.endpoint, self.now)
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
        opens = any(
            Effect.OPEN in change.step.effects or Effect.REOPEN in change.step.effects
            for change in changes
        )
        if opens and self.correlation is not None:
            self._deploys = await self.correlation.recent(self.session, self.now)

    def _after_deploy(self, incident: IncidentRow) -> str:
        """``; started 4 min after deploy api 1.42`` when a deploy goes with the
        incident (noted on it), else ""."""
        if not self._deploys or self.correlation is None:
            return ""
        note = self.correlation.mark(incident, self._deploys, self.now)
        return f"; {note}" if note else ""

    def _incident(self, incident_id: int | None) -> IncidentRow | None:
        return self._known.get(incident_id) if incident_id is not None else None

    async def apply(self, change: Change) -> SeriesState:
        state = change.step.state
        for effect in change.step.effects:
            state = await self._effects[effect](change, state)
        return state

    def _announce(self, incident: IncidentRow, event: EventKind, line: str, notify: bool) -> None:
        self.journal.record(incident, event, SYSTEM_NAME, line, notify=notify)

    @staticmethod
    def _describe(change: Change) -> str:
        reading, rule = change.reading, change.rule
        if reading.kind is Kind.NO_DATA:  # counted as a breach by the rule's no_data policy
            return f"no data ({rule.reads()}; no_data: {rule.no_data})"
        if reading.kind is Kind.ERROR:
            return f"source error: {reading.error} (on_error: {rule.on_error})"
        style = value_style(rule.threshold_type, rule.aggregate)
        if rule.threshold_type == "anomaly":
            return _describe_anomaly(rule, reading, style)
        compared = f"{format_value(reading.value, style)} {rule.op} "
        compared += format_value(reading.threshold, style)
        if style == CHANGE:
            return f"{compared} (change in {rule.reads()} against the previous window)"
        return f"{compared} ({rule.reads()})"

    def _metric_incident(self, change: Change) -> dict[str, object]:
        rule, reading = change.rule, change.reading
        return new_incident(
            rule=rule.name,
            series_key=change.key[1],
            labels=change.labels,
            severity=change.step.level or rule.levels[0],
            value=reading.value,
            threshold=reading.threshold,
            summary=self._describe(change),
            now=self.now,
            rule_snapshot=rule.to_json(),
        )

    def _source_incident(self, change: Change) -> dict[str, object]:
        rule = change.rule
        return new_incident(
            rule=rule.name,
            series_key=SOURCE_SERIES,
            labels={},
            kind=IncidentKind.SOURCE_DOWN,
            severity="error",
            summary=f"source '{rule.source}' failed {rule.source_errors_to_alert} times in a "
            f"row: {change.reading.error}",
            now=self.now,
            rule_snapshot=rule.to_json(),
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
            EventKind.OPENED,
            f"Opened after {rule.breaches_to_open} consecutive breaches: {self._describe(change)}"
            + self._after_deploy(incident),
            notify=True,
        )
        return replace(state, incident_id=incident.id)

    def _reading_fields(self, change: Change, incident: IncidentRow) -> dict[str, Any]:
        return dict(
            severity=change.step.level or incident.severity,
            value=change.reading.value,
            threshold=change.reading.threshold,
            summary=self._describe(change),
        )

    async def _reopen(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._incident(state.incident_id)
        if incident is None or incident.status != IncidentStatus.RESOLVED:
            # The incident it points at is gone or already live: open a fresh one.
            return await self._open(change, replace(state, incident_id=None))
        lifecycle.reopen(incident, self.now, **self._reading_fields(change, incident))
        self._announce(
            incident,
            EventKind.REOPENED,
            f"Breaching again within the cooldown, reopened for the "
            f"{ordinal(incident.reopen_count)} time: {self._describe(change)}"
            + self._after_deploy(incident),
            notify=False,
        )
        return state

    async def _level_change(self, change: Change, state: SeriesState, up: bool) -> SeriesState:
        incident = self._incident(state.incident_id)
        if incident is None:
            return state
        lifecycle.change_level(incident, **self._reading_fields(change, incident))
        verb = "Escalated" if up else "De-escalated"
        self._announce(
            incident,
            EventKind.ESCALATED if up else EventKind.DEESCALATED,
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
        if incident is None or incident.status == IncidentStatus.RESOLVED:
            return state
        lifecycle.resolve(incident, AUTO, self.now)
        incident.value = change.reading.value
        style = value_style(change.rule.threshold_type, change.rule.aggregate)
        self._announce(
            incident,
            EventKind.RESOLVED,
            f"Resolved automatically after {change.rule.normals_to_resolve} "
            f"normal readings (now {format_value(change.reading.value, style)})",
            notify=False,
        )
        return state

    async def _source_down(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._new.pop(change.key)
        self._announce(incident, EventKind.OPENED, f"Source down: {incident.summary}", notify=True)
        return replace(state, incident_id=incident.id)

    async def _source_recovered(self, change: Change, state: SeriesState) -> SeriesState:
        incident = self._incident(change.before.incident_id)
        if incident is not None and incident.status != IncidentStatus.RESOLVED:
            lifecycle.resolve(incident, AUTO, self.now)
            self._announce(incident, EventKind.RESOLVED, "Source answers again", notify=False)
        return replace(state, incident_id=None)


def _describe_anomaly(rule: Rule, reading: Reading, style: str) -> str:
    """``950 above the normal band (edge 420; p95 of latency)``."""
    value, edge = reading.value, reading.threshold
    side = "above" if value is not None and edge is not None and value > edge else "below"
    return (
        f"{format_value(value, style)} {side} the normal band "
        f"(edge {format_value(edge, style)}; {rule.reads()})"
    )
