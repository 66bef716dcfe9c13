from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IncidentEventRow, IncidentRow, storable_id
from storage.vocabulary import UNRESOLVED, IncidentStatus


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, **values: Any) -> IncidentRow:
        row = IncidentRow(**values)
        self.session.add(row)
        await self.session.flush()  # assigns the id
        return row

    async def get(self, incident_id: int, *, for_update: bool = False) -> IncidentRow | None:
        if not storable_id(incident_id):
            return None
        if for_update:
            query = select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
            return (await self.session.scalars(query)).first()
        return await self.session.get(IncidentRow, incident_id)

    async def get_many(
        self, ids: Sequence[int], *, for_update: bool = False
    ) -> dict[int, IncidentRow]:
        """Incidents by id, in chunks; ``for_update`` locks them (PostgreSQL)."""
        found: dict[int, IncidentRow] = {}
        for start in range(0, len(ids), 500):
            query = select(IncidentRow).where(IncidentRow.id.in_(ids[start : start + 500]))
            if for_update:
                query = query.with_for_update()
            found.update({row.id: row for row in await self.session.scalars(query)})
        return found

    async def search(
        self,
        status: str | None = None,
        severity: str | None = None,
        rule: str | None = None,
        limit: int = 50,
        by_priority: bool = False,
    ) -> Sequence[IncidentRow]:
        """Newest first, or with ``by_priority`` P1 first (newest first within each).
        ``status`` None means unresolved; ``all`` means every status."""
        order = (
            (IncidentRow.priority, IncidentRow.id.desc())
            if by_priority
            else (IncidentRow.id.desc(),)
        )
        query = select(IncidentRow).order_by(*order).limit(limit)
        if status is None:
            query = query.where(IncidentRow.status.in_(UNRESOLVED))
        elif status != "all":
            query = query.where(IncidentRow.status == status)
        if severity:
            query = query.where(IncidentRow.severity == severity)
        if rule:
            query = query.where(IncidentRow.rule == rule)
        return (await self.session.scalars(query)).all()

    async def unresolved(self) -> Sequence[IncidentRow]:
        query = select(IncidentRow).where(IncidentRow.status.in_(UNRESOLVED))
        return (await self.session.scalars(query.order_by(IncidentRow.id))).all()

    async def unresolved_or_resolved_since(self, since: float) -> Sequence[IncidentRow]:
        """What a silence that started at ``since`` may have hidden."""
        query = select(IncidentRow).where(
            or_(IncidentRow.status.in_(UNRESOLVED), IncidentRow.resolved_at >= since)
        )
        return (await self.session.scalars(query.order_by(IncidentRow.id))).all()

    async def snooze_ended(self, now: float) -> Sequence[IncidentRow]:
        query = select(IncidentRow).where(
            IncidentRow.snoozed_until.is_not(None), IncidentRow.snoozed_until <= now
        )
        return (await self.session.scalars(query.order_by(IncidentRow.id))).all()

    async def count_by_status(self) -> dict[str, int]:
        query = select(IncidentRow.status, func.count()).group_by(IncidentRow.status)
        return {status: count for status, count in await self.session.execute(query)}

    async def unresolved_for_rule(self, rule: str) -> Sequence[IncidentRow]:
        query = select(IncidentRow).where(
            IncidentRow.rule == rule, IncidentRow.status.in_(UNRESOLVED)
        )
        return (await self.session.scalars(query)).all()

    async def add_events(self, rows: list[dict[str, Any]]) -> None:
        """Append timeline lines (incident_id, at, kind, actor, detail) in one executemany."""
        if rows:
            await self.session.execute(insert(IncidentEventRow), rows)

    async def create_many(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Insert incidents in one batched statement; returns their ids by (rule, series).
        Each (rule, series_key) must appear once: the ids are matched on it because
        SQLite cannot promise RETURNING in parameter order."""
        if not rows:
            return {}
        query = insert(IncidentRow).returning(
            IncidentRow.id, IncidentRow.rule, IncidentRow.series_key
        )
        result = await self.session.execute(query, rows)
        return {(rule, key): incident_id for incident_id, rule, key in result}

    async def timeline(self, incident_id: int) -> Sequence[IncidentEventRow]:
        query = (
            select(IncidentEventRow)
            .where(IncidentEventRow.incident_id == incident_id)
            .order_by(IncidentEventRow.id)
        )
        return (await self.session.scalars(query)).all()

    async def due_for_reminder(self, now: float) -> Sequence[IncidentRow]:
        """Unacknowledged, unsnoozed, announced incidents; the caller checks intervals."""
        query = select(IncidentRow).where(
            IncidentRow.status == IncidentStatus.OPEN,
            IncidentRow.test.is_(False),
            IncidentRow.suppressed.is_(False),
            or_(IncidentRow.snoozed_until.is_(None), IncidentRow.snoozed_until <= now),
        )
        return (await self.session.scalars(query.order_by(IncidentRow.id))).all()
