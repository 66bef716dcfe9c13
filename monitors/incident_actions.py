"""What people do to incidents: acknowledge, snooze, resolve, and test incidents.

Every surface (slash command, button, REST API) calls these same verbs, so the rules
about who may do what, the timeline and the announcements are the same everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import Actor
from monitors.announce import Announcer, Journal, short_time
from monitors.durations import format_duration
from monitors.engine import SeriesCache, series_row
from monitors.errors import Invalid, NotFound
from monitors.machine import (
    SOURCE_SERIES,
    IllegalTransition,
    SeriesState,
    after_manual_resolve,
    transition,
)
from monitors.resolution import mark_resolved
from monitors.rule_admin import require_admin
from monitors.rulebook import RuleBook
from storage.db import Database
from storage.models import IncidentEventRow, IncidentRow
from storage.repositories import (
    AuditRepository,
    IncidentRepository,
    SeriesRepository,
)

MAX_SNOOZE = 7 * 86400.0
MIN_SNOOZE = 60.0


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
        self, status: str | None = None, severity: str | None = None, limit: int = 50
    ) -> Sequence[IncidentRow]:
        async with self.db.read() as session:
            return await IncidentRepository(session).search(status, severity, limit=limit)

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
            incident.status = self._transition(incident, "acknowledge")
            incident.acknowledged_at, incident.acknowledged_by = now, actor.name
            await self._record(
                session, incident, "acknowledged", actor, f"Acknowledged by {actor.name}", now
            )
            return incident

    async def snooze(self, incident_id: int, seconds: float, actor: Actor) -> IncidentRow:
        if not MIN_SNOOZE <= seconds <= MAX_SNOOZE:
            raise Invalid(
                f"Snooze for between {format_duration(MIN_SNOOZE)} and "
                f"{format_duration(MAX_SNOOZE)}; {format_duration(seconds)} is not."
            )
        now = self.clock()
        async with self.db.transaction() as session:
            incident = await self._get(session, incident_id)
            incident.status = self._transition(incident, "snooze")
            incident.snoozed_until = now + seconds
            await self._record(
                session,
                incident,
                "snoozed",
                actor,
                f"Snoozed by {actor.name} for {format_duration(seconds)}, "
                f"until {short_time(incident.snoozed_until)}",
                now,
            )
            return incident

    async def resolve(self, incident_id: int, actor: Actor, note: str = "") -> IncidentRow:
        now = self.clock()
        async with self.cache.lock:
            async with self.db.transaction() as session:
                incident = await self._get(session, incident_id)
                self._transition(incident, "resolve")  # refuses in the user's terms
                mark_resolved(incident, actor.name, now, note.strip()[:1000] or None)
                line = f"Resolved by {actor.name}" + (
                    f": {incident.resolve_note}" if incident.resolve_note else ""
                )
                await self._record(session, incident, "resolved", actor, line, now)
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
                rule=rule.name,
                series_key="test",
                labels={},  # the title says [TEST]; a label would only repeat it
                kind="metric",
                status="open",
                severity=rule.levels[-1],
                value=None,
                threshold=rule.thresholds[rule.levels[-1]],
                summary=f"Test incident for {rule.name}",
                opened_at=now,
                rule_snapshot=rule.to_json(),
                suppressed=False,
                test=True,
                reopen_count=0,
            )
            await self._record(
                session,
                incident,
                "opened",
                actor,
                f"Test incident raised by {actor.name}",
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

    @staticmethod
    def _transition(incident: IncidentRow, action: str) -> str:
        try:
            return transition(incident.status, action)
        except IllegalTransition as exc:
            state, sep, rest = str(exc).partition(";")
            raise IllegalTransition(
                f"#{incident.id} {state}{_whom(incident)}{sep}{rest}."
            ) from None

    async def _record(
        self,
        session: AsyncSession,
        incident: IncidentRow,
        event: str,
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
        if key[1] == SOURCE_SERIES or incident.kind == "source_down":  # a rule's or endpoint's
            after = replace(before, incident_id=None)
        else:
            after = after_manual_resolve(before, incident.id, now)
        if after == before:
            return None
        row = series_row(key, self.cache.labels.get(key, {}), after, now)
        await SeriesRepository(session).update_many([row])
        return after


def _whom(incident: IncidentRow) -> str:
    if incident.status == "acknowledged" and incident.acknowledged_by:
        return f" by {incident.acknowledged_by}"
    if incident.status == "resolved" and incident.resolved_by:
        return f" (by {incident.resolved_by} at {short_time(incident.resolved_at or 0)})"
    return ""
