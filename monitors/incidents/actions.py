"""What people do to incidents: acknowledge, snooze, resolve, and test incidents.

Every surface (slash command, button, REST API) calls these same verbs, so the rules
about who may do what, the timeline and the announcements are the same everywhere."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import Actor
from monitors.durations import format_duration
from monitors.engine import SeriesCache, series_row
from monitors.errors import Invalid, NotFound
from monitors.formatting import short_time
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from monitors.incidents.machine import SOURCE_SERIES, SeriesState, after_manual_resolve
from monitors.incidents.suppression import silenced_by
from monitors.mentions import neutralise
from monitors.rules.admin import require_admin
from monitors.rules.rulebook import RuleBook
from storage.db import Database
from storage.models import IncidentEventRow, IncidentRow, OutboxRow
from storage.repositories import (
    AuditRepository,
    IncidentRepository,
    OutboxRepository,
    SeriesRepository,
    SilenceRepository,
)
from storage.repositories.outbox import PARKED
from storage.vocabulary import EventKind, IncidentKind

MAX_SNOOZE = 7 * 86400.0
MIN_SNOOZE = 60.0


@dataclass(frozen=True)
class DeliveryState:
    """One outbox row as people care about it: where, what, and how it went."""

    target: str
    event: str
    status: str  # delivered | pending | retrying | failed
    attempts: int
    error: str | None
    delivered_at: float | None

    @classmethod
    def of(cls, row: OutboxRow) -> DeliveryState:
        if row.delivered_at is not None:
            status = "delivered"
        elif row.available_at >= PARKED:
            status = "failed"
        else:
            status = "retrying" if row.last_error else "pending"
        error = row.last_error if status != "delivered" else None
        return cls(row.channel, row.event, status, row.attempts, error, row.delivered_at)


class IncidentActions:
    def __init__(
        self,
        db: Database,
        announcer: Announcer,
        cache: SeriesCache,
        rulebook: RuleBook,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.cache = cache
        self.rulebook = rulebook
        self.clock = clock

    async def list(
        self,
        status: str | None = None,
        severity: str | None = None,
        limit: int = 50,
        by_priority: bool = False,
    ) -> Sequence[IncidentRow]:
        """Newest first, or P1 first with ``by_priority``."""
        async with self.db.read() as session:
            return await IncidentRepository(session).search(
                status, severity, limit=limit, by_priority=by_priority
            )

    async def silenced(self, incidents: Sequence[IncidentRow]) -> dict[int, int]:
        """Incident id -> the id of the active silence hiding it, for those hidden."""
        async with self.db.read() as session:
            active = await SilenceRepository(session).active(self.clock())
        found = {incident.id: silenced_by(incident, active) for incident in incidents}
        return {key: silence.id for key, silence in found.items() if silence is not None}

    async def deliveries(self, incident_id: int) -> list[DeliveryState]:
        """How each of the incident's messages fared, oldest first."""
        async with self.db.read() as session:
            rows = await OutboxRepository(session).for_incident(incident_id)
        return [DeliveryState.of(row) for row in rows]

    async def show(self, incident_id: int) -> tuple[IncidentRow, Sequence[IncidentEventRow]]:
        async with self.db.read() as session:
            repo = IncidentRepository(session)
            incident = await repo.get(incident_id)
            if incident is None:
                raise NotFound(f"There is no incident #{incident_id}.")
            return incident, await repo.timeline(incident_id)

    async def acknowledge(self, incident_id: int, actor: Actor) -> IncidentRow:
        now = self.clock()
        async with self.db.transaction() as session:
            incident = await self._get(session, incident_id)
            lifecycle.acknowledge(incident, actor, now)
            await self._record(
                session,
                incident,
                EventKind.ACKNOWLEDGED,
                actor,
                f"Acknowledged by {actor.mention}",
                now,
            )
            return incident

    async def snooze(self, incident_id: int, seconds: float, actor: Actor) -> IncidentRow:
        if not MIN_SNOOZE <= seconds <= MAX_SNOOZE:  # every surface's one check of it
            shown = format_duration(seconds) if 0 < seconds < math.inf else f"{seconds:g}s"
            raise Invalid(
                f"Snooze for between {format_duration(MIN_SNOOZE)} and "
                f"{format_duration(MAX_SNOOZE)}; {shown} is not."
            )
        now = self.clock()
        async with self.db.transaction() as session:
            incident = await self._get(session, incident_id)
            lifecycle.snooze(incident, now + seconds)
            await self._record(
                session,
                incident,
                EventKind.SNOOZED,
                actor,
                f"Snoozed by {actor.mention} for {format_duration(seconds)}, "
                f"until {short_time(now + seconds)}",
                now,
            )
            return incident

    async def resolve(self, incident_id: int, actor: Actor, note: str = "") -> IncidentRow:
        now = self.clock()
        async with self.cache.lock:
            async with self.db.transaction() as session:
                incident = await self._get(session, incident_id)
                lifecycle.resolve(incident, actor, now, neutralise(note.strip()[:1000]) or None)
                line = f"Resolved by {actor.mention}" + (
                    f": {incident.resolve_note}" if incident.resolve_note else ""
                )
                await self._record(session, incident, EventKind.RESOLVED, actor, line, now)
                key = (incident.rule, incident.series_key)
                after = None
                if not incident.test:
                    after = await self._reset_series(session, key, incident, now)
            if after is not None:  # the engine counts from the cache: start afresh there too
                self.cache.states[key] = after
        return incident

    async def test(self, rule_name: str, actor: Actor) -> IncidentRow:
        """A clearly marked test incident for ``rule_name``: shows the message and buttons
        without touching the rule's series or paging anyone by escalation."""
        require_admin(actor, "post test incidents")
        rule = self.rulebook.get(rule_name)
        if rule is None:
            raise NotFound(f"There is no rule named '{rule_name}'.")
        now = self.clock()
        async with self.db.transaction() as session:
            incident = await IncidentRepository(session).create(
                **lifecycle.new_incident(
                    rule=rule.name,
                    series_key="test",
                    labels={},  # the title says [TEST]; a label would only repeat it
                    severity=rule.levels[-1],
                    threshold=rule.thresholds[rule.levels[-1]],
                    summary=f"Test incident for {rule.name}",
                    now=now,
                    rule_snapshot=rule.to_json(),
                    test=True,
                )
            )
            await self._record(
                session,
                incident,
                EventKind.OPENED,
                actor,
                f"Test incident raised by {actor.mention}",
                now,
                notify=False,  # posted, but no one is pinged (the card says so)
            )
            AuditRepository(session).record(
                now, actor.label, "rule.test", rule.name, {"incident": incident.id}
            )
            return incident

    async def _get(self, session: AsyncSession, incident_id: int) -> IncidentRow:
        incident = await IncidentRepository(session).get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"There is no incident #{incident_id}.")
        return incident

    async def _record(
        self,
        session: AsyncSession,
        incident: IncidentRow,
        event: EventKind,
        actor: Actor,
        line: str,
        now: float,
        notify: bool = False,
    ) -> None:
        AuditRepository(session).record(
            now, actor.label, f"incident.{event}", f"#{incident.id}", {"line": line}
        )
        journal = await Journal.open(session, self.announcer, now)
        journal.record(incident, event, actor.label, line, notify=notify)
        await journal.flush()

    async def _reset_series(
        self, session: AsyncSession, key: tuple[str, str], incident: IncidentRow, now: float
    ) -> SeriesState | None:
        """Counting starts afresh once a person resolves: write the series' new state and
        return it (None when it does not change)."""
        before = self.cache.states.get(key)
        if before is None:
            return None
        if key[1] == SOURCE_SERIES or incident.kind == IncidentKind.SOURCE_DOWN:  # rule/endpoint
            after = replace(before, incident_id=None)
        else:
            after = after_manual_resolve(before, incident.id, now)
        if after == before:
            return None
        row = series_row(key, self.cache.labels.get(key, {}), after, now)
        await SeriesRepository(session).update_many([row])
        return after
