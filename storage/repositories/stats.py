"""The numbers behind ``/alerts stats`` and ``GET /v1/stats`` (and noise coaching):
the incidents opened in a window, each with the seconds to its first acknowledgement
and first resolution from its timeline, reopens per rule, and when rules last fired.
Test incidents are left out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IncidentEventRow, IncidentRow
from storage.vocabulary import EventKind

AUTO_RESOLVER = "auto"
"""``resolved_by`` when the readings (or a resolving event) resolved it
(monitors.actors.AUTO_RESOLVER)."""


@dataclass(frozen=True)
class IncidentTimes:
    """One incident opened in the window: when, and how long until it was first
    acknowledged and first resolved (None: not yet)."""

    id: int
    rule: str
    kind: str
    labels: dict[str, str]
    opened_at: float
    to_acknowledge: float | None
    to_resolve: float | None
    self_resolved: bool
    reopens: int


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _in_window(since: float, until: float) -> tuple[object, ...]:
        return (
            IncidentRow.opened_at >= since,
            IncidentRow.opened_at < until,
            IncidentRow.test.is_(False),
        )

    async def reopens(self, since: float, until: float) -> dict[str, int]:
        """Reopens (breaching again within the cooldown) in ``[since, until)`` per rule,
        whenever their incident first opened."""
        query = (
            select(IncidentRow.rule, func.count())
            .join(IncidentEventRow, IncidentEventRow.incident_id == IncidentRow.id)
            .where(
                IncidentEventRow.kind == EventKind.REOPENED,
                IncidentEventRow.at >= since,
                IncidentEventRow.at < until,
                IncidentRow.test.is_(False),
            )
            .group_by(IncidentRow.rule)
        )
        return {rule: int(count) for rule, count in await self.session.execute(query)}

    async def times(self, since: float, until: float) -> list[IncidentTimes]:
        """Each incident opened in ``[since, until)`` with the seconds to its first
        acknowledgement and its first resolution."""
        first = (
            select(
                IncidentEventRow.incident_id,
                func.min(
                    case((IncidentEventRow.kind == EventKind.ACKNOWLEDGED, IncidentEventRow.at))
                ).label("acknowledged"),
                func.min(
                    case((IncidentEventRow.kind == EventKind.RESOLVED, IncidentEventRow.at))
                ).label("resolved"),
            )
            .where(IncidentEventRow.kind.in_((EventKind.ACKNOWLEDGED, EventKind.RESOLVED)))
            .group_by(IncidentEventRow.incident_id)
            .subquery()
        )
        self_resolved = (IncidentRow.resolved_by == AUTO_RESOLVER) & (
            first.c.acknowledged.is_(None)
        )
        query = (
            select(
                IncidentRow.id,
                IncidentRow.rule,
                IncidentRow.kind,
                IncidentRow.labels,
                IncidentRow.opened_at,
                first.c.acknowledged - IncidentRow.opened_at,
                first.c.resolved - IncidentRow.opened_at,
                case((self_resolved, True), else_=False),
                IncidentRow.reopen_count,
            )
            .outerjoin(first, first.c.incident_id == IncidentRow.id)
            .where(*self._in_window(since, until))
            .order_by(IncidentRow.opened_at)
        )
        return [
            IncidentTimes(
                row[0],
                row[1],
                row[2],
                dict(row[3] or {}),
                row[4],
                row[5],
                row[6],
                bool(row[7]),
                int(row[8] or 0),
            )
            for row in await self.session.execute(query)
        ]

    async def last_opened(self, rules: Sequence[str]) -> dict[str, float]:
        """When each of ``rules`` last opened an incident, for those that ever did."""
        if not rules:
            return {}
        query = (
            select(IncidentRow.rule, func.max(IncidentRow.opened_at))
            .where(IncidentRow.rule.in_(list(rules)), IncidentRow.test.is_(False))
            .group_by(IncidentRow.rule)
        )
        return {rule: float(at) for rule, at in await self.session.execute(query)}
