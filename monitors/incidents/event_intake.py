"""Acting on pushed events: open, add to, reopen or resolve incidents at once, without
counters, and record every event.

Each event is one transaction: the event row, the incident change, its timeline line and
its outbox rows (through ``Journal``) commit together, so an event is never recorded
without its incident, nor an incident announced for an event that was lost. Events are
taken one at a time, so a repeat never races the event that opened its incident."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.actors import AUTO, SYSTEM_NAME
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from monitors.incidents.deploys import DeployCorrelation
from monitors.rules.schema import level_rank
from monitors.sources.events import (
    Event,
    EventType,
    incident_key,
    incident_labels,
)
from monitors.wording import ordinal
from storage.db import Database
from storage.models import EventRow, IncidentRow
from storage.repositories import EventRepository, IncidentRepository
from storage.vocabulary import EventKind, IncidentKind, IncidentStatus

OPENED, REPEATED, ESCALATED, REOPENED = (
    EventKind.OPENED,
    EventKind.REPEATED,
    EventKind.ESCALATED,
    EventKind.REOPENED,
)
RESOLVED, NOTHING_OPEN, RECORDED = EventKind.RESOLVED, "nothing_open", "recorded"
"""What an event did (Outcome.action): one of these (the first five are also the
timeline events they write)."""


@dataclass(frozen=True)
class Outcome:
    """What an event did: ``action`` is one of the constants above."""

    event_id: int
    type: str
    action: str
    incident_id: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "type": self.type,
            "action": self.action,
            "incident": self.incident_id,
        }


def worth_a_line(count: int) -> bool:
    """Whether the ``count``-th event of an incident gets a timeline line and a card edit:
    each of the first ten, then every 10th to 100, every 100th to 1,000, and so on, so a
    flood of repeats neither floods the thread nor hits the chat's rate limits."""
    if count <= 10:
        return True
    step = 10 ** int(math.log10(count))
    return count % step == 0


