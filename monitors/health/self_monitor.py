"""The monitor monitors itself: when rule ticks start late (a tick running longer than
its interval, or the event loop too busy to start them), alerts are late too, so Tocsin
opens a "Tocsin is behind" incident, and ``/healthz`` says so.

:class:`Lag` follows each rule job's next due time; its lag is how overdue the most
overdue job is. :class:`SelfMonitor` turns that into one incident, opened when the lag
passes ``behind_after`` and resolved when the ticks are back on time."""

from __future__ import annotations

import time
from collections.abc import Callable

from monitors.actors import AUTO, SYSTEM_NAME
from monitors.durations import format_duration
from monitors.incidents import lifecycle
from monitors.incidents.announce import Announcer, Journal
from storage.db import Database
from storage.repositories import IncidentRepository
from storage.vocabulary import EventKind, IncidentKind, IncidentStatus

BEHIND_RULE = "tocsin:behind"
"""The incident's ``rule``: not a rule name (those have no ':'), so none can clash."""


class Lag:
    """When each rule job is next due, on a monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._due: dict[str, float] = {}

    def planned(self, job: str, first_in: float) -> None:
        self._due[job] = self.clock() + first_in

    def started(self, job: str, interval: float) -> None:
        self._due[job] = self.clock() + interval

    def removed(self, job: str) -> None:
        self._due.pop(job, None)

    def seconds(self) -> float:
        """How far behind its schedule the most overdue job is (0: all on time)."""
        now = self.clock()
        return max([0.0, *(now - due for due in self._due.values())])


class SelfMonitor:
    def __init__(
        self,
        db: Database,
        announcer: Announcer,
        behind_after: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.announcer = announcer
        self.behind_after = behind_after
        self.clock = clock
        self.lag = 0.0
        self._incident_id: int | None = None
        self._loaded = False

    @property
    def behind(self) -> bool:
        return self.lag > self.behind_after

    async def check(self, lag: float) -> None:
        """Record the lag; open or resolve the incident when being behind changes."""
        self.lag = max(lag, 0.0)
        if not self._loaded:
            async with self.db.read() as session:
                open_now = await IncidentRepository(session).search(rule=BEHIND_RULE, limit=1)
            self._incident_id = open_now[0].id if open_now else None
            self._loaded = True
        if self.behind == (self._incident_id is not None):
            return
        if self.behind:
            await self._open()
        else:
            await self._resolve()

    async def _open(self) -> None:
        now = self.clock()
        late = format_duration(max(self.lag, 1))
        summary = (
            f"Tocsin is behind: rule ticks start {late} late (limit "
            f"{format_duration(self.behind_after)}), so alerts are late too"
        )
        async with self.db.transaction() as session:
            incident = await IncidentRepository(session).create(
                **lifecycle.new_incident(
                    rule=BEHIND_RULE,
                    series_key="-",
                    labels={},
                    kind=IncidentKind.BEHIND,
                    severity="error",
                    value=self.lag,
                    threshold=self.behind_after,
                    summary=summary,
                    now=now,
                    rule_snapshot={
                        "name": BEHIND_RULE,
                        "source": "tocsin",
                        "repeat_interval": "1h",
                    },
                )
            )
            journal = await Journal.open(session, self.announcer, now)
            journal.record(incident, EventKind.OPENED, SYSTEM_NAME, summary, notify=True)
            await journal.flush()
        self._incident_id = incident.id

    async def _resolve(self) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            incident = await IncidentRepository(session).get(
                self._incident_id or 0, for_update=True
            )
            if incident is not None and incident.status != IncidentStatus.RESOLVED:
                lifecycle.resolve(incident, AUTO, now)
                journal = await Journal.open(session, self.announcer, now)
                line = "Ticks are on schedule again"
                journal.record(incident, EventKind.RESOLVED, SYSTEM_NAME, line, notify=False)
                await journal.flush()
        self._incident_id = None
