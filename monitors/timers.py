"""Durable timers: snooze ends, silence ends, repeat reminders and escalation of
unacknowledged incidents. Everything they need is a column in the database, so one
periodic pass (``run``) picks up where a crashed process left off."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from monitors.announce import Announcer, silenced_by
from monitors.durations import format_duration, parse_duration
from storage.db import Database
from storage.models import IncidentRow, SilenceRow
from storage.repositories import IncidentRepository, SilenceRepository


class Timers:
    def __init__(
        self, db: Database, announcer: Announcer, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.clock = clock

    async def run(self, now: float | None = None) -> int:
        """One pass; returns how many announcements it queued."""
        now = self.clock() if now is None else now
        async with self.db.transaction() as session:
            silences = list(await SilenceRepository(session).active(now))
            queued = await self._snoozes_ended(session, silences, now)
            queued += await self._silences_ended(session, silences, now)
            queued += await self._reminders_and_escalations(session, silences, now)
        return queued

    def _say(
        self,
        session: AsyncSession,
        incident: IncidentRow,
        event: str,
        line: str,
        now: float,
        silences: list[SilenceRow],
        channels: tuple[str, ...] | None = None,
    ) -> bool:
        IncidentRepository(session).add_event(incident.id, now, event, "tocsin", line)
        return self.announcer.announce(
            session, incident, event, line, now, notify=True, silences=silences, channels=channels
        )

    async def _snoozes_ended(
        self, session: AsyncSession, silences: list[SilenceRow], now: float
    ) -> int:
        queued = 0
        for incident in await IncidentRepository(session).snooze_ended(now):
            incident.snoozed_until = None
            if incident.status != "resolved":
                queued += self._say(
                    session,
                    incident,
                    "snooze_ended",
                    "Snooze ended and it is still firing",
                    now,
                    silences,
                )
        return queued

    async def _silences_ended(
        self, session: AsyncSession, silences: list[SilenceRow], now: float
    ) -> int:
        ended = await SilenceRepository(session).ended_unhandled(now)
        if not ended:
            return 0
        queued = 0
        for incident in await IncidentRepository(session).unresolved():
            if incident.test or silenced_by(incident, silences) is not None:
                continue
            if silenced_by(incident, ended) is None:
                continue
            incident.suppressed = False  # a never-shown incident gets its first message
            line = "Silence ended and it is still firing"
            queued += self._say(session, incident, "silence_ended", line, now, silences)
        for silence in ended:
            silence.ended_handled = True
        return queued

    async def _reminders_and_escalations(
        self, session: AsyncSession, silences: list[SilenceRow], now: float
    ) -> int:
        queued = 0
        for incident in await IncidentRepository(session).due_for_reminder(now):
            if silenced_by(incident, silences) is not None:
                continue
            snapshot = incident.rule_snapshot or {}
            queued += self._escalate_if_due(session, incident, snapshot, silences, now)
            repeat = _seconds(snapshot.get("repeat_interval"))
            last = incident.last_notified_at or incident.opened_at
            if repeat and now - last >= repeat:
                took = format_duration(now - incident.opened_at)
                queued += self._say(
                    session,
                    incident,
                    "reminder",
                    f"Still firing and unacknowledged after {took}",
                    now,
                    silences,
                )
        return queued

    def _escalate_if_due(
        self,
        session: AsyncSession,
        incident: IncidentRow,
        snapshot: dict[str, object],
        silences: list[SilenceRow],
        now: float,
    ) -> int:
        after = _seconds(snapshot.get("escalate_after"))
        targets = tuple(snapshot.get("escalate_to") or ())
        if not after or not targets or incident.escalated_at is not None:
            return 0
        if now - incident.opened_at < after:
            return 0
        incident.escalated_at = now
        line = (
            f"Unacknowledged for {format_duration(now - incident.opened_at)}: "
            f"escalated to {', '.join(targets)}"
        )
        return self._say(session, incident, "escalated", line, now, silences, channels=targets)


def _seconds(value: object) -> float | None:
    """Rule snapshots hold durations as text (``15m``) or seconds."""
    if value is None or value == "":
        return None
    return parse_duration(value)  # type: ignore[arg-type]