class EventIntake:
    def __init__(
        self,
        db: Database,
        announcer: Announcer,
        types: Mapping[str, EventType],
        clock: Callable[[], float] = time.time,
        deploys: DeployCorrelation | None = None,
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.types = dict(types)
        self.clock = clock
        self.deploys = deploys
        self._one_at_a_time = asyncio.Lock()

    async def receive(self, event: Event) -> Outcome:
        """Act on a checked event (see ``parse_event``) and record it."""
        kind = self.types[event.type]
        now = self.clock()
        async with self._one_at_a_time, self.db.transaction() as session:
            journal = await Journal.open(session, self.announcer, now)
            events = EventRepository(session)
            if kind.opens:
                incident, action = await self._open(session, journal, event, kind, now)
            elif kind.resolves is not None:
                incident, action = await self._resolve(session, journal, event, kind)
            else:
                incident, action = None, RECORDED
            await journal.flush()
            event_id = await events.add(
                received_at=now,
                type=event.type,
                severity=event.severity,
                labels=event.labels,
                message=event.message,
                context=event.context,
                action=action,
                incident_id=incident.id if incident else None,
            )
        return Outcome(event_id, event.type, action, incident.id if incident else None)

    async def recent(self, since: float, kind: str | None, limit: int) -> Sequence[EventRow]:
        """Events received since ``since``, newest first."""
        async with self.db.read() as session:
            return await EventRepository(session).recent(since, kind, limit)

    async def _open(
        self, session: AsyncSession, journal: Journal, event: Event, kind: EventType, now: float
    ) -> tuple[IncidentRow, str]:
        key = incident_key(event, kind)
        severity = event.severity or kind.severity or "error"
        latest = await EventRepository(session).latest_incident(event.type, key)
        if latest is not None and latest.status != IncidentStatus.RESOLVED:
            return latest, self._repeat(journal, latest, event, severity)
        if latest is not None and self._within_cooldown(latest, kind, now):
            after = await self._after_deploy(session, latest, now)
            return latest, self._reopen(journal, latest, event, severity, after)
        incident = await IncidentRepository(session).create(
            **lifecycle.new_incident(
                rule=event.type,
                series_key=key,
                labels=dict(incident_labels(event, kind)),
                kind=IncidentKind.EVENT,
                severity=severity,
                summary=_summary(event, kind),
                now=now,
                rule_snapshot=_snapshot(event.type, kind),
            ),
            event_count=1,
        )
        line = f"Opened by {_said(event)}" + await self._after_deploy(session, incident, now)
        journal.record(incident, OPENED, SYSTEM_NAME, line, notify=True)
        return incident, OPENED

    async def _after_deploy(self, session: AsyncSession, incident: IncidentRow, now: float) -> str:
        """``; started 4 min after deploy api 1.42`` (noted on the incident), or ""."""
        if self.deploys is None:
            return ""
        note = self.deploys.mark(incident, await self.deploys.recent(session, now), now)
        return f"; {note}" if note else ""

    def _repeat(self, journal: Journal, incident: IncidentRow, event: Event, severity: str) -> str:
        incident.event_count = (incident.event_count or 1) + 1
        count = incident.event_count
        if level_rank(severity) > level_rank(incident.severity):
            before = incident.severity
            lifecycle.change_level(
                incident, severity=severity, value=None, threshold=None, summary=incident.summary
            )
            line = f"Escalated {before} -> {severity} by {_said(event)}"
            journal.record(incident, ESCALATED, SYSTEM_NAME, line, notify=True)
            return ESCALATED
        if worth_a_line(count):
            line = f"Repeated ({count} events so far): {_said(event)}"
            journal.record(incident, REPEATED, SYSTEM_NAME, line, notify=False)
        return REPEATED

    @staticmethod
    def _within_cooldown(incident: IncidentRow, kind: EventType, now: float) -> bool:
        resolved_at = incident.resolved_at
        return bool(kind.cooldown) and resolved_at is not None and now - resolved_at < kind.cooldown

    def _reopen(
        self, journal: Journal, incident: IncidentRow, event: Event, severity: str, after: str
    ) -> str:
        """Opening again soon after the pair resolved: the same incident, quietly (a
        flapping breaker pages once, as a rule's cooldown reopen does)."""
        lifecycle.reopen(
            incident,
            journal.now,
            severity=severity,
            value=None,
            threshold=None,
            summary=incident.summary,
        )
        incident.event_count = (incident.event_count or 1) + 1
        again = ordinal(incident.reopen_count)
        line = f"Opened again within the cooldown, for the {again} time: {_said(event)}{after}"
        journal.record(incident, REOPENED, SYSTEM_NAME, line, notify=False)
        return REOPENED

    async def _resolve(
        self, session: AsyncSession, journal: Journal, event: Event, kind: EventType
    ) -> tuple[IncidentRow | None, str]:
        assert kind.resolves is not None
        opener = self.types[kind.resolves]
        key = incident_key(event, opener)
        latest = await EventRepository(session).latest_incident(kind.resolves, key)
        if latest is None or latest.status == IncidentStatus.RESOLVED:
            return None, NOTHING_OPEN
        lifecycle.resolve(latest, AUTO, journal.now, f"{event.type} received")
        journal.record(latest, RESOLVED, SYSTEM_NAME, f"Resolved by {_said(event)}", notify=False)
        return latest, RESOLVED


def _said(event: Event) -> str:
    """``event circuit_breaker_closed: back to normal``."""
    return f"event {event.type}" + (f": {event.message}" if event.message else "")


def _summary(event: Event, kind: EventType) -> str:
    what = event.message or kind.description or event.type.replace("_", " ")
    return f"{event.type}: {what}"


def _snapshot(name: str, kind: EventType) -> dict[str, Any]:
    """What the incident keeps of its type, in the keys cards and timers read from a
    rule's snapshot (channels, runbook, reminders, escalation)."""
    return {"name": name, "source": "events", **kind.model_dump(mode="json")}
