"""Durable timers: snooze ends, silence ends, repeat reminders and escalation of
unacknowledged incidents. Everything they need is a column in the database, so one
periodic pass (``run``) picks up where a crashed process left off."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from monitors.actors import SYSTEM_NAME
from monitors.durations import format_duration, parse_duration
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from monitors.incidents.suppression import silenced_by
from storage.db import Database
from storage.models import IncidentRow, SilenceRow
from storage.repositories import IncidentRepository, SilenceRepository
from storage.vocabulary import EventKind, IncidentStatus

ACTOR = SYSTEM_NAME


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
            journal = await Journal.open(session, self.announcer, now)
            incidents = IncidentRepository(session)
            queued = self._snoozes_ended(journal, await incidents.snooze_ended(now))
            ended = await SilenceRepository(session).ended_unhandled(now)
            if ended:
                since = min(silence.starts_at for silence in ended)
                queued += self._silences_ended(
                    journal, ended, await incidents.unresolved_or_resolved_since(since)
                )
            due = await incidents.due_for_reminder(now)
            queued += self._reminders_and_escalations(journal, due)
            await journal.flush()
        return queued

    @staticmethod
    def _snoozes_ended(journal: Journal, incidents: Sequence[IncidentRow]) -> int:
        queued = 0
        for incident in incidents:
            lifecycle.end_snooze(incident)
            if incident.status != IncidentStatus.RESOLVED and not incident.test:
                queued += journal.record(
                    incident,
                    EventKind.SNOOZE_ENDED,
                    ACTOR,
                    "Snooze ended and it is still firing",
                    notify=True,
                )
        return queued

    @staticmethod
    def _silences_ended(
        journal: Journal, ended: Sequence[SilenceRow], incidents: Sequence[IncidentRow]
    ) -> int:
        """Once no other silence covers them, announce what the ended silences hid:
        what is still firing pages; a shown incident that resolved meanwhile gets its
        message brought up to date, quietly."""
        queued = 0
        took_effect = [s for s in ended if s.starts_at < (s.removed_at or s.ends_at)]
        for incident in incidents:
            if silenced_by(incident, journal.silences) is not None:
                continue
            silence = silenced_by(incident, took_effect)
            if silence is None:
                continue
            if incident.status != IncidentStatus.RESOLVED:
                line = "Silence ended and it is still firing"
                queued += journal.record(
                    incident, EventKind.SILENCE_ENDED, ACTOR, line, notify=True
                )
            elif not incident.suppressed and (incident.resolved_at or 0) >= silence.starts_at:
                line = "Silence ended; it resolved meanwhile"
                queued += journal.record(
                    incident, EventKind.SILENCE_ENDED, ACTOR, line, notify=False
                )
        for silence in ended:
            silence.ended_handled = True
        return queued

    def _reminders_and_escalations(self, journal: Journal, due: Sequence[IncidentRow]) -> int:
        queued = 0
        now = journal.now
        for incident in due:
            if silenced_by(incident, journal.silences) is not None:
                continue
            snapshot = incident.rule_snapshot or {}
            queued += self._escalate_if_due(journal, incident, snapshot)
            repeat = _seconds(snapshot.get("repeat_interval"))
            since = firing_since(incident)
            last = max(incident.last_notified_at or since, since)  # a quiet reopen resets it
            if repeat and now - last >= repeat:
                took = format_duration(now - since)
                queued += journal.record(
                    incident,
                    EventKind.REMINDER,
                    ACTOR,
                    f"Still firing and unacknowledged after {took}",
                    notify=True,
                )
        return queued

    @staticmethod
    def _escalate_if_due(
        journal: Journal, incident: IncidentRow, snapshot: Mapping[str, object]
    ) -> int:
        after = _seconds(snapshot.get("escalate_after"))
        targets = tuple(snapshot.get("escalate_to") or ())  # type: ignore[call-overload]
        if not after or not targets or incident.escalated_at is not None:
            return 0
        if journal.now - firing_since(incident) < after:
            return 0
        lifecycle.escalated(incident, journal.now)
        line = (
            f"Unacknowledged for {format_duration(journal.now - firing_since(incident))}: "
            f"escalated to {', '.join(targets)}"
        )
        places = journal.announcer.routing.targets(targets)
        return journal.record(
            incident, EventKind.ESCALATED, ACTOR, line, notify=True, targets=places
        )


def firing_since(incident: IncidentRow) -> float:
    """Start of the current firing episode: the reopen, or else the opening."""
    return incident.firing_since or incident.opened_at


def _seconds(value: object) -> float | None:
    """Rule snapshots hold durations as text (``15m``) or seconds."""
    if value is None or value == "":
        return None
    return parse_duration(value, zero_allowed=True)  # type: ignore[arg-type]
