"""The backtest's sink: the engine's changes applied to incidents kept in memory.

It follows the same effects, in the same order, as the service's ``DatabaseSink``
(open, reopen within the cooldown, escalate, de-escalate, auto-resolve, source down and
recovered); it skips what only people see (timelines, notifications)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field, replace
from typing import Any

from monitors.engine import Change, Key
from monitors.formatting import iso
from monitors.incidents.machine import Effect, SeriesState
from monitors.rules.schema import level_rank


@dataclass
class ReplayedIncident:
    """An incident the replay opened. ``severity`` is the highest level it reached."""

    id: int
    rule: str
    labels: dict[str, str]
    severity: str
    opened_at: float
    kind: str = "metric"
    resolved_at: float | None = None
    reopened: int = 0
    reopened_at: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As ``run.py backtest`` prints it and the backtest API returns it."""
        return {
            "rule": self.rule,
            "labels": self.labels,
            "severity": self.severity,
            "opened_at": iso(self.opened_at),
            "resolved_at": iso(self.resolved_at),
            "reopened": self.reopened,
        }


class MemorySink:
    def __init__(self) -> None:
        self.incidents: dict[int, ReplayedIncident] = {}

    async def write(
        self, changes: list[Change], now: float, known: Container[Key]
    ) -> list[SeriesState]:
        return [self._apply(change, now) for change in changes]

    def _apply(self, change: Change, now: float) -> SeriesState:
        state = change.step.state
        level = change.step.level
        for effect in change.step.effects:
            if effect is Effect.OPEN or effect is Effect.SOURCE_DOWN:
                state = replace(state, incident_id=self._open(change, effect, now))
            elif effect is Effect.REOPEN:
                incident = self.incidents.get(state.incident_id or 0)
                if incident is None or incident.resolved_at is None:  # as DatabaseSink
                    state = replace(state, incident_id=self._open(change, effect, now))
                else:
                    incident.resolved_at = None
                    incident.reopened += 1
                    incident.reopened_at.append(now)
                    self._raise(incident, level)
            elif effect in (Effect.ESCALATE, Effect.DEESCALATE):
                self._raise(self.incidents.get(state.incident_id or 0), level)
            elif effect is Effect.RESOLVE:
                self._resolve(state.last_incident_id, now)
            elif effect is Effect.SOURCE_RECOVERED:
                self._resolve(change.before.incident_id, now)
                state = replace(state, incident_id=None)
        return state

    def _open(self, change: Change, effect: Effect, now: float) -> int:
        number = len(self.incidents) + 1
        source_down = effect is Effect.SOURCE_DOWN
        self.incidents[number] = ReplayedIncident(
            id=number,
            rule=change.rule.name,
            labels={} if source_down else dict(change.labels),
            severity="error" if source_down else (change.step.level or change.rule.levels[0]),
            opened_at=now,
            kind="source_down" if source_down else "metric",
        )
        return number

    @staticmethod
    def _raise(incident: ReplayedIncident | None, level: str | None) -> None:
        if incident is not None and level and level_rank(level) > level_rank(incident.severity):
            incident.severity = level

    def _resolve(self, incident_id: int | None, now: float) -> None:
        incident = self.incidents.get(incident_id or 0)
        if incident is not None and incident.resolved_at is None:
            incident.resolved_at = now
