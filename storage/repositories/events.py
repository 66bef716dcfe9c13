"""Pushed events, and the incidents they open and resolve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EventRow, IncidentRow


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> int:
        result = await self.session.execute(insert(EventRow).returning(EventRow.id), [values])
        return result.scalar_one()

    async def recent(
        self, since: float, kind: str | None = None, limit: int = 100
    ) -> Sequence[EventRow]:
        """Events received at or after ``since``, newest first (``kind``: one type only)."""
        query = select(EventRow).where(EventRow.received_at >= since)
        if kind is not None:
            query = query.where(EventRow.type == kind)
        query = query.order_by(EventRow.id.desc()).limit(limit)
        return (await self.session.scalars(query)).all()

    async def latest_incident(self, rule: str, series_key: str) -> IncidentRow | None:
        """The newest incident of an event type for one label set (locked on PostgreSQL):
        the one a repeat adds to, a resolving event resolves, or a reopen revives."""
        query = (
            select(IncidentRow)
            .where(
                IncidentRow.rule == rule,
                IncidentRow.series_key == series_key,
                IncidentRow.kind == "event",
                IncidentRow.test.is_(False),
            )
            .order_by(IncidentRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(query)).first()

    async def of_type_since(self, kind: str, since: float) -> Sequence[EventRow]:
        """Events of one type received at or after ``since``, newest first (deploys, to
        correlate incidents with)."""
        query = (
            select(EventRow)
            .where(EventRow.type == kind, EventRow.received_at >= since)
            .order_by(EventRow.received_at.desc(), EventRow.id.desc())
        )
        return (await self.session.scalars(query)).all()
