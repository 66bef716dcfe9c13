"""Turning incident changes into outbox rows, in the caller's transaction.

Every change that people should see is written here as an outbox row in the same
transaction as the change itself, so a crash can never announce a change that was not
saved, nor save one that is never announced. ``notify`` rows page (a new message, or a
ping); the others edit the incident's existing message in place and add a thread line.
Whether an event is sent at all, and whether it pages, is monitors.incidents.suppression's call;
where it goes is monitors.routing's.

Once a transaction that queued rows commits, ``Announcer`` tells its listeners (the
dispatcher), so a change is delivered at once, whichever surface made it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from monitors.destinations.caps import with_destination_caps
from monitors.destinations.floors import hold_below_floor
from monitors.destinations.quiet import hold_while_quiet
from monitors.incidents.cards import incident_card
from monitors.incidents.facts import incident_facts
from monitors.incidents.suppression import decide, silenced_by
from monitors.routing import Routing
from monitors.subscriptions.fanout import personal_rows
from storage.models import IncidentRow, SilenceRow
from storage.repositories import IncidentRepository, OutboxRepository, SilenceRepository
from storage.repositories.outbox import outbox_row
from storage.vocabulary import EventKind, IncidentKind

DEFAULT_MAX_PER_HOUR = 10
"""A rule's ``max_per_hour`` when its snapshot predates the field."""


class Announcer:
    """Builds the outbox rows of incident events, for the targets of the rule's
    destinations, and tells listeners when rows were committed."""

    def __init__(self, routing: Routing | None = None) -> None:
        self.routing = routing or Routing()
        self._listeners: list[Callable[[], None]] = []

    def targets(self, incident: IncidentRow) -> tuple[str, ...]:
        if incident.kind == IncidentKind.DELIVERY_FAILING:  # tell everywhere but there
            return self.routing.elsewhere(incident.labels.get("target", ""))
        return self.routing.targets((incident.rule_snapshot or {}).get("channels") or ())

    def on_queued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit that queued outbox rows."""
        self._listeners.append(listener)

    def queued(self) -> None:
        for listener in self._listeners:
            listener()

    @staticmethod
    def rows(
        incident: IncidentRow,
        event: EventKind,
        line: str,
        now: float,
        *,
        page: bool,
        targets: Sequence[str],
    ) -> list[dict[str, Any]]:
        snapshot = incident.rule_snapshot or {}
        payload = {
            "card": incident_card(incident, now).to_json(),
            "line": line,
            "limits": {"max_per_hour": snapshot.get("max_per_hour", DEFAULT_MAX_PER_HOUR)},
            "incident": incident_facts(incident),
        }
        return [
            outbox_row(place, event, payload, now, incident_id=incident.id, notify=page)
            for place in targets
        ]


class Journal:
    """The timeline events and outbox rows of one transaction, written together in bulk
    by ``flush`` before the transaction commits."""

    def __init__(
        self,
        session: AsyncSession,
        announcer: Announcer,
        silences: Sequence[SilenceRow],
        now: float,
    ) -> None:
        self.session = session
        self.announcer = announcer
        self.silences = silences
        self.now = now
        self.events: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, session: AsyncSession, announcer: Announcer, now: float) -> Journal:
        return cls(session, announcer, await SilenceRepository(session).active(now), now)

    def record(
        self,
        incident: IncidentRow,
        event: EventKind,
        actor: str,
        line: str,
        *,
        notify: bool,
        targets: Sequence[str] | None = None,
    ) -> bool:
        """Add ``line`` to the incident's timeline and queue its announcement to
        ``targets`` (default: the rule's destinations); returns whether anything will
        be sent. ``last_notified_at`` is None exactly when a (non-test) incident was
        never shown."""
        self.events.append(
            {
                "incident_id": incident.id,
                "at": self.now,
                "kind": event,
                "actor": actor,
                "detail": line,
            }
        )
        verdict = decide(
            incident, notify=notify, now=self.now, silence=silenced_by(incident, self.silences)
        )
        incident.suppressed = verdict.suppressed
        if not verdict.send:
            return False
        if verdict.page:
            incident.last_notified_at = self.now
        places = targets or self.announcer.targets(incident)
        self.outbox.extend(
            self.announcer.rows(incident, event, line, self.now, page=verdict.page, targets=places)
        )
        return True

    async def flush(self) -> None:
        await IncidentRepository(self.session).add_events(self.events)
        routing = self.announcer.routing
        # People's own subscriptions follow what the rule announces, not what each place
        # lets through: a channel's floor, quiet hours or cap are that channel's choice,
        # and someone who asked for warnings by DM still gets them (their own quiet
        # hours apply in personal_rows).
        announced = [dict(row) for row in self.outbox]
        self.outbox = await hold_below_floor(self.session, routing, self.outbox)
        self.outbox = await hold_while_quiet(self.session, routing, self.outbox, self.now)
        self.outbox = with_destination_caps(routing, self.outbox)
        self.outbox += await personal_rows(self.session, announced, self.now)
        await OutboxRepository(self.session).add_many(self.outbox)
        if self.outbox:
            event.listen(self.session.sync_session, "after_commit", self._committed, once=True)
        self.events, self.outbox = [], []

    def _committed(self, _session: object) -> None:
        self.announcer.queued()
