"""Tocsin watches its own deliveries: a target whose messages keep failing (or fail in
a way no retry fixes, such as an unknown channel or a revoked token) opens a "delivery
failing" incident, posted everywhere else; the target's next success resolves it.

Never silence without a trace: a channel that Tocsin can no longer reach is itself an
incident people see, in the other channels, ``/alerts list``, the API and /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from monitors.actors import AUTO, SYSTEM_NAME
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from storage.db import Database
from storage.repositories import IncidentRepository, TargetHealthRepository
from storage.vocabulary import EventKind, IncidentKind, IncidentStatus

FAILURES_TO_ALERT = 5
"""Consecutive failed attempts to one target before its incident opens."""
RULE = "tocsin:delivery"
"""The ``rule`` of a delivery-failing incident: Tocsin's own; no rule name has a colon,
so none can be mistaken for it (or retire its incidents)."""


class DeliveryHealth:
    def __init__(
        self, db: Database, announcer: Announcer, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.clock = clock
        self._failing: set[str] = set()
        """Targets with failures on record: only their successes need a write."""

    async def failed(self, target: str, error: str, permanent: bool) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await TargetHealthRepository(session).get(target, now)
            row.failures += 1
            row.failing_since = row.failing_since or now
            row.last_error, row.updated_at = error[:1000], now
            if row.incident_id is None and (permanent or row.failures >= FAILURES_TO_ALERT):
                why = "cannot succeed" if permanent else f"failed {row.failures} times in a row"
                incident = await IncidentRepository(session).create(
                    **lifecycle.new_incident(
                        rule=RULE,
                        series_key=target,
                        labels={"target": target},
                        kind=IncidentKind.DELIVERY_FAILING,
                        severity="error",
                        summary=f"Messages to {target} {why}: {error}"[:2000],
                        now=now,
                        rule_snapshot={},
                    )
                )
                journal = await Journal.open(session, self.announcer, now)
                line = f"Delivery failing: {incident.summary}"
                journal.record(incident, EventKind.OPENED, SYSTEM_NAME, line, notify=True)
                await journal.flush()
                row.incident_id = incident.id
        self._failing.add(target)

    async def delivered(self, target: str) -> None:
        if target not in self._failing:
            return
        now = self.clock()
        async with self.db.transaction() as session:
            row = await TargetHealthRepository(session).get(target, now)
            if row.incident_id is not None:
                incident = await IncidentRepository(session).get(row.incident_id, for_update=True)
                if incident is not None and incident.status != IncidentStatus.RESOLVED:
                    lifecycle.resolve(incident, AUTO, now)
                    journal = await Journal.open(session, self.announcer, now)
                    line = f"Delivering to {target} works again"
                    journal.record(incident, EventKind.RESOLVED, SYSTEM_NAME, line, notify=False)
                    await journal.flush()
            row.failures, row.failing_since, row.incident_id = 0, None, None
            row.last_error, row.updated_at = None, now
        self._failing.discard(target)
